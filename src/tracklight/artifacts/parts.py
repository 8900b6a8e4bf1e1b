"""Uploads cut into parts with a few in flight: the writer that S3 and Azure share."""

from __future__ import annotations

import threading
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Generic, TypeVar

from tracklight.artifacts.store import PART_SIZE

Part = TypeVar("Part")

# Parts of one upload in flight at once: throughput from parallel PUTs, memory capped at this many parts.
PARTS_IN_FLIGHT = 3


class PartedWriter(Generic[Part]):
    """Buffers writes into PART_SIZE parts and sends each on a pool thread, at most PARTS_IN_FLIGHT at once.

    A file that never fills one part goes up in a single request instead. Subclasses say how to send
    a part, how to finish, and how to give up; nothing is visible under the name before finish() runs.
    """

    def __init__(self, pool: ThreadPoolExecutor) -> None:
        self.pool = pool
        self.buffer = bytearray()
        self.parts: list[Future[Part]] = []
        self.slots = threading.BoundedSemaphore(PARTS_IN_FLIGHT)

    def send_part(self, number: int, data: bytes) -> Part:
        raise NotImplementedError

    def send_whole(self, data: bytes) -> None:
        raise NotImplementedError

    def finish(self, parts: list[Part]) -> None:
        raise NotImplementedError

    def discard(self) -> None:
        """Give up on the parts sent so far (called after every one of them has settled)."""

    def write(self, chunk: bytes) -> None:
        self.buffer += chunk
        while len(self.buffer) >= PART_SIZE:
            with memoryview(self.buffer) as view:  # one copy of the part, not two
                part = bytes(view[:PART_SIZE])
            del self.buffer[:PART_SIZE]
            self._submit(part)

    def _submit(self, data: bytes) -> None:
        number = len(self.parts) + 1
        self.slots.acquire()  # blocks the request's thread, and so the client, while parts are in flight

        def send() -> Part:
            try:
                return self.send_part(number, data)
            finally:
                self.slots.release()

        self.parts.append(self.pool.submit(send))

    def commit(self) -> None:
        try:
            if not self.parts:
                self.send_whole(bytes(self.buffer))
                return
            if self.buffer:
                self._submit(bytes(self.buffer))
                self.buffer.clear()
            self.finish([f.result() for f in self.parts])
        except BaseException:
            self.abort()
            raise

    def abort(self) -> None:
        self.buffer.clear()
        for f in self.parts:
            f.cancel()
        for f in self.parts:
            if not f.cancelled():
                f.exception()  # wait, so no part lands after the abort returns
        if self.parts:
            self.discard()
        self.parts.clear()
