"""Who may open the account and admin pages: anyone signed in, admins only; with auth off, nobody."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import TypeVar

from starlette.responses import Response

from tracklight.auth.principal import Principal
from tracklight.dashboard.context import PageContext
from tracklight.dashboard.render import render
from tracklight.errors import PermissionDenied
from tracklight.services.users import Users

Page = TypeVar("Page", bound=Callable[..., Response])


def auth_off(ctx: PageContext) -> Response:
    """The account and admin pages on a server without authentication: there is nobody to manage."""
    # A form posted here changed nothing: say so with a 4xx, as a refused form does.
    status = 400 if ctx.method == "POST" else 200
    return render(ctx, "auth_off.html", status, title="Authentication is off")


def signed_in(page: Page) -> Page:
    """The page needs a signed-in user (any); with auth off it says so instead."""

    @functools.wraps(page)
    def guarded(ctx: PageContext, *args: object, **params: object) -> Response:
        if ctx.services.users is None:
            return auth_off(ctx)
        if ctx.principal is None:
            raise PermissionDenied("Permission denied")
        return page(ctx, *args, **params)

    return guarded  # type: ignore[return-value]


def admin_only(page: Page) -> Page:
    """The page is for admins; anyone else gets the 403 page (the services would refuse them anyway)."""

    @functools.wraps(page)
    def guarded(ctx: PageContext, *args: object, **params: object) -> Response:
        if ctx.services.users is None:
            return auth_off(ctx)
        if ctx.principal is None or not ctx.principal.is_admin:
            raise PermissionDenied("Permission denied")
        return page(ctx, *args, **params)

    return guarded  # type: ignore[return-value]


def users_of(ctx: PageContext) -> tuple[Users, Principal]:
    """The users service and the caller, on a page the guards above let through."""
    assert ctx.services.users is not None and ctx.principal is not None
    return ctx.services.users, ctx.principal
