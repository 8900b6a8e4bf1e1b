"""The ASGI application: dispatch by exact path, run handlers off the event loop, map errors to MLflow's."""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import Awaitable, Callable
from typing import Any

import orjson
from starlette.requests import ClientDisconnect, Request
from starlette.responses import PlainTextResponse, Response
from starlette.types import Receive, Scope, Send

from tracklight.application import Application
from tracklight.auth.permissions import Permission
from tracklight.dashboard.mount import MountedDashboard
from tracklight.errors import StoreUnavailable, TracklightError
from tracklight.http import artifacts as artifact_routes
from tracklight.http.auth import Authentication
from tracklight.http.edge import ROUTE_KEY, Edge, InFlight
from tracklight.http.registry import model_version_artifact
from tracklight.http.request import Fields, fields_from, read_fields
from tracklight.http.responses import error_response, json_response
from tracklight.http.routes import API_2_0, API_3_0, RAW_ROUTES, SHORT_READS, SHORT_WRITES, Handler, RawRoute
from tracklight.http.telemetry import metrics_response
from tracklight.http.tokens import TOKEN_API
from tracklight.http.traces import is_trace_data_path, trace_data_download
from tracklight.http.users import AUTH_API_2_0, AUTH_API_3_0
from tracklight.http.workers import in_worker
from tracklight.http.write_batches import WriteBatches
from tracklight.store import loop_reads
from tracklight.store.group_commit import WouldWait, without_waiting
from tracklight.store.loop_reads import ReadMustWait

log = logging.getLogger("tracklight")

RETRY_AFTER_S = "5"
READY_TIMEOUT_S = 3.0
_ARTIFACT_APIS = ("/api/2.0/mlflow-artifacts/", "/ajax-api/2.0/mlflow-artifacts/")
_JSON_TYPE = (b"content-type", b"application/json")  # as Starlette's Response writes media_type
# What /version answers: the MLflow server version whose features the stock client may use here, not
# Tracklight's own version (that is in the X-Tracklight-Version header, `tracklight --version` and the
# dashboard's footer). The 3.x client reads /version for one decision only (mlflow 3.17.2,
# RestStore.log_spans): it sends spans over OTLP (/v1/traces) to a server of 3.4 or later, and drops
# them with a warning otherwise. Tracklight takes OTLP spans, so it answers 3.4.0, the oldest version
# that enables them; anything a later client gates on a newer version stays off until it is built here.
# The 2.x client never reads /version.
MLFLOW_COMPATIBLE_VERSION = "3.4.0"


def _unavailable(message: str) -> Callable[[], Response]:
    return lambda: PlainTextResponse(message, status_code=503)


class TracklightApp:
    """Routes /api and /ajax-api calls to handlers; everything else gets a JSON 404."""

    def __init__(self, application: Application, in_flight: InFlight | None = None) -> None:
        settings = application.settings
        self.settings = settings
        # With auth off there is nobody to check, so artifact calls go straight to their handler.
        self.checks_permissions = application.authenticator is not None
        self.db = application.db
        self.destination = application.destination
        self.artifacts = application.artifacts
        # traces.json downloads fall back to the spans stored here (see http.traces.trace_data_download).
        traces = application.services.get("traces")
        self.trace_data = trace_data_download(traces) if traces is not None else None
        prefix = settings.static_prefix
        self.routes: dict[str, dict[str, tuple[Handler | RawRoute, Any]]] = {}
        # Routes with {parameters} in the path, tried in order after the exact ones.
        self.patterns: list[tuple[re.Pattern[str], dict[str, tuple[Handler | RawRoute, Any]]]] = []
        self.templates: dict[str, str] = {}  # each pattern's regex → the path template it was built from
        self.plain: dict[str, Callable[[], Response]] = {
            prefix + "/health": lambda: PlainTextResponse("OK"),
            prefix + "/metrics": metrics_response,
            prefix + "/version": lambda: PlainTextResponse(MLFLOW_COMPATIBLE_VERSION),
            prefix + "/api/3.0/mlflow/server-info": self._server_info,
            prefix + "/ajax-api/3.0/mlflow/server-info": self._server_info,
        }
        self.artifact_prefixes = tuple(prefix + api for api in _ARTIFACT_APIS)
        self.streamed: dict[str, artifact_routes.ArtifactHandler] = {}
        self.probes = {prefix + "/ready": self._ready}
        self.dashboard: MountedDashboard | None = None  # the web pages, tried after every API route
        # The registry webhooks' sender: a background thread for as long as the app is served.
        self.webhook_delivery: Any = application.services.get("webhook_delivery")
        if self.db is None:
            self.tracking_disabled: Callable[[], Response] | None = _unavailable(
                "This server runs with --artifacts-only: tracking and registry APIs are disabled."
            )
        else:
            self.tracking_disabled = None
            services = application.services
            versioned = [(route, "2.0") for route in API_2_0] + [(route, "3.0") for route in API_3_0]
            if "users" in services:
                versioned += [(route, "2.0") for route in AUTH_API_2_0]
                versioned += [(route, "3.0") for route in AUTH_API_3_0]
            for (methods, path, handler, service), version in versioned:
                for api in (f"/api/{version}/mlflow/", f"/ajax-api/{version}/mlflow/"):
                    full = prefix + api + path
                    by_method = self._pattern(full) if "{" in full else self.routes.setdefault(full, {})
                    for method in methods:
                        by_method[method] = (handler, services[service])
            if "users" in services:
                for methods, path, handler, service in TOKEN_API:
                    by_method = self.routes.setdefault(prefix + "/api/2.0/tracklight/" + path, {})
                    for method in methods:
                        by_method[method] = (handler, services[service])
            for methods, path, raw in RAW_ROUTES:
                full = prefix + path
                by_method = self._pattern(full) if "{" in full else self.routes.setdefault(full, {})
                for method in methods:
                    by_method[method] = (raw, services)
            self.streamed[prefix + "/get-artifact"] = artifact_routes.run_artifact
            self.dashboard = MountedDashboard(
                services, prefix, secure_cookies=settings.auth_cookie_secure == "always"
            )
            self.streamed[prefix + "/model-versions/get-artifact"] = model_version_artifact
        # The JSON API's exact paths with their plain handlers: served straight from the ASGI scope
        # (see _serve_api). The routes tried before the exact ones in _route are left out, so that
        # whatever answers a path here is what _route would pick.
        self.api: dict[str, dict[str, tuple[Handler, Any]]] = {}
        # On SQLite a short write may run on the event loop's thread when it is the only request in
        # flight (see _call): the requests the edge counts.
        self.in_flight = in_flight if self.db is not None and self.db.group_commit is not None else None
        # ... and otherwise in a batch with the short writes in flight beside it.
        self.write_batches = WriteBatches(self.db.group_commit) if self.in_flight is not None else None
        for path, by_method in self.routes.items():
            if path in self.plain or path in self.probes or path in self.streamed:
                continue
            if path.startswith(self.artifact_prefixes) or path != _routing_path(path):
                continue
            plain = {m: entry for m, entry in by_method.items() if not isinstance(entry[0], RawRoute)}
            if plain:
                self.api[path] = plain  # type: ignore[assignment]

    def _pattern(self, path: str) -> dict[str, tuple[Handler | RawRoute, Any]]:
        """The method table of a parameterised path; `{name}` matches one segment, `{name:path}` the rest."""
        regex = re.sub(
            r"\{(\w+)(:path)?\}",
            lambda m: f"(?P<{m.group(1)}>{'.+' if m.group(2) else '[^/]+'})",
            re.escape(path).replace("\\{", "{").replace("\\}", "}"),
        )
        compiled = re.compile(f"^{regex}$")
        for pattern, by_method in self.patterns:
            if pattern.pattern == compiled.pattern:
                return by_method
        by_method: dict[str, tuple[Handler | RawRoute, Any]] = {}
        self.patterns.append((compiled, by_method))
        self.templates[compiled.pattern] = path
        return by_method

    def route_templates(self) -> list[tuple[str, str]]:
        """(method, path template) of every route this app answers, dashboard pages included: the one
        list tests walk. Artifact routes are named without the artifact path that may follow them."""
        found = [(m, p) for p, by_method in self.routes.items() for m in by_method]
        found += [(m, self.templates[r.pattern]) for r, by_method in self.patterns for m in by_method]
        found += [("GET", p) for p in [*self.plain, *self.probes, *self.streamed]]
        for api in self.artifact_prefixes:
            found += [
                (m, api + name) for name, by_method in artifact_routes.ARTIFACT_ROUTES for m in by_method
            ]
        if self.dashboard is not None:
            found += self.dashboard.route_templates()
        return sorted(set(found))

    async def _ready(self) -> Response:
        """Readiness: the database and the artifact store each answer within READY_TIMEOUT_S."""
        checks: dict[str, Callable[[], None]] = {}
        if self.db is not None:
            checks["database"] = self.db.ping
        if self.destination is not None:
            checks["artifacts"] = self.destination.check
        results = {}
        for name, check in checks.items():
            try:
                await asyncio.wait_for(in_worker(check), READY_TIMEOUT_S)
                results[name] = "ok"
            except TimeoutError:
                results[name] = f"no answer within {READY_TIMEOUT_S:g} s"
            except Exception as exc:
                results[name] = f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}"[:300]
        ready = all(v == "ok" for v in results.values())
        return json_response(
            {"status": "ready" if ready else "unavailable", "checks": results}, 200 if ready else 503
        )

    def _server_info(self) -> Response:
        store = self.destination if self.settings.direct_transfers else None
        downloads = store is not None and store.direct_downloads
        return json_response(
            {
                "store_type": "SqlStore",
                "workspaces_enabled": False,
                "trace_archival_enabled": False,
                "multipart_uploads_enabled": store is not None and store.direct_uploads,
                "multipart_downloads_enabled": downloads,
                "artifact_serving_enabled": self.destination is not None,
                "presigned_upload_run_id_supported": False,
                "presigned_upload_model_id_supported": False,
                # ?presigned=true on model-versions/get-artifact and logged-models/<id>/artifacts/files.
                "model_artifact_presigned_downloads_supported": downloads,
                "artifacts_presigned_only": self.settings.artifacts_presigned_only,
                "features_enabled": {},
            }
        )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await self._lifespan(receive, send)
            return
        if scope["type"] != "http":
            return
        api = self.api.get(scope["path"])
        if api is not None:
            entry = api.get(scope["method"])
            if entry is not None:
                scope[ROUTE_KEY] = scope["path"]
                await self._serve_api(scope, receive, send, entry[0], entry[1])
                return
        request = Request(scope, receive)
        try:
            response = await self._dispatch(request)
        except ClientDisconnect:
            return  # nobody is left to answer; an upload in progress was already aborted
        await response(scope, receive, send)

    async def _serve_api(
        self, scope: Scope, receive: Receive, send: Send, handler: Handler, service: Any
    ) -> None:
        """A JSON API call as _route's `call` makes it, on the scope itself: no Request or Response
        objects on the way (a run create or a logged metric is a few hundred microseconds in all, and
        those were a tenth of it). The response is what json_response sends, header for header."""
        try:
            fields = await fields_from(scope, receive)
            body = orjson.dumps(await self._call(handler, fields, service))
        except ClientDisconnect:
            return  # nobody is left to answer
        except Exception as exc:
            await _failure(exc, Request(scope, receive))(scope, receive, send)
            return
        await send(
            {
                "type": "http.response.start",
                "status": 200,
                "headers": [(b"content-length", str(len(body)).encode()), _JSON_TYPE],
            }
        )
        await send({"type": "http.response.body", "body": body})

    async def _call(self, handler: Handler, fields: Fields, service: Any) -> Any:
        """handler(fields, service) on a worker thread, or, for a short write or a short read on SQLite
        while nothing else is in flight, on this thread; a short write with others in flight goes into
        the next of their batches (http.write_batches).

        The hop to a worker and back is two thread wake-ups and a few GIL hand-offs: on a busy
        machine, a fifth of a run create's CPU and more of its latency. Run here, the call holds up
        the event loop for its own duration (a commit and its sync); it is done only when no other
        request has started, after one turn of the loop lets requests that arrived together with
        this one start first (they then share a commit on worker threads). Its write starts at once
        or not at all (group_commit.without_waiting: SQLite's lock is never waited for here); if it
        would have to wait, nothing was written and the call goes to a worker after all. A short read
        is bounded the same way (store.loop_reads: no lock waits, a 20 ms budget).
        """
        in_flight = self.in_flight
        short = SHORT_WRITES.get(handler)
        if in_flight is not None and short is not None and short(fields):
            if in_flight.count == 1:
                await asyncio.sleep(0)
                if in_flight.count == 1:
                    try:
                        return without_waiting(handler, fields, service)
                    except WouldWait:
                        pass
            return await self.write_batches.run(handler, fields, service)  # type: ignore[union-attr]
        if in_flight is not None and handler in SHORT_READS and in_flight.count == 1:
            # The same for a read: it runs here only within a budget, and never waits for a lock.
            await asyncio.sleep(0)
            if in_flight.count == 1:
                try:
                    return loop_reads.on_loop(handler, fields, service)
                except ReadMustWait:
                    pass
        return await in_worker(handler, fields, service)

    async def _lifespan(self, receive: Receive, send: Send) -> None:
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                if self.webhook_delivery is not None:
                    self.webhook_delivery.start()
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                if self.webhook_delivery is not None:
                    await in_worker(self.webhook_delivery.stop)
                if self.db is not None:
                    self.db.dispose()
                await send({"type": "lifespan.shutdown.complete"})
                return

    def dashboard_kind(self, raw_path: str) -> str | None:
        """What the dashboard serves at this path ("page", "data" or "static"), or None when an API
        route, a probe, an artifact route or nothing at all answers it: the routes a session cookie may
        open (see http.auth). Decided as _route decides, API routes first."""
        if self.dashboard is None:
            return None
        path = _routing_path(raw_path)
        if path in self.plain or path in self.probes or path in self.routes:
            return None
        if path.startswith(self.artifact_prefixes):
            return None
        if (re.sub("/{2,}", "/", path) if "//" in path else path) in self.streamed:
            return None
        if any(pattern.match(path) for pattern, _ in self.patterns):
            return None
        return self.dashboard.kind(raw_path)  # the dashboard matches the path as it came, as in route()

    def _route(self, request: Request) -> Callable[[], Awaitable[Response]] | Response:
        """What answers this request: a coroutine factory, or a ready response."""
        path = _routing_path(request.scope["path"])
        method = request.method
        # The metrics label: the route's template, never the raw path (which would be unbounded).
        request.scope[ROUTE_KEY] = "unmatched"
        plain = self.plain.get(path)
        if plain is not None:
            request.scope[ROUTE_KEY] = path
            return plain()
        probe = self.probes.get(path)
        if probe is not None:
            request.scope[ROUTE_KEY] = path
            return probe
        if path.startswith(self.artifact_prefixes):
            return self._artifact_route(request, path.split("mlflow-artifacts/", 1)[1])
        if self.tracking_disabled is not None:
            return self.tracking_disabled()
        # The UI asks for //model-versions/get-artifact; MLflow's router merges repeated slashes.
        streamed = self.streamed.get(re.sub("/{2,}", "/", path) if "//" in path else path)
        if streamed is not None and method == "GET":
            request.scope[ROUTE_KEY] = re.sub("/{2,}", "/", path)
            artifacts = self.artifacts
            return lambda: streamed(request, artifacts, "")
        by_method = self.routes.get(path)
        path_params: dict[str, str] = {}
        if by_method is not None:
            request.scope[ROUTE_KEY] = path
        else:
            for pattern, candidate in self.patterns:
                match = pattern.match(path)
                if match is not None:
                    by_method, path_params = candidate, match.groupdict()
                    request.scope[ROUTE_KEY] = pattern.pattern
                    break
        if by_method is None:
            page = self.dashboard.route(request) if self.dashboard is not None else None
            if page is not None:
                request.scope[ROUTE_KEY] = "dashboard"
                return page
            return error_response("ENDPOINT_NOT_FOUND", f"No API endpoint at {method} {path}", 404)
        entry = by_method.get(method)
        if entry is None:
            return _not_allowed(method, path, by_method)
        handler, service = entry
        if isinstance(handler, RawRoute):
            serve = handler.serve
            return lambda: serve(request, service, path_params)

        async def call() -> Response:
            fields = await read_fields(request)
            fields.data.update(path_params)  # the path names the resource, whatever the body says
            return json_response(await in_worker(handler, fields, service))

        return call

    def _artifact_route(self, request: Request, rest: str) -> Callable[[], Awaitable[Response]] | Response:
        if self.destination is None or self.artifacts is None:
            return _unavailable("Artifact proxying is disabled: start the server with --serve-artifacts.")()
        for name, by_method in artifact_routes.ARTIFACT_ROUTES:
            if rest == name or rest.startswith(name + "/"):
                request.scope[ROUTE_KEY] = f"mlflow-artifacts/{name}"
                handler = by_method.get(request.method)
                if handler is None:
                    return _not_allowed(request.method, request.url.path, by_method)
                artifacts, path = self.artifacts, rest[len(name) + 1 :]
                if self.trace_data is not None and request.method == "GET" and is_trace_data_path(path):
                    handler = self.trace_data
                if not self.checks_permissions:
                    return lambda: handler(request, artifacts, path)
                need = _ARTIFACT_NEEDS.get(request.method, Permission.MANAGE)
                return _authorized_artifact_call(request, handler, artifacts, path, need)
        return error_response(
            "ENDPOINT_NOT_FOUND", f"No API endpoint at {request.method} {request.url.path}", 404
        )

    async def _dispatch(self, request: Request) -> Response:
        route = self._route(request)
        if isinstance(route, Response):
            return route
        try:
            return await route()
        except ClientDisconnect:
            raise
        except Exception as exc:
            return _failure(exc, request)


def _failure(exc: Exception, request: Request) -> Response:
    """The answer to a handler's exception (called while handling it): a domain error's MLflow
    error_code, 503 while the database is unreachable, else 500 with the traceback logged."""
    if isinstance(exc, TracklightError):
        return error_response(exc.error_code, exc.message, details=exc.details)
    if isinstance(exc, StoreUnavailable):
        log.warning("database unavailable: %s", exc)
        response = error_response(
            "TEMPORARILY_UNAVAILABLE", "The metadata database is unavailable; retry later.", 503
        )
        response.headers["Retry-After"] = RETRY_AFTER_S
        return response
    log.exception("internal error on %s %s", request.method, request.url.path)
    return error_response("INTERNAL_ERROR", "Internal server error; see the server log.", 500)


# What a proxied artifact call needs on the experiment its path starts with (MLflow's mapping).
_ARTIFACT_NEEDS = {
    "GET": Permission.READ,
    "PUT": Permission.EDIT,
    "POST": Permission.EDIT,
    "DELETE": Permission.MANAGE,
}


def _authorized_artifact_call(
    request: Request, handler: artifact_routes.ArtifactHandler, artifacts: Any, path: str, need: Permission
) -> Callable[[], Awaitable[Response]]:
    async def serve() -> Response:
        # A listing names its directory in ?path=, everything else in the URL.
        named = path or request.query_params.get("path") or ""
        await in_worker(artifacts.authorize_path, named, need)
        return await handler(request, artifacts, path)

    return serve


def _routing_path(path: str) -> str:
    """The path as request.url.path has it (?, # and backslashes re-encoded), without building a URL."""
    return path.replace("?", "%3F").replace("#", "%23").replace("\\", "%5C")


def _not_allowed(method: str, path: str, by_method: dict[str, Any]) -> Response:
    return error_response(
        "BAD_REQUEST", f"Method {method} is not allowed for {path}; use {', '.join(by_method)}", 405
    )


def build_app(application: Application) -> Edge:
    """The whole ASGI application: the router behind the per-request edge."""
    in_flight = InFlight()
    app = TracklightApp(application, in_flight)
    router: Any = app
    if application.authenticator is not None:
        router = Authentication(
            app,
            application.authenticator,
            application.settings.static_prefix,
            sessions=application.sessions,
            dashboard_kind=app.dashboard_kind,
            proxy=application.proxy_identity,
        )
    return Edge(router, application.settings, in_flight)
