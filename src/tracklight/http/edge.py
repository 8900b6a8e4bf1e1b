"""The outer layer of every request: request id, Host check, CORS, access log and latency metrics."""

from __future__ import annotations

import os
import re
import time
from typing import Any

from starlette.middleware.cors import CORSMiddleware
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from tracklight import __version__
from tracklight.config import Settings
from tracklight.http.hosts import HostGuard, unguarded_paths
from tracklight.http.responses import error_response
from tracklight.http.telemetry import REQUEST_SECONDS
from tracklight.logs import AccessLog, request_id

access_log = AccessLog()

# A caller's X-Request-ID is kept (so ids follow a request across a load balancer) if it is sane.
_SANE_ID = re.compile(r"^[A-Za-z0-9._:\-]{1,128}$")
# Tracklight's own version on every response (/version answers the MLflow version it stands in for).
_VERSION_HEADER = (b"x-tracklight-version", __version__.encode())
ROUTE_KEY = "tracklight.route"  # set in the ASGI scope by the router: the route template, for metrics


class InFlight:
    """How many HTTP requests this process is serving now (from the edge's start to its end)."""

    __slots__ = ("count",)

    def __init__(self) -> None:
        self.count = 0


class Edge:
    """Wraps the router; everything here runs once per request, before and after the handler."""

    def __init__(self, app: ASGIApp, settings: Settings, in_flight: InFlight | None = None) -> None:
        self.app = app
        self.in_flight = in_flight if in_flight is not None else InFlight()
        self.hosts = HostGuard(settings.allowed_hosts, settings.host)
        self.unguarded = unguarded_paths(settings.static_prefix)
        self.inner: ASGIApp = app
        self.timers: dict[tuple[str, str, int], Any] = {}
        if settings.cors_allowed_origins:
            self.inner = CORSMiddleware(
                app,
                allow_origins=list(settings.cors_allowed_origins),
                allow_methods=["GET", "POST", "PUT", "PATCH", "DELETE"],
                allow_headers=["*"],
                expose_headers=[
                    "X-Request-ID",
                    "Content-Disposition",
                    "Content-Range",
                    "X-Tracklight-Version",
                ],
            )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = dict(scope["headers"])
        given = headers.get(b"x-request-id", b"").decode("latin-1")
        # 32 random hex digits, like a uuid4's hex without building a UUID object (a few µs a request).
        rid = given if _SANE_ID.match(given) else os.urandom(16).hex()
        token = request_id.set(rid)
        start = time.perf_counter()
        status = 0

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                message["headers"] = [
                    *message.get("headers", []),
                    (b"x-request-id", rid.encode()),
                    _VERSION_HEADER,
                ]
            await send(message)

        path: str = scope["path"]
        in_flight = self.in_flight
        in_flight.count += 1
        try:
            host = headers.get(b"host", b"").decode("latin-1")
            if path not in self.unguarded and not self.hosts.allows(host):
                scope[ROUTE_KEY] = "rejected-host"
                response = error_response(
                    "PERMISSION_DENIED",
                    f"Host {host!r} is not allowed; add it to --allowed-hosts (TRACKLIGHT_ALLOWED_HOSTS).",
                    403,
                )
                await response(scope, receive, send_with_id)
            else:
                await self.inner(scope, receive, send_with_id)
        finally:
            in_flight.count -= 1
            elapsed = time.perf_counter() - start
            method = scope["method"]
            shown = status or 499  # no response started: the client went away first
            labels = (method, scope.get(ROUTE_KEY, "unmatched"), shown)
            timer = self.timers.get(labels)
            if timer is None:  # labels() takes a lock and builds a key each time; keep the child
                timer = self.timers[labels] = REQUEST_SECONDS.labels(labels[0], labels[1], str(shown))
            timer.observe(elapsed)
            access_log(method, path, shown, round(elapsed * 1000, 2))
            request_id.reset(token)
