"""Who a request acts for, resolved once at the edge and read by the services for the request's life."""

from __future__ import annotations

from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Any


@dataclass(slots=True)
class Principal:
    """An authenticated user. `seen` caches permission answers for this request only."""

    user_id: int
    username: str
    is_admin: bool
    auth_version: int
    seen: dict[Any, Any] = field(default_factory=dict)


# None: the server runs without authentication (or the call is internal, e.g. start-up seeding).
_CURRENT: ContextVar[Principal | None] = ContextVar("tracklight_principal", default=None)


def current_principal() -> Principal | None:
    return _CURRENT.get()


def acting_as(principal: Principal | None) -> object:
    """Make `principal` the caller for this context; returns the token to restore with `restore`."""
    return _CURRENT.set(principal)


def restore(token: object) -> None:
    _CURRENT.reset(token)  # type: ignore[arg-type]
