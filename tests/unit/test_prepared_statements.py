"""PostgreSQL's prepared write statements (run create, a single log-metric): when the server session
has lost them, as behind a pooler that shares sessions, the writes still go through as plain SQL."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from harness.databases import selected_backends
from harness.inprocess import opened_database

from tracklight.auth import gate
from tracklight.services.experiments import Experiments
from tracklight.services.runs import Runs
from tracklight.store.engine import Database
from tracklight.store.records import MetricPoint

pytestmark = pytest.mark.skipif("postgresql" not in selected_backends(), reason="PostgreSQL not selected")


@pytest.fixture
def db(tmp_path: Path) -> Iterator[Database]:
    gate.install(None)
    # One pooled connection, so that the statements dropped below are those the next write uses.
    with opened_database("postgresql", tmp_path, pool_size=1, serving=True) as database:
        yield database


def drop_prepared(db: Database) -> list[str]:
    """Forget every prepared statement of the pooled connection's session; the names it had."""
    with db.autocommit() as conn:
        names = [row[0] for row in conn.exec_driver_sql("SELECT name FROM pg_prepared_statements")]
        conn.exec_driver_sql("DEALLOCATE ALL")
    return names


def test_writes_go_through_when_the_session_lost_its_prepared_statements(db: Database) -> None:
    experiments = Experiments(db, "file:///tmp/artifacts")
    experiments.ensure_default()
    experiment_id = str(experiments.create("prepared", None, []))
    runs = Runs(db)

    def create(name: str) -> str:
        return runs.create(
            experiment_id=experiment_id, user_id="u", run_name=name, start_time=1, tags=[("k", name)]
        ).run_id

    def log(run_id: str, step: int) -> None:
        runs.log_batch(
            run_id, metrics=[MetricPoint("loss", step / 10, 1000 + step, step)], params=[], tags=[]
        )

    first = create("first")
    log(first, 0)
    assert set(drop_prepared(db)) == {"tracklight_new_run", "tracklight_log_point"}

    second = create("second")  # EXECUTE fails: the plain statement stores the run
    log(first, 1)
    log(second, 0)
    third = create("third")
    log(third, 0)
    assert drop_prepared(db) == []  # this connection runs the plain statements from now on

    for run_id, name, steps in ((first, "first", [0, 1]), (second, "second", [0]), (third, "third", [0])):
        run = runs.get(run_id)
        assert run.run_name == name and run.tags == {"k": name, "mlflow.runName": name}
        history, _ = runs.metric_history(run_id, "loss", max_results=100, page_token=None)
        assert [row[0] for row in history] == steps  # (step, timestamp, value, is_nan)
