"""Bring a server's store to a usable state: open the database, migrate or check the schema, seed Default."""

from __future__ import annotations

import ctypes
import gc

from tracklight.config import Settings, load_settings
from tracklight.http.app import build_app
from tracklight.http.edge import Edge
from tracklight.services.experiments import Experiments
from tracklight.store.engine import Database, open_database
from tracklight.store.migrate import check_current, upgrade


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


def prepare_store(settings: Settings) -> Database:
    """Open the store; the embedded SQLite default migrates itself, other databases must be current."""
    db = open_database(
        settings.backend_store_uri,
        pool_size=settings.db_pool_size,
        timeout_s=settings.db_timeout_s,
        query_timeout_s=settings.db_query_timeout_s,
    )
    if db.dialect == "sqlite":
        upgrade(db)
    else:
        check_current(db)
    Experiments(db, settings.artifact_root_for_runs).ensure_default()
    return db


def create_app() -> Edge:
    """Application factory for uvicorn workers; settings come from TRACKLIGHT_* variables."""
    settings = load_settings()
    tune_allocator()
    app = build_app(settings, None if settings.artifacts_only else prepare_store(settings))
    tune_collector()
    return app
