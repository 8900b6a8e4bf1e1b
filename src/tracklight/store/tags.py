"""Tag writes for every entity that carries tags: runs, experiments, logged models, registry entries."""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from sqlalchemy import Connection, Table, delete

from tracklight.store.dialect import upsert

# The key columns that name a tag's owner, e.g. {"run_id": 7} or {"registered_model_id": 3, "version": 2}.
Owner = Mapping[str, object]


def upsert_tags(
    conn: Connection, table: Table, owner: Owner, tags: Iterable[tuple[str, str]]
) -> dict[str, str]:
    """Set the owner's tags in one statement; returns them as stored.

    The last value given for a key wins, since a multi-row upsert may touch each key only once, and
    rows go in key order so that concurrent writers lock them in the same order.
    """
    merged = dict(tags)
    rows = [{**owner, "key": k, "value": v} for k, v in sorted(merged.items())]
    upsert(conn, table, rows, [*owner, "key"], ["value"])
    return merged


def delete_tag(conn: Connection, table: Table, owner: Owner, key: str) -> bool:
    """Delete one of the owner's tags; whether it existed."""
    c = table.c
    result = conn.execute(
        delete(table).where(*(c[name] == value for name, value in owner.items()), c.key == key)
    )
    return result.rowcount > 0
