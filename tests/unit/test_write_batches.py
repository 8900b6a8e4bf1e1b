"""Write batches on a real SQLite file: the commit never waits behind the worker pool, and what a call
asks to run after its commit runs only once the batch has committed."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Connection

from tracklight.http import workers
from tracklight.http.write_batches import WriteBatches
from tracklight.store.engine import Database, open_database
from tracklight.store.group_commit import GroupCommit

WAIT_S = 20.0  # a bound on waiting, never a timing assertion


@pytest.fixture
def db(tmp_path: Path) -> Iterator[Database]:
    db = open_database(f"sqlite:///{tmp_path / 'batches.db'}")
    with db.engine.begin() as conn:
        conn.exec_driver_sql("CREATE TABLE item (name TEXT PRIMARY KEY)")
    try:
        yield db
    finally:
        db.dispose()


def names(db: Database) -> set[str]:
    with db.engine.connect() as conn:
        return {row[0] for row in conn.exec_driver_sql("SELECT name FROM item")}


def writer(group: GroupCommit, after: list[str]) -> Any:
    """A handler as the short writes are: one write transaction, then something for after its commit."""

    def handler(name: str, _service: object) -> str:
        def work(conn: Connection) -> None:
            conn.exec_driver_sql("INSERT INTO item VALUES (?)", (name,))

        group.run(work)
        group.after_commit(lambda: after.append(name))
        return name

    return handler


def run_loop(main: Any) -> None:
    held = asyncio._get_running_loop()  # as test_workers: Playwright may have left one marked running
    asyncio._set_running_loop(None)
    try:
        asyncio.run(main())
    finally:
        asyncio._set_running_loop(held)


def test_a_batch_commits_even_when_every_pool_thread_waits_to_write(
    db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Until its commit has run, a batch leads the group commit, and pool threads that write wait for
    it. With the commit queued behind them on the same pool, nothing would ever move again."""
    assert db.group_commit is not None
    group = db.group_commit
    monkeypatch.setattr(workers, "_POOL", workers._Workers(1))  # the whole pool: one thread
    after: list[str] = []
    handler = writer(group, after)
    go = threading.Event()

    def pool_write() -> None:
        assert go.wait(WAIT_S)
        handler("from-the-pool", None)  # queues behind the batch's lead

    async def main() -> None:
        batches = WriteBatches(group)
        occupied = workers.on_worker(pool_write)  # the pool's only thread, busy until `go`
        batched = [asyncio.ensure_future(batches.run(handler, f"b{i}", None)) for i in range(3)]
        await asyncio.sleep(0)
        await asyncio.sleep(0)  # the batch ran on the loop and holds the lead; its commit is handed off
        go.set()
        assert await asyncio.wait_for(asyncio.gather(*batched), WAIT_S) == ["b0", "b1", "b2"]
        await asyncio.wait_for(occupied, WAIT_S)

    run_loop(main)
    assert names(db) == {"b0", "b1", "b2", "from-the-pool"}


def test_after_commit_waits_for_the_batch_and_is_dropped_with_an_undone_one(db: Database) -> None:
    assert db.group_commit is not None
    group = db.group_commit
    after: list[str] = []
    handler = writer(group, after)
    commit = group.batch_now([lambda i=i: handler(f"ok{i}", None) for i in range(2)])
    assert after == []  # written, not committed
    assert commit() == [("ok0", None), ("ok1", None)]
    assert after == ["ok0", "ok1"]

    # A duplicate key fails its call's write: the batch is undone and each call runs again alone;
    # only the calls that committed on their second run call back, once each.
    after.clear()
    commit = group.batch_now([lambda: handler("new", None), lambda: handler("ok0", None)])
    outcomes = commit()
    assert outcomes[0] == ("new", None) and outcomes[1][1] is not None
    assert after == ["new"]
    assert names(db) == {"ok0", "ok1", "new"}


def test_an_undone_batch_counts_its_points_once(tmp_path: Path) -> None:
    """log-metric counts its point after the commit: a batch undone by another call's failing write runs
    it again, and the point is still counted once."""
    from harness.inprocess import opened_database

    from tracklight.auth import gate
    from tracklight.http.request import Fields
    from tracklight.http.telemetry import POINTS_INGESTED
    from tracklight.http.tracking import log_metric
    from tracklight.services.experiments import Experiments
    from tracklight.services.runs import Runs

    gate.install(None)
    with opened_database("sqlite", tmp_path, serving=True) as database:
        group = database.group_commit
        assert group is not None
        with database.engine.begin() as conn:
            conn.exec_driver_sql("CREATE TABLE item (name TEXT PRIMARY KEY)")
            conn.exec_driver_sql("INSERT INTO item VALUES ('taken')")
        experiments = Experiments(database, "file:///tmp/artifacts")
        experiments.ensure_default()
        runs = Runs(database)
        run_id = runs.create(experiment_id="0", user_id="u", run_name="r", start_time=1, tags=[]).run_id
        point = {"run_id": run_id, "key": "loss", "value": 0.5, "timestamp": 1, "step": 0}
        before = POINTS_INGESTED._value.get()
        outcomes = group.batch_now(
            [lambda: log_metric(Fields(dict(point)), runs), lambda: writer(group, [])("taken", None)]
        )()
        assert outcomes[0] == ({}, None) and outcomes[1][1] is not None  # the second call's write failed
        assert POINTS_INGESTED._value.get() - before == 1
        history, _ = runs.metric_history(run_id, "loss", None, None)
        assert len(history) == 1  # and stored once
