"""The ASGI application: dispatch by exact path, run handlers off the event loop, map errors to MLflow's."""

from __future__ import annotations

import logging
from typing import Any

import orjson
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.types import Receive, Scope, Send

from tracklight import __version__
from tracklight.config import Settings
from tracklight.errors import STATUS_BY_CODE, StoreUnavailable, TracklightError
from tracklight.http.request import read_fields
from tracklight.http.routes import API_2_0, Handler
from tracklight.services.experiments import Experiments
from tracklight.services.runs import Runs
from tracklight.store.engine import Database

log = logging.getLogger("tracklight")

RETRY_AFTER_S = "5"


def json_response(body: dict[str, Any], status: int = 200) -> Response:
    return Response(orjson.dumps(body), status_code=status, media_type="application/json")


def error_response(code: str, message: str, status: int | None = None) -> Response:
    return json_response({"error_code": code, "message": message}, status or STATUS_BY_CODE.get(code, 400))


class TracklightApp:
    """Routes /api and /ajax-api calls to handlers; everything else gets a JSON 404."""

    def __init__(self, settings: Settings, db: Database) -> None:
        self.settings = settings
        self.db = db
        services = {
            "experiments": Experiments(db, settings.artifact_root_for_runs),
            "runs": Runs(db),
        }
        self.routes: dict[str, dict[str, tuple[Handler, Any]]] = {}
        prefix = settings.static_prefix
        for methods, path, handler, service in API_2_0:
            for api in ("/api/2.0/mlflow/", "/ajax-api/2.0/mlflow/"):
                by_method = self.routes.setdefault(prefix + api + path, {})
                for method in methods:
                    by_method[method] = (handler, services[service])
        self.plain: dict[str, Any] = {
            prefix + "/health": lambda: PlainTextResponse("OK"),
            prefix + "/version": lambda: PlainTextResponse(__version__),
            prefix + "/api/3.0/mlflow/server-info": self._server_info,
            prefix + "/ajax-api/3.0/mlflow/server-info": self._server_info,
        }

    def _server_info(self) -> Response:
        return json_response(
            {
                "store_type": "SqlStore",
                "workspaces_enabled": False,
                "trace_archival_enabled": False,
                "multipart_uploads_enabled": False,
                "multipart_downloads_enabled": False,
                "presigned_upload_run_id_supported": False,
                "presigned_upload_model_id_supported": False,
                "features_enabled": {},
            }
        )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await self._lifespan(receive, send)
            return
        if scope["type"] != "http":
            return
        response = await self._dispatch(Request(scope, receive))
        await response(scope, receive, send)

    async def _lifespan(self, receive: Receive, send: Send) -> None:
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                self.db.engine.dispose()
                await send({"type": "lifespan.shutdown.complete"})
                return

    async def _dispatch(self, request: Request) -> Response:
        path = request.url.path
        plain = self.plain.get(path)
        if plain is not None:
            return plain()
        by_method = self.routes.get(path)
        if by_method is None:
            return error_response("ENDPOINT_NOT_FOUND", f"No API endpoint at {request.method} {path}", 404)
        entry = by_method.get(request.method)
        if entry is None:
            return error_response(
                "BAD_REQUEST",
                f"Method {request.method} is not allowed for {path}; use {', '.join(by_method)}",
                405,
            )
        handler, service = entry
        try:
            fields = await read_fields(request)
            body = await run_in_threadpool(handler, fields, service)
            return json_response(body)
        except TracklightError as exc:
            return error_response(exc.error_code, exc.message)
        except StoreUnavailable as exc:
            log.warning("database unavailable: %s", exc)
            response = error_response(
                "TEMPORARILY_UNAVAILABLE", "The metadata database is unavailable; retry later.", 503
            )
            response.headers["Retry-After"] = RETRY_AFTER_S
            return response
        except Exception:
            log.exception("internal error on %s %s", request.method, path)
            return error_response("INTERNAL_ERROR", "Internal server error; see the server log.", 500)
