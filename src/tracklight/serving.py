"""Run the ASGI app under uvicorn, or under Hypercorn for h2c.

uvicorn (the default) speaks HTTP/1.1. Hypercorn (`--h2c`) speaks HTTP/1.1 and cleartext HTTP/2 on the same
port, HTTP/2 by prior knowledge included: that is what Cloud Run sends to a container port named `h2c`, and
only then does Cloud Run lift its 32 MiB limit on request bodies. Hypercorn is imported only in that mode.
Either way: our log configuration, no server access log (tracklight.http.edge logs one line per request),
no Server header, and on SIGTERM or SIGINT in-flight requests get GRACEFUL_SHUTDOWN_S to finish.
"""

from __future__ import annotations

import os
import signal
from typing import Any

from tracklight.config import Settings
from tracklight.logs import log_config
from tracklight.store.engine import Database

GRACEFUL_SHUTDOWN_S = 30
# What multi-worker processes import: they build their own app from the TRACKLIGHT_* variables.
APP_FACTORY = "tracklight.startup:create_app"


def serve(settings: Settings, app: Any, db: Database | None) -> None:
    """Serve `app` (built from `settings` on `db`) until SIGTERM/SIGINT; with workers, each builds its own."""
    if settings.workers > 1:
        # Workers re-read the settings from the environment, so hand the resolved ones down that way.
        export(settings)
        if db is not None:
            db.engine.dispose()
    if settings.h2c:
        _hypercorn(settings, app)
    else:
        _uvicorn(settings, app)


def _uvicorn(settings: Settings, app: Any) -> None:
    import uvicorn

    common: dict[str, Any] = {
        "host": settings.host,
        "port": settings.port,
        "access_log": False,
        "log_config": log_config(settings.log_format),
        "timeout_graceful_shutdown": GRACEFUL_SHUTDOWN_S,
        "server_header": False,
    }
    if settings.workers > 1:
        uvicorn.run(APP_FACTORY, factory=True, workers=settings.workers, **common)
    else:
        uvicorn.run(app, **common)


def _hypercorn(settings: Settings, app: Any) -> None:
    import logging
    import logging.config

    from hypercorn.config import Config

    config = Config()
    host = f"[{settings.host}]" if ":" in settings.host else settings.host
    config.bind = [f"{host}:{settings.port}"]
    config.accesslog = None
    # Its own messages (startup, protocol errors) go through our handlers, not a formatter of its own.
    config.errorlog = logging.getLogger("hypercorn.error")
    config.logconfig_dict = log_config(settings.log_format)  # applied again in each worker process
    config.graceful_timeout = GRACEFUL_SHUTDOWN_S
    config.include_server_header = False
    config.workers = settings.workers
    logging.config.dictConfig(config.logconfig_dict)
    if settings.workers > 1:
        _hypercorn_workers(config)
        return
    import asyncio

    from hypercorn.asyncio import serve as hypercorn_serve

    # With no shutdown trigger of its own, serve() turns SIGTERM and SIGINT into a graceful shutdown.
    with asyncio.Runner(loop_factory=_loop_factory()) as runner:
        runner.run(hypercorn_serve(app, config, mode="asgi"))


def _hypercorn_workers(config: Any) -> None:
    from hypercorn.run import run

    config.application_path = f"{APP_FACTORY}()"
    config.worker_class = "uvloop" if _loop_factory() is not None else "asyncio"
    # The parent turns SIGTERM into a shutdown event that each worker drains on; the workers themselves must
    # not die of a SIGTERM sent to the whole process group. An ignored signal stays ignored in a spawned child,
    # and run() installs the parent's own handler once the workers are started.
    previous = signal.signal(signal.SIGTERM, signal.SIG_IGN)
    try:
        code = run(config)
    finally:
        signal.signal(signal.SIGTERM, previous)
    if code:
        raise SystemExit(code)


def _loop_factory() -> Any:
    """uvloop's event loop when it is installed (uvicorn[standard] brings it), as uvicorn would pick."""
    try:
        import uvloop
    except ImportError:
        return None
    return uvloop.new_event_loop


def export(settings: Settings) -> None:
    """Put the resolved settings into TRACKLIGHT_* variables, for worker processes that read them."""
    os.environ.update(
        {
            "TRACKLIGHT_BACKEND_STORE_URI": settings.backend_store_uri,
            "TRACKLIGHT_ARTIFACTS_DESTINATION": settings.artifacts_destination,
            "TRACKLIGHT_SERVE_ARTIFACTS": "true" if settings.serve_artifacts else "false",
            "TRACKLIGHT_ARTIFACTS_ONLY": "true" if settings.artifacts_only else "false",
            "TRACKLIGHT_STATIC_PREFIX": settings.static_prefix,
            "TRACKLIGHT_ALLOWED_HOSTS": ",".join(settings.allowed_hosts),
            "TRACKLIGHT_CORS_ALLOWED_ORIGINS": ",".join(settings.cors_allowed_origins),
            "TRACKLIGHT_LOG_FORMAT": settings.log_format,
            "TRACKLIGHT_H2C": "true" if settings.h2c else "false",
        }
    )
    if settings.default_artifact_root:
        os.environ["TRACKLIGHT_DEFAULT_ARTIFACT_ROOT"] = settings.default_artifact_root
