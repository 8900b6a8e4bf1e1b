"""Param writes for runs and logged models: set once, never changed."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import Connection, Table, select

from tracklight.errors import InvalidParameter
from tracklight.store.dialect import insert_ignore
from tracklight.store.tags import Owner


def insert_params(
    conn: Connection, table: Table, owner: Owner, params: Sequence[tuple[str, str]], *, described: str
) -> None:
    """Insert params; re-logging the same value is a no-op, a different value is an error.

    `described` names the owner in that error, e.g. "run ID='…'".
    """
    if not params:
        return
    wanted = dict(params)
    rows = [{**owner, "key": k, "value": v} for k, v in sorted(wanted.items())]
    insert_ignore(conn, table, rows, [*owner, "key"])
    c = table.c
    stored = conn.execute(
        select(c.key, c.value).where(
            *(c[name] == value for name, value in owner.items()), c.key.in_(list(wanted))
        )
    ).all()
    for key, value in stored:
        if value != wanted[key]:
            raise InvalidParameter(
                f"Changing param values is not allowed. Param with key='{key}' was already logged "
                f"with value='{value}' for {described}. Attempted logging new value '{wanted[key]}'."
            )
