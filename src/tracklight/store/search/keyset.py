"""Keyset pagination: opaque tokens holding the last row's sort values, and the "after it" predicate."""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.sql.elements import ColumnElement

from tracklight.errors import InvalidParameter
from tracklight.store.search.predicates import is_mysql

_INT64 = (-(2**63), 2**63 - 1)
SortValue = int | float | str


@dataclass(frozen=True, slots=True)
class SortColumn:
    """One never-NULL sort expression; the full list must end with a unique column."""

    expr: ColumnElement[Any]
    ascending: bool
    pytype: type[int] | type[float] | type[str]


@dataclass(frozen=True, slots=True)
class Page:
    ids: list[int]
    next_page_token: str | None


def fingerprint(*parts: object) -> str:
    """A short digest of what a token depends on (the ordering), so a token cannot be replayed elsewhere."""
    raw = json.dumps(parts, sort_keys=True, default=repr).encode()
    return hashlib.sha256(raw).hexdigest()[:16]


def encode_token(fp: str, values: Sequence[SortValue]) -> str:
    raw = json.dumps({"f": fp, "k": list(values)}, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_token(token: str, fp: str, columns: Sequence[SortColumn], dialect: str) -> list[SortValue]:
    try:
        raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
        data = json.loads(raw)
    except (ValueError, binascii.Error, TypeError) as exc:
        raise InvalidParameter(f"Invalid page token {token!r}: it could not be decoded") from exc
    if not isinstance(data, dict) or not isinstance(data.get("k"), list):
        raise InvalidParameter(f"Invalid page token {token!r}: unexpected content")
    if data.get("f") != fp:
        raise InvalidParameter(
            f"Invalid page token {token!r}: it belongs to a search with a different order_by"
        )
    values: list[Any] = data["k"]
    if len(values) != len(columns):
        raise InvalidParameter(f"Invalid page token {token!r}: wrong number of sort values")
    return [_checked(v, c, token, dialect) for v, c in zip(values, columns, strict=True)]


def _checked(value: Any, col: SortColumn, token: str, dialect: str) -> SortValue:
    bad = InvalidParameter(f"Invalid page token {token!r}: malformed sort value {value!r}")
    if col.pytype is str:
        if not isinstance(value, str):
            raise bad
        return value
    # bool is an int subclass, and JSON booleans never come out of encode_token.
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise bad
    if col.pytype is int:
        if not isinstance(value, int) or not _INT64[0] <= value <= _INT64[1]:
            raise bad
        return value
    # MySQL cannot store infinities, so one there can only come from a forged token.
    if math.isnan(value) or (math.isinf(value) and is_mysql(dialect)):
        raise bad
    return float(value)


def after(columns: Sequence[SortColumn], values: Sequence[SortValue]) -> ColumnElement[bool]:
    """Rows strictly after `values` in the columns' mixed-direction lexicographic order.

    Spelled as an OR-chain because MySQL and SQLite row-value comparisons cannot mix directions.
    """
    branches: list[ColumnElement[bool]] = []
    equal_prefix: list[ColumnElement[bool]] = []
    for col, value in zip(columns, values, strict=True):
        bound = sa.bindparam(None, value, unique=True)
        step = col.expr > bound if col.ascending else col.expr < bound
        branches.append(sa.and_(*equal_prefix, step))
        equal_prefix.append(col.expr == sa.bindparam(None, value, unique=True))
    return sa.or_(*branches)


def fetch_page(
    conn: sa.Connection,
    stmt: sa.Select[Any],
    columns: Sequence[SortColumn],
    *,
    fp: str,
    max_results: int,
    page_token: str | None,
) -> Page:
    """Run `stmt` (selecting one id column) ordered by `columns`, one page after `page_token`."""
    if max_results < 1:
        raise InvalidParameter(f"max_results must be at least 1, got {max_results}")
    dialect = conn.dialect.name
    if page_token:
        stmt = stmt.where(after(columns, decode_token(page_token, fp, columns, dialect)))
    labels = [c.expr.label(f"k{i}") for i, c in enumerate(columns)]
    stmt = (
        stmt.add_columns(*labels)
        .order_by(*(lab.asc() if c.ascending else lab.desc() for lab, c in zip(labels, columns, strict=True)))
        .limit(max_results + 1)
    )
    rows = conn.execute(stmt).all()
    token = None
    if len(rows) > max_results:
        rows = rows[:max_results]
        last = rows[-1]
        token = encode_token(fp, [c.pytype(last[i + 1]) for i, c in enumerate(columns)])
    return Page([int(r[0]) for r in rows], token)
