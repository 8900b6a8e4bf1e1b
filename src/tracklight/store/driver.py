"""Fixed SQL on the hot write paths, run on SQLite's own connection to skip SQLAlchemy's per-statement work.

conn.exec_driver_sql costs about 18 µs of Python per statement beyond SQLite's own work (execution
context, result metadata, events), as much as the statement itself; a log-metric runs five. On
SQLite these helpers call the sqlite3 connection under the SQLAlchemy connection directly, inside
the transaction it has begun, and wrap a driver error as SQLAlchemy would (IntegrityError,
OperationalError, ...), so callers and the retry logic see the same exceptions. Other databases go
through exec_driver_sql, which also handles their lost connections. Statements use `?` placeholders;
they are rewritten to `%s` for the other drivers.
"""

from __future__ import annotations

import functools
import sqlite3
from collections.abc import Sequence
from typing import Any

from sqlalchemy import Connection
from sqlalchemy.exc import DBAPIError


@functools.lru_cache(maxsize=256)
def _format(sql: str) -> str:
    return sql.replace("?", "%s")


def _sqlite(conn: Connection, sql: str, params: Sequence[Any]) -> sqlite3.Cursor:
    try:
        return conn.connection.driver_connection.execute(sql, params)  # type: ignore[union-attr]
    except sqlite3.Error as exc:
        raise DBAPIError.instance(sql, params, exc, sqlite3.Error, dialect=conn.dialect) from exc


def first(conn: Connection, sql: str, params: Sequence[Any] = ()) -> tuple[Any, ...] | None:
    """The first row of a query, or None."""
    if conn.dialect.name == "sqlite":
        return _sqlite(conn, sql, params).fetchone()
    row = conn.exec_driver_sql(_format(sql), tuple(params)).first()
    return None if row is None else tuple(row)


def rows(conn: Connection, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
    """Every row of a query."""
    if conn.dialect.name == "sqlite":
        return _sqlite(conn, sql, params).fetchall()
    return [tuple(row) for row in conn.exec_driver_sql(_format(sql), tuple(params))]


def write(conn: Connection, sql: str, params: Sequence[Any] = ()) -> tuple[int, int | None]:
    """Run an INSERT, UPDATE or DELETE: (rows affected, last inserted row id where the driver has one)."""
    if conn.dialect.name == "sqlite":
        cursor = _sqlite(conn, sql, params)
        return cursor.rowcount, cursor.lastrowid
    result = conn.exec_driver_sql(_format(sql), tuple(params))
    return result.rowcount, (result.lastrowid if conn.dialect.name == "mysql" else None)


def begin_sqlite(conn: Connection, immediate: bool) -> None:
    """Issue SQLite's BEGIN for a SQLAlchemy transaction being begun."""
    _sqlite(conn, "BEGIN IMMEDIATE" if immediate else "BEGIN", ())
