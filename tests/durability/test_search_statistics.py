"""runs/search on a PostgreSQL store whose tables were never analyzed: the server analyzes them itself."""

from __future__ import annotations

import time
from pathlib import Path

import psycopg2
import pytest
from harness.api import ok, post
from harness.databases import PG_HOST, PG_PORT, PG_USER, create_database, drop_database, selected_backends
from harness.plugin import ServerFactory

from tracklight.store.engine import open_database
from tracklight.store.planner_statistics import due_tables

SEARCH_TABLES = ("runs", "params", "run_tags", "metric_series")


def _last_analyze(dbname: str) -> dict[str, object]:
    conn = psycopg2.connect(host=PG_HOST, port=PG_PORT, user=PG_USER, dbname=dbname)
    try:
        with conn.cursor() as cur:
            cur.execute("SELECT relname, last_analyze FROM pg_stat_user_tables")
            return dict(cur.fetchall())
    finally:
        conn.close()


@pytest.mark.reference_differs  # stock mlflow leaves the statistics to autovacuum
@pytest.mark.parametrize("backend_name", [b for b in selected_backends() if b == "postgresql"])
def test_a_search_gets_the_search_tables_analyzed(
    backend_name: str, server_factory: ServerFactory, tmp_path: Path
) -> None:
    uri = create_database(backend_name, tmp_path / "db")
    try:
        server = server_factory(uri)
        exp = ok(post(server.api("experiments/create"), {"name": "fresh-statistics"}))["experiment_id"]

        def log_runs(first: int, count: int) -> None:
            for i in range(first, first + count):
                run = ok(post(server.api("runs/create"), {"experiment_id": exp, "start_time": i}))["run"]
                batch = {
                    "run_id": run["info"]["run_id"],
                    "params": [{"key": "p", "value": "x" if i % 2 else "y"}],
                    "tags": [{"key": "team", "value": f"t{i % 3}"}],
                    "metrics": [{"key": "m0", "value": i / 60, "timestamp": i, "step": 0}],
                }
                ok(post(server.api("runs/log-batch"), batch))

        log_runs(0, 60)
        before = _last_analyze(uri.name)
        assert all(before[t] is None for t in SEARCH_TABLES), before

        body = {"experiment_ids": [exp], "filter": "params.p = 'x'", "order_by": ["metrics.m0 DESC"]}
        found = ok(post(server.api("runs/search"), body))["runs"]
        assert len(found) == 30

        deadline = time.monotonic() + 30
        after = _last_analyze(uri.name)
        while any(after[t] is None for t in SEARCH_TABLES) and time.monotonic() < deadline:
            time.sleep(0.2)
            after = _last_analyze(uri.name)
        assert all(after[t] is not None for t in SEARCH_TABLES), after
        # The metric points are not the search's: that table, the largest, is left to autovacuum.
        assert after["metrics"] is None

        # Analyzed again once more rows changed than autovacuum's rule allows (50 + 10 % of 60 runs).
        engine = open_database(uri.uri).engine
        try:
            assert "runs" not in due_tables(engine)
            log_runs(60, 80)
            # Each of the server's pooled backends reports its counts on its own, within seconds,
            # so one table can be seen due before another.
            expected = {"runs", "params", "run_tags", "metric_series"}
            deadline = time.monotonic() + 30
            while not expected <= set(due_tables(engine)) and time.monotonic() < deadline:
                time.sleep(0.5)
            assert expected <= set(due_tables(engine))
        finally:
            engine.dispose()
    finally:
        server_factory.stop_all()
        drop_database(uri)
