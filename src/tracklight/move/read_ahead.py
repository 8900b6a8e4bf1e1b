"""Read the next batches of a source in a thread while the current one is written."""

from __future__ import annotations

import queue
import threading
from collections.abc import Iterator
from typing import TypeVar

T = TypeVar("T")

_DONE = object()


def read_ahead(batches: Iterator[T], depth: int = 2) -> Iterator[T]:
    """Yield what `batches` yields, produced by a thread that stays at most `depth` batches ahead.

    The drivers release the GIL while they wait on the database (a fetch from the source, an insert into
    the target), so reading and writing overlap on two cores; memory stays at `depth` + 2 batches.
    The iterator is driven from start to end in the one thread, so its connection never changes threads.
    """
    handoff: queue.Queue[object] = queue.Queue(maxsize=depth)
    stop = threading.Event()
    failure: list[BaseException] = []

    def produce() -> None:
        try:
            for batch in batches:
                while not stop.is_set():
                    try:
                        handoff.put(batch, timeout=0.1)
                        break
                    except queue.Full:
                        continue
                if stop.is_set():
                    break
        except BaseException as exc:  # noqa: BLE001 - handed to the consumer, which re-raises it
            failure.append(exc)
        finally:
            close = getattr(batches, "close", None)
            if close is not None:
                close()
            while not stop.is_set():
                try:
                    handoff.put(_DONE, timeout=0.1)
                    break
                except queue.Full:
                    continue

    worker = threading.Thread(target=produce, name="tracklight-read-ahead", daemon=True)
    worker.start()
    try:
        while True:
            item = handoff.get()
            if item is _DONE:
                break
            yield item  # type: ignore[misc]
        if failure:
            raise failure[0]
    finally:
        stop.set()
        worker.join()
