"""The import's point writer on each backend: every point stored once, whether a run held none before,
some of them, or (a concurrent writer) the very points of the batch."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from harness.databases import BackendURI, create_database, drop_database, selected_backends
from sqlalchemy import text

from tracklight.move.into_store import StoreWriter
from tracklight.move.records import ExperimentRecord, RunRecord
from tracklight.store.engine import Database, open_database
from tracklight.store.migrate import upgrade

RUN = "a" * 32
EMPTY_RUN = "b" * 32


@pytest.fixture(params=selected_backends())
def db(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Database]:
    uri: BackendURI = create_database(request.param, tmp_path)
    database = open_database(uri)
    try:
        upgrade(database)
        writer = StoreWriter(database)
        writer.write_experiments([ExperimentRecord(1, "e", "/tmp/e", "active", 0, 0)])
        writer.write_runs(
            [
                RunRecord(r, 1, r[:4], "u", "FINISHED", 0, 1, "active", f"/tmp/{r}", None)
                for r in (RUN, EMPTY_RUN)
            ]
        )
        yield database
    finally:
        database.engine.dispose()
        drop_database(uri)


def _points(db: Database) -> set[tuple]:
    with db.engine.connect() as conn:
        return set(
            conn.execute(
                text(
                    "SELECT r.run_uuid, s.key, m.step, m.timestamp, m.value, m.is_nan FROM metrics m "
                    "JOIN metric_series s ON s.id = m.series_id JOIN runs r ON r.id = s.run_id"
                )
            ).all()
        )


def _latest(db: Database) -> dict[tuple[str, str], tuple]:
    with db.engine.connect() as conn:
        rows = conn.execute(
            text(
                "SELECT r.run_uuid, s.key, s.step, s.timestamp, s.is_nan, s.value FROM metric_series s "
                "JOIN runs r ON r.id = s.run_id"
            )
        ).all()
    return {(r[0], r[1]): (r[2], r[3], bool(r[4]), r[5]) for r in rows}


def _batch(run_id: str, steps: range) -> list[tuple]:
    return [(run_id, key, s, 1000 + s, s * 0.5, s % 7 == 6) for key in ("loss", "acc") for s in steps]


def _stored(points: list[tuple]) -> set[tuple]:
    return {(r, k, s, ts, 0.0 if nan else v, nan) for r, k, s, ts, v, nan in points}


def test_runs_with_none_some_or_all_of_their_points_end_up_with_each_point_once(db: Database) -> None:
    writer = StoreWriter(db)
    first = _batch(RUN, range(0, 50))
    writer.runs_short_of({RUN: 50})
    writer.start_points()
    writer.write_points([(r, k, s, ts, 0.0 if nan else v, nan) for r, k, s, ts, v, nan in first])

    # RUN holds 100 of 200 points (an import cut short); EMPTY_RUN holds none, but another writer stores
    # some of the very points this batch brings after the counts were taken.
    whole = _batch(RUN, range(0, 100)) + _batch(EMPTY_RUN, range(0, 80))
    source = [(r, k, s, ts, 0.0 if nan else v, nan) for r, k, s, ts, v, nan in whole]
    assert writer.runs_short_of({RUN: 200, EMPTY_RUN: 160}) == [RUN, EMPTY_RUN]
    StoreWriter(db).write_points([p for p in source if p[0] == EMPTY_RUN and p[2] < 10])
    writer.start_points()
    half = len(source) // 2
    writer.write_points(source[:half])
    writer.write_points(source[half:])

    assert _points(db) == _stored(whole)
    assert _latest(db) == {
        (RUN, "loss"): (99, 1099, False, 49.5),
        (RUN, "acc"): (99, 1099, False, 49.5),
        (EMPTY_RUN, "loss"): (79, 1079, False, 39.5),
        (EMPTY_RUN, "acc"): (79, 1079, False, 39.5),
    }
