"""Blocking calls (database, object stores) run on a thread pool, off the event loop."""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import queue
import threading
from collections.abc import Callable
from typing import Any, TypeVar

T = TypeVar("T")

# As many threads as anyio's default limiter allowed; further calls queue for a free thread.
MAX_THREADS = 40


class _Workers:
    """Threads that take calls from one queue and hand each outcome straight to the caller's loop.

    Leaner than loop.run_in_executor with a ThreadPoolExecutor, which wraps every call in a
    concurrent Future (a condition variable) chained to an asyncio Future: on a request that takes a
    millisecond, that hop was a tenth of the server's CPU.
    """

    def __init__(self, limit: int, name: str = "tracklight-worker") -> None:
        self._limit = limit
        self._name = name
        self._calls: queue.SimpleQueue[tuple[Any, ...]] = queue.SimpleQueue()
        self._lock = threading.Lock()
        self._threads = 0
        self._idle = 0

    def submit(
        self, loop: asyncio.AbstractEventLoop, future: asyncio.Future[Any], call: tuple[Any, ...]
    ) -> None:
        self._calls.put((loop, future, call))
        with self._lock:
            if self._idle:
                # A thread waiting on the queue (or about to) will take this call: claim it, so that
                # the next call counts it busy even before it has woken up.
                self._idle -= 1
                return
            if self._threads >= self._limit:
                return  # the call waits for the first thread to finish
            self._threads += 1
        threading.Thread(target=self._serve, name=f"{self._name}-{self._threads}", daemon=True).start()

    def _serve(self) -> None:
        calls, lock = self._calls, self._lock
        # A new thread was started for a call already queued: it is busy, not idle, until that is done.
        started = True
        while True:
            if not started:
                with lock:
                    self._idle += 1
            started = False
            loop, future, (context, fn, args) = calls.get()
            try:
                outcome: tuple[Any, BaseException | None] = (context.run(fn, *args), None)
            except BaseException as exc:  # noqa: BLE001 - handed to the awaiting coroutine
                outcome = (None, exc)
            with contextlib.suppress(RuntimeError):  # the loop has closed: nobody is waiting any more
                loop.call_soon_threadsafe(settle, future, outcome)
            # Drop the references before waiting for the next call: a result may be large.
            loop = future = context = fn = args = outcome = None


def settle(future: asyncio.Future[Any], outcome: tuple[Any, BaseException | None]) -> None:
    """Give an awaiting coroutine its (result, error), unless it has stopped waiting."""
    if future.cancelled():
        return
    result, error = outcome
    if error is None:
        future.set_result(result)
    else:
        future.set_exception(error)


_POOL = _Workers(MAX_THREADS)
# A batch's COMMIT (http.write_batches) runs here, never behind the pool's queue: until it has run, the
# batch leads the group commit, and pool threads that are writing wait for that lead to pass on.
_COMMITS = _Workers(1, "tracklight-commit")


def on_worker(fn: Callable[..., T], *args: object, pool: _Workers | None = None) -> asyncio.Future[T]:
    """A future of fn(*args) on a worker thread (of `pool`, by default the shared one), in the caller's
    context (so the request id tags its log lines); call it on the event loop's thread."""
    loop = asyncio.get_running_loop()
    future: asyncio.Future[T] = loop.create_future()
    (pool or _POOL).submit(loop, future, (contextvars.copy_context(), fn, args))
    return future


def on_commit_thread(fn: Callable[..., T], *args: object) -> asyncio.Future[T]:
    """As on_worker, on the thread kept for write batches' commits."""
    return on_worker(fn, *args, pool=_COMMITS)


async def in_worker(fn: Callable[..., T], *args: object) -> T:
    """fn(*args) on a worker thread, in the caller's context."""
    return await on_worker(fn, *args)
