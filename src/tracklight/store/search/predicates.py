"""Per-dialect SQL for filter comparisons, with MLflow's case-sensitive string semantics everywhere."""

from __future__ import annotations

import operator
import re
from collections.abc import Callable
from typing import Any

import sqlalchemy as sa
from sqlalchemy.sql.elements import ColumnElement

from tracklight.errors import InvalidParameter
from tracklight.store.search.grammar import (
    EQ,
    GE,
    GT,
    ILIKE,
    IN,
    LE,
    LIKE,
    LT,
    NE,
    NOT_IN,
    RLIKE,
    Value,
)

_NUMERIC: dict[str, Callable[[Any, Any], Any]] = {
    EQ: operator.eq,
    NE: operator.ne,
    LT: operator.lt,
    LE: operator.le,
    GT: operator.gt,
    GE: operator.ge,
}
# The reference (SQLite) LIKE has no escape character, so `\` is literal; an explicit ESCAPE that we
# double in the pattern gives the same meaning on PostgreSQL and MariaDB, whose default escape is `\`.
_ESC = "!"
_GLOB_SPECIAL = {"%": "*", "_": "?", "*": "[*]", "?": "[?]", "[": "[[]"}


def is_mysql(dialect: str) -> bool:
    return dialect in ("mysql", "mariadb")


def numeric(col: ColumnElement[Any], op: str, value: Value) -> ColumnElement[bool]:
    if op not in _NUMERIC or isinstance(value, (str, tuple)) or value is None:
        raise InvalidParameter(f"Invalid numeric comparison {op} {value!r}")
    return _NUMERIC[op](col, sa.bindparam(None, value, unique=True))


def _like_pattern(pattern: str) -> str:
    return pattern.replace(_ESC, _ESC + _ESC)


def _glob_pattern(pattern: str) -> str:
    return "".join(_GLOB_SPECIAL.get(ch, ch) for ch in pattern)


def _regexp(dialect: str, col: ColumnElement[Any], pattern: str) -> ColumnElement[bool]:
    """RLIKE: the pattern found anywhere in the value, case-sensitively (SQLite gets Python's `re`)."""
    try:
        re.compile(pattern)
    except re.error as exc:
        # Checked here so a bad pattern is a 400 on every backend, not a database error.
        raise InvalidParameter(f"Invalid regular expression {pattern!r} for RLIKE: {exc}") from None
    bound = sa.bindparam(None, pattern, type_=sa.String(), unique=True)
    if dialect == "postgresql":
        return col.op("~")(bound)
    if is_mysql(dialect):
        return col.collate("utf8mb4_bin").op("REGEXP")(bound)
    return col.op("REGEXP")(bound)


def string(dialect: str, col: ColumnElement[Any], op: str, value: Value) -> ColumnElement[bool]:
    """A case-sensitive comparison (ILIKE aside) of a string column with bound values."""
    if op in (IN, NOT_IN):
        if not isinstance(value, tuple):
            raise InvalidParameter(f"{op} needs a list of quoted strings")
        values = sa.bindparam(None, list(value), expanding=True, type_=sa.String(), unique=True)
        if is_mysql(dialect):
            # Both conjuncts: the plain one can use an index, the binary one rejects case-insensitive
            # and PAD SPACE ('a' = 'a ') matches of the column's collation.
            binary = sa.cast(col, sa.LargeBinary)
            if op == IN:
                return sa.and_(col.in_(values), binary.in_(values))
            return binary.not_in(values)
        return col.in_(values) if op == IN else col.not_in(values)
    if not isinstance(value, str):
        raise InvalidParameter(f"Expected a quoted string value for {op}, got {value!r}")
    if op == LIKE:
        if dialect == "sqlite":
            # SQLite's LIKE ignores ASCII case; GLOB is its case-sensitive twin.
            return col.op("GLOB")(sa.bindparam(None, _glob_pattern(value), unique=True))
        if is_mysql(dialect):
            col = col.collate("utf8mb4_bin")
        return col.like(_like_pattern(value), escape=_ESC)
    if op == ILIKE:
        return col.ilike(_like_pattern(value), escape=_ESC)
    if op == RLIKE:
        return _regexp(dialect, col, value)
    # Typed explicitly, or comparing with CAST(... AS BINARY) would coerce the value to bytes.
    bound = sa.bindparam(None, value, type_=sa.String(), unique=True)
    if op == EQ:
        if is_mysql(dialect):
            return sa.and_(col == bound, sa.cast(col, sa.LargeBinary) == bound)
        return col == bound
    if op == NE:
        if is_mysql(dialect):
            return sa.cast(col, sa.LargeBinary) != bound
        return col != bound
    raise InvalidParameter(f"Invalid comparator '{op}' for a string value")
