"""traces/search: compile MLflow's trace filter grammar and order_by into one keyset-paginated SELECT."""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy import Connection
from sqlalchemy.engine import Dialect
from sqlalchemy.sql.elements import ColumnElement

from tracklight.errors import InvalidParameter
from tracklight.store.records import SearchArgs
from tracklight.store.schema import (
    TAG_VALUE_PREFIX,
    assessments,
    spans,
    trace_metadata,
    trace_run_links,
    trace_tags,
    traces,
)
from tracklight.store.search import predicates
from tracklight.store.search.compiled import CompiledQuery
from tracklight.store.search.grammar import (
    EQ,
    ILIKE,
    IN,
    IS_NOT_NULL,
    IS_NULL,
    LIKE,
    LIST_STRING_OPS,
    NE,
    NOT_IN,
    NULLABLE_STRING_OPS,
    NUMERIC_OPS,
    RLIKE,
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
from tracklight.store.traces import TRACE_COLUMNS

TRACE_NAME_TAG = "mlflow.traceName"
LINKED_PROMPTS_TAG = "mlflow.linkedPrompts"
SOURCE_RUN_METADATA = "mlflow.sourceRun"

SESSION_METADATA = "mlflow.trace.session"

_LIST = KeyRule(ValueType.STRING, LIST_STRING_OPS | {RLIKE})
_PAIR = KeyRule(ValueType.STRING, NULLABLE_STRING_OPS | {RLIKE})
_NUM = ValueType.NUMBER
_ATTRIBUTE_KEYS: dict[str, KeyRule] = {
    "request_id": _LIST,
    "trace_id": KeyRule(ValueType.STRING, LIST_STRING_OPS, canonical="request_id"),
    "client_request_id": _LIST,
    "status": _LIST,
    "state": KeyRule(ValueType.STRING, LIST_STRING_OPS, canonical="status"),
    "name": _LIST,  # the trace's name tag
    "run_id": _LIST,  # linked runs, and the run the trace was made in
    "prompt": KeyRule(ValueType.STRING, frozenset({EQ}), orderable=False),  # "name/version"
    "text": KeyRule(ValueType.STRING, frozenset({LIKE, ILIKE}), orderable=False),  # any span's content
    "experiment_id": KeyRule(ValueType.STRING, frozenset()),  # order_by only
    **dict.fromkeys(("timestamp_ms", "timestamp"), KeyRule(_NUM, NUMERIC_OPS, canonical="timestamp_ms")),
    **dict.fromkeys(
        ("execution_time_ms", "execution_time"), KeyRule(_NUM, NUMERIC_OPS, canonical="execution_time_ms")
    ),
    **dict.fromkeys(("end_time_ms", "end_time"), KeyRule(_NUM, NUMERIC_OPS, canonical="end_time_ms")),
}
_ATTRIBUTES = EntityRule("attribute", keys=_ATTRIBUTE_KEYS)
_SPAN_KEYS = {
    "name": _LIST,
    "type": _LIST,
    "status": _LIST,
    "content": KeyRule(ValueType.STRING, frozenset({LIKE, ILIKE})),
}

TRACES_SPEC = SearchSpec(
    entities={
        **dict.fromkeys(("attribute", "attributes", "trace"), _ATTRIBUTES),
        **dict.fromkeys(("tag", "tags"), EntityRule("tag", any_key=_PAIR, orderable=False)),
        **dict.fromkeys(
            ("metadata", "request_metadata"), EntityRule("metadata", any_key=_PAIR, orderable=False)
        ),
        "span": EntityRule(
            "span",
            keys=_SPAN_KEYS,
            orderable=False,
            nested={"attributes": KeyRule(ValueType.STRING, frozenset({LIKE, ILIKE, RLIKE}))},
        ),
        # An assessment's name is free; its value is compared as the JSON MLflow stores.
        **{kind: EntityRule(kind, any_key=_PAIR, orderable=False) for kind in ("feedback", "expectation")},
        # `issue.id = '…'`: the trace was tagged with that issue (an issue-reference assessment).
        "issue": EntityRule(
            "issue", keys={"id": KeyRule(ValueType.STRING, frozenset({EQ}))}, orderable=False
        ),
    },
    default=_ATTRIBUTES,
)

_t = traces.c
_END_TIME = _t.timestamp_ms + sa.func.coalesce(_t.execution_time_ms, 0)


def parse(filter_string: str | None) -> list[Comparison]:
    return parse_filter(filter_string, TRACES_SPEC)


def parse_order(order_by: Sequence[str] | None) -> list[OrderKey]:
    return parse_order_by_list(list(order_by or []), TRACES_SPEC)


def pair_value(table: sa.Table, key: str) -> sa.ScalarSelect[Any]:
    """A tag's or metadata entry's value for the trace in the outer query (NULL when absent)."""
    stmt = sa.select(table.c.value).where(table.c.trace_id == _t.id, table.c.key == key)
    return stmt.scalar_subquery()


def _has_pair(dialect: str, table: sa.Table, key: str, op: str, value: Any) -> ColumnElement[bool]:
    base = sa.select(sa.literal(1)).where(table.c.trace_id == _t.id, table.c.key == key)
    if op == IS_NULL:
        return ~base.exists()
    if op == IS_NOT_NULL:
        return base.exists()
    return base.where(predicates.string(dialect, table.c.value, op, value)).exists()


def _run_id(dialect: str, op: str, value: Any) -> ColumnElement[bool]:
    """A trace belongs to a run if it is linked to it or was made in it (its mlflow.sourceRun)."""
    negated = {NE: EQ, NOT_IN: IN}.get(op)
    positive = negated or op
    linked = sa.select(sa.literal(1)).where(
        trace_run_links.c.trace_id == _t.id,
        predicates.string(dialect, trace_run_links.c.run_id, positive, value),
    )
    made_in = _has_pair(dialect, trace_metadata, SOURCE_RUN_METADATA, positive, value)
    either = sa.or_(linked.exists(), made_in)
    return sa.not_(either) if negated else either


def _linked_prompt(dialect: str, value: Any) -> ColumnElement[bool]:
    """`prompt = 'name/version'`: the version is among the trace's linked prompts (the JSON list the
    server writes, so its spelling of each entry is known). `%` and `_` in a name match loosely."""
    name, slash, version = str(value).rpartition("/")
    if not slash or not name or not version:
        raise InvalidParameter(f"Invalid prompt filter value {value!r}: expected 'name/version'")
    entry = json.dumps({"name": name, "version": version})
    return _has_pair(dialect, trace_tags, LINKED_PROMPTS_TAG, LIKE, f"%{entry}%")


def _span_attribute_pattern(c: Comparison) -> str:
    """`span.attributes.<name>` matches in the span's stored JSON, where an attribute is `"<name>":"<its
    value as JSON>"`: LIKE and ILIKE look for the name followed by the pattern, as MLflow does; RLIKE's
    `^` and `$` anchor at the value's own (escaped) quotes."""
    name, value = c.key.split(".", 1)[1], str(c.value)
    if c.op != RLIKE:
        return f'%"{name}"{value}%'
    head = '"\\\\"' if value.startswith("^") else '"\\\\".*'
    tail = '\\\\"' if value.endswith("$") else ""
    core = value[1 if value.startswith("^") else 0 : len(value) - 1 if value.endswith("$") else len(value)]
    return f'"{re.escape(name)}": ?{head}{core}{tail}'


def _span_match(dialect: str, column: sa.Column[Any], op: str, value: Any) -> ColumnElement[bool]:
    stmt = sa.select(sa.literal(1)).where(
        spans.c.trace_id == _t.id, predicates.string(dialect, column, op, value)
    )
    return stmt.exists()


def _assessment(dialect: str, c: Comparison) -> ColumnElement[bool]:
    """A valid feedback or expectation of that name on the trace, or on its session, whose value matches.

    An assessment whose metadata names a session judges every trace of that session, as in MLflow.
    """
    a = assessments.c
    matching = [a.kind == c.kind, a.name == c.key, a.valid == sa.true()]
    if c.op in (EQ, NE):
        # `= 'yes'` matches the JSON string "yes"; `= '5'` or `= 'true'` the JSON number or boolean.
        value = str(c.value)
        either = sa.or_(
            predicates.string(dialect, a.value, EQ, value),
            predicates.string(dialect, a.value, EQ, json.dumps(value, ensure_ascii=False)),
        )
        # `!=` asks for an assessment of that name with another value, not for the absence of one.
        matching.append(either if c.op == EQ else sa.not_(either))
    elif c.op not in (IS_NULL, IS_NOT_NULL):
        matching.append(predicates.string(dialect, a.value, c.op, c.value))
    on_trace = sa.select(sa.literal(1)).where(a.trace_id == _t.id, *matching).exists()
    # Uncorrelated, so it runs once: the sessions judged, then their traces.
    judged = trace_metadata.alias("judged")
    judged_sessions = (
        sa.select(judged.c.value)
        .select_from(assessments.join(judged, judged.c.trace_id == a.trace_id))
        .where(judged.c.key == SESSION_METADATA, a.metadata.like(f'%"{SESSION_METADATA}":%'), *matching)
    )
    m = trace_metadata.c
    on_session = _t.id.in_(
        sa.select(m.trace_id).where(m.key == SESSION_METADATA, m.value.in_(judged_sessions))
    )
    found = sa.or_(on_trace, on_session)
    return sa.not_(found) if c.op == IS_NULL else found


def _issue(c: Comparison) -> ColumnElement[bool]:
    a = assessments.c
    stmt = sa.select(sa.literal(1)).where(a.trace_id == _t.id, a.kind == "issue", a.name == c.value)
    return stmt.exists()


def condition(dialect: str, c: Comparison) -> ColumnElement[bool]:
    if c.kind in ("feedback", "expectation"):
        return _assessment(dialect, c)
    if c.kind == "issue":
        return _issue(c)
    if c.kind == "tag":
        return _has_pair(dialect, trace_tags, c.key, c.op, c.value)
    if c.kind == "metadata":
        return _has_pair(dialect, trace_metadata, c.key, c.op, c.value)
    if c.kind == "span" and c.key.startswith("attributes."):
        return _span_match(dialect, spans.c.content, c.op, _span_attribute_pattern(c))
    if c.kind == "span":
        column = {
            "name": spans.c.name,
            "type": spans.c.type,
            "status": spans.c.status,
            "content": spans.c.content,
        }
        return _span_match(dialect, column[c.key], c.op, c.value)
    key = c.key
    if key == "timestamp_ms":
        return predicates.numeric(_t.timestamp_ms, c.op, c.value)
    if key == "execution_time_ms":
        return predicates.numeric(_t.execution_time_ms, c.op, c.value)
    if key == "end_time_ms":
        return predicates.numeric(_END_TIME, c.op, c.value)
    if key == "request_id":
        return predicates.string(dialect, _t.id, c.op, c.value)
    if key == "client_request_id":
        return predicates.string(dialect, _t.client_request_id, c.op, c.value)
    if key == "status":
        return predicates.string(dialect, _t.state, c.op, c.value)
    if key == "name":
        return _has_pair(dialect, trace_tags, TRACE_NAME_TAG, c.op, c.value)
    if key == "prompt":
        return _linked_prompt(dialect, c.value)
    if key == "run_id":
        return _run_id(dialect, c.op, c.value)
    if key == "text":
        return _span_match(dialect, spans.c.content, c.op, c.value)
    raise InvalidParameter(f"Invalid attribute key '{key}' in a trace filter")


def where(
    dialect: str, experiment_ids: Sequence[int], comparisons: Sequence[Comparison]
) -> list[ColumnElement[bool]]:
    return [_t.experiment_id.in_(list(experiment_ids)), *(condition(dialect, c) for c in comparisons)]


def _sort_column(key: OrderKey) -> SortColumn:
    exprs: dict[str, tuple[Any, type[int] | type[str]]] = {
        "timestamp_ms": (_t.timestamp_ms, int),
        "execution_time_ms": (sa.func.coalesce(_t.execution_time_ms, 0), int),
        "end_time_ms": (_END_TIME, int),
        "status": (_t.state, str),
        "request_id": (_t.id, str),
        "client_request_id": (sa.func.coalesce(_t.client_request_id, ""), str),
        "experiment_id": (_t.experiment_id, int),
        "name": (sa.func.coalesce(pair_value(trace_tags, TRACE_NAME_TAG), ""), str),
        "run_id": (sa.func.coalesce(pair_value(trace_metadata, SOURCE_RUN_METADATA), ""), str),
    }
    if key.key not in exprs:
        raise InvalidParameter(f"Invalid order_by key '{key.key}' for traces")
    expr, pytype = exprs[key.key]
    return SortColumn(expr, key.ascending, pytype)


def search_page(
    conn: Connection, experiment_ids: Sequence[int], args: SearchArgs[str]
) -> tuple[list[tuple[Any, ...]], str | None]:
    """One page of matching traces, newest first unless ordered otherwise, and the next page's token:
    their rows, each starting with store.traces.TRACE_COLUMNS (so the page needs no second look-up).

    The statement is compiled once per request shape (filter, ordering, number of experiments, first
    page or not) and run on the driver: a page of a hundred traces is a few milliseconds of work,
    which building and compiling the SQLAlchemy construct anew would double."""
    plan = _plan(
        conn.dialect, args.filter_string, tuple(args.order_by), len(experiment_ids), bool(args.page_token)
    )
    bound = {f"exp_{i}": experiment_id for i, experiment_id in enumerate(experiment_ids)}
    return plan.fetch(conn, args, bound, first_key=len(TRACE_COLUMNS))


@functools.lru_cache(maxsize=256)
def _plan(
    dialect_impl: Dialect,
    filter_string: str | None,
    order_by: tuple[str, ...],
    experiments: int,
    after_token: bool,
) -> PagePlan:
    # Errors in the filter or ordering raise here, so only valid requests are cached.
    order = parse_order(order_by)
    comparisons = parse(filter_string)
    dialect = dialect_impl.name
    experiment_ids = [sa.bindparam(f"exp_{i}", None, type_=sa.BigInteger()) for i in range(experiments)]
    by_tag = _tag_equality(comparisons, order)
    if by_tag is not None:
        stmt, columns = _by_tag(dialect, experiment_ids, comparisons, by_tag, order)
    else:
        columns = [_sort_column(k) for k in order]
        keys = {k.key for k in order}
        if "timestamp_ms" not in keys and not order:
            columns.append(SortColumn(_t.timestamp_ms, False, int))
        if "request_id" not in keys:
            columns.append(SortColumn(_t.id, True, str))  # unique: the keyset's tie-break
        conditions = (condition(dialect, c) for c in comparisons)
        stmt = sa.select(*TRACE_COLUMNS).where(_t.experiment_id.in_(experiment_ids), *conditions)
    fp = fingerprint("traces", [(k.kind, k.key, k.ascending) for k in order], filter_string or "")
    return PagePlan(
        CompiledQuery.of(paged(stmt, columns, after_token=after_token), dialect_impl), columns, fp
    )


def _tag_equality(comparisons: Sequence[Comparison], order: Sequence[OrderKey]) -> int | None:
    """The position of a `tag.k = 'v'` (or `trace.name = 'v'`) in the filter when the traces are listed
    by time, which the tag search index can then serve in order; None otherwise."""
    if len(order) > 1 or (order and order[0].key != "timestamp_ms"):
        return None
    for i, c in enumerate(comparisons):
        if c.op == EQ and (c.kind == "tag" or (c.kind == "attribute" and c.key == "name")):
            return i
    return None


def _by_tag(
    dialect: str,
    experiment_ids: Sequence[Any],
    comparisons: Sequence[Comparison],
    position: int,
    order: Sequence[OrderKey],
) -> tuple[sa.Select[Any], list[SortColumn]]:
    """A search by time with a tag equality, read from ix_trace_tags_search: the matching tags of the
    experiments in time order, each joined to its trace, so a page costs what it returns, however
    few traces match. The other conditions apply as usual."""
    tagged = comparisons[position]
    key = TRACE_NAME_TAG if tagged.kind == "attribute" else tagged.key
    value = str(tagged.value)
    tt = trace_tags.alias("by_tag")
    ascending = bool(order) and order[0].ascending
    # The same values, in the same order, as the plan without the index: a page token works in both.
    columns = [SortColumn(tt.c.timestamp_ms, ascending, int), SortColumn(tt.c.trace_id, True, str)]
    others = (condition(dialect, c) for i, c in enumerate(comparisons) if i != position)
    stmt = (
        sa.select(*TRACE_COLUMNS)
        .select_from(traces.join(tt, tt.c.trace_id == _t.id))
        .where(
            tt.c.experiment_id.in_(experiment_ids),
            tt.c.key == key,
            tt.c.value_prefix == value[:TAG_VALUE_PREFIX],
            predicates.string(dialect, tt.c.value, EQ, value),
            _t.experiment_id.in_(experiment_ids),
            *others,
        )
    )
    return stmt, columns


def count_matching(conn: Connection, experiment_ids: Sequence[int], comparisons: Sequence[Comparison]) -> int:
    stmt = (
        sa.select(sa.func.count())
        .select_from(traces)
        .where(*where(conn.dialect.name, experiment_ids, comparisons))
    )
    return int(conn.execute(stmt).scalar() or 0)
