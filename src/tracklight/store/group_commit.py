"""Group commit on SQLite: write transactions that arrive together share one COMMIT, and so one fsync.

With `synchronous=FULL` every COMMIT syncs the WAL to disk, and SQLite lets one writer in at a time:
writers from many request threads would each wait for the lock (SQLite's busy handler polls it with
sleeps of up to 100 ms) and then pay a sync of their own. Here they queue instead. The first to
arrive while nobody is writing becomes the leader: it opens one transaction, runs every queued
transaction's work in it (each inside a savepoint, so a failing one is undone alone), commits once,
and only then hands each caller its result. Nothing is acknowledged before the sync that makes it
durable. Whoever arrived meanwhile forms the next group, led by the first of them.

A lone writer (nobody waiting) runs on its own thread exactly as it would without this: no savepoint,
no hand-off.

A caller that must not wait (the event loop's thread, running a short write itself when nothing else
is in flight: see http.app) runs under `without_waiting`: its write then either starts at once, alone,
or raises WouldWait having written nothing, and the caller hands the call to a worker thread instead.

A batch (`batch_now` or `run_batch`, see http.write_batches) runs whole calls, not just their
transactions, one after another on one thread inside one transaction: every write transaction a call
starts joins that one, and the batch commits once. If a call's write fails, the batch is undone and
runs again with a savepoint around each write, so that the failing one is undone alone; if even that
cannot be trusted, each call runs on its own. Eight request threads each leading or following a
group cost twice the CPU per run create of the event loop's thread running their calls itself.
"""

from __future__ import annotations

import contextlib
import contextvars
import logging
import threading
from collections.abc import Callable, Iterator, Sequence
from typing import Any

from sqlalchemy import Connection
from sqlalchemy.exc import DBAPIError

log = logging.getLogger("tracklight")

# A group's work runs back to back while its callers wait, so a bound keeps the first one's wait short.
MAX_GROUP = 32


class WouldWait(Exception):  # noqa: N818 - a condition, not a failure: the caller goes the other way
    """A write under `without_waiting` would have had to wait (for this process's current group, or for
    SQLite's write lock held by another process); nothing was written."""


# Set in a context whose writes must not wait; read by GroupCommit.run.
_NO_WAITING: contextvars.ContextVar[bool] = contextvars.ContextVar("tracklight_no_waiting", default=False)


def without_waiting(fn: Callable[..., Any], *args: Any) -> Any:
    """fn(*args) in a copy of the current context in which a write that would wait raises WouldWait."""
    context = contextvars.copy_context()
    context.run(_NO_WAITING.set, True)
    return context.run(fn, *args)


class _Batch:
    """The transaction a batch's calls write in, whether a write of theirs failed in it, what they
    asked to run once it has committed, and whether each write is in a savepoint of its own."""

    __slots__ = ("after", "careful", "conn", "failed")

    def __init__(self, conn: Connection, after: list[Callable[[], None]], careful: bool) -> None:
        self.conn = conn
        self.failed = False
        self.after = after
        # Savepoints cost two statements a write, so a batch goes without them until a write of its
        # own fails; then it runs again with them, and a failing write is undone alone.
        self.careful = careful


class _BatchFailed(Exception):
    """A call's write failed inside a batch's transaction: none of the batch is kept."""


class _Pending:
    """One caller's transaction: its work, and what came of it."""

    __slots__ = ("context", "error", "leads", "result", "wake", "work")

    def __init__(self, work: Callable[[Connection], Any]) -> None:
        self.work = work
        # The caller's context (request id for log lines, the principal), entered on the leader's thread.
        self.context = contextvars.copy_context()
        self.result: Any = None
        self.error: BaseException | None = None
        self.leads = False  # woken to lead the next group rather than with a result
        self.wake = threading.Lock()
        self.wake.acquire()

    def outcome(self) -> Any:
        if self.error is not None:
            raise self.error
        return self.result


class GroupCommit:
    """Runs write transactions on connections from `connect` (whose transactions take the write
    lock), several to one commit when they arrive together.

    The leader of the moment keeps one connection between groups: only one group runs at a time, and
    a checkout from the pool per transaction costs about as much as the statements of a small one.
    """

    def __init__(self, connect: Callable[[], Connection]) -> None:
        self._connect = connect
        self._conn: Connection | None = None
        # For groups that must not wait (see _run_now): SQLite's busy handler off, so that its BEGIN
        # IMMEDIATE fails at once instead of waiting out another process's transaction.
        self._conn_at_once: Connection | None = None
        self._lock = threading.Lock()
        self._queue: list[_Pending] = []
        self._leading = False  # a leader is running a group, or has been woken to run the next one
        self._local = threading.local()

    def run(self, work: Callable[[Connection], Any]) -> Any:
        """work(conn) in a write transaction; returns once that transaction is committed, or raises
        what work raised (its writes undone) or what failed the commit (nothing of it kept)."""
        batch: _Batch | None = getattr(self._local, "batch", None)
        if batch is not None:
            return _in_batch(batch, work)
        if getattr(self._local, "writing", False):
            # It would wait for the group its own thread is running.
            raise RuntimeError("a write transaction was started inside another one")
        pending = _Pending(work)
        if _NO_WAITING.get():
            return self._run_now(pending)
        with self._lock:
            self._queue.append(pending)
            leads = not self._leading
            self._leading = True
        if not leads:
            pending.wake.acquire()  # released by the leader: with the outcome, or to lead
            if not pending.leads:
                return pending.outcome()
        self._lead()
        return pending.outcome()

    def after_commit(self, fn: Callable[[], None]) -> None:
        """fn() once what this thread has written is committed: now, unless a batch's call is running
        here, whose writes are committed only with the batch (and may yet be undone)."""
        batch: _Batch | None = getattr(self._local, "batch", None)
        if batch is None:
            fn()
        else:
            batch.after.append(fn)

    def run_batch(
        self, calls: list[Callable[[], Any]], *, careful: bool = False
    ) -> list[tuple[Any, BaseException | None]]:
        """Each call, in order, with every write transaction it starts joined into one transaction,
        committed once after the last; then each call's (result, error), none acknowledged before
        that commit. If a call's write fails, nothing of the batch is kept and it runs again, each
        write in a savepoint (`careful`), so that the failing one is undone alone. If the
        transaction fails, every call runs again on its own, as it would have without a batch."""
        outcomes: list[tuple[Any, BaseException | None]] = []
        after: list[Callable[[], None]] = []
        try:
            self.run(lambda conn: self._run_calls(conn, calls, outcomes, after, careful))
        except _BatchFailed:
            if careful:  # a savepoint could not be undone or released: trust nothing of it
                return [_outcome(call) for call in calls]
            return self.run_batch(calls, careful=True)
        except Exception:  # noqa: BLE001 - a rare path that gives each call its own transaction
            return [_outcome(call) for call in calls]
        _run_all(after)
        return outcomes

    def batch_now(
        self, calls: list[Callable[[], Any]]
    ) -> Callable[[], list[tuple[Any, BaseException | None]]]:
        """run_batch's calls, run here and now if nobody leads a group and SQLite's write lock is free
        (else WouldWait, nothing run), but not committed: what it returns commits them (on another
        thread, so that the caller's thread does not wait for the sync) and then gives their outcomes.
        Until that has run, this process's other writes wait."""
        with self._lock:
            if self._leading:
                raise WouldWait("another write transaction is running")
            self._leading = True
        outcomes: list[tuple[Any, BaseException | None]] = []
        after: list[Callable[[], None]] = []
        conn: Connection | None = None
        try:
            conn = self._conn_at_once or self._open(wait=False)
            transaction = self._begin_at_once(conn)
        except BaseException:
            if conn is not None and not _idle(conn):
                self._discard(wait=False)
            self._hand_on()
            raise
        try:
            self._run_calls(conn, calls, outcomes, after)
        except BaseException as exc:
            failed: BaseException | None = exc
        else:
            failed = None

        def commit() -> list[tuple[Any, BaseException | None]]:
            try:
                if failed is not None:
                    transaction.rollback()
                    raise failed
                transaction.commit()
            except BaseException as exc:
                if not _idle(conn):  # type: ignore[arg-type]
                    self._discard(wait=False)
                self._hand_on()
                if not isinstance(exc, Exception):
                    raise
                if isinstance(exc, _BatchFailed):  # a call's write failed: again, with savepoints
                    return self.run_batch(calls, careful=True)
                return [_outcome(call) for call in calls]
            self._hand_on()
            _run_all(after)
            return outcomes

        return commit

    def _run_calls(
        self,
        conn: Connection,
        calls: list[Callable[[], Any]],
        outcomes: list[tuple[Any, BaseException | None]],
        after: list[Callable[[], None]],
        careful: bool = False,
    ) -> None:
        """The calls in order, each write of theirs on `conn`; _BatchFailed once one of those fails
        (`careful`: once one of them cannot be undone alone). What they ask to run after the commit
        (after_commit) is added to `after`."""
        batch = self._local.batch = _Batch(conn, after, careful)
        try:
            for call in calls:
                try:
                    outcomes.append((call(), None))
                except Exception as exc:  # noqa: BLE001 - the call's own answer, an error
                    outcomes.append((None, exc))
                if batch.failed:
                    raise _BatchFailed
        finally:
            self._local.batch = None

    def _run_now(self, pending: _Pending) -> Any:
        """Lead a group of `pending` alone if nobody leads one now, taking SQLite's write lock without
        waiting for it; else WouldWait. Whoever queues meanwhile is handed on as after any group."""
        with self._lock:
            if self._leading:
                raise WouldWait("another write transaction is running")
            self._leading = True
        self._lead([pending], wait=False)
        return pending.outcome()

    def _lead(self, group: list[_Pending] | None = None, *, wait: bool = True) -> None:
        """Run the queue's head (or `group`) as one group, then wake the next leader, if anyone is waiting."""
        if group is None:
            with self._lock:
                group = self._queue[:MAX_GROUP]
                del self._queue[:MAX_GROUP]
        self._local.writing = True
        try:
            self._commit(group, wait)
        finally:
            self._local.writing = False
            # The leader's own entry is the group's first (it queued and led at once, or was woken
            # as the queue's head); everyone else gets their outcome now.
            self._hand_on(group[1:])

    def _hand_on(self, done: Sequence[_Pending] = ()) -> None:
        """End the current group: wake its callers in `done`, then the next leader if anyone queued."""
        with self._lock:
            if self._queue:
                successor: _Pending | None = self._queue[0]
                successor.leads = True  # type: ignore[union-attr]
            else:
                successor = None
                self._leading = False
        for pending in done:
            pending.wake.release()
        if successor is not None:
            successor.wake.release()

    def _commit(self, group: list[_Pending], wait: bool = True) -> None:
        conn = self._conn if wait else self._conn_at_once
        try:
            if conn is None:
                conn = self._open(wait)
            with conn.begin() if wait else self._begin_at_once(conn):
                if len(group) == 1:
                    only = group[0]
                    only.result = only.context.run(only.work, conn)
                    return
                for pending in group:
                    with _savepoint(conn) as undo:
                        try:
                            pending.result = pending.context.run(pending.work, conn)
                        except Exception as exc:
                            pending.error = exc
                            undo()
        except BaseException as exc:
            if conn is not None and not _idle(conn):
                # Lost, or still inside a transaction (SQLite keeps it open when COMMIT fails, e.g. on
                # a deferred constraint, though SQLAlchemy counts it ended): next group, fresh connection.
                self._discard(wait)
            # Nothing of this transaction is kept: every caller sees why (and may retry), even those
            # whose own work went well.
            for pending in group:
                if pending.error is None or len(group) == 1:
                    pending.result, pending.error = None, exc
            if not isinstance(exc, Exception):
                raise

    def _begin_at_once(self, conn: Connection) -> Any:
        """conn.begin() on the connection whose busy handler is off: WouldWait if another connection
        holds SQLite's write lock."""
        try:
            return conn.begin()
        except DBAPIError as exc:
            if "database is locked" in str(exc.orig):
                raise WouldWait("another connection holds the write lock") from exc
            raise

    def _open(self, wait: bool) -> Connection:
        conn = self._connect()
        if wait:
            self._conn = conn
        else:
            conn.connection.driver_connection.execute("PRAGMA busy_timeout=0")  # type: ignore[union-attr]
            self._conn_at_once = conn
        return conn

    def _discard(self, wait: bool) -> None:
        if wait:
            conn, self._conn = self._conn, None
        else:
            conn, self._conn_at_once = self._conn_at_once, None
        if conn is not None:
            with contextlib.suppress(Exception):
                conn.invalidate()
                conn.close()

    def close(self) -> None:
        """Return the kept connection to the pool (before the engine is disposed); the one without a
        busy handler is closed for good rather than handed to anyone else."""
        with self._lock:
            conn, self._conn = self._conn, None
        if conn is not None:
            with contextlib.suppress(Exception):
                conn.close()
        self._discard(wait=False)


def _in_batch(batch: _Batch, work: Callable[[Connection], Any]) -> Any:
    """work(conn) inside a batch's transaction. Without a savepoint a failing write's statements may be
    half done, and only undoing the whole batch undoes them; with one it is undone alone, as its own
    transaction would have been."""
    if batch.failed:
        # Nothing more on this connection: SQLite may have ended the transaction itself (a busy or I/O
        # error), and a write now would commit on its own, outside the batch that will be undone.
        raise _BatchFailed
    if not batch.careful:
        try:
            return work(batch.conn)
        except BaseException:
            batch.failed = True
            raise
    try:
        nested = batch.conn.begin_nested()
    except BaseException:
        batch.failed = True
        raise
    try:
        result = work(batch.conn)
    except BaseException:
        try:
            nested.rollback()
        except BaseException:
            batch.failed = True  # the transaction is in a state nobody can vouch for
        raise
    try:
        nested.commit()
    except BaseException:
        batch.failed = True
        raise
    return result


def _run_all(after: list[Callable[[], None]]) -> None:
    """The batch's after-commit callbacks; one failing does not keep the others from running."""
    for fn in after:
        try:
            fn()
        except Exception:  # noqa: BLE001 - the batch is committed and answered whatever happens here
            log.exception("an after-commit callback failed")


def _outcome(call: Callable[[], Any]) -> tuple[Any, BaseException | None]:
    try:
        return call(), None
    except Exception as exc:  # noqa: BLE001 - handed to the caller
        return None, exc


def _idle(conn: Connection) -> bool:
    """Whether a connection can start the next group: alive, and in no transaction on either level."""
    try:
        driver = conn.connection.driver_connection
        return not (conn.invalidated or conn.in_transaction() or getattr(driver, "in_transaction", False))
    except Exception:  # noqa: BLE001 - whatever went wrong, the connection is not to be trusted
        return False


@contextlib.contextmanager
def _savepoint(conn: Connection) -> Iterator[Callable[[], None]]:
    """A savepoint around one caller's work; the callable undoes that work. A failure to release or
    roll back the savepoint propagates, failing the whole group."""
    nested = conn.begin_nested()
    undone = False

    def undo() -> None:
        nonlocal undone
        undone = True
        nested.rollback()

    yield undo
    if not undone:
        nested.commit()
