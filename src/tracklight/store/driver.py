"""Fixed SQL on the hot write paths, run on the driver's connection under SQLAlchemy's.

conn.exec_driver_sql costs about 18 µs of Python per statement on SQLite and 35 µs on PostgreSQL
beyond the driver's own work (execution context, result metadata, a cursor per call), as much as a
small statement itself; a log-metric used to run five. These helpers execute on the DBAPI connection
under a SQLAlchemy connection, inside the transaction that connection has begun (every caller's
connection comes from Database.read, write or autocommit, which begin one), and hand a driver error
to SQLAlchemy's own handling: it is raised wrapped as SQLAlchemy would (IntegrityError,
OperationalError, ...), and a lost connection is invalidated, so callers and the retry logic in
store.transactions see exactly what they would from exec_driver_sql. Statements use `?`
placeholders, rewritten to `%s` for PostgreSQL's and MySQL's drivers.

On PostgreSQL, `prepared_first` runs a statement prepared once per connection: planning the
statements of a run create or a log-metric costs the server about as much as executing them.
"""

from __future__ import annotations

import functools
import operator
import re
import sqlite3
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection
from sqlalchemy.exc import DBAPIError


@functools.lru_cache(maxsize=64)  # fixed statements, and multi-row inserts of the common batch sizes
def _format(sql: str) -> str:
    return sql.replace("?", "%s")


def _execute(conn: Connection, sql: str, params: Sequence[Any]) -> Any:
    """A DBAPI cursor that has run `sql`; the caller fetches from it and closes it."""
    if conn.dialect.name != "sqlite":
        sql = _format(sql)
    # No parameters at all, rather than an empty tuple: then `%` needs no escaping.
    return _execute_native(conn, sql, params if params else None)


def _execute_native(conn: Connection, sql: str, params: Any) -> Any:
    """_execute for SQL already in the driver's own parameter style (compiled for its dialect, `%`
    escaped where the style needs it), with its parameters, or None for none."""
    cursor = conn.connection.dbapi_connection.cursor()  # type: ignore[union-attr]
    if conn._has_events or conn.engine._has_events:
        # Listeners of before_cursor_execute (statement logs, tracing instrumentation, tests that
        # check what reaches the database) see these statements as they see exec_driver_sql's.
        conn.dispatch.before_cursor_execute(conn, cursor, sql, params, None, False)
    try:
        if params is not None:
            cursor.execute(sql, params)
        else:
            cursor.execute(sql)
    except BaseException as exc:
        cursor.close()
        # SQLAlchemy's handling of a failed statement (wrapping, invalidating a lost connection):
        # internal, but what exec_driver_sql itself calls.
        conn._handle_dbapi_exception(exc, sql, params, None, None)
    return cursor


def first(conn: Connection, sql: str, params: Sequence[Any] = ()) -> tuple[Any, ...] | None:
    """The first row of a query, or None."""
    return _fetched(conn, _execute(conn, sql, params), sql, params, _FETCH_ONE)


def rows(conn: Connection, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
    """Every row of a query."""
    return _fetched(conn, _execute(conn, sql, params), sql, params, _FETCH_ALL)


def native_rows(conn: Connection, sql: str, params: Any) -> list[tuple[Any, ...]]:
    """Every row of a query compiled for the connection's dialect (its placeholders, its parameters:
    a sequence or a mapping)."""
    return _fetched(conn, _execute_native(conn, sql, params), sql, params, _FETCH_ALL)


_FETCH_ONE = operator.methodcaller("fetchone")
_FETCH_ALL = operator.methodcaller("fetchall")


def _fetched(conn: Connection, cursor: Any, sql: str, params: Any, fetch: Callable[[Any], Any]) -> Any:
    """fetch(cursor), then the cursor closed; a driver error wrapped as in _execute_native (SQLite
    runs most of a query while its rows are fetched: an interrupt or a lock shows up here)."""
    try:
        return fetch(cursor)
    except conn.dialect.loaded_dbapi.Error as exc:
        conn._handle_dbapi_exception(exc, sql, params, None, None)
        raise  # unreachable: the call above raises
    finally:
        cursor.close()


def write(conn: Connection, sql: str, params: Sequence[Any] = ()) -> tuple[int, int | None]:
    """Run an INSERT, UPDATE or DELETE: (rows affected, the last inserted row id on SQLite and MySQL)."""
    cursor = _execute(conn, sql, params)
    try:
        lastrowid = cursor.lastrowid if conn.dialect.name != "postgresql" else None
        return cursor.rowcount, lastrowid
    finally:
        cursor.close()


def begin_sqlite(conn: Connection, immediate: bool) -> None:
    """Issue SQLite's BEGIN for a SQLAlchemy transaction being begun (from its "begin" event, which
    SQLAlchemy does not guard: a driver error is wrapped here)."""
    sql = "BEGIN IMMEDIATE" if immediate else "BEGIN"
    try:
        conn.connection.driver_connection.execute(sql)  # type: ignore[union-attr]
    except sqlite3.Error as exc:
        raise DBAPIError.instance(sql, (), exc, sqlite3.Error, dialect=conn.dialect) from exc


# PostgreSQL: a prepared statement that is missing (a pooler in front handed us another server
# session) or already there under that name.
_PREPARED_MISSING = {"26000", "42P05"}
_PREPARED = "tracklight_prepared"  # in the pooled connection's info: names prepared on it, or None
_DOLLAR = re.compile(r"\$(\d+)")


@dataclass(frozen=True)
class Prepared:
    """A PostgreSQL statement with $n placeholders, and the types of its parameters."""

    name: str
    types: str  # e.g. "text, bigint, text[]"
    sql: str

    @functools.cached_property
    def plain(self) -> tuple[str, tuple[int, ...]]:
        """The same statement with `?` placeholders, and which parameter each one takes."""
        order = tuple(int(n) - 1 for n in _DOLLAR.findall(self.sql))
        return _DOLLAR.sub("?", self.sql), order

    @functools.lru_cache(maxsize=8)  # noqa: B019 - a handful of module-level statements, kept for good
    def execute(self, count: int) -> str:
        return f"EXECUTE {self.name} ({','.join(['?'] * count)})"


def prepared_first(conn: Connection, statement: Prepared, params: Sequence[Any]) -> tuple[Any, ...] | None:
    """The first row of a prepared statement (PostgreSQL, in autocommit), preparing it on first use.

    Only in autocommit: a failed EXECUTE there spoils no transaction, so when the session has lost
    the statement (a pooler such as PgBouncer in transaction mode shares server sessions), the plain
    statement is run instead, and from then on for this connection.
    """
    info = conn.connection.info
    names: set[str] | None = info.get(_PREPARED, set())
    if names is not None:
        try:
            if statement.name not in names:
                write(conn, f"PREPARE {statement.name} ({statement.types}) AS {statement.sql}")
                names.add(statement.name)
                info[_PREPARED] = names
            return first(conn, statement.execute(len(params)), params)
        except DBAPIError as exc:
            if getattr(exc.orig, "pgcode", None) not in _PREPARED_MISSING:
                raise
            info[_PREPARED] = None
    sql, order = statement.plain
    return first(conn, sql, tuple(params[i] for i in order))
