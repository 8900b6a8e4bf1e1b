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
from tracklight.store.records import SearchArgs
from tracklight.store.search.compiled import CompiledQuery
from tracklight.store.search.predicates import is_mysql

_INT64 = (-(2**63), 2**63 - 1)
SortValue = int | float | str


@dataclass(frozen=True, slots=True)
class SortColumn:
    """One never-NULL sort expression; the full list must end with a unique column."""

    expr: ColumnElement[Any]
    ascending: bool
    pytype: type[int] | type[float] | type[str]


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


_BIND_TYPES: dict[type, sa.types.TypeEngine[Any]] = {
    int: sa.BigInteger(),
    float: sa.Float(),
    str: sa.String(),
}


def after(columns: Sequence[SortColumn]) -> ColumnElement[bool]:
    """Rows strictly after the token's values, bound as after_0, after_1, ..., in the columns'
    mixed-direction lexicographic order.

    Spelled as an OR-chain because MySQL and SQLite row-value comparisons cannot mix directions.
    """
    branches: list[ColumnElement[bool]] = []
    equal_prefix: list[ColumnElement[bool]] = []
    for i, col in enumerate(columns):
        bound = sa.bindparam(f"after_{i}", None, type_=_BIND_TYPES[col.pytype])
        step = col.expr > bound if col.ascending else col.expr < bound
        branches.append(sa.and_(*equal_prefix, step))
        equal_prefix.append(col.expr == bound)
    return sa.or_(*branches)


def paged(stmt: sa.Select[Any], columns: Sequence[SortColumn], *, after_token: bool) -> sa.Select[Any]:
    """`stmt` ordered by `columns`, which it also selects after its own columns, one page long.

    The page bounds stay parameters, so the statement can be compiled once per shape: "limit"
    (max_results + 1) and, when `after_token`, the token's values (see page_params).
    """
    if after_token:
        stmt = stmt.where(after(columns))
    labels = [c.expr.label(f"k{i}") for i, c in enumerate(columns)]
    return (
        stmt.add_columns(*labels)
        .order_by(*(lab.asc() if c.ascending else lab.desc() for lab, c in zip(labels, columns, strict=True)))
        .limit(sa.bindparam("limit", None, type_=sa.Integer()))
    )


def page_params(
    columns: Sequence[SortColumn], *, fp: str, max_results: int, page_token: str | None, dialect: str
) -> dict[str, Any]:
    """The values for a statement made by paged(..., after_token=bool(page_token))."""
    if max_results < 1:
        raise InvalidParameter(f"max_results must be at least 1, got {max_results}")
    params: dict[str, Any] = {"limit": max_results + 1}
    if page_token:
        for i, value in enumerate(decode_token(page_token, fp, columns, dialect)):
            params[f"after_{i}"] = value
    return params


def split_page(
    rows: list[Any], columns: Sequence[SortColumn], *, fp: str, max_results: int, first_key: int
) -> tuple[list[Any], str | None]:
    """The page's rows, and the token to resume after the last (None on the last page).

    `first_key` is the position of the first sort column in each row."""
    if len(rows) <= max_results:
        return rows, None
    rows = rows[:max_results]
    last = rows[-1]
    return rows, encode_token(fp, [c.pytype(last[first_key + i]) for i, c in enumerate(columns)])


def fetch_page(
    conn: sa.Connection,
    stmt: sa.Select[Any],
    columns: Sequence[SortColumn],
    *,
    fp: str,
    args: SearchArgs[Any],
) -> tuple[list[Any], str | None]:
    """Run `stmt` ordered by `columns`: the rows of the page after args.page_token (each starting with
    what `stmt` selects), and the token to resume after it."""
    max_results = args.max_results
    params = page_params(
        columns, fp=fp, max_results=max_results, page_token=args.page_token, dialect=conn.dialect.name
    )
    rows = conn.execute(paged(stmt, columns, after_token=bool(args.page_token)), params).all()
    return split_page(rows, columns, fp=fp, max_results=max_results, first_key=len(stmt.selected_columns))


@dataclass(frozen=True, slots=True)
class PagePlan:
    """A search compiled once per request shape: its statement (made by `paged`), sort columns and
    token fingerprint."""

    query: CompiledQuery
    columns: list[SortColumn]
    fp: str

    def fetch(
        self, conn: sa.Connection, args: SearchArgs[Any], bound: dict[str, Any], *, first_key: int
    ) -> tuple[list[tuple[Any, ...]], str | None]:
        """The page's rows after args.page_token, with `bound` bound besides the page bounds, and the
        token to resume after it; `first_key` is the position of the first sort column in each row."""
        params = page_params(
            self.columns,
            fp=self.fp,
            max_results=args.max_results,
            page_token=args.page_token,
            dialect=conn.dialect.name,
        )
        rows = self.query.fetch(conn, {**bound, **params})
        return split_page(rows, self.columns, fp=self.fp, max_results=args.max_results, first_key=first_key)
