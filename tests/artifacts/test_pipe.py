"""BodyPipe: the hand-off between a request's thread and a store's streaming PUT."""

from __future__ import annotations

import os

import pytest

from tracklight.artifacts.pipe import PIPE_DEPTH, BodyPipe, UploadAborted


def _reader(received: list[bytes], amt: int = 8192):
    def send(body: BodyPipe) -> None:
        while chunk := body.read(amt):
            received.append(chunk)

    return send


def test_the_put_reads_every_byte_in_order() -> None:
    data = os.urandom(5 << 20) + b"tail"
    received: list[bytes] = []
    pipe = BodyPipe(len(data))
    pipe.run(_reader(received))
    for i in range(0, len(data), 1 << 20):
        pipe.write(data[i : i + (1 << 20)])
    pipe.close()
    assert b"".join(received) == data
    assert len(pipe) == len(data)


def test_abort_fails_the_put_before_it_has_the_whole_body() -> None:
    received: list[bytes] = []
    pipe = BodyPipe(10 << 20)
    pipe.run(_reader(received))
    pipe.write(b"x" * (1 << 20))
    pipe.abort()
    assert isinstance(pipe.done.exception(), UploadAborted)
    assert sum(map(len, received)) <= 1 << 20


def test_abort_reaches_a_put_that_stopped_reading() -> None:
    """With the queue full and the reader stuck, abort drops queued data to get its signal through."""
    import threading

    gate = threading.Event()

    def slow(body: BodyPipe) -> None:
        gate.wait(5)
        while body.read(8192):
            pass

    pipe = BodyPipe(100 << 20)
    pipe.run(slow)
    for _ in range(PIPE_DEPTH):
        pipe.write(b"y" * 1024)
    threading.Timer(1.0, gate.set).start()  # abort finds the queue full first
    pipe.abort()
    assert isinstance(pipe.done.exception(), UploadAborted)


def test_a_failed_put_surfaces_in_write_and_close() -> None:
    def broken(body: BodyPipe) -> None:
        body.read(10)
        raise OSError("connection reset by the store")

    pipe = BodyPipe(100 << 20)
    pipe.run(broken)
    with pytest.raises(OSError, match="connection reset"):
        for _ in range(PIPE_DEPTH * 4):
            pipe.write(b"z" * 1024)
    with pytest.raises(OSError):
        pipe.close()
