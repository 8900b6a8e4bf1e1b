"""Running store work in a transaction: retry lock conflicts, and report outages as StoreUnavailable."""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from typing import TypeVar

from sqlalchemy import Connection
from sqlalchemy.exc import DataError, DBAPIError, IntegrityError, OperationalError

from tracklight.errors import InvalidParameter, StoreUnavailable
from tracklight.store.engine import Database

T = TypeVar("T")
_ATTEMPTS = 6

# Deadlocks, serialization failures, lock waits and SQLite's busy lock: another attempt will succeed.
_RETRYABLE_MYSQL = {1205, 1213}
_RETRYABLE_PG = {"40001", "40P01", "55P03"}


def _is_retryable(exc: DBAPIError) -> bool:
    orig = exc.orig
    code = getattr(orig, "pgcode", None)
    if code in _RETRYABLE_PG:
        return True
    args = getattr(orig, "args", ())
    if args and isinstance(args[0], int) and args[0] in _RETRYABLE_MYSQL:
        return True
    return "database is locked" in str(orig)


def _is_outage(exc: DBAPIError) -> bool:
    return exc.connection_invalidated or isinstance(exc, OperationalError)


def in_transaction(
    db: Database, work: Callable[[Connection], T], *, write: bool = True, single_statement: bool = False
) -> T:
    """Run work(conn) in one transaction; on a lock conflict roll back and run it again.

    `single_statement`: every write of work is one statement, each atomic and complete by itself
    (reads may come before it); PostgreSQL then runs them in autocommit (Database.single_statement_write).
    """
    for attempt in range(_ATTEMPTS):
        try:
            if write and db.group_commit is not None:
                return db.group_commit.run(work)
            if not write:
                opened = db.read()
            elif single_statement:
                opened = db.single_statement_write()
            else:
                opened = db.write()
            with opened as conn:
                return work(conn)
        except (IntegrityError, DataError) as exc:
            # Constraint and data errors here come from client input the services did not catch.
            raise InvalidParameter(f"The request could not be stored: {exc.orig}") from exc
        except DBAPIError as exc:
            # A connection that died since its last use: the pool has been invalidated, so one
            # more attempt gets a fresh connection (or finds the database really down).
            stale = exc.connection_invalidated and attempt == 0
            if (stale or _is_retryable(exc)) and attempt < _ATTEMPTS - 1:
                time.sleep(0.01 * (2**attempt) * (1 + random.random()))
                continue
            if _is_outage(exc):
                raise StoreUnavailable(str(exc.orig)) from exc
            raise
    raise AssertionError("unreachable")


def after_commit(db: Database, fn: Callable[[], None]) -> None:
    """fn() once the writes this thread has made through in_transaction are committed: at once, except
    inside a write batch (group_commit), where they commit with the batch, and fn never runs if the
    batch is undone (its calls then run again, each calling this anew)."""
    if db.group_commit is not None:
        db.group_commit.after_commit(fn)
    else:
        fn()
