"""The array literals that carry multi-row inserts to PostgreSQL read back as exactly the values sent."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from harness.databases import selected_backends
from harness.inprocess import opened_database

from tracklight.store.dialect import array_literal
from tracklight.store.engine import Database

pytestmark = pytest.mark.skipif("postgresql" not in selected_backends(), reason="PostgreSQL not selected")

AWKWARD = [
    "",
    "NULL",
    "null",
    " padded ",
    "a,b",
    "{braces}",
    '"quoted"',
    "back\\slash",
    '\\"',
    "it's",
    "tab\tnew\nline",
    "ünïcödé ✓ 𝄞",
    "x" * 10_000,
    None,
]


@pytest.fixture
def db(tmp_path: Path) -> Iterator[Database]:
    with opened_database("postgresql", tmp_path) as database:
        yield database


def test_text_values_read_back_unchanged(db: Database) -> None:
    with db.engine.connect() as conn:
        got = conn.exec_driver_sql("SELECT unnest(%s::text[])", (array_literal(AWKWARD),)).scalars().all()
    assert got == AWKWARD


def test_integers_and_nulls_read_back_unchanged(db: Database) -> None:
    values = [0, -1, 2**63 - 1, -(2**63), None, 42]
    with db.engine.connect() as conn:
        got = conn.exec_driver_sql("SELECT unnest(%s::bigint[])", (array_literal(values),)).scalars().all()
    assert got == values
