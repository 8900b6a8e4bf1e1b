"""datasets/search: compile a filter and order_by into one keyset-paginated SELECT over evaluation datasets."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.sql.elements import ColumnElement

from tracklight.store.records import SearchArgs
from tracklight.store.schema import (
    evaluation_dataset_experiments,
    evaluation_dataset_tags,
    evaluation_datasets,
)
from tracklight.store.search import predicates
from tracklight.store.search.grammar import (
    EQ,
    IN,
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
_USER = KeyRule(ValueType.STRING, STRING_OPS, orderable=False)
_ATTRIBUTES = EntityRule(
    "attribute",
    keys={
        "name": KeyRule(ValueType.STRING, STRING_OPS | {IN}),
        "created_time": _INT,
        "last_update_time": _INT,
        "created_by": _USER,
        "last_updated_by": _USER,
    },
)
_TAGS = EntityRule("tag", any_key=KeyRule(ValueType.STRING, STRING_OPS), orderable=False)

DATASETS_SPEC = SearchSpec(
    entities={"attribute": _ATTRIBUTES, "attributes": _ATTRIBUTES, "tag": _TAGS, "tags": _TAGS},
    default=_ATTRIBUTES,
)

_c = evaluation_datasets.c
_COLUMNS: dict[str, sa.Column[Any]] = {
    "name": _c.name,
    "created_time": _c.created_time,
    "last_update_time": _c.last_update_time,
    "created_by": _c.created_by,
    "last_updated_by": _c.last_updated_by,
}
_DEFAULT_ORDER = [OrderKey("attribute", "created_time", False)]


@dataclass
class DatasetSearchPage:
    dataset_ids: list[str]
    next_page_token: str | None


def search_dataset_ids(
    conn: sa.Connection,
    args: SearchArgs[str],
    *,
    experiment_ids: list[int],
    readable: tuple[bool, list[str]] | None = None,
) -> DatasetSearchPage:
    """One page of dataset ids matching a datasets/search request, in the reference's order.

    `readable` (auth.gate.visible over experiments, given when permissions apply) keeps, before paging,
    only the datasets linked to at least one experiment and to no unreadable one, so a page token never
    points past a dataset the caller may not read. (True, ids): the readable experiments are those;
    (False, ids): every experiment but those; None: no restriction.
    """
    dialect = conn.dialect.name
    comparisons = parse_filter(args.filter_string, DATASETS_SPEC)
    order_keys = parse_order_by_list(args.order_by, DATASETS_SPEC) or _DEFAULT_ORDER
    columns = [SortColumn(_COLUMNS[k.key], k.ascending, str if k.key == "name" else int) for k in order_keys]
    # The reference breaks ties by dataset id, descending.
    columns.append(SortColumn(_c.id, False, str))

    stmt = sa.select(_c.id).where(*(_condition(dialect, c) for c in comparisons))
    if experiment_ids:
        link = evaluation_dataset_experiments.c
        stmt = stmt.where(
            sa.select(sa.literal(1))
            .where(link.dataset_id == _c.id, link.experiment_id.in_(experiment_ids))
            .exists()
        )
    if readable is not None:
        stmt = stmt.where(*_readable(readable))
    fp = fingerprint("evaluation_datasets", [(k.key, k.ascending) for k in order_keys])
    rows, token = fetch_page(conn, stmt, columns, fp=fp, args=args)
    return DatasetSearchPage([r[0] for r in rows], token)


def _readable(readable: tuple[bool, list[str]]) -> list[ColumnElement[bool]]:
    """Linked to some experiment, and to none outside the readable ones (the rule of auth.gate)."""
    only, ids = readable
    numbers = [int(i) for i in ids if i.isdigit()]
    link = evaluation_dataset_experiments.alias()
    unreadable = link.c.experiment_id.not_in(numbers) if only else link.c.experiment_id.in_(numbers)
    linked = sa.select(sa.literal(1)).select_from(link).where(link.c.dataset_id == _c.id)
    conditions = [linked.exists()]
    if only or numbers:
        conditions.append(~linked.where(unreadable).exists())
    return conditions


def _condition(dialect: str, c: Comparison) -> ColumnElement[bool]:
    if c.kind == "attribute":
        col = _COLUMNS[c.key]
        if c.key in ("created_time", "last_update_time"):
            return predicates.numeric(col, c.op, c.value)
        return predicates.string(dialect, col, c.op, c.value)
    tag = evaluation_dataset_tags.alias()
    # As in the reference, a tag condition (`!=` included) only matches datasets that have the tag.
    return (
        sa.select(sa.literal(1))
        .select_from(tag)
        .where(
            tag.c.dataset_id == _c.id,
            predicates.string(dialect, tag.c.key, EQ, c.key),
            predicates.string(dialect, tag.c.value, c.op, c.value),
        )
        .exists()
    )
