"""read_ahead hands every batch over in order, re-raises the source's failure, and stops its thread early."""

from __future__ import annotations

import threading
from collections.abc import Iterator

import pytest

from tracklight.move.read_ahead import read_ahead


def test_every_batch_in_order_read_in_another_thread() -> None:
    threads: set[int] = set()

    def batches() -> Iterator[list[int]]:
        for i in range(50):
            threads.add(threading.get_ident())
            yield [i, i + 1]

    assert list(read_ahead(batches())) == [[i, i + 1] for i in range(50)]
    assert threads and threading.get_ident() not in threads


def test_the_sources_failure_reaches_the_reader_after_the_batches_before_it() -> None:
    def batches() -> Iterator[int]:
        yield 1
        yield 2
        raise RuntimeError("source went away")

    seen = []
    with pytest.raises(RuntimeError, match="source went away"):
        for batch in read_ahead(batches()):
            seen.append(batch)
    assert seen == [1, 2]


def test_stopping_early_closes_the_source() -> None:
    closed = threading.Event()

    def batches() -> Iterator[int]:
        try:
            i = 0
            while True:
                yield i
                i += 1
        finally:
            closed.set()

    reader = read_ahead(batches(), depth=1)
    assert next(reader) == 0
    reader.close()
    assert closed.is_set()
