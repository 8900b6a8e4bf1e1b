"""experiments/search: compile a filter and order_by into one keyset-paginated SELECT over experiments."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.sql.elements import ColumnElement

from tracklight.errors import InvalidParameter
from tracklight.store.records import SearchArgs
from tracklight.store.schema import experiment_tags, experiments
from tracklight.store.search import predicates
from tracklight.store.search.grammar import (
    EQ,
    IN,
    IS_NOT_NULL,
    IS_NULL,
    NE,
    NOT_IN,
    NULLABLE_STRING_OPS,
    NUMERIC_OPS,
    STRING_OPS,
    Comparison,
    EntityRule,
    KeyRule,
    OrderKey,
    SearchSpec,
    ValueType,
    parse_filter,
    parse_order_by_list,
)
from tracklight.store.search.keyset import SortColumn, fetch_page, fingerprint

_INT = KeyRule(ValueType.INTEGER, NUMERIC_OPS)
_ATTRIBUTES = EntityRule(
    "attribute",
    keys={
        "name": KeyRule(ValueType.STRING, STRING_OPS),
        # Quoted like a string on the wire ('1'), compared as the integer id.
        "experiment_id": KeyRule(ValueType.STRING, frozenset({EQ, NE, IN, NOT_IN})),
        "creation_time": _INT,
        "last_update_time": _INT,
    },
)
_TAGS = EntityRule("tag", any_key=KeyRule(ValueType.STRING, NULLABLE_STRING_OPS), orderable=False)

EXPERIMENTS_SPEC = SearchSpec(
    entities={"attribute": _ATTRIBUTES, "tag": _TAGS, "tags": _TAGS},
    default=_ATTRIBUTES,
)

_COLUMNS: dict[str, sa.Column[Any]] = {
    "name": experiments.c.name,
    "experiment_id": experiments.c.id,
    "creation_time": experiments.c.creation_time,
    "last_update_time": experiments.c.last_update_time,
}
_DEFAULT_ORDER = [OrderKey("attribute", "creation_time", False), OrderKey("attribute", "experiment_id", True)]
_VIEW_STAGES = {"ACTIVE_ONLY": ("active",), "DELETED_ONLY": ("deleted",), "ALL": ("active", "deleted")}


@dataclass
class ExperimentSearchPage:
    experiment_ids: list[int]
    next_page_token: str | None


def search_experiment_ids(
    conn: sa.Connection,
    args: SearchArgs[str],
    *,
    view_type: str,
    visible: tuple[bool, list[str]] | None = None,
) -> ExperimentSearchPage:
    """One page of experiment ids matching an MLflow experiments/search request, in reference order.

    `visible` (from auth.gate.visible) restricts the rows before paging, so a page token never points
    past a row the caller may not read: None is every row, (True, ids) only those, (False, ids) all others.
    """
    stages = _VIEW_STAGES.get(view_type)
    if stages is None:
        raise InvalidParameter(f"Invalid view_type {view_type!r}; expected one of {list(_VIEW_STAGES)}")
    dialect = conn.dialect.name
    comparisons = parse_filter(args.filter_string, EXPERIMENTS_SPEC)
    order_keys = parse_order_by_list(args.order_by, EXPERIMENTS_SPEC) or _DEFAULT_ORDER

    columns = [SortColumn(_COLUMNS[k.key], k.ascending, str if k.key == "name" else int) for k in order_keys]
    # The reference's tie-breaker is experiment_id DESC when the caller did not order by it.
    if not any(k.key == "experiment_id" for k in order_keys):
        columns.append(SortColumn(experiments.c.id, False, int))

    stmt = sa.select(experiments.c.id).where(
        experiments.c.lifecycle_stage.in_(stages), *(_condition(dialect, c) for c in comparisons)
    )
    if visible is not None:
        only, ids = visible
        numbers = [int(i) for i in ids if i.isdigit()]
        stmt = stmt.where(experiments.c.id.in_(numbers) if only else experiments.c.id.not_in(numbers))
    fp = fingerprint("experiments", [(k.kind, k.key, k.ascending) for k in order_keys])
    rows, token = fetch_page(conn, stmt, columns, fp=fp, args=args)
    return ExperimentSearchPage([int(r[0]) for r in rows], token)


def _experiment_id(value: str) -> int:
    try:
        number = int(value)
    except ValueError:
        number = None
    if number is None or not -(2**63) <= number < 2**63:
        raise InvalidParameter(f"Invalid experiment ID '{value}'. Experiment ID must be a valid integer.")
    return number


def _condition(dialect: str, c: Comparison) -> ColumnElement[bool]:
    if c.kind == "attribute":
        col = _COLUMNS[c.key]
        if c.key == "experiment_id":
            if isinstance(c.value, tuple):
                ids = [_experiment_id(v) for v in c.value]
                return col.in_(ids) if c.op == IN else col.not_in(ids)
            return predicates.numeric(col, c.op, _experiment_id(str(c.value)))
        if c.key == "name":
            return predicates.string(dialect, col, c.op, c.value)
        return predicates.numeric(col, c.op, c.value)
    tag = experiment_tags.alias()
    where = [tag.c.experiment_id == experiments.c.id, predicates.string(dialect, tag.c.key, EQ, c.key)]
    if c.op not in (IS_NULL, IS_NOT_NULL):
        # As in the reference, `!=` only matches experiments that have the tag.
        where.append(predicates.string(dialect, tag.c.value, c.op, c.value))
    exists = sa.select(sa.literal(1)).select_from(tag).where(*where).exists()
    return ~exists if c.op == IS_NULL else exists
