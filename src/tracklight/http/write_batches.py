"""On SQLite, short writes in flight together run as one batch: on the loop's thread, in one transaction."""

from __future__ import annotations

import asyncio
import contextvars
import functools
from collections.abc import Callable
from typing import Any

from tracklight.http.workers import on_commit_thread, on_worker, settle
from tracklight.store.group_commit import GroupCommit

# As group_commit.MAX_GROUP: the calls of a batch run back to back while all of them wait.
MAX_BATCH = 32

_Waiting = tuple[Callable[[], Any], asyncio.Future[Any]]


class WriteBatches:
    """Queues short writes (a run create, a logged metric) on the event loop and runs them as batches,
    one batch at a time: whoever arrives while one runs forms the next.

    The alternative, a worker thread per request with group commit pairing their transactions, costs
    twice the CPU per run create from eight clients (thread wake-ups and GIL hand-offs among nine
    threads); here a batch is one hand-off each way, and its calls share one commit and one sync.
    """

    def __init__(self, group: GroupCommit) -> None:
        self._group = group
        self._waiting: list[_Waiting] = []
        self._running = False

    async def run(self, handler: Callable[[Any, Any], Any], fields: Any, service: Any) -> Any:
        """handler(fields, service) in the next batch, in the caller's context; its result once committed."""
        loop = asyncio.get_running_loop()
        future: asyncio.Future[Any] = loop.create_future()
        call = functools.partial(contextvars.copy_context().run, handler, fields, service)
        self._waiting.append((call, future))
        if not self._running:
            self._running = True
            # One turn of the loop first: requests read in the same turn join this batch.
            loop.call_soon(self._next)
        return await future

    def _next(self) -> None:
        batch = self._waiting[:MAX_BATCH]
        del self._waiting[:MAX_BATCH]
        if not batch:
            self._running = False
            return
        calls = [call for call, _ in batch]
        try:
            # The calls run here, on the loop's thread: a hop to a worker for them cost more CPU than
            # they take (the worker and the loop pass the GIL back and forth at every statement);
            # only the commit, which waits for the disk, goes to the thread kept for commits.
            commit = self._group.batch_now(calls)
        except Exception:  # noqa: BLE001 - WouldWait, or BEGIN failed (the disk, the file): nothing ran
            # A worker runs them as a batch that waits its turn, each call alone if that fails too,
            # meeting the failure its own way (retries, StoreUnavailable).
            done = on_worker(self._group.run_batch, calls)
        else:
            done = on_commit_thread(commit)
        done.add_done_callback(functools.partial(self._settle, batch))

    def _settle(
        self, batch: list[_Waiting], done: asyncio.Future[list[tuple[Any, BaseException | None]]]
    ) -> None:
        try:
            try:
                outcomes = done.result()
            except BaseException as exc:  # noqa: BLE001 - every caller of the batch gets it
                outcomes = [(None, exc)] * len(batch)
            for (_, future), (result, error) in zip(batch, outcomes, strict=True):
                if isinstance(error, asyncio.CancelledError) and not future.cancelled():
                    future.cancel()  # the loop is shutting down
                else:
                    settle(future, (result, error))  # a cancelled one's client has gone; the write stands
        finally:
            self._next()  # whatever happened above, the writes queued behind this batch go on
