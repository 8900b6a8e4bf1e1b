"""SQL for traces: their rows, tags, metadata, spans and run links, read in pages so nothing is held whole."""

from __future__ import annotations

import functools
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy import Connection
from sqlalchemy.engine import Dialect

from tracklight.store import assessments as assessment_store
from tracklight.store import driver, id_lists
from tracklight.store.assessments import AssessmentRecord
from tracklight.store.dialect import insert_ignore, insert_ignore_each, upsert, upsert_each
from tracklight.store.schema import (
    TAG_VALUE_PREFIX,
    spans,
    trace_metadata,
    trace_run_links,
    trace_tags,
    traces,
)
from tracklight.store.schema import assessments as assessment_table
from tracklight.store.search.compiled import CompiledQuery

# Rows per statement when writing many spans, or deleting many traces, at once.
_CHUNK = 500


@dataclass(slots=True)  # not frozen: a search page builds hundreds, and frozen costs 3× to build
class TraceRecord:
    trace_id: str
    experiment_id: int
    timestamp_ms: int
    execution_time_ms: int | None
    state: str
    client_request_id: str | None
    request_preview: str | None
    response_preview: str | None
    tags: dict[str, str]
    metadata: dict[str, str]
    assessments: tuple[AssessmentRecord, ...] = ()


@dataclass(frozen=True, slots=True)
class SpanRow:
    span_id: str
    parent_span_id: str | None
    start_time_unix_nano: int
    content: str


TRACE_COLUMNS = (  # a trace's own row, as records_of_rows reads it
    traces.c.id,
    traces.c.experiment_id,
    traces.c.timestamp_ms,
    traces.c.execution_time_ms,
    traces.c.state,
    traces.c.client_request_id,
    traces.c.request_preview,
    traces.c.response_preview,
)


def _chunks(items: Sequence[Any]) -> Iterable[Sequence[Any]]:
    for i in range(0, len(items), _CHUNK):
        yield items[i : i + _CHUNK]


def ensure_trace(conn: Connection, row: dict[str, Any]) -> None:
    """Create the trace row unless one with its id exists (spans and the trace info race to be first)."""
    insert_ignore(conn, traces, [row], ["id"])


def load_traces(conn: Connection, trace_ids: Sequence[str]) -> list[TraceRecord]:
    """The traces of these ids that exist, with tags, metadata and assessments, in the order the ids were
    given."""
    unique = list(dict.fromkeys(trace_ids))
    rows: dict[str, Any] = {}
    for chunk in _chunks(unique):
        for r in conn.execute(sa.select(*TRACE_COLUMNS).where(traces.c.id.in_(chunk))):
            rows[r.id] = r
    return records_of_rows(conn, [r for trace_id in unique if (r := rows.get(trace_id)) is not None])


def records_of_rows(conn: Connection, rows: Sequence[Any]) -> list[TraceRecord]:
    """Trace rows that start with TRACE_COLUMNS as records, with their tags, metadata and assessments.

    A search page pays for every statement and every row object: the tags and metadata of all its
    traces come in one statement, run on the driver, which also tells which traces have assessments,
    so only those are read."""
    if not rows:
        return []
    ids = [r[0] for r in rows]
    tags: dict[str, dict[str, str]] = {}
    meta: dict[str, dict[str, str]] = {}
    judged_ids: list[str] = []
    for trace_id, kind, key, value in _page_data_rows(conn, ids):
        if kind == 2:
            judged_ids.append(trace_id)
        else:
            (meta if kind else tags).setdefault(trace_id, {})[key] = value
    judged = assessment_store.of_traces(conn, judged_ids) if judged_ids else {}
    return [
        TraceRecord(
            trace_id=r[0],
            experiment_id=int(r[1]),
            timestamp_ms=int(r[2]),
            execution_time_ms=None if r[3] is None else int(r[3]),
            state=r[4],
            client_request_id=r[5],
            request_preview=r[6],
            response_preview=r[7],
            tags=tags.get(r[0], {}),
            metadata=meta.get(r[0], {}),
            assessments=tuple(judged.get(r[0], ())),
        )
        for r in rows
    ]


def _page_data_rows(conn: Connection, ids: list[str]) -> Iterable[tuple[str, int, str, str]]:
    """The rows of _page_data for these trace ids."""
    for chunk in _chunks(ids):
        size = id_lists.shape(conn.dialect, len(chunk))
        yield from _page_data(conn.dialect, size).fetch(conn, id_lists.bound("ids", chunk, size))


@functools.lru_cache(maxsize=32)
def _page_data(dialect: Dialect, size: int) -> CompiledQuery:
    """(trace id, 0, key, value) for tags, (…, 1, key, value) for metadata and (…, 2, id, name) for
    assessments, of the traces bound as `ids` in a statement of this shape (id_lists)."""
    match = id_lists.member("ids", sa.String(), size)
    a = assessment_table.c
    stmt = sa.union_all(
        sa.select(trace_tags.c.trace_id, sa.literal_column("0"), trace_tags.c.key, trace_tags.c.value).where(
            match(trace_tags.c.trace_id)
        ),
        sa.select(
            trace_metadata.c.trace_id, sa.literal_column("1"), trace_metadata.c.key, trace_metadata.c.value
        ).where(match(trace_metadata.c.trace_id)),
        sa.select(a.trace_id, sa.literal_column("2"), a.id, a.name).where(match(a.trace_id)),
    )
    return CompiledQuery.of(stmt, dialect)


def load_trace(conn: Connection, trace_id: str) -> TraceRecord | None:
    found = load_traces(conn, [trace_id])
    return found[0] if found else None


def experiment_of(conn: Connection, trace_id: str) -> int | None:
    found = conn.execute(sa.select(traces.c.experiment_id).where(traces.c.id == trace_id)).scalar()
    return None if found is None else int(found)


def update_trace(conn: Connection, trace_id: str, values: dict[Any, Any]) -> None:
    """Change a trace's columns; a new timestamp_ms reaches its tags' copy with the next set_pairs of
    its tags, or sync_tag_order, in the same transaction."""
    if values:
        conn.execute(sa.update(traces).where(traces.c.id == trace_id).values(values))


def set_pairs(conn: Connection, table: sa.Table, trace_id: str, pairs: Iterable[tuple[str, str]]) -> None:
    """Set tags (trace_tags) or metadata (trace_metadata) of a trace, overwriting keys it has."""
    rows = [{"trace_id": trace_id, "key": k, "value": v} for k, v in pairs]
    if table is not trace_tags:
        upsert(conn, table, rows, ["trace_id", "key"], ["value"])
    elif rows:
        upsert(conn, table, _searchable(rows), ["trace_id", "key"], ["value", "value_prefix"])
        sync_tag_order(conn, [trace_id])


def _searchable(rows: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """Tag rows with the value prefix that the tag search index holds."""
    return [{**row, "value_prefix": row["value"][:TAG_VALUE_PREFIX]} for row in rows]


def sync_tag_order(conn: Connection, trace_ids: Sequence[str]) -> None:
    """Copy each trace's experiment and start time to its tags (see schema.trace_tags): after its tags
    were written without them, or its start time moved."""
    for chunk in _chunks(list(trace_ids)):
        driver.write(conn, _SYNC_TAG_ORDER.format(", ".join("?" * len(chunk))), chunk)


_SYNC_TAG_ORDER = (
    "UPDATE trace_tags SET"
    " experiment_id = (SELECT t.experiment_id FROM traces t WHERE t.id = trace_tags.trace_id),"
    " timestamp_ms = (SELECT t.timestamp_ms FROM traces t WHERE t.id = trace_tags.trace_id)"
    " WHERE trace_id IN ({})"
)


def delete_tag(conn: Connection, trace_id: str, key: str) -> bool:
    stmt = sa.delete(trace_tags).where(trace_tags.c.trace_id == trace_id, trace_tags.c.key == key)
    return conn.execute(stmt).rowcount > 0


def write_spans(conn: Connection, rows: Sequence[dict[str, Any]]) -> None:
    """Insert spans, replacing any with the same (trace_id, span_id): a client may send one again."""
    columns = [c.name for c in spans.c if c.name not in ("trace_id", "span_id")]
    upsert_each(conn, spans, rows, ["trace_id", "span_id"], columns)


def export_lookup(
    conn: Connection, experiment_id: int, trace_ids: Sequence[str], metadata_key: str
) -> tuple[tuple[str, str] | None, dict[str, tuple[int, bool]]]:
    """What a span export needs to know first, in one round trip: the (artifact location, lifecycle
    stage) of the experiment it names, None if there is none; and of its traces, those that exist,
    each with its experiment and whether it has the metadata `metadata_key`."""
    experiment: tuple[str, str] | None = None
    found: dict[str, tuple[int, bool]] = {}
    for i, chunk in enumerate(_chunks(list(trace_ids))):
        sql = _KNOWN_TRACES.format(", ".join("?" * len(chunk)))
        params: tuple[Any, ...] = (metadata_key, *chunk)
        if i == 0:
            sql = _EXPERIMENT_STATE + " UNION ALL " + sql
            params = (experiment_id, *params)
        for first, second, trace_experiment, has_key in driver.rows(conn, sql, params):
            if trace_experiment is None:
                experiment = (first, second)
            else:
                found[first] = (int(trace_experiment), bool(has_key))
    return experiment, found


# The experiment's row has NULL where a trace's row has its (never NULL) experiment id.
_EXPERIMENT_STATE = "SELECT artifact_location, lifecycle_stage, NULL, NULL FROM experiments WHERE id = ?"
_KNOWN_TRACES = (
    "SELECT t.id, NULL, t.experiment_id, m.trace_id IS NOT NULL FROM traces t"
    " LEFT JOIN trace_metadata m ON m.trace_id = t.id AND m.key = ? WHERE t.id IN ({})"
)


def ensure_traces(conn: Connection, rows: Sequence[dict[str, Any]]) -> bool:
    """ensure_trace for many traces (each row with the same columns): True if this call created every
    one of them, False if some existed or the database cannot tell."""
    return insert_ignore_each(conn, traces, rows, ["id"])


def add_missing_tags_of(conn: Connection, rows: Sequence[dict[str, Any]]) -> None:
    """Tags of several traces, where a trace has no tag of that key yet: rows of trace_id, key, value,
    and the trace's experiment_id and timestamp_ms (None for sync_tag_order to fill in)."""
    insert_ignore_each(conn, trace_tags, _searchable(rows), ["trace_id", "key"])


def set_tags_of(conn: Connection, rows: Sequence[dict[str, Any]]) -> None:
    """Tags of several traces, overwriting keys they have: rows as for add_missing_tags_of."""
    upsert_each(conn, trace_tags, _searchable(rows), ["trace_id", "key"], ["value", "value_prefix"])


@functools.cache
def _widen_statements() -> tuple[Any, Any]:
    """(for spans with an end, for spans without), built once: building costs more than running them.
    They stretch a trace's start and duration in SQL, so that batches written at the same time by
    several servers all count (a read-then-write could lose one)."""
    ts, duration = traces.c.timestamp_ms, traces.c.execution_time_ms
    start = sa.bindparam("b_start", type_=sa.BigInteger)
    new_start = sa.case((ts > start, start), else_=ts)
    where = traces.c.id == sa.bindparam("b_id")
    end = sa.bindparam("b_end", type_=sa.BigInteger)
    old_end = ts + sa.func.coalesce(duration, 0)
    new_end = sa.case((old_end > end, old_end), else_=end)
    # The duration is assigned first: MySQL evaluates SET left to right with the values already set,
    # so it must still see the old start (PostgreSQL and SQLite see old values throughout).
    ended = sa.update(traces).where(where).ordered_values((duration, new_end - new_start), (ts, new_start))
    return ended, sa.update(traces).where(where).values({ts: new_start})


def widen_time_ranges(conn: Connection, ranges: Sequence[tuple[str, int, int | None]]) -> None:
    """Stretch each trace's time range to cover a span batch: (trace id, start ms, end ms or None)."""
    ended_stmt, open_stmt = _widen_statements()
    ended = [{"b_id": t, "b_start": s, "b_end": e} for t, s, e in ranges if e is not None]
    open_ = [{"b_id": t, "b_start": s} for t, s, e in ranges if e is None]
    if ended:
        conn.execute(ended_stmt, ended)
    if open_:
        conn.execute(open_stmt, open_)


@functools.cache
def _settle_statement() -> Any:
    state = traces.c.state
    return (
        sa.update(traces)
        .where(traces.c.id == sa.bindparam("b_id"))
        .values(
            {
                state: sa.case(
                    (sa.or_(state == "IN_PROGRESS", state == "STATE_UNSPECIFIED"), sa.bindparam("b_state")),
                    else_=state,
                ),
                traces.c.request_preview: sa.func.coalesce(
                    traces.c.request_preview, sa.bindparam("b_request", type_=sa.Text)
                ),
                traces.c.response_preview: sa.func.coalesce(
                    traces.c.response_preview, sa.bindparam("b_response", type_=sa.Text)
                ),
            }
        )
    )


def settle_from_roots(conn: Connection, updates: Sequence[tuple[str, str, str | None, str | None]]) -> None:
    """What a root span tells about its trace, (trace id, state, request preview, response preview)
    each: the state where the trace has none final yet, the previews where it has none."""
    params = [{"b_id": t, "b_state": s, "b_request": q, "b_response": r} for t, s, q, r in updates]
    if params:
        conn.execute(_settle_statement(), params)


def count_spans(conn: Connection, trace_id: str) -> int:
    return int(conn.execute(sa.select(sa.func.count()).where(spans.c.trace_id == trace_id)).scalar() or 0)


# A trace's spans are served root first, then by start time, with the span id as the tie-break.
_root_rank = sa.case((spans.c.parent_span_id.is_(None), 0), else_=1)
SpanKey = tuple[int, int, str]


def span_page(conn: Connection, trace_id: str, after: SpanKey | None, limit: int) -> list[SpanRow]:
    """Up to `limit` spans of a trace in serving order, after the span whose sort key is `after`."""
    stmt = sa.select(spans.c.span_id, spans.c.parent_span_id, spans.c.start_time_unix_nano, spans.c.content)
    stmt = stmt.where(spans.c.trace_id == trace_id)
    if after is not None:
        rank, start, span_id = after
        stmt = stmt.where(
            sa.or_(
                _root_rank > rank,
                sa.and_(_root_rank == rank, spans.c.start_time_unix_nano > start),
                sa.and_(_root_rank == rank, spans.c.start_time_unix_nano == start, spans.c.span_id > span_id),
            )
        )
    stmt = stmt.order_by(_root_rank, spans.c.start_time_unix_nano, spans.c.span_id).limit(limit)
    return [SpanRow(r[0], r[1], int(r[2]), r[3]) for r in conn.execute(stmt)]


@dataclass(frozen=True, slots=True)
class SpanOutline:
    """A span without its payload: enough to draw it in a tree and on a timeline."""

    span_id: str
    parent_span_id: str | None
    name: str | None
    span_type: str | None
    status: str
    start_time_unix_nano: int
    end_time_unix_nano: int | None


def span_outline(conn: Connection, trace_id: str, limit: int) -> list[SpanOutline]:
    """Up to `limit` spans of a trace by start time, without their content (which can be megabytes each)."""
    c = spans.c
    stmt = (
        sa.select(
            c.span_id,
            c.parent_span_id,
            c.name,
            c.type,
            c.status,
            c.start_time_unix_nano,
            c.end_time_unix_nano,
        )
        .where(c.trace_id == trace_id)
        .order_by(c.start_time_unix_nano, c.span_id)
        .limit(limit)
    )
    return [
        SpanOutline(r[0], r[1], r[2], r[3], r[4], int(r[5]), None if r[6] is None else int(r[6]))
        for r in conn.execute(stmt)
    ]


def span_content(conn: Connection, trace_id: str, span_id: str) -> str | None:
    """One span's stored JSON, or None when the trace has no such span."""
    stmt = sa.select(spans.c.content).where(spans.c.trace_id == trace_id, spans.c.span_id == span_id)
    return conn.execute(stmt).scalar()


def span_key(row: SpanRow) -> SpanKey:
    return (0 if row.parent_span_id is None else 1, row.start_time_unix_nano, row.span_id)


def link_runs(conn: Connection, trace_ids: Sequence[str], run_id: str) -> None:
    insert_ignore(
        conn, trace_run_links, [{"trace_id": t, "run_id": run_id} for t in trace_ids], ["trace_id", "run_id"]
    )


def ids_to_delete(
    conn: Connection,
    experiment_id: int,
    *,
    max_timestamp_ms: int | None,
    max_traces: int | None,
    trace_ids: Sequence[str],
) -> list[str]:
    """The traces a delete-traces call removes: the given ids in the experiment, or its traces up to a
    time, oldest first and at most max_traces of them."""
    stmt = sa.select(traces.c.id).where(traces.c.experiment_id == experiment_id)
    if trace_ids:
        found: list[str] = []
        for chunk in _chunks(list(trace_ids)):
            found += conn.execute(stmt.where(traces.c.id.in_(chunk))).scalars().all()
        return found
    if max_timestamp_ms is not None:
        stmt = stmt.where(traces.c.timestamp_ms <= max_timestamp_ms)
    stmt = stmt.order_by(traces.c.timestamp_ms, traces.c.id)
    if max_traces is not None:
        stmt = stmt.limit(max_traces)
    return list(conn.execute(stmt).scalars().all())


def delete_traces(conn: Connection, trace_ids: Sequence[str]) -> int:
    deleted = 0
    assessment_store.delete_of_traces(conn, trace_ids)
    for chunk in _chunks(list(trace_ids)):
        for table in (spans, trace_tags, trace_metadata, trace_run_links):
            conn.execute(sa.delete(table).where(table.c.trace_id.in_(chunk)))
        deleted += conn.execute(sa.delete(traces).where(traces.c.id.in_(chunk))).rowcount
    return deleted


def trace_ids_of_experiments(conn: Connection, experiment_ids: Sequence[int]) -> list[str]:
    """Every trace of these experiments (for purging them with their experiments)."""
    if not experiment_ids:
        return []
    stmt = sa.select(traces.c.id).where(traces.c.experiment_id.in_(list(experiment_ids)))
    return list(conn.execute(stmt).scalars().all())
