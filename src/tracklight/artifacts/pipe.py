"""A request body handed to a store's single streaming PUT: one thread writes it, the PUT reads it."""

from __future__ import annotations

import contextlib
import queue
import threading
from collections.abc import Callable
from concurrent.futures import Future

from tracklight.artifacts.store import READ_CHUNK

# Chunks (of up to the HTTP layer's 1 MiB batches) waiting for the PUT: the memory one upload holds.
PIPE_DEPTH = 8
_WAIT_S = 0.5


class UploadAborted(Exception):
    """The request ended before its body did; the PUT must fail rather than store a short object."""


class BodyPipe:
    """A file-like body of a known length, filled by write() from the request's thread.

    run() starts `send(pipe)` on its own thread; it reads the body as a file. The object store sees
    a Content-Length it never reaches if the upload is abandoned, so no short object can appear.
    """

    def __init__(self, size: int) -> None:
        self.size = size
        self.remaining = size
        self.chunks: queue.Queue[bytes | None] = queue.Queue(maxsize=PIPE_DEPTH)
        self.view = memoryview(b"")
        self.done: Future[None] = Future()

    def run(self, send: Callable[[BodyPipe], None]) -> None:
        def target() -> None:
            try:
                send(self)
            except BaseException as exc:  # noqa: BLE001 - handed to the writer's thread via the future
                self.done.set_exception(exc)
            else:
                self.done.set_result(None)

        threading.Thread(target=target, name="artifact-put", daemon=True).start()

    # The writer's side.

    def write(self, chunk: bytes) -> None:
        while True:
            if self.done.done():
                self.done.result()  # the PUT failed: raise its error here
                raise UploadAborted("the store stopped reading the upload")
            try:
                self.chunks.put(chunk, timeout=_WAIT_S)
                return
            except queue.Full:
                continue

    def close(self) -> None:
        """Wait for the PUT to finish and raise its error, if any."""
        self.done.result()

    def abort(self) -> None:
        """Make the PUT fail at its next read, and wait for it to give up."""
        while not self.done.done():
            try:
                self.chunks.put(None, timeout=_WAIT_S)
                break
            except queue.Full:
                with contextlib.suppress(queue.Empty):
                    self.chunks.get_nowait()  # drop queued data: the reader must see the abort soon
        with contextlib.suppress(BaseException):  # the PUT's failure is the point of aborting
            self.done.result()

    # The PUT's side: a read-only, non-seekable file.

    def read(self, amt: int | None = -1) -> bytes:
        if amt is None or amt < 0:
            return b"".join(iter(lambda: self.read(READ_CHUNK), b""))
        if not self.view:
            if self.remaining <= 0:
                return b""
            chunk = self.chunks.get()
            if chunk is None:
                raise UploadAborted("the upload was abandoned")
            self.view = memoryview(chunk)
        taken = self.view[:amt]
        self.view = self.view[len(taken) :]
        self.remaining -= len(taken)
        return bytes(taken)

    def readable(self) -> bool:
        return True

    def __len__(self) -> int:
        return self.size
