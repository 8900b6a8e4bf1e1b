"""Uploads cut into parts with a few in flight: the writer that S3 and Azure share."""

from __future__ import annotations

import queue
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Generic, TypeVar

from tracklight.artifacts.store import PART_SIZE

Part = TypeVar("Part")

# Parts of one upload in flight at once: throughput from parallel PUTs, memory capped at this many parts.
PARTS_IN_FLIGHT = 3


class PartedWriter(Generic[Part]):
    """Fills PART_SIZE buffers and sends each on a pool thread, at most PARTS_IN_FLIGHT at once.

    The buffers are allocated once per upload and reused, part after part: a multi-GiB upload costs
    (PARTS_IN_FLIGHT + 1) × PART_SIZE of memory and no allocator churn. A file that never fills one
    part goes up in a single request instead. Subclasses say how to send a part, how to finish, and how
    to give up; nothing is visible under the name before finish() runs.
    """

    def __init__(self, pool: ThreadPoolExecutor) -> None:
        self.pool = pool
        self.current = bytearray(PART_SIZE)
        self.filled = 0
        self.spare: queue.Queue[bytearray] = queue.Queue()
        self.buffers = 1
        self.parts: list[Future[Part]] = []

    def send_part(self, number: int, data: bytearray | bytes) -> Part:
        raise NotImplementedError

    def send_whole(self, data: bytes) -> None:
        raise NotImplementedError

    def finish(self, parts: list[Part]) -> None:
        raise NotImplementedError

    def discard(self) -> None:
        """Give up on the parts sent so far (called after every one of them has settled)."""

    def write(self, chunk: bytes) -> None:
        view = memoryview(chunk)
        while view:
            room = PART_SIZE - self.filled
            taken = view[:room]
            self.current[self.filled : self.filled + len(taken)] = taken
            self.filled += len(taken)
            view = view[len(taken) :]
            if self.filled == PART_SIZE:
                self._submit(self.current)
                self.current, self.filled = self._free_buffer(), 0

    def _free_buffer(self) -> bytearray:
        if self.buffers <= PARTS_IN_FLIGHT and self.spare.empty():
            self.buffers += 1
            return bytearray(PART_SIZE)
        return self.spare.get()  # blocks the request's thread, and so the client, while parts are in flight

    def _submit(self, data: bytearray | bytes) -> None:
        number = len(self.parts) + 1

        def send() -> Part:
            try:
                return self.send_part(number, data)
            finally:
                if isinstance(data, bytearray):
                    self.spare.put(data)

        self.parts.append(self.pool.submit(send))

    def commit(self) -> None:
        try:
            if not self.parts:
                self.send_whole(bytes(memoryview(self.current)[: self.filled]))
                return
            if self.filled:
                self._submit(bytes(memoryview(self.current)[: self.filled]))
                self.filled = 0
            self.finish([f.result() for f in self.parts])
        except BaseException:
            self.abort()
            raise

    def abort(self) -> None:
        self.filled = 0
        for f in self.parts:
            f.cancel()
        for f in self.parts:
            if not f.cancelled():
                f.exception()  # wait, so no part lands after the abort returns
        if self.parts:
            self.discard()
        self.parts.clear()
