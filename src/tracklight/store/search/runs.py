"""runs/search: compile a filter and order_by into one keyset-paginated SELECT over the runs tables."""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Dialect
from sqlalchemy.sql.elements import ColumnElement
from sqlalchemy.sql.util import ClauseAdapter

from tracklight.errors import InvalidParameter
from tracklight.store import planner_statistics
from tracklight.store import runs as run_store
from tracklight.store.records import Run, SearchArgs
from tracklight.store.schema import datasets, metric_series, params, run_inputs, run_tags, runs
from tracklight.store.search import predicates
from tracklight.store.search.compiled import CompiledQuery
from tracklight.store.search.grammar import (
    EQ,
    IS_NOT_NULL,
    IS_NULL,
    LIST_STRING_OPS,
    NE,
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
from tracklight.store.search.keyset import PagePlan, SortColumn, fingerprint, paged

_STR = KeyRule(ValueType.STRING, STRING_OPS)
_NUM = KeyRule(ValueType.NUMBER, NUMERIC_OPS)
_RUN_NAME = KeyRule(ValueType.STRING, STRING_OPS, canonical="run_name")
_CREATED = KeyRule(ValueType.NUMBER, NUMERIC_OPS, canonical="start_time")
_DATASET_KEY = KeyRule(ValueType.STRING, LIST_STRING_OPS)

_ATTRIBUTES = EntityRule(
    "attribute",
    keys={
        "run_id": KeyRule(ValueType.STRING, LIST_STRING_OPS),
        "run_name": _STR,
        "run name": _RUN_NAME,
        "Run name": _RUN_NAME,
        "Run Name": _RUN_NAME,
        "status": _STR,
        "user_id": _STR,
        "artifact_uri": _STR,
        "start_time": _NUM,
        "end_time": _NUM,
        "created": _CREATED,
        "Created": _CREATED,
    },
)
_METRICS = EntityRule("metric", any_key=_NUM)
_PARAMS = EntityRule("param", any_key=KeyRule(ValueType.STRING, NULLABLE_STRING_OPS))
_TAGS = EntityRule("tag", any_key=KeyRule(ValueType.STRING, NULLABLE_STRING_OPS))
_DATASETS = EntityRule(
    "dataset",
    keys={"name": _DATASET_KEY, "digest": _DATASET_KEY, "context": _DATASET_KEY},
    orderable=False,
)

RUNS_SPEC = SearchSpec(
    entities={
        **dict.fromkeys(("metric", "metrics"), _METRICS),
        **dict.fromkeys(("param", "params", "parameter", "parameters"), _PARAMS),
        **dict.fromkeys(("tag", "tags"), _TAGS),
        **dict.fromkeys(("attribute", "attributes", "attr", "run"), _ATTRIBUTES),
        **dict.fromkeys(("dataset", "datasets"), _DATASETS),
    },
    default=_ATTRIBUTES,
)

_ATTRIBUTE_COLUMNS: dict[str, sa.Column[Any]] = {
    "run_id": runs.c.run_uuid,
    "run_name": runs.c.name,
    "status": runs.c.status,
    "user_id": runs.c.user_id,
    "artifact_uri": runs.c.artifact_uri,
    "start_time": runs.c.start_time,
    "end_time": runs.c.end_time,
}
_NUMERIC_ATTRIBUTES = frozenset({"start_time", "end_time"})
_KEYED_TABLES: dict[str, sa.Table] = {"metric": metric_series, "param": params, "tag": run_tags}
_DATASET_COLUMNS = {"name": datasets.c.name, "digest": datasets.c.digest, "context": run_inputs.c.context}
_VIEW_STAGES = {"ACTIVE_ONLY": ("active",), "DELETED_ONLY": ("deleted",), "ALL": ("active", "deleted")}


@dataclass(frozen=True, slots=True)
class RunPage:
    runs: list[Run]  # with their data, in result order
    next_page_token: str | None


@dataclass
class RunSearchPage:
    run_ids: list[int]  # internal runs.id, in result order
    next_page_token: str | None


def search_run_page(
    conn: sa.Connection, args: SearchArgs[str], *, experiment_ids: list[int], run_view_type: str
) -> RunPage:
    """One page of runs with their data (params, tags, latest metrics, inputs) matching a runs/search
    request, ordered as the reference orders.

    The search selects the runs' own columns, and their data too where page_columns says so;
    otherwise one more query loads it.
    """
    columns, inline = run_store.page_columns(conn.dialect.name, args.max_results)
    rows, token = _search_rows(conn, columns, args, experiment_ids, run_view_type)
    return RunPage(run_store.runs_from_rows(conn, rows, inline=inline), token)


def search_run_ids(
    conn: sa.Connection, args: SearchArgs[str], *, experiment_ids: list[int], run_view_type: str
) -> RunSearchPage:
    """One page of run ids matching an MLflow runs/search request, ordered as the reference orders."""
    rows, token = _search_rows(conn, (runs.c.id,), args, experiment_ids, run_view_type)
    return RunSearchPage([int(r[0]) for r in rows], token)


def _search_rows(
    conn: sa.Connection,
    columns: tuple[ColumnElement[Any], ...],
    args: SearchArgs[str],
    experiment_ids: list[int],
    run_view_type: str,
) -> tuple[list[tuple[Any, ...]], str | None]:
    """The given columns of one page of matching runs, in result order, and the next page token.

    The statement is compiled once per request shape (filter, ordering, view, number of
    experiments, first page or not) and reused with the experiment ids and page bounds bound.
    """
    if run_view_type not in _VIEW_STAGES:
        raise InvalidParameter(
            f"Invalid run_view_type {run_view_type!r}; expected one of {list(_VIEW_STAGES)}"
        )
    # On PostgreSQL, tables without statistics get the search a plan that probes per run (see
    # planner_statistics); this starts their ANALYZE in the background when they need one.
    planner_statistics.keep_fresh(conn.engine)
    plan = _plan(
        conn.dialect,
        columns,
        args.filter_string,
        tuple(args.order_by),
        run_view_type,
        len(experiment_ids),
        bool(args.page_token),
    )
    bound = {f"exp_{i}": experiment_id for i, experiment_id in enumerate(experiment_ids)}
    return plan.fetch(conn, args, bound, first_key=len(columns))


@functools.lru_cache(maxsize=256)
def _plan(
    dialect_impl: Dialect,
    selected: tuple[ColumnElement[Any], ...],
    filter_string: str | None,
    order_by: tuple[str, ...],
    run_view_type: str,
    experiments: int,
    after_token: bool,
) -> PagePlan:
    # Errors in the filter or ordering raise here, so only valid requests are cached.
    dialect = dialect_impl.name
    comparisons = parse_filter(filter_string, RUNS_SPEC)
    order_keys = parse_order_by_list(list(order_by), RUNS_SPEC)

    from_clause: sa.FromClause = runs
    columns: list[SortColumn] = []
    joined: dict[str, sa.Alias] = {}  # metric key -> the series row already joined for ordering
    for i, key in enumerate(order_keys):
        from_clause, cols = _order_columns(dialect, from_clause, key, i, joined)
        columns += cols
    # MLflow's tie-breakers; run_uuid is unique, which keyset pagination needs.
    if not any(k.kind == "attribute" and k.key == "start_time" for k in order_keys):
        columns.append(SortColumn(runs.c.start_time, False, int))
    columns.append(SortColumn(runs.c.run_uuid, True, str))

    conditions: list[ColumnElement[bool]] = []
    for c in comparisons:
        from_clause, condition = _condition(dialect, c, joined, from_clause)
        if condition is not None:
            conditions.append(condition)
    experiment_ids = [sa.bindparam(f"exp_{i}", None, type_=sa.BigInteger()) for i in range(experiments)]
    where = (
        runs.c.experiment_id.in_(experiment_ids),
        runs.c.lifecycle_stage.in_(_VIEW_STAGES[run_view_type]),
        *conditions,
    )
    late = dialect == "postgresql" and any(col is not runs.c.id for col in selected)
    stmt = paged(
        sa.select(*((runs.c.id,) if late else selected)).select_from(from_clause).where(*where),
        columns,
        after_token=after_token,
    )
    if late:
        stmt = _with_run_columns(stmt, selected, columns)
    fp = fingerprint("runs", [(k.kind, k.key, k.ascending) for k in order_keys])
    query = CompiledQuery.of(stmt, dialect_impl)
    return PagePlan(query, columns, fp)


def _with_run_columns(
    page_stmt: sa.Select[Any], selected: tuple[ColumnElement[Any], ...], columns: list[SortColumn]
) -> sa.Select[Any]:
    """The `selected` columns of the runs of a page (a statement of runs.id and the sort values), in
    the page's order.

    PostgreSQL sorts narrow rows (id and sort keys) faster, then fetches the page's runs by id;
    SQLite is faster sorting the wide rows it already has. Each run is fetched by a LATERAL subquery
    that OFFSET 0 keeps from being merged into a join: one primary-key probe per page row whatever
    the statistics say. As a join, the planner may hash every run in the database to meet a page of
    a thousand (and sort the page again, as a hash join loses its order).
    """
    page = page_stmt.subquery("page")
    run = sa.select(runs).where(runs.c.id == page.c.id).offset(0).lateral("run")
    keys = [page.c[f"k{i}"] for i in range(len(columns))]
    as_run = ClauseAdapter(run)  # the selected columns (and subqueries correlated to runs) read `run`
    return (
        sa.select(*(as_run.traverse(col) for col in selected), *keys)
        .select_from(page)
        .join(run, sa.true())
        .order_by(*(k.asc() if c.ascending else k.desc() for k, c in zip(keys, columns, strict=True)))
    )


def _condition(
    dialect: str, c: Comparison, joined: dict[str, sa.Alias], from_clause: sa.FromClause
) -> tuple[sa.FromClause, ColumnElement[bool] | None]:
    """The filter comparison as a WHERE condition, or as an inner join added to from_clause."""
    if (
        c.kind in _KEYED_TABLES
        and not (c.kind == "metric" and c.key in joined)
        and c.op not in (IS_NULL, IS_NOT_NULL)
    ):
        table = _KEYED_TABLES[c.kind].alias()
        key = predicates.string(dialect, table.c.key, EQ, c.key)
        if c.kind == "metric":
            test = _metric_test(table, c)
        else:
            test = predicates.string(dialect, table.c.value, c.op, c.value)
        # (run_id, key) is unique, so the join matches a run at most once: the runs EXISTS would
        # find, and SQLite runs the join faster.
        return from_clause.join(table, sa.and_(table.c.run_id == runs.c.id, key, test)), None
    return from_clause, _where(dialect, c, joined)


def _where(dialect: str, c: Comparison, joined: dict[str, sa.Alias]) -> ColumnElement[bool]:
    if c.kind == "attribute":
        col = _ATTRIBUTE_COLUMNS[c.key]
        if c.key in _NUMERIC_ATTRIBUTES:
            return predicates.numeric(col, c.op, c.value)
        return predicates.string(dialect, col, c.op, c.value)
    if c.kind == "dataset":
        cond = predicates.string(dialect, _DATASET_COLUMNS[c.key], c.op, c.value)
        # EXISTS rather than a join: a run with several inputs must still come back once.
        return (
            sa.select(sa.literal(1))
            .select_from(run_inputs.join(datasets, datasets.c.id == run_inputs.c.dataset_id))
            .where(run_inputs.c.run_id == runs.c.id, cond)
            .exists()
        )
    if c.kind == "metric" and c.key in joined and c.op not in (IS_NULL, IS_NOT_NULL):
        # The series is already outer-joined for ordering: test it there rather than probe it again.
        # A run without the metric has NULLs there, which no comparison below accepts, as with a join.
        return _metric_test(joined[c.key], c)
    # IS NULL / IS NOT NULL on a param, tag or metric.
    table = _KEYED_TABLES[c.kind].alias()
    where = [table.c.run_id == runs.c.id, predicates.string(dialect, table.c.key, EQ, c.key)]
    exists = sa.select(sa.literal(1)).select_from(table).where(*where).exists()
    return exists if c.op == IS_NOT_NULL else ~exists


def _metric_test(table: sa.FromClause, c: Comparison) -> ColumnElement[bool]:
    cmp = predicates.numeric(table.c.value, c.op, c.value)
    # NaN is stored as 0 with is_nan set: it satisfies only "!=", like an IEEE NaN.
    is_nan = table.c.is_nan == sa.true()
    return sa.or_(cmp, is_nan) if c.op == NE else sa.and_(cmp, sa.not_(is_nan))


def _order_columns(
    dialect: str, from_clause: sa.FromClause, key: OrderKey, i: int, joined: dict[str, sa.Alias]
) -> tuple[sa.FromClause, list[SortColumn]]:
    if key.kind == "attribute":
        col = _ATTRIBUTE_COLUMNS[key.key]
        if col.nullable:
            missing = sa.case((col.is_(None), 1), else_=0)
            return from_clause, [
                SortColumn(missing, True, int),
                SortColumn(sa.func.coalesce(col, 0), key.ascending, int),
            ]
        return from_clause, [SortColumn(col, key.ascending, int if key.key in _NUMERIC_ATTRIBUTES else str)]
    table = _KEYED_TABLES[key.kind].alias(f"order_{i}")
    on = sa.and_(table.c.run_id == runs.c.id, predicates.string(dialect, table.c.key, EQ, key.key))
    from_clause = from_clause.outerjoin(table, on)
    if key.kind == "metric":
        joined.setdefault(key.key, table)
        # Real values, then NaN, then runs without the metric, whichever the direction (as MLflow).
        rank = sa.case((table.c.run_id.is_(None), 2), (table.c.is_nan == sa.true(), 1), else_=0)
        value = sa.func.coalesce(table.c.value, 0.0)
        return from_clause, [SortColumn(rank, True, int), SortColumn(value, key.ascending, float)]
    missing = sa.case((table.c.value.is_(None), 1), else_=0)
    value = sa.func.coalesce(table.c.value, "")
    return from_clause, [SortColumn(missing, True, int), SortColumn(value, key.ascending, str)]
