"""The few statements whose SQL differs per database: upserts and insert-if-absent."""

from __future__ import annotations

import functools
from collections.abc import Sequence
from typing import Any

from sqlalchemy import Connection, Table
from sqlalchemy.dialects import mysql, postgresql, sqlite


def insert_ignore(conn: Connection, table: Table, rows: Sequence[dict[str, Any]], keys: list[str]) -> None:
    """Insert rows, skipping those whose key already exists; one multi-row statement."""
    if not rows:
        return
    # One row per key, as upsert sends: the statement then means the same on every database.
    rows = list({tuple(row[k] for k in keys): row for row in rows}.values())
    name = conn.dialect.name
    if name == "postgresql":
        stmt = postgresql.insert(table).values(list(rows)).on_conflict_do_nothing(index_elements=keys)
    elif name == "sqlite":
        stmt = sqlite.insert(table).values(list(rows)).on_conflict_do_nothing(index_elements=keys)
    else:
        ins = mysql.insert(table).values(list(rows))
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
    rows = list({tuple(row[k] for k in keys): row for row in rows}.values())
    name = conn.dialect.name
    if name in ("postgresql", "sqlite"):
        ins = (postgresql if name == "postgresql" else sqlite).insert(table).values(list(rows))
        stmt = ins.on_conflict_do_update(index_elements=keys, set_={c: ins.excluded[c] for c in update_cols})
    else:
        ins = mysql.insert(table).values(list(rows))
        stmt = ins.on_duplicate_key_update({c: ins.inserted[c] for c in update_cols})
    conn.execute(stmt)


def _one_row_per_key(rows: Sequence[dict[str, Any]], keys: list[str]) -> list[dict[str, Any]]:
    return list({tuple(row[k] for k in keys): row for row in rows}.values())


# SQLAlchemy batches an executemany INSERT into multi-row statements on PostgreSQL ("insertmanyvalues")
# only if it has RETURNING once it has an ON CONFLICT clause; without it psycopg2 sends one statement
# per row, one round trip each. The returned keys are not read.


@functools.cache
def _insert_ignore_statement(dialect: str, table: Table, keys: tuple[str, ...]) -> Any:
    if dialect == "postgresql":
        ins = postgresql.insert(table).on_conflict_do_nothing(index_elements=list(keys))
        return ins.returning(table.c[keys[0]])
    if dialect == "sqlite":
        return sqlite.insert(table).on_conflict_do_nothing(index_elements=list(keys))
    return mysql.insert(table).on_duplicate_key_update({keys[0]: table.c[keys[0]]})


@functools.cache
def _upsert_statement(dialect: str, table: Table, keys: tuple[str, ...], update_cols: tuple[str, ...]) -> Any:
    if dialect in ("postgresql", "sqlite"):
        ins = (postgresql if dialect == "postgresql" else sqlite).insert(table)
        stmt = ins.on_conflict_do_update(
            index_elements=list(keys), set_={c: ins.excluded[c] for c in update_cols}
        )
        return stmt.returning(table.c[keys[0]]) if dialect == "postgresql" else stmt
    ins = mysql.insert(table)
    return ins.on_duplicate_key_update({c: ins.inserted[c] for c in update_cols})


def insert_ignore_each(
    conn: Connection, table: Table, rows: Sequence[dict[str, Any]], keys: list[str]
) -> None:
    """insert_ignore as one statement executed for many parameter sets (every row with the same
    columns): SQLAlchemy compiles it once and keeps it, where a multi-row VALUES of a new length is
    compiled again each time, which costs more than the insert on a hot path."""
    if rows:
        stmt = _insert_ignore_statement(conn.dialect.name, table, tuple(keys))
        conn.execute(stmt, _one_row_per_key(rows, keys))


def upsert_each(
    conn: Connection, table: Table, rows: Sequence[dict[str, Any]], keys: list[str], update_cols: list[str]
) -> None:
    """upsert as one statement executed for many parameter sets (every row with the same columns);
    see insert_ignore_each. The last row for a key wins."""
    if rows:
        stmt = _upsert_statement(conn.dialect.name, table, tuple(keys), tuple(update_cols))
        conn.execute(stmt, _one_row_per_key(rows, keys))
