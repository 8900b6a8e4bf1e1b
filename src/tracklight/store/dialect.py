"""The few statements whose SQL differs per database: upserts and insert-if-absent."""

from __future__ import annotations

import functools
import importlib
from collections.abc import Sequence
from typing import Any

from sqlalchemy import Connection, Table
from sqlalchemy import types as sa_types
from sqlalchemy.engine import Dialect

from tracklight.store import driver


def insert_ignore(conn: Connection, table: Table, rows: Sequence[dict[str, Any]], keys: list[str]) -> None:
    """Insert rows, skipping those whose key already exists; one multi-row statement."""
    if not rows:
        return
    # One row per key, as upsert sends: the statement then means the same on every database.
    rows = _one_row_per_key(rows, keys)
    name = conn.dialect.name
    insert = _dialect(name).insert
    if name in ("postgresql", "sqlite"):
        stmt = insert(table).values(list(rows)).on_conflict_do_nothing(index_elements=keys)
    else:
        ins = insert(table).values(list(rows))
        # A no-op assignment instead of INSERT IGNORE, which would also swallow data errors.
        stmt = ins.on_duplicate_key_update({keys[0]: table.c[keys[0]]})
    conn.execute(stmt)


def upsert(
    conn: Connection, table: Table, rows: Sequence[dict[str, Any]], keys: list[str], update_cols: list[str]
) -> None:
    """Insert rows or overwrite update_cols where the key exists; one multi-row statement."""
    if not rows:
        return
    # PostgreSQL refuses a statement that would update one row twice (a request naming a tag key twice);
    # the last row for a key wins, as it does on SQLite and MySQL.
    rows = _one_row_per_key(rows, keys)
    name = conn.dialect.name
    ins = _dialect(name).insert(table).values(list(rows))
    if name in ("postgresql", "sqlite"):
        stmt = ins.on_conflict_do_update(index_elements=keys, set_={c: ins.excluded[c] for c in update_cols})
    else:
        stmt = ins.on_duplicate_key_update({c: ins.inserted[c] for c in update_cols})
    conn.execute(stmt)


@functools.cache
def _dialect(name: str) -> Any:
    """SQLAlchemy's module for a database (sqlite, postgresql, or mysql for MySQL and MariaDB), imported
    when first used: the PostgreSQL and MySQL ones cost ~45 ms of start-up on a server that uses neither."""
    return importlib.import_module(
        f"sqlalchemy.dialects.{name if name in ('postgresql', 'sqlite') else 'mysql'}"
    )


def _one_row_per_key(rows: Sequence[dict[str, Any]], keys: Sequence[str]) -> list[dict[str, Any]]:
    return list({tuple(row[k] for k in keys): row for row in rows}.values())


# At most this many bound values a statement: under SQLite's 32,766 and the 65,535 of PostgreSQL's and
# MySQL's protocols.
_MAX_VALUES = 30_000


@functools.lru_cache(maxsize=256)
def _rows_sql(
    dialect: Dialect,
    table: str,
    columns: tuple[str, ...],
    keys: tuple[str, ...],
    update_cols: tuple[str, ...] | None,
    n: int,
) -> str:
    """INSERT of n rows of `columns`; on a key that exists, overwrite update_cols, or with None keep the row."""
    q = dialect.identifier_preparer.quote
    row = "(" + ", ".join("?" * len(columns)) + ")"
    head = f"INSERT INTO {q(table)} ({', '.join(map(q, columns))}) VALUES " + ", ".join([row] * n)  # noqa: S608
    return head + _on_conflict(dialect, keys, update_cols)


@functools.lru_cache(maxsize=64)
def _unnest_sql(
    dialect: Dialect,
    table: str,
    columns: tuple[str, ...],
    types: tuple[str, ...],
    keys: tuple[str, ...],
    update_cols: tuple[str, ...] | None,
) -> str:
    """PostgreSQL: the INSERT of _rows_sql for any number of rows, one array parameter a column."""
    q = dialect.identifier_preparer.quote
    arrays = ", ".join(f"?::{t}[]" for t in types)
    head = f"INSERT INTO {q(table)} ({', '.join(map(q, columns))}) SELECT * FROM unnest({arrays})"  # noqa: S608
    return head + _on_conflict(dialect, keys, update_cols)


def _on_conflict(dialect: Dialect, keys: tuple[str, ...], update_cols: tuple[str, ...] | None) -> str:
    q = dialect.identifier_preparer.quote
    if dialect.name in ("mysql", "mariadb"):
        # A no-op assignment instead of INSERT IGNORE, which would also swallow data errors.
        sets = (
            [f"{q(c)} = VALUES({q(c)})" for c in update_cols]
            if update_cols
            else [f"{q(keys[0])} = {q(keys[0])}"]
        )
        return f" ON DUPLICATE KEY UPDATE {', '.join(sets)}"
    conflict = f" ON CONFLICT ({', '.join(map(q, keys))})"
    if not update_cols:
        return f"{conflict} DO NOTHING"
    return f"{conflict} DO UPDATE SET {', '.join(f'{q(c)} = excluded.{q(c)}' for c in update_cols)}"


def _array_types(table: Table, columns: tuple[str, ...]) -> tuple[str, ...] | None:
    """The PostgreSQL array type each column is sent as, or None if one is neither text nor integer.
    Text goes as text[], not as the column's varchar(n)[]: a cast to varchar(n) would cut a long value
    short, where the INSERT's own assignment refuses it."""
    types = []
    for name in columns:
        kind = table.c[name].type
        if isinstance(kind, sa_types.Integer):
            types.append("bigint")
        elif isinstance(kind, sa_types.String):
            types.append("text")
        else:
            return None
    return tuple(types)


def array_literal(values: Sequence[str | int | None]) -> str:
    """PostgreSQL's text form of a one-dimensional array of these values (None as NULL): every element
    quoted, so that no value (empty, "NULL", braces, commas, spaces) is read as anything but itself."""
    out = []
    for value in values:
        if value is None:
            out.append("NULL")
        elif isinstance(value, int):
            out.append(str(value))
        else:
            out.append('"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"')
    return "{" + ",".join(out) + "}"


def _insert_rows(
    conn: Connection,
    table: Table,
    rows: Sequence[dict[str, Any]],
    keys: list[str],
    update_cols: list[str] | None,
) -> int:
    """Multi-row INSERTs of fixed SQL straight on the driver (rows with the same columns, at most one
    per key); how many rows they inserted or changed.

    A span export writes three or four of them; through SQLAlchemy (an executemany that it batches into
    multi-row statements itself) each cost more in Python than in the database. On PostgreSQL the rows
    go as one array a column: psycopg2 renders every parameter into the statement's text, and quoting
    a few arrays, and PostgreSQL parsing them, costs a third less than a literal for every value."""
    if not rows:
        return 0
    columns = tuple(rows[0])
    updates = tuple(update_cols) if update_cols is not None else None
    types = _array_types(table, columns) if conn.dialect.name == "postgresql" else None
    if types is not None:
        sql = _unnest_sql(conn.dialect, table.name, columns, types, tuple(keys), updates)
        return driver.write(conn, sql, [array_literal([row[c] for row in rows]) for c in columns])[0]
    count = 0
    per_statement = max(1, _MAX_VALUES // len(columns))
    for i in range(0, len(rows), per_statement):
        chunk = rows[i : i + per_statement]
        sql = _rows_sql(conn.dialect, table.name, columns, tuple(keys), updates, len(chunk))
        count += driver.write(conn, sql, [row[c] for row in chunk for c in columns])[0]
    return count


def insert_ignore_each(
    conn: Connection, table: Table, rows: Sequence[dict[str, Any]], keys: list[str]
) -> bool:
    """insert_ignore for a hot path (every row with the same columns): whether every row was new,
    which only PostgreSQL and SQLite tell (MySQL counts a skipped row as found)."""
    unique = _one_row_per_key(rows, keys)
    inserted = _insert_rows(conn, table, unique, keys, None)
    return conn.dialect.name in ("postgresql", "sqlite") and inserted == len(unique)


def upsert_each(
    conn: Connection, table: Table, rows: Sequence[dict[str, Any]], keys: list[str], update_cols: list[str]
) -> None:
    """upsert for a hot path: every row with the same columns. The last row for a key wins."""
    _insert_rows(conn, table, _one_row_per_key(rows, keys), keys, update_cols)
