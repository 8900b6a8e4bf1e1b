"""Start a server process: tune the runtime, assemble the application, build the ASGI app, say what it serves."""

from __future__ import annotations

import ctypes
import gc
import logging

from tracklight.application import Application, assemble
from tracklight.config import Settings, described_location, load_settings
from tracklight.http.app import build_app
from tracklight.http.edge import Edge
from tracklight.http.telemetry import watch_pool

log = logging.getLogger("tracklight")


def tune_allocator() -> None:
    """Return big buffers to the OS as soon as they are freed (glibc only).

    glibc raises its mmap threshold each time it frees a mapped block, up to 32 MiB; after the first few
    artifact parts (8 MiB each) it serves them from the heap and keeps the memory once they are freed,
    so a long upload would leave the process tens of MiB larger. A fixed 4 MiB threshold maps every
    part buffer and unmaps it on free.
    """
    try:
        libc = ctypes.CDLL("libc.so.6")
    except OSError:
        return
    m_trim_threshold, m_mmap_threshold = -1, -3
    # Above the 1 MiB read and write chunks, which the heap recycles without page faults; below a part.
    libc.mallopt(m_mmap_threshold, 4 << 20)
    # A fixed mmap threshold also freezes the heap's trim threshold at 128 KiB; keep a little more.
    libc.mallopt(m_trim_threshold, 16 << 20)


def tune_collector() -> None:
    """Keep the cyclic GC off the request path's back.

    A page of 1000 runs builds tens of thousands of dicts and lists; at the default threshold (700
    allocations) that triggers dozens of collections per response, and the full ones walk every object
    the server loaded at start-up too. Start-up objects are frozen out of collection, and collections
    run every 50,000 allocations instead: the few cycles a request makes are still reclaimed.
    """
    gc.collect()
    gc.freeze()
    gc.set_threshold(50_000, 20, 20)
    gc.enable()  # the server command turns it off for start-up


def start(settings: Settings) -> tuple[Application, Edge]:
    """The application and the ASGI app serving it, with the runtime tuned around them."""
    tune_allocator()
    application = assemble(settings)
    if application.db is not None:
        watch_pool(application.db)
    app = build_app(application)
    tune_collector()
    return application, app


def create_app() -> Edge:
    """Application factory for worker processes; settings come from TRACKLIGHT_* variables."""
    return start(load_settings())[1]


def announce(application: Application) -> None:
    """Say where the data lives, one line each (passwords masked), so nobody has to guess."""
    settings = application.settings
    if application.db is None:
        log.info("database: none (--artifacts-only)")
    else:
        database = described_location(settings.backend_store_uri)
        log.info("database: %s", database)
    if application.created_schema:
        log.info("created the schema (revision %s) on the empty database", application.created_schema)
    if application.authenticator is not None:
        log.info(
            "authentication: on; users without a grant get %s",
            settings.auth_default_permission.upper(),
        )
        if application.created_admin:
            log.info("created the admin user %r", application.created_admin)
    if application.destination is not None:
        artifacts = described_location(settings.artifacts_destination)
        log.info("artifacts: %s", artifacts)
    else:
        root = described_location(settings.artifact_root_for_runs)
        log.info("artifacts: not proxied (--no-serve-artifacts); clients write to %s themselves", root)
