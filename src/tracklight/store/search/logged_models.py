"""logged-models/search: compile a filter, dataset scope and order_by objects into one keyset-paginated SELECT."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.sql.elements import ColumnElement

from tracklight.errors import InvalidParameter
from tracklight.store.records import DatasetScope, ModelOrder, SearchArgs
from tracklight.store.schema import (
    logged_model_metrics,
    logged_model_params,
    logged_model_tags,
    logged_models,
)
from tracklight.store.search import predicates
from tracklight.store.search.grammar import (
    EQ,
    IN,
    LIST_STRING_OPS,
    NE,
    NOT_IN,
    NUMERIC_OPS,
    Comparison,
    EntityRule,
    KeyRule,
    SearchSpec,
    ValueType,
    parse_filter,
)
from tracklight.store.search.keyset import SortColumn, fetch_page, fingerprint

# Status as the table stores it, and every spelling a filter may use for it: the enum name, its short
# form, and the enum number (the reference server stores numbers, so `status = '2'` is what works there).
STATUSES = {
    "LOGGED_MODEL_STATUS_UNSPECIFIED": ("UNSPECIFIED", "0"),
    "LOGGED_MODEL_PENDING": ("PENDING", "1"),
    "LOGGED_MODEL_READY": ("READY", "2"),
    "LOGGED_MODEL_UPLOAD_FAILED": ("FAILED", "UPLOAD_FAILED", "3"),
}
_STATUS_SPELLINGS = {spelling: name for name, others in STATUSES.items() for spelling in (name, *others)}

_STR = KeyRule(ValueType.STRING, LIST_STRING_OPS)
_CREATED = KeyRule(ValueType.NUMBER, NUMERIC_OPS, canonical="creation_time")
_UPDATED = KeyRule(ValueType.NUMBER, NUMERIC_OPS, canonical="last_updated_time")
_ATTRIBUTE_KEYS: dict[str, KeyRule] = {
    "name": _STR,
    "model_id": _STR,
    "model_type": _STR,
    "status": _STR,
    "source_run_id": _STR,
    **dict.fromkeys(("creation_time", "creation_timestamp", "creation_timestamp_ms"), _CREATED),
    **dict.fromkeys(("last_updated_time", "last_updated_timestamp", "last_updated_timestamp_ms"), _UPDATED),
}
_ATTRIBUTES = EntityRule("attribute", keys=_ATTRIBUTE_KEYS)
_METRICS = EntityRule("metric", any_key=KeyRule(ValueType.NUMBER, NUMERIC_OPS))
_PARAMS = EntityRule("param", any_key=_STR)
_TAGS = EntityRule("tag", any_key=_STR)

LOGGED_MODELS_SPEC = SearchSpec(
    entities={
        **dict.fromkeys(("attribute", "attributes"), _ATTRIBUTES),
        **dict.fromkeys(("metric", "metrics"), _METRICS),
        **dict.fromkeys(("param", "params"), _PARAMS),
        **dict.fromkeys(("tag", "tags"), _TAGS),
    },
    default=_ATTRIBUTES,
)

_lm = logged_models.c
_ATTRIBUTE_COLUMNS: dict[str, sa.Column[Any]] = {
    "name": _lm.name,
    "model_id": _lm.id,
    "model_type": _lm.model_type,
    "status": _lm.status,
    "source_run_id": _lm.source_run_id,
    "creation_time": _lm.creation_time,
    "last_updated_time": _lm.last_updated_time,
    "experiment_id": _lm.experiment_id,
}
_NUMERIC_ATTRIBUTES = frozenset({"creation_time", "last_updated_time", "experiment_id"})
# Attribute spellings order_by accepts (the filter's, plus experiment_id).
_ORDER_ATTRIBUTES = {
    **{k: rule.canonical or k for k, rule in _ATTRIBUTE_KEYS.items()},
    "experiment_id": "experiment_id",
}


@dataclass
class LoggedModelSearchPage:
    model_ids: list[str]
    next_page_token: str | None


def search_logged_model_ids(
    conn: sa.Connection,
    args: SearchArgs[ModelOrder],
    *,
    experiment_ids: list[int],
    datasets: list[DatasetScope],
) -> LoggedModelSearchPage:
    """One page of active model ids matching a logged-models/search request, in reference order:
    the given keys, then creation time (newest first) and model id."""
    dialect = conn.dialect.name
    comparisons = parse_filter(args.filter_string, LOGGED_MODELS_SPEC)
    conditions = [_condition(dialect, c, datasets) for c in comparisons]
    if datasets and not any(c.kind == "metric" for c in comparisons):
        # With datasets but no metric filter, a model must have some metric on one of them.
        conditions.append(_metrics_exist(dialect, datasets))

    columns: list[SortColumn] = []
    ordered: set[str] = set()
    for order in args.order_by:
        columns += _order_columns(dialect, order, ordered)
    if "creation_time" not in ordered:
        columns.append(SortColumn(_lm.creation_time, False, int))
    if "model_id" not in ordered:
        columns.append(SortColumn(_lm.id, True, str))

    stmt = sa.select(_lm.id).where(
        _lm.lifecycle_stage == "active", _lm.experiment_id.in_(experiment_ids), *conditions
    )
    # A token resumes only the search it came from (the reference checks the same three things).
    fp = fingerprint(
        "logged_models",
        sorted(experiment_ids),
        args.filter_string or "",
        [(d.name, d.digest) for d in datasets],
        [
            (o.field_name, o.ascending, o.dataset and (o.dataset.name, o.dataset.digest))
            for o in args.order_by
        ],
    )
    rows, token = fetch_page(conn, stmt, columns, fp=fp, args=args)
    return LoggedModelSearchPage([r[0] for r in rows], token)


def _dataset_match(dialect: str, table: sa.FromClause, datasets: list[DatasetScope]) -> ColumnElement[bool]:
    """The metric row was logged against one of the datasets ('' in the table means "none")."""
    options = []
    for d in datasets:
        match = predicates.string(dialect, table.c.dataset_name, EQ, d.name)
        if d.digest:
            match = sa.and_(match, predicates.string(dialect, table.c.dataset_digest, EQ, d.digest))
        options.append(match)
    return sa.or_(*options)


def _metrics_exist(dialect: str, datasets: list[DatasetScope]) -> ColumnElement[bool]:
    mm = logged_model_metrics.alias()
    return (
        sa.select(sa.literal(1))
        .select_from(mm)
        .where(mm.c.model_id == _lm.id, _dataset_match(dialect, mm, datasets))
        .exists()
    )


def _status_value(value: Any) -> Any:
    if isinstance(value, tuple):
        return tuple(_STATUS_SPELLINGS.get(v, v) for v in value)
    return _STATUS_SPELLINGS.get(value, value) if isinstance(value, str) else value


def _condition(dialect: str, c: Comparison, datasets: list[DatasetScope]) -> ColumnElement[bool]:
    if c.kind == "attribute":
        col = _ATTRIBUTE_COLUMNS[c.key]
        if c.key in _NUMERIC_ATTRIBUTES:
            return predicates.numeric(col, c.op, c.value)
        value = _status_value(c.value) if c.key == "status" and c.op in (EQ, NE, IN, NOT_IN) else c.value
        return predicates.string(dialect, col, c.op, value)
    if c.kind == "metric":
        # As in the reference, any point of the metric may match, not only the latest one.
        mm = logged_model_metrics.alias()
        cmp = predicates.numeric(mm.c.value, c.op, c.value)
        # NaN is stored as 0 with is_nan set: it satisfies only "!=", like an IEEE NaN.
        is_nan = mm.c.is_nan == sa.true()
        test = sa.or_(cmp, is_nan) if c.op == NE else sa.and_(cmp, sa.not_(is_nan))
        where = [mm.c.model_id == _lm.id, predicates.string(dialect, mm.c.key, EQ, c.key), test]
        if datasets:
            where.append(_dataset_match(dialect, mm, datasets))
        return sa.select(sa.literal(1)).select_from(mm).where(*where).exists()
    # A param or tag comparison needs the key to exist, so `!=` skips models without it (as the reference).
    table = (logged_model_params if c.kind == "param" else logged_model_tags).alias()
    return (
        sa.select(sa.literal(1))
        .select_from(table)
        .where(
            table.c.model_id == _lm.id,
            predicates.string(dialect, table.c.key, EQ, c.key),
            predicates.string(dialect, table.c.value, c.op, c.value),
        )
        .exists()
    )


def _order_columns(dialect: str, order: ModelOrder, ordered: set[str]) -> list[SortColumn]:
    field_name = order.field_name.strip()
    entity, _, key = field_name.partition(".") if "." in field_name else ("attribute", "", field_name)
    entity = entity.strip("`")
    key = key.strip("`")
    if entity in ("metric", "metrics") and key:
        return _metric_order(dialect, key, order)
    if order.dataset is not None:
        raise InvalidParameter(
            f"Invalid order_by entry {field_name!r}: dataset_name applies only to metrics.<key> fields."
        )
    if entity not in ("attribute", "attributes"):
        raise InvalidParameter(
            f"Invalid order by field name: {field_name}. Use an attribute or metrics.<key>."
        )
    canonical = _ORDER_ATTRIBUTES.get(key)
    if canonical is None:
        raise InvalidParameter(
            f"Invalid order by field name: {field_name}. Valid attributes are {sorted(_ORDER_ATTRIBUTES)}."
        )
    if canonical in ordered:
        raise InvalidParameter(f"`order_by` contains duplicate fields: {field_name!r}")
    ordered.add(canonical)
    col = _ATTRIBUTE_COLUMNS[canonical]
    pytype: type[int] | type[str] = int if canonical in _NUMERIC_ATTRIBUTES else str
    if col.nullable:
        # Models without the value come last, whichever the direction (as the reference sorts).
        missing = sa.case((col.is_(None), 1), else_=0)
        empty: Any = 0 if pytype is int else ""
        return [
            SortColumn(missing, True, int),
            SortColumn(sa.func.coalesce(col, empty), order.ascending, pytype),
        ]
    return [SortColumn(col, order.ascending, pytype)]


def _metric_order(dialect: str, key: str, order: ModelOrder) -> list[SortColumn]:
    """Sort by the model's latest point of the metric (latest timestamp, then step), on the order's
    dataset if it names one: real values first, then NaN, then models without the metric."""
    mm = logged_model_metrics.alias()
    where = [mm.c.model_id == _lm.id, predicates.string(dialect, mm.c.key, EQ, key)]
    if order.dataset is not None:
        where.append(_dataset_match(dialect, mm, [order.dataset]))
    latest = (
        sa.select(mm.c.value)
        .where(*where)
        .order_by(mm.c.timestamp.desc(), mm.c.step.desc(), mm.c.run_id.asc())
        .limit(1)
    )
    value = latest.scalar_subquery()
    nan = latest.with_only_columns(sa.case((mm.c.is_nan == sa.true(), 1), else_=0)).scalar_subquery()
    rank = sa.func.coalesce(nan, 2)
    return [
        SortColumn(rank, True, int),
        SortColumn(sa.func.coalesce(value, 0.0), order.ascending, float),
    ]
