"""Blocking calls (database, object stores) run on a thread pool, off the event loop."""

from __future__ import annotations

import asyncio
import contextvars
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

T = TypeVar("T")

# As many threads as anyio's default limiter allowed; further calls queue for a free thread. A plain
# executor hop costs a fraction of anyio's (no capacity limiter, cancel scope or run-var lookups),
# which shows on requests that take a millisecond.
_POOL = ThreadPoolExecutor(max_workers=40, thread_name_prefix="tracklight-worker")


async def in_worker(fn: Callable[..., T], *args: object) -> T:
    """fn(*args) on a worker thread, in the caller's context (so the request id tags its log lines)."""
    context = contextvars.copy_context()
    return await asyncio.get_running_loop().run_in_executor(_POOL, context.run, fn, *args)
