"""PostgreSQL to PostgreSQL, an import's points go COPY to COPY (point_pipe): the store it writes is the
batched path's, row by row and bit by bit, for awkward values (NaN, infinities as older stores kept them,
the largest and smallest doubles, -0.0), series whose newest step repeats, a run an earlier import left
half-done, and runs split over several transactions; a point already there sends its run the batched way."""

from __future__ import annotations

import io
import math
import struct
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from harness.databases import BackendURI, create_database, drop_database, selected_backends
from harness.mlflow_servers import mlflow_store_uri
from sqlalchemy import create_engine, text

from tracklight.move import point_pipe
from tracklight.move.from_mlflow_sql import MAX_DOUBLE, MlflowSqlSource
from tracklight.move.import_mlflow import import_mlflow
from tracklight.move.into_store import StoreWriter
from tracklight.move.progress import Progress
from tracklight.store.engine import Database, open_database
from tracklight.store.migrate import upgrade

pytestmark = pytest.mark.skipif(
    "postgresql" not in selected_backends(), reason="the pipe joins two PostgreSQL databases"
)

T0 = 1_700_000_000_000
AWKWARD = [
    1e308,
    MAX_DOUBLE,
    -MAX_DOUBLE,
    math.inf,  # as MLflow stores before clamping kept them
    -math.inf,
    5e-324,
    -5e-324,
    2.2250738585072014e-308,
    -0.0,
    0.0,
    0.1 + 0.2,
    1 / 3,
    -2.5e-300,
    123456789.12345679,
    9007199254740993.0,
    1e-10,
]


def _source_points(runs: dict[str, str]) -> list[tuple[str, str, int, int, float, bool]]:
    """(run id, key, step, timestamp, value, is_nan) as MLflow's metrics table holds them (NaN: 0, true)."""
    odd, bulk, half = runs["odd"], runs["bulk"], runs["half"]
    points = [(odd, "awkward", s, T0 + s, v, False) for s, v in enumerate(AWKWARD)]
    points += [(odd, "awkward", len(AWKWARD), T0, 0.0, True)]
    points += [(odd, "nan_last", s, T0 + s, s * 1.5, False) for s in range(9)] + [
        (odd, "nan_last", 9, T0, 0.0, True)
    ]
    points += [(odd, "inf_last", s, T0, -math.inf if s == 0 else s / 7, False) for s in range(5)]
    points += [(odd, "inf_last", 5, T0, math.inf, False)]
    # The newest step comes several times: later timestamps win, then NaN, then the larger value.
    points += [(odd, "repeat", s, T0 + s, float(s), False) for s in range(4)]
    points += [
        (odd, "repeat", 4, T0 + 10, 9.0, False),
        (odd, "repeat", 4, T0 + 11, 0.5, False),
        (odd, "repeat", 4, T0 + 11, 0.25, False),
        (odd, "repeat", 4, T0 + 11, 0.0, True),
        (odd, "repeat_values", 3, T0 + 3, 0.75, False),
        (odd, "repeat_values", 3, T0 + 3, 0.5, False),
        (odd, "repeat_values", 3, T0 + 3, -1.0, False),
        (odd, "repeat_values", 2, T0 + 9, 7.0, False),
        (odd, "single", 0, T0, 42.0, False),
    ]
    for k in range(3):
        points += [
            (bulk, f"k{k}", s, T0 + s, 0.0 if s % 97 == 0 else s * 0.001 + k, s % 97 == 0)
            for s in range(2000)
        ]
    points += [(half, key, s, T0 + s, s / 3, False) for key in ("a", "b") for s in range(500)]
    return points


@pytest.fixture(scope="module")
def source(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[BackendURI, dict[str, str], list]]:
    """An MLflow store (schema by MLflow's own client) whose metric rows are written as they would be stored."""
    from mlflow import MlflowClient

    uri = create_database("postgresql", tmp_path_factory.mktemp("pipe-source"))
    try:
        client = MlflowClient(tracking_uri=mlflow_store_uri(uri))
        exp = client.create_experiment("pipe")
        runs = {
            name: client.create_run(exp, run_name=name).info.run_id
            for name in ("odd", "bulk", "half", "none")
        }
        points = _source_points(runs)
        engine = create_engine(mlflow_store_uri(uri))
        try:
            with engine.begin() as conn:
                conn.execute(
                    text(
                        "INSERT INTO metrics (key, value, timestamp, run_uuid, step, is_nan) "
                        # Through the text form, so that -0.0 stays negative (a literal -0.0 is numeric 0).
                        "VALUES (:key, CAST(:value AS double precision), :timestamp, :run_uuid, :step, :is_nan)"
                    ),
                    [
                        {"run_uuid": r, "key": k, "step": s, "timestamp": ts, "value": repr(v), "is_nan": nan}
                        for r, k, s, ts, v, nan in points
                    ],
                )
        finally:
            engine.dispose()
        yield uri, runs, points
    finally:
        drop_database(uri)


@pytest.fixture
def targets(tmp_path: Path) -> Iterator[tuple[BackendURI, BackendURI]]:
    made = [
        create_database("postgresql", tmp_path / "pipe"),
        create_database("postgresql", tmp_path / "batch"),
    ]
    try:
        yield made[0], made[1]
    finally:
        for uri in made:
            drop_database(uri)


def _bits(value: float) -> bytes:
    return struct.pack(">d", value)


def _store(uri: str) -> dict[str, Any]:
    """Every stored point and series row, values as their bits (so -0.0, NaN and the last digit count)."""
    engine = create_engine(mlflow_store_uri(uri))
    runs = "JOIN runs r ON r.id = s.run_id"
    try:
        with engine.connect() as conn:
            points = conn.execute(
                text(
                    "SELECT r.run_uuid, s.key, m.step, m.timestamp, m.value, m.is_nan FROM metrics m "
                    f"JOIN metric_series s ON s.id = m.series_id {runs}"
                )
            ).all()
            series = conn.execute(
                text(
                    f"SELECT r.run_uuid, s.key, s.step, s.timestamp, s.value, s.is_nan FROM metric_series s {runs}"
                )
            ).all()
    finally:
        engine.dispose()
    return {
        "points": sorted((r, k, s, ts, _bits(v), nan) for r, k, s, ts, v, nan in points),
        "series": sorted((r, k, s, ts, _bits(v), nan) for r, k, s, ts, v, nan in series),
    }


def _clamped(value: float) -> float:
    return max(-MAX_DOUBLE, min(MAX_DOUBLE, value))


def _expected(points: list[tuple]) -> dict[str, Any]:
    """What the write path makes of the source: each point once, infinities clamped, NaN stored as MLflow
    spells it; each series' row holds its largest (step, timestamp, is_nan, value), NaN as 0."""
    stored = {(r, k, s, ts, _clamped(v), nan) for r, k, s, ts, v, nan in points}
    latest: dict[tuple[str, str], tuple] = {}
    for r, k, s, ts, v, nan in stored:
        if (r, k) not in latest or (s, ts, nan, v) > latest[(r, k)]:
            latest[(r, k)] = (s, ts, nan, v)
    return {
        "points": sorted((r, k, s, ts, _bits(v), nan) for r, k, s, ts, v, nan in stored),
        "series": sorted(
            (r, k, s, ts, _bits(0.0 if nan else v), nan) for (r, k), (s, ts, nan, v) in latest.items()
        ),
    }


def _import(source_uri: str, target: str, *, pipe: bool) -> str:
    out = io.StringIO()
    import_mlflow(source_uri, target, dry_run=False, out=out, progress=Progress(quiet=True), pipe_points=pipe)
    return out.getvalue()


def _half_import(source_uri: str, target: str, run_id: str, points: list[tuple]) -> None:
    """What an import cut short leaves: the run and some of its points, written by the batched path."""
    source = MlflowSqlSource(source_uri)
    db = open_database(target)
    try:
        upgrade(db)
        writer = StoreWriter(db)
        writer.write_experiments(source.experiments())
        for page in source.run_pages():
            writer.write_runs(page)
        mine = sorted(p for p in points if p[0] == run_id)
        writer.runs_short_of({run_id: len(mine)})
        writer.start_points()
        writer.write_points([(r, k, s, ts, _clamped(v), nan) for r, k, s, ts, v, nan in mine[:300]])
    finally:
        db.dispose()
        source.close()


def test_the_pipe_stores_what_the_batched_path_stores(
    source: tuple[BackendURI, dict[str, str], list], targets: tuple[BackendURI, BackendURI], monkeypatch: Any
) -> None:
    uri, runs, points = source
    piped, batched = targets
    # Small transactions: the runs go in several, each one's newest points looked up during the last one.
    monkeypatch.setattr(point_pipe, "UNIT_POINTS", 2500)
    _half_import(uri, piped, runs["half"], points)
    _import(uri, piped, pipe=True)
    _import(uri, batched, pipe=False)

    got, reference, expected = _store(piped), _store(batched), _expected(points)
    assert len(got["points"]) == len(points)
    assert got["points"] == reference["points"]
    assert got["series"] == reference["series"]
    assert got == expected
    assert _bits(-0.0) in {p[4] for p in got["points"]}
    assert "Nothing new" in _import(uri, piped, pipe=True)
    assert _store(piped) == expected


def test_a_point_already_stored_sends_its_run_the_batched_way(
    source: tuple[BackendURI, dict[str, str], list], targets: tuple[BackendURI, BackendURI], monkeypatch: Any
) -> None:
    uri, runs, points = source
    monkeypatch.setattr(point_pipe, "UNIT_POINTS", 1)  # a transaction per run
    target = targets[0]
    mlflow = MlflowSqlSource(uri)
    db: Database = open_database(target)
    try:
        upgrade(db)
        writer = StoreWriter(db)
        writer.write_experiments(mlflow.experiments())
        for page in mlflow.run_pages():
            writer.write_runs(page)
        wanted = [runs["odd"], runs["bulk"]]
        counts = mlflow.metric_counts(wanted)
        assert sorted(writer.runs_short_of(counts)) == sorted(wanted)
        assert writer.runs_without_points() == frozenset(wanted)
        # Another writer stores one of the bulk run's points after the counts were taken.
        StoreWriter(db).write_points(
            [p for p in points if p[0] == runs["bulk"] and p[1] == "k1" and p[2] == 5]
        )
        advanced: list[int] = []
        left = point_pipe.pipe_points(mlflow, writer, wanted, counts, advanced.append)
        assert left == [runs["bulk"]]
        assert advanced == [counts[runs["odd"]]]
        stored = _store(target)["points"]
        assert [p for p in stored if p[0] == runs["odd"]] == [
            p for p in _expected(points)["points"] if p[0] == runs["odd"]
        ]
        assert [p for p in stored if p[0] == runs["bulk"]] == [
            p for p in _expected(points)["points"] if p[0] == runs["bulk"] and p[1] == "k1" and p[2] == 5
        ]
    finally:
        db.dispose()
        mlflow.close()
