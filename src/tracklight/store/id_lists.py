"""A list of ids as statement parameters: one array on PostgreSQL, an IN list of a padded size elsewhere."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from sqlalchemy import Text, any_, bindparam, cast, select
from sqlalchemy.engine import Dialect
from sqlalchemy.sql.elements import ColumnElement
from sqlalchemy.types import TypeEngine

from tracklight.store.dialect import array_literal

# The shape of a statement for one array parameter, whatever the number of ids.
ARRAY_SHAPE = 0

Member = Callable[[ColumnElement[Any]], ColumnElement[bool]]


def shape(dialect: Dialect, count: int) -> int:
    """The statement shape for `count` ids: ARRAY_SHAPE on PostgreSQL, else the IN list's length.

    psycopg2 renders every parameter in Python, so on PostgreSQL a page's ids go as one array in its
    text form, bound once. Elsewhere the lengths are powers of two, so that a few compiled statements
    serve every count.
    """
    if dialect.name == "postgresql":
        return ARRAY_SHAPE
    return 1 << max(0, count - 1).bit_length()


def member(name: str, element: TypeEngine[Any], size: int) -> Member:
    """`column ∈ the ids bound as name` for a statement of this shape (`size` from `shape`)."""
    if size == ARRAY_SHAPE:
        from sqlalchemy.dialects.postgresql import ARRAY  # only PostgreSQL's servers load it (~30 ms)

        # A scalar subquery hides the array from the planner, which would otherwise estimate the
        # selectivity of each element against the column's statistics: ~1 ms more per trace search
        # page of 100 ids; 2.3 ms against 0.12 ms of planning for the data of 1000 runs.
        # The outer cast makes it ANY(array value), not ANY(the subquery's rows).
        wrapped = select(cast(bindparam(name, "{}", type_=Text), ARRAY(element))).scalar_subquery()
        ids = cast(wrapped, ARRAY(element))
        return lambda column: column == any_(ids)
    listed = bindparam(name, [None] * size, expanding=True, type_=element)
    return lambda column: column.in_(listed)


def bound(name: str, ids: Sequence[str | int], size: int) -> dict[str, object]:
    """The parameters that bind `ids` as `name` in a statement of this shape."""
    if size == ARRAY_SHAPE:
        return {name: array_literal(ids)}
    # Padding by repeating an id changes no result: IN ignores repeats.
    padded = [*ids, *ids[:1] * (size - len(ids))]
    return {f"{name}_{i}": value for i, value in enumerate(padded, 1)}
