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

from tracklight.config import Settings, export
from tracklight.logs import log_config
from tracklight.store.engine import Database

GRACEFUL_SHUTDOWN_S = 30
GRACE_MARGIN_S = 5
# What multi-worker processes import: they build their own app from the TRACKLIGHT_* variables.
APP_FACTORY = "tracklight.startup:create_app"


def serve(settings: Settings, app: Any, db: Database | None) -> None:
    """Serve `app` (built from `settings` on `db`) until SIGTERM/SIGINT; with workers, each builds its own."""
    if settings.workers > 1:
        # Workers re-read the settings from the environment, so hand the resolved ones down that way.
        export(settings)
        if db is not None:
            db.dispose()
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
        # uvicorn would replace a loopback peer's address with its X-Forwarded-For; the proxy header mode
        # trusts the TCP peer itself, so the address must stay the one that connected.
        "proxy_headers": settings.auth_proxy != "header",
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
    logging.config.dictConfig(config.logconfig_dict)
    if settings.workers > 1:
        _hypercorn_workers(config, settings.workers)
    else:
        _run(_hypercorn_serve(app, config, None, None))


def _run(main: Any) -> None:
    import asyncio

    with asyncio.Runner(loop_factory=_loop_factory()) as runner:
        runner.run(main)


async def _hypercorn_serve(app: Any, config: Any, sockets: Any, shutdown_event: Any) -> None:
    """Serve until SIGTERM/SIGINT (or, in a worker, the parent's shutdown event), then drain; never hang.

    Hypercorn gives in-flight requests graceful_timeout and then cancels them, but an HTTP/2 stream cancelled
    while its request body is still arriving can leave the connection's teardown waiting for ever (Hypercorn
    0.18). So the process stops waiting GRACE_MARGIN_S after that and exits.
    """
    import asyncio
    import logging

    from hypercorn.asyncio.run import worker_serve
    from hypercorn.utils import wrap_app

    loop = asyncio.get_running_loop()
    stopping = asyncio.Event()
    if shutdown_event is None:
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stopping.set)
    else:

        async def poll() -> None:
            while not shutdown_event.is_set():
                await asyncio.sleep(0.1)
            stopping.set()

        poller = loop.create_task(poll())  # noqa: F841 - runs until shutdown
    server = loop.create_task(
        worker_serve(
            wrap_app(app, config.wsgi_max_body_size, "asgi"),
            config,
            sockets=sockets,
            shutdown_trigger=stopping.wait,
        )
    )
    signalled = loop.create_task(stopping.wait())
    await asyncio.wait({server, signalled}, return_when=asyncio.FIRST_COMPLETED)
    done, _ = await asyncio.wait({server}, timeout=GRACEFUL_SHUTDOWN_S + GRACE_MARGIN_S)
    if not done:
        logging.getLogger("tracklight").warning(
            "connections still open %d s after the shutdown signal; exiting anyway",
            GRACEFUL_SHUTDOWN_S + GRACE_MARGIN_S,
        )
        logging.shutdown()
        os._exit(0)
    server.result()


def _hypercorn_workers(config: Any, workers: int) -> None:
    """`workers` processes on one listening socket; SIGTERM/SIGINT to this parent drains them all."""
    import multiprocessing
    from multiprocessing.connection import wait

    ctx = multiprocessing.get_context("spawn")
    sockets = config.create_sockets()
    shutdown = ctx.Event()
    # Workers start with SIGTERM and SIGINT ignored (an ignored signal stays ignored in a spawned child), so a
    # signal sent to the whole process group (Ctrl-C, kill -- -PGID) drains them through `shutdown` instead
    # of killing them mid-request.
    stop_signals = (signal.SIGTERM, signal.SIGINT)
    previous = {sig: signal.signal(sig, signal.SIG_IGN) for sig in stop_signals}
    try:
        processes = [
            ctx.Process(target=_hypercorn_worker, args=(config, sockets, shutdown), name=f"worker-{i}")
            for i in range(workers)
        ]
        for process in processes:
            process.start()
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    for sig in stop_signals:
        signal.signal(sig, lambda *_: shutdown.set())
    wait([process.sentinel for process in processes])  # a shutdown, or a worker that died
    shutdown.set()
    for process in processes:
        process.join()
    for sock in sockets.insecure_sockets:
        sock.close()
    code = next((process.exitcode for process in processes if process.exitcode), 0)
    if code:
        raise SystemExit(1)


def _hypercorn_worker(config: Any, sockets: Any, shutdown: Any) -> None:
    import logging.config

    from tracklight.startup import create_app

    logging.config.dictConfig(config.logconfig_dict)
    _run(_hypercorn_serve(create_app(), config, sockets, shutdown))


def _loop_factory() -> Any:
    """uvloop's event loop when it is installed (uvicorn[standard] brings it), as uvicorn would pick."""
    try:
        import uvloop
    except ImportError:
        return None
    return uvloop.new_event_loop
