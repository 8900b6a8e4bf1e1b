"""A span export that loses the race for a new trace: another writer creates the trace after the
export looked it up and before it inserts it. The export must then merge into that trace, as into any
existing one, rather than take its own rows for the whole trace. Made to happen deterministically with
a second connection that holds the trace's row uncommitted while the export runs."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from harness.databases import selected_backends
from harness.inprocess import opened_database

from tracklight.auth import gate
from tracklight.services.experiments import Experiments
from tracklight.services.traces import SpanIn, Traces
from tracklight.store.engine import Database

# SQLite takes its write lock before the look-up, so there the export never misses a trace.
BACKENDS = [b for b in ("postgresql", "mariadb") if b in selected_backends()]

TRACE = "tr-" + "ab" * 16
SECOND = 1_000_000_000


@pytest.fixture(params=BACKENDS)
def db(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Database]:
    gate.install(None)
    with opened_database(request.param, tmp_path, serving=True) as database:
        yield database


def span(span_id: str, parent: str | None, start_s: int, end_s: int, **extra: object) -> SpanIn:
    return SpanIn(
        trace_id=TRACE,
        span_id=span_id,
        parent_span_id=parent,
        name=span_id,
        span_type=None,
        status=str(extra.get("status", "UNSET")),
        start_time_unix_nano=start_s * SECOND,
        end_time_unix_nano=end_s * SECOND,
        content="{}",
        attributes={},
        trace_tags=dict(extra.get("tags", {})),  # type: ignore[arg-type]
    )


def test_an_export_that_loses_the_race_for_a_new_trace_merges_into_it(db: Database) -> None:
    experiments = Experiments(db, "file:///tmp/artifacts")
    experiments.ensure_default()
    experiment_id = str(experiments.create("race", None, []))
    traces = Traces(db)

    # The other writer: the trace created from 50 s to 60 s, not committed yet.
    other = db.engine.connect()
    other_tx = other.begin()
    other.execute(
        sa.text(
            "INSERT INTO traces (id, experiment_id, timestamp_ms, execution_time_ms, state)"
            " VALUES (:id, :e, 50000, 10000, 'IN_PROGRESS')"
        ),
        {"id": TRACE, "e": int(experiment_id)},
    )
    # The export: the root (10 s to 100 s, an error) with a tag, and a child.
    batch = [
        span("0000000000000001", None, 10, 100, status="ERROR", tags={"team": "search"}),
        span("0000000000000002", "0000000000000001", 20, 30),
    ]
    failed: list[BaseException] = []

    def send() -> None:
        try:
            traces.log_spans(experiment_id, batch)
        except BaseException as exc:  # noqa: BLE001 - reported by the test below
            failed.append(exc)

    sender = threading.Thread(target=send)
    sender.start()
    # The export has looked the trace up (not there yet) and now waits on the other writer's row.
    time.sleep(1.0)
    assert sender.is_alive(), "the export did not wait for the other writer's uncommitted trace"
    other_tx.commit()
    other.close()
    sender.join(30)
    assert not sender.is_alive() and not failed, failed

    trace = traces.get(TRACE)
    # Merged: the export's earlier start and later end, its root's state, and its tag.
    assert (trace.timestamp_ms, trace.execution_time_ms) == (10_000, 90_000)
    assert trace.state == "ERROR"
    assert trace.tags["team"] == "search"
    with db.engine.connect() as conn:
        spans = conn.execute(sa.text("SELECT count(*) FROM spans WHERE trace_id = :t"), {"t": TRACE})
        assert spans.scalar() == 2
        # The tags carry the trace's experiment and start, for the tag search.
        order = conn.execute(
            sa.text("SELECT DISTINCT experiment_id, timestamp_ms FROM trace_tags WHERE trace_id = :t"),
            {"t": TRACE},
        ).all()
        assert order == [(int(experiment_id), 10_000)]
