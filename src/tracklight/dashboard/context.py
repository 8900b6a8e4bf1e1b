"""What every page handler gets: the services to call, the request's query and form, the URL prefix."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

from tracklight.auth.principal import Principal
from tracklight.services.artifacts import Artifacts
from tracklight.services.experiments import Experiments
from tracklight.services.logged_models import LoggedModels
from tracklight.services.registry import Registry
from tracklight.services.runs import Runs
from tracklight.services.signin import SignIn
from tracklight.services.traces import Traces
from tracklight.services.users import Users


@dataclass(frozen=True, slots=True)
class Services:
    """The services the pages read and write through; nothing else reaches the store."""

    experiments: Experiments
    runs: Runs
    artifacts: Artifacts
    logged_models: LoggedModels
    registry: Registry
    traces: Traces
    users: Users | None = None  # None: the server runs without authentication
    signin: SignIn | None = None  # the login page's ways in; None with auth off

    @classmethod
    def from_mapping(cls, services: dict[str, Any]) -> Services:
        return cls(**{name: services[name] for name in cls.__dataclass_fields__ if name in services})


@dataclass(slots=True)
class PageContext:
    """One request as a page sees it: what it asks, who asks (None with auth off), what the browser holds."""

    services: Services
    prefix: str
    path: str
    query: dict[str, list[str]]
    form: dict[str, list[str]] = field(default_factory=dict)
    partial: bool = False  # an htmx request that swaps part of a page
    principal: Principal | None = None  # who is signed in; None with auth off (and on the public login page)
    method: str = "GET"
    csrf_token: str = ""  # this browser's double-submit token, echoed by every form (csrf_input)
    by_session: bool = False  # signed in through the login page (not Basic): the header offers to sign out
    cookies: dict[str, str] = field(default_factory=dict)
    client: str = ""  # the caller's address, which the login throttle counts by
    secure: bool = False  # cookies set now get the Secure flag (see dashboard.cookies)
    origin: str = ""  # scheme://host as the browser addressed us, for URLs given to others (OIDC)

    def arg(self, name: str, default: str = "") -> str:
        values = self.query.get(name)
        return values[0] if values else default

    def args(self, name: str) -> list[str]:
        return [v for v in self.query.get(name, []) if v != ""]

    def field(self, name: str, default: str = "") -> str:
        values = self.form.get(name)
        return values[0] if values else default

    def url(self, path: str, query: dict[str, Any] | list[tuple[str, Any]] | None = None) -> str:
        """An absolute path under the prefix, with an optional query string (None values dropped)."""
        pairs = list(query.items()) if isinstance(query, dict) else list(query or [])
        kept = [(k, v) for k, v in pairs if v is not None and v != ""]
        return self.prefix + path + ("?" + urlencode(kept) if kept else "")
