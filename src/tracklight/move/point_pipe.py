"""Metric points from a PostgreSQL MLflow store into a PostgreSQL Tracklight store, COPY to COPY.

The import then only moves bytes: the source database joins each point to its target series and
prints it, the target database parses and stores it, and the two work at the same time, each on a
core of its own: a thread reads the source's COPY while the main thread feeds the target's, through a
bounded queue of byte chunks (psycopg2 lets go of the GIL while it waits on either socket).
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from tracklight.move.from_mlflow_sql import MlflowSqlSource
from tracklight.move.into_store import StoreWriter
from tracklight.move.records import RunPoint
from tracklight.move.source import Source

# Points per transaction: an interrupted import loses at most this much work, and the pause between
# two transactions (the newest points looked up, the series written) is paid once per this many points.
UNIT_POINTS = 100_000
_CHUNK = 1 << 20  # bytes per chunk handed from the reading thread to the writing one
_CHUNKS = 4  # chunks the queue holds: with the one being gathered and the one being sent, the memory used
_COPY_IN = "COPY metrics (series_id, step, timestamp, value, is_nan) FROM STDIN"


def applies(source: Source, writer: StoreWriter) -> bool:
    """Both stores are PostgreSQL databases (the only pair whose COPY formats meet)."""
    return (
        isinstance(source, MlflowSqlSource)
        and source.dialect == "postgresql"
        and writer.db.dialect == "postgresql"
    )


def pipe_points(
    source: MlflowSqlSource,
    writer: StoreWriter,
    run_ids: Sequence[str],
    counts: dict[str, int],
    advance: Callable[[int], None],
) -> list[str]:
    """Copy all points of runs that hold none in the target, a transaction per unit of runs.

    Returns the runs it left alone, because a point of theirs turned out to be in the target already
    (another writer): the caller copies those by the batched path, which skips stored points.
    """
    left: list[str] = []
    units = list(_units(run_ids, counts))
    if not units:
        return left
    # The next unit's newest points are looked up while this unit's points stream.
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="tracklight-newest") as ahead:
        newest = ahead.submit(source.newest_points, units[0])
        for n, unit in enumerate(units):
            points = newest.result()
            if n + 1 < len(units):
                newest = ahead.submit(source.newest_points, units[n + 1])

            def copy(pairs: list[tuple[RunPoint, int]], cursor: Any) -> None:
                _stream(source, pairs, cursor)

            if writer.copy_new_points(points, copy):
                advance(sum(counts.get(r, 0) for r in unit))
            else:
                left += unit
    return left


def _units(run_ids: Sequence[str], counts: dict[str, int]) -> Iterator[list[str]]:
    unit: list[str] = []
    size = 0
    for run_id in run_ids:
        unit.append(run_id)
        size += counts.get(run_id, 0)
        if size >= UNIT_POINTS:
            yield unit
            unit, size = [], 0
    if unit:
        yield unit


def _stream(source: MlflowSqlSource, pairs: list[tuple[RunPoint, int]], cursor: Any) -> None:
    """The source's COPY output, read on a thread, fed as is into the target's COPY on `cursor`."""
    pipe = _Pipe()
    reader = threading.Thread(target=pipe.fill, args=(source, pairs), name="tracklight-points", daemon=True)
    reader.start()
    try:
        cursor.copy_expert(_COPY_IN, pipe, size=_CHUNK)
    except BaseException:
        pipe.close()
        reader.join()
        if pipe.error is not None:
            raise pipe.error from None
        raise
    pipe.close()
    reader.join()
    if pipe.error is not None:
        raise pipe.error


class _Pipe:
    """Rows from the source's COPY, gathered into chunks, queued for the target's COPY to read."""

    def __init__(self) -> None:
        self.queue: queue.Queue[bytes | None] = queue.Queue(maxsize=_CHUNKS)
        self.error: BaseException | None = None
        self._parts: list[bytes] = []
        self._size = 0
        self._source: Any = None  # the source connection, once its COPY is about to start
        self._ended = False  # the reader's end mark has been taken off the queue

    # -- the reading thread ---------------------------------------------------------------------------

    def fill(self, source: MlflowSqlSource, pairs: list[tuple[RunPoint, int]]) -> None:
        try:
            source.copy_points(pairs, self._write, on_cursor=self._started)
            if self._parts:
                self.queue.put(b"".join(self._parts))
        except BaseException as exc:  # handed to the writing thread, which raises it
            self.error = exc
        finally:
            self.queue.put(None)

    def _started(self, connection: Any) -> None:
        self._source = connection

    def _write(self, row: bytes) -> None:
        self._parts.append(row)
        self._size += len(row)
        if self._size >= _CHUNK:
            self.queue.put(b"".join(self._parts))
            self._parts, self._size = [], 0

    # -- the writing thread -----------------------------------------------------------------------------

    def read(self, _size: int) -> bytes:
        if self._ended:
            return b""
        chunk = self.queue.get()
        if chunk is None:
            self._ended = True
            if self.error is not None:
                raise self.error  # psycopg2 then ends the target's COPY with an error
            return b""
        return chunk

    def close(self) -> None:
        """Stop the source's COPY if the target's ended first (it failed), and let the reader finish."""
        if self._ended:
            return
        if self._source is not None:
            self._source.cancel()
        while self.queue.get() is not None:
            pass
        self._ended = True
