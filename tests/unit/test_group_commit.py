"""SQLite group commit on a real database file: transactions that queue up share one COMMIT, each keeps
its own outcome, and nothing is acknowledged that the COMMIT did not make durable."""

from __future__ import annotations

import contextlib
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Connection, Engine, event
from sqlalchemy.exc import IntegrityError

from tracklight.store.engine import open_database
from tracklight.store.group_commit import GroupCommit, WouldWait, without_waiting

WAIT_S = 20.0  # bounds on waiting, never timing assertions
FOLLOWERS = 5
LET_GO_S = 2.0  # inside the engine's 10 s busy timeout


@pytest.fixture
def engine(tmp_path: Path) -> Iterator[Engine]:
    """The engine Tracklight opens for SQLite (WAL, synchronous=FULL, BEGIN IMMEDIATE for writes),
    with foreign keys enforced so that a test can make a COMMIT itself fail (a deferred key)."""
    db = open_database(f"sqlite:///{tmp_path / 'group.db'}")

    @event.listens_for(db.engine, "connect")
    def _foreign_keys(dbapi_conn: Any, _record: Any) -> None:
        dbapi_conn.execute("PRAGMA foreign_keys=ON")

    with db.engine.begin() as conn:
        conn.exec_driver_sql("CREATE TABLE parent (id INTEGER PRIMARY KEY)")
        conn.exec_driver_sql(
            "CREATE TABLE item (name TEXT PRIMARY KEY, parent INTEGER "
            "REFERENCES parent(id) DEFERRABLE INITIALLY DEFERRED)"
        )
        conn.exec_driver_sql("INSERT INTO parent VALUES (1)")
    try:
        yield db.engine
    finally:
        db.dispose()


def make_group(engine: Engine) -> tuple[GroupCommit, list[int]]:
    """A group commit on `engine`, and a list that grows by one at every COMMIT it issues."""
    commits: list[int] = []
    group = GroupCommit(lambda: engine.connect().execution_options(tracklight_write=True))

    @event.listens_for(engine, "commit")
    def _count(_conn: Connection) -> None:
        commits.append(1)

    return group, commits


def insert(name: str, parent: int = 1) -> Callable[[Connection], str]:
    def work(conn: Connection) -> str:
        conn.exec_driver_sql("INSERT INTO item VALUES (?, ?)", (name, parent))
        return name

    return work


def names(engine: Engine) -> set[str]:
    with engine.connect() as conn:
        return {row[0] for row in conn.exec_driver_sql("SELECT name FROM item")}


def wait_until(condition: Callable[[], bool]) -> None:
    deadline = time.monotonic() + WAIT_S
    while not condition():
        assert time.monotonic() < deadline, "gave up waiting"
        time.sleep(0.005)


class Held:
    """A first transaction that keeps the group busy until released, so that others queue behind it."""

    def __init__(self, group: GroupCommit) -> None:
        self.group = group
        self.started = threading.Event()
        self.release = threading.Event()
        self.thread = threading.Thread(target=self.group.run, args=(self.work,))

    def work(self, conn: Connection) -> None:
        conn.exec_driver_sql("INSERT INTO item VALUES ('held', 1)")
        self.started.set()
        assert self.release.wait(WAIT_S)

    def __enter__(self) -> Held:
        self.thread.start()
        assert self.started.wait(WAIT_S)
        return self

    def __exit__(self, *exc: object) -> None:
        self.release.set()
        self.thread.join(WAIT_S)


def run_queued(group: GroupCommit, works: list[Callable[[Connection], Any]]) -> list[Any]:
    """Queue `works` behind a held transaction, then let them run; each one's result or exception."""
    outcomes: list[Any] = [None] * len(works)

    def call(i: int) -> None:
        try:
            outcomes[i] = group.run(works[i])
        except Exception as exc:  # noqa: BLE001 - the outcome under test
            outcomes[i] = exc

    threads = [threading.Thread(target=call, args=(i,)) for i in range(len(works))]
    with Held(group):
        for t in threads:
            t.start()
        wait_until(lambda: len(group._queue) == len(works))
    for t in threads:
        t.join(WAIT_S)
    assert not any(t.is_alive() for t in threads)
    return outcomes


def test_transactions_that_queue_up_share_one_commit_and_all_are_stored(engine: Engine) -> None:
    group, commits = make_group(engine)
    outcomes = run_queued(group, [insert(f"n{i}") for i in range(FOLLOWERS)])
    assert outcomes == [f"n{i}" for i in range(FOLLOWERS)]
    assert names(engine) == {"held", *(f"n{i}" for i in range(FOLLOWERS))}
    assert len(commits) == 2  # the held transaction's, then one for all that queued behind it


def test_a_lone_transaction_commits_by_itself(engine: Engine) -> None:
    group, commits = make_group(engine)
    assert group.run(insert("alone")) == "alone"
    assert names(engine) == {"alone"}
    assert len(commits) == 1


def test_a_failing_transaction_in_a_group_is_undone_alone(engine: Engine) -> None:
    group, commits = make_group(engine)

    def fails_after_writing(conn: Connection) -> None:
        conn.exec_driver_sql("INSERT INTO item VALUES ('half', 1)")
        raise LookupError("rejected after a write")

    works = [insert("a"), fails_after_writing, insert("a"), insert("b")]  # the second 'a' breaks the key
    outcomes = run_queued(group, works)
    assert outcomes[0] == "a" and outcomes[3] == "b"
    assert isinstance(outcomes[1], LookupError)
    assert isinstance(outcomes[2], IntegrityError)
    assert names(engine) == {"held", "a", "b"}
    assert len(commits) == 2


def test_when_the_commit_fails_no_transaction_of_the_group_is_acknowledged(engine: Engine) -> None:
    """A deferred foreign key is checked at COMMIT: the group's COMMIT fails, and every caller in it,
    including those whose own work went well, gets the error and finds nothing stored."""
    group, _ = make_group(engine)
    outcomes = run_queued(group, [insert("ok1"), insert("orphan", parent=99), insert("ok2")])
    assert all(isinstance(o, IntegrityError) for o in outcomes), outcomes
    assert names(engine) == {"held"}
    # The group commit still works afterwards, on a fresh connection if need be.
    assert group.run(insert("later")) == "later"
    assert names(engine) == {"held", "later"}


def test_many_threads_writing_at_once_are_all_stored(engine: Engine) -> None:
    group, _ = make_group(engine)
    threads_n, each = 12, 25
    errors: list[BaseException] = []
    start = threading.Barrier(threads_n, timeout=WAIT_S)

    def writer(t: int) -> None:
        start.wait()
        for i in range(each):
            try:
                group.run(insert(f"w{t}-{i}"))
            except BaseException as exc:  # noqa: BLE001 - reported below
                errors.append(exc)

    threads = [threading.Thread(target=writer, args=(t,)) for t in range(threads_n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(WAIT_S * 3)
    assert not errors
    assert names(engine) == {f"w{t}-{i}" for t in range(threads_n) for i in range(each)}


def test_a_write_transaction_inside_another_is_refused(engine: Engine) -> None:
    group, _ = make_group(engine)

    def nested(conn: Connection) -> None:
        group.run(insert("inner"))

    with pytest.raises(RuntimeError, match="inside another"):
        group.run(nested)
    assert names(engine) == set()


def test_a_write_that_must_not_wait_commits_when_nothing_else_writes(engine: Engine) -> None:
    group, commits = make_group(engine)
    assert without_waiting(group.run, insert("at-once")) == "at-once"
    assert names(engine) == {"at-once"}
    assert len(commits) == 1
    # The connection it used waits for nobody; ordinary writes still queue and wait as before.
    assert group.run(insert("after")) == "after"
    assert names(engine) == {"at-once", "after"}


def test_a_write_that_must_not_wait_gives_way_to_a_group_in_progress(engine: Engine) -> None:
    """The event loop's thread must never wait for a group another thread is running: it is told to
    go elsewhere, having run none of its work, and the held group is unaffected."""
    group, _ = make_group(engine)
    ran: list[str] = []

    def work(conn: Connection) -> None:
        ran.append("ran")
        insert("never")(conn)

    with Held(group), pytest.raises(WouldWait):
        without_waiting(group.run, work)
    assert ran == []
    assert names(engine) == {"held"}


def test_a_write_that_must_not_wait_gives_way_to_another_process_holding_the_lock(
    engine: Engine, tmp_path: Path
) -> None:
    """Another connection (as another server process would) holds SQLite's write lock: the write
    that must not wait is refused instead of waiting for the lock (which is let go a while later, well
    inside the busy timeout, so a write that waited would get it and succeed), and writes nothing."""
    group, _ = make_group(engine)
    holder = sqlite3.connect(tmp_path / "group.db", isolation_level=None, check_same_thread=False)
    try:
        holder.execute("BEGIN IMMEDIATE")
        let_go = threading.Timer(LET_GO_S, holder.execute, args=("ROLLBACK",))
        let_go.start()
        try:
            with pytest.raises(WouldWait):
                without_waiting(group.run, insert("blocked"))
        finally:
            let_go.join(WAIT_S)
        assert names(engine) == set()
        assert without_waiting(group.run, insert("free")) == "free"
    finally:
        holder.close()
    assert names(engine) == {"free"}


# Batches: whole calls (each may start write transactions of its own) in one transaction, one commit.


def calling(group: GroupCommit, *works: Callable[[Connection], Any]) -> Callable[[], list[Any]]:
    """A call as a request handler makes it: each work its own write transaction, one after another."""
    return lambda: [group.run(work) for work in works]


def rejected(message: str) -> Callable[[], Any]:
    """A call refused before it writes anything, as input validation refuses one."""

    def call() -> Any:
        raise ValueError(message)

    return call


def test_a_batch_commits_once_and_acknowledges_nothing_before_that(engine: Engine) -> None:
    group, commits = make_group(engine)
    calls = [calling(group, insert(f"r{i}"), insert(f"r{i}-tag")) for i in range(3)] + [rejected("bad key")]
    commit = group.batch_now(calls)
    assert names(engine) == set()  # run, but not committed: another connection sees none of it
    outcomes = commit()
    assert [o for o, _ in outcomes[:3]] == [[f"r{i}", f"r{i}-tag"] for i in range(3)]
    assert outcomes[3][0] is None and isinstance(outcomes[3][1], ValueError)
    assert names(engine) == {f"r{i}{s}" for i in range(3) for s in ("", "-tag")}
    assert len(commits) == 1


def test_a_batch_holds_other_writes_until_its_commit_has_run(engine: Engine) -> None:
    group, commits = make_group(engine)
    commit = group.batch_now([calling(group, insert("batched"))])
    with pytest.raises(WouldWait):
        without_waiting(group.run, insert("must-not-wait"))
    with pytest.raises(WouldWait):
        group.batch_now([calling(group, insert("second-batch"))])
    queued = threading.Thread(target=group.run, args=(insert("queued"),))
    queued.start()
    wait_until(lambda: len(group._queue) == 1)
    assert commit() == [(["batched"], None)]
    queued.join(WAIT_S)
    assert names(engine) == {"batched", "queued"}
    assert len(commits) == 2


def test_a_batch_gives_way_to_a_group_in_progress_having_run_nothing(engine: Engine) -> None:
    group, _ = make_group(engine)
    ran: list[str] = []

    def call() -> None:
        ran.append("ran")

    with Held(group), pytest.raises(WouldWait):
        group.batch_now([call])
    assert ran == []
    assert names(engine) == {"held"}


def both(*works: Callable[[Connection], Any]) -> Callable[[Connection], list[Any]]:
    """One transaction's work that is several writes, one after another."""
    return lambda conn: [work(conn) for work in works]


def test_a_write_failing_in_a_batch_undoes_the_batch_and_it_runs_again_with_savepoints(
    engine: Engine,
) -> None:
    """Without a savepoint per write the batch cannot undo one call's half-done write, so it keeps
    nothing and runs again, each write in a savepoint: each good call's writes are stored once, the
    failing call gets its own error, and the batch still commits once."""
    group, commits = make_group(engine)
    runs: list[str] = []

    def counted(name: str) -> Callable[[Connection], str]:
        def work(conn: Connection) -> str:
            runs.append(name)
            return insert(name)(conn)

        return work

    calls = [
        calling(group, counted("a")),
        calling(group, both(counted("b"), insert("a"))),
        calling(group, counted("c")),
    ]
    outcomes = group.batch_now(calls)()
    assert outcomes[0] == (["a"], None) and outcomes[2] == (["c"], None)
    assert isinstance(outcomes[1][1], IntegrityError)
    # 'b' was written, in the same transaction, before its call failed on the duplicate 'a': undone.
    assert names(engine) == {"a", "c"}
    assert runs == ["a", "b", "a", "b", "c"]  # the batch stopped at the failure; then ran again
    assert len(commits) == 1  # the second run, with 'b' undone alone


def test_a_call_that_survives_its_failed_write_keeps_its_other_writes(engine: Engine) -> None:
    """A call may catch its own failed write and go on (as log-batch does when another transaction
    created a series first): with savepoints its other writes stand, as they would have alone; on a
    worker too (run_batch), with one commit."""
    group, commits = make_group(engine)
    group.run(insert("taken"))

    def recovering() -> str:
        group.run(insert("kept"))
        try:
            group.run(insert("taken"))
        except IntegrityError:
            return "recovered"
        return "not refused"

    for run in (lambda calls: group.batch_now(calls)(), group.run_batch):
        with engine.begin() as conn:
            conn.exec_driver_sql("DELETE FROM item WHERE name <> 'taken'")
        commits.clear()
        outcomes = run([recovering, calling(group, insert("other"))])
        assert outcomes == [("recovered", None), (["other"], None)]
        assert names(engine) == {"taken", "kept", "other"}
        assert len(commits) == 1


def test_when_sqlite_ends_the_batch_transaction_itself_nothing_is_written_outside_it(engine: Engine) -> None:
    """After a busy or I/O error SQLite rolls the whole transaction back on its own. A call that goes on
    writing must not write in autocommit, outside the batch (that write would be kept, then written again
    when the batch runs again): the batch stops, and in the end each call runs on its own."""
    group, _ = make_group(engine)

    def ending(conn: Connection) -> None:
        conn.exec_driver_sql("INSERT INTO item VALUES ('half', 1)")
        if getattr(group._local, "batch", None) is not None:  # in a batch, plain or careful; not alone
            conn.connection.driver_connection.execute("ROLLBACK")  # type: ignore[union-attr]
            raise sqlite3.OperationalError("disk I/O error")

    def going_on() -> str:
        with contextlib.suppress(Exception):  # the call carries on, as a handler catching a race does
            group.run(ending)
        return group.run(insert("after"))

    outcomes = group.batch_now([calling(group, insert("a")), going_on, calling(group, insert("c"))])()
    assert outcomes == [(["a"], None), ("after", None), (["c"], None)]
    assert names(engine) == {"a", "half", "after", "c"}


def test_when_a_batch_commit_fails_each_call_runs_again_alone(engine: Engine) -> None:
    group, _ = make_group(engine)
    calls = [
        calling(group, insert("ok1")),
        calling(group, insert("orphan", parent=99)),
        calling(group, insert("ok2")),
    ]
    outcomes = group.batch_now(calls)()
    assert outcomes[0] == (["ok1"], None) and outcomes[2] == (["ok2"], None)
    assert isinstance(outcomes[1][1], IntegrityError)
    assert names(engine) == {"ok1", "ok2"}
    assert group.run(insert("later")) == "later"


def test_a_batch_run_on_a_worker_queues_behind_a_group_and_commits_once(engine: Engine) -> None:
    group, commits = make_group(engine)
    outcomes: list[Any] = []
    batch = threading.Thread(
        target=lambda: outcomes.extend(group.run_batch([calling(group, insert(f"w{i}")) for i in range(4)]))
    )
    with Held(group):
        batch.start()
        wait_until(lambda: len(group._queue) == 1)
    batch.join(WAIT_S)
    assert outcomes == [([f"w{i}"], None) for i in range(4)]
    assert names(engine) == {"held", *(f"w{i}" for i in range(4))}
    assert len(commits) == 2
