"""The worker pool that runs blocking handlers: calls that arrive together run together."""

from __future__ import annotations

import asyncio
import contextvars
import threading
from collections.abc import Callable, Coroutine
from typing import Any

import pytest

from tracklight.http.workers import in_worker

WAIT_S = 10.0  # a bound on waiting, never a timing assertion


def _run(main: Callable[[], Coroutine[Any, Any, None]]) -> None:
    """asyncio.run, also after Playwright's sync API (the browser tests, earlier in the same session) has
    left its event loop marked as running on this thread, where asyncio.run would refuse to start."""
    held = asyncio._get_running_loop()
    asyncio._set_running_loop(None)
    try:
        asyncio.run(main())
    finally:
        asyncio._set_running_loop(held)


def test_calls_arriving_together_run_on_separate_threads_even_when_some_threads_are_idle() -> None:
    """Each call must find a thread of its own: three calls that each wait for the other two would
    deadlock (and the barrier break) if any two were queued on one thread."""

    async def burst(n: int) -> list[str]:
        barrier = threading.Barrier(n, timeout=WAIT_S)

        def meet() -> str:
            barrier.wait()
            return threading.current_thread().name

        return await asyncio.gather(*(in_worker(meet) for _ in range(n)))

    async def main() -> None:
        # A first, lone call leaves an idle thread behind; the bursts then need fresh ones beside it.
        await in_worker(lambda: None)
        for n in (2, 3, 5):
            names = await burst(n)
            assert len(set(names)) == n
            await asyncio.sleep(0.05)  # let the threads go back to waiting

    _run(main)


def test_a_call_sees_the_callers_context_and_its_error_reaches_the_caller() -> None:
    var: contextvars.ContextVar[str] = contextvars.ContextVar("var", default="unset")

    async def main() -> None:
        var.set("request-7")
        assert await in_worker(var.get) == "request-7"
        with pytest.raises(KeyError, match="missing"):
            await in_worker({}.__getitem__, "missing")

    _run(main)
