"""The dashboard as the server mounts it: built at its first request, not at start-up."""

from __future__ import annotations

import functools
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from starlette.requests import Request
from starlette.responses import Response

if TYPE_CHECKING:
    from tracklight.dashboard.router import Dashboard


class MountedDashboard:
    """Stands in for the Dashboard until something asks it about a path.

    Its pages, Jinja2 and the compressed static files are ~45 ms of start-up and ~5 MB of memory,
    which a server that only the `mlflow` client talks to (or a replica that has just been started
    for a request from one) never needs. The first request outside the API builds it, once.
    """

    def __init__(self, services: dict[str, Any], prefix: str, *, secure_cookies: bool) -> None:
        self._args = (services, prefix, secure_cookies)

    @functools.cached_property
    def built(self) -> Dashboard:
        """The Dashboard itself, built now if it has not been yet."""
        from tracklight.dashboard.router import dashboard_routes

        services, prefix, secure_cookies = self._args
        return dashboard_routes(services, prefix, secure_cookies=secure_cookies)

    def kind(self, path: str) -> str | None:
        """As Dashboard.kind."""
        return self.built.kind(path)

    def route(self, request: Request) -> Callable[[], Awaitable[Response]] | None:
        """As Dashboard.route."""
        return self.built.route(request)

    def route_templates(self) -> list[tuple[str, str]]:
        """As Dashboard.route_templates."""
        return self.built.route_templates()
