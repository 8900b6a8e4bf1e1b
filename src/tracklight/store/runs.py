"""Queries on runs: create, look up, load with their data, update, tag."""

from __future__ import annotations

import functools
import json
import math
from dataclasses import dataclass
from typing import Any

import orjson
from sqlalchemy import (
    BigInteger,
    CompoundSelect,
    Connection,
    Select,
    Text,
    cast,
    func,
    literal,
    null,
    select,
    union_all,
    update,
)
from sqlalchemy.engine import Dialect
from sqlalchemy.sql.elements import ColumnElement

from tracklight.errors import NotFound
from tracklight.store import driver, id_lists
from tracklight.store import schema as s
from tracklight.store.records import DatasetInput, MetricPoint, Run, RunRef
from tracklight.store.search.compiled import CompiledQuery
from tracklight.store.tags import delete_tag, upsert_tags

_LOAD_CHUNK = 1024  # keeps IN lists well inside every database's parameter limit


# A new run goes in only while its experiment is active and still has the artifact location the run's
# artifact URI was derived from: the check and the insert are one statement, so no replica's delete
# (or an experiment id reused after a permanent delete) can slip in between them.
_NEW_RUN = (
    "INSERT INTO runs (run_uuid, experiment_id, name, user_id, status, start_time, lifecycle_stage, "
    "artifact_uri) SELECT ?, id, ?, ?, 'RUNNING', ?, 'active', ? FROM experiments "
    "WHERE id = ? AND lifecycle_stage = 'active' AND artifact_location = ?"
)
# PostgreSQL: the run and its tags in one statement, so that in autocommit the whole create is a
# single round trip and a single transaction.
_NEW_RUN_PG = driver.Prepared(
    "tracklight_new_run",
    "text, text, text, bigint, text, bigint, text, text[], text[]",
    "WITH r AS (INSERT INTO runs (run_uuid, experiment_id, name, user_id, status, start_time, "
    "lifecycle_stage, artifact_uri) SELECT $1, id, $2, $3, 'RUNNING', $4, 'active', $5 FROM experiments "
    "WHERE id = $6 AND lifecycle_stage = 'active' AND artifact_location = $7 RETURNING id), "
    "t AS (INSERT INTO run_tags (run_id, key, value) "
    "SELECT r.id, u.k, u.v FROM r, unnest($8::text[], $9::text[]) AS u(k, v)) "
    "SELECT id FROM r",
)


def create_run(
    conn: Connection,
    *,
    run_id: str,
    experiment_id: int,
    location: str,
    run_name: str,
    user_id: str,
    start_time: int,
    artifact_uri: str,
    tags: list[tuple[str, str]],
) -> int | None:
    """Insert a run and its tags (keys unique) if experiment `experiment_id` is active and its artifact
    location is `location`; the run's internal id, or None (nothing written) if it is not.

    On PostgreSQL this is one statement, safe to run in autocommit.
    """
    dialect = conn.dialect.name
    run_values = (run_id, run_name, user_id, start_time, artifact_uri, experiment_id, location)
    if dialect == "postgresql":
        row = driver.prepared_first(
            conn, _NEW_RUN_PG, (*run_values, [k for k, _ in tags], [v for _, v in tags])
        )
        return None if row is None else int(row[0])
    inserted, internal_id = driver.write(conn, _NEW_RUN, run_values)
    if inserted != 1 or internal_id is None:
        return None
    if tags:
        key = "`key`" if dialect == "mysql" else "key"
        driver.write(
            conn,
            # Only placeholders are interpolated, never values.
            f"INSERT INTO run_tags (run_id, {key}, value) VALUES " + ",".join(["(?,?,?)"] * len(tags)),  # noqa: S608
            tuple(x for k, v in tags for x in (internal_id, k, v)),
        )
    return internal_id


_FIND_RUN = "SELECT id, experiment_id, lifecycle_stage FROM runs WHERE run_uuid = ?"
_FIND_RUN_LOCKED = _FIND_RUN + " FOR UPDATE"


def find_run(conn: Connection, run_id: str, *, for_update: bool = False) -> RunRef:
    # Every write starts here, so the statement is fixed driver SQL: no construct, no cache-key walk.
    locks = for_update and conn.dialect.name != "sqlite"
    row = driver.first(conn, _FIND_RUN_LOCKED if locks else _FIND_RUN, (run_id,))
    if row is None:
        raise NotFound(f"Run with id={run_id} not found")
    return RunRef(row[0], run_id, row[1], row[2])


def find_runs(conn: Connection, run_ids: list[str]) -> list[RunRef]:
    """Several runs at once, in the order given; any unknown id is an error."""
    r = s.runs.c
    rows = conn.execute(
        select(r.run_uuid, r.id, r.experiment_id, r.lifecycle_stage).where(r.run_uuid.in_(set(run_ids)))
    ).all()
    by_uuid = {row[0]: RunRef(row[1], row[0], row[2], row[3]) for row in rows}
    for run_id in run_ids:
        if run_id not in by_uuid:
            raise NotFound(f"Run with id={run_id} not found")
    return [by_uuid[run_id] for run_id in run_ids]


def get_run(conn: Connection, run_id: str) -> Run:
    row = conn.execute(select(s.runs.c.id).where(s.runs.c.run_uuid == run_id)).first()
    if row is None:
        raise NotFound(f"Run with id={run_id} not found")
    return load_runs(conn, [row.id])[0]


_r = s.runs.c
# The runs columns a Run record starts with, in its field order.
RUN_COLUMNS = (
    _r.id,
    _r.run_uuid,
    _r.experiment_id,
    _r.name,
    _r.user_id,
    _r.status,
    _r.start_time,
    _r.end_time,
    _r.lifecycle_stage,
    _r.artifact_uri,
)


def load_runs(conn: Connection, internal_ids: list[int]) -> list[Run]:
    """Runs with params, tags, latest metrics and inputs, in the order of the ids given."""
    rows: list[tuple] = []
    for start in range(0, len(internal_ids), _LOAD_CHUNK):
        chunk = internal_ids[start : start + _LOAD_CHUNK]
        rows += _queries(conn, len(chunk)).runs.fetch(conn, _ids_param(conn, chunk))
    by_id = {row[0]: row for row in rows}
    return runs_from_rows(conn, [by_id[i] for i in internal_ids if i in by_id])


def page_columns(dialect: str, page_size: int) -> tuple[tuple[ColumnElement[Any], ...], bool]:
    """The columns a runs/search page selects, and whether they include the runs' data: RUN_COLUMNS,
    plus on PostgreSQL, for pages of up to _INLINE_MAX runs, each run's data as JSON (_INLINE_COLUMNS)."""
    if dialect == "postgresql" and page_size <= _INLINE_MAX:
        return RUN_COLUMNS + _INLINE_COLUMNS, True
    return RUN_COLUMNS, False


def runs_from_rows(conn: Connection, rows: list[tuple], *, inline: bool = False) -> list[Run]:
    """Run records for rows of RUN_COLUMNS (as a search returns them), with their data loaded.

    With `inline`, the rows also hold each run's data as selected by _INLINE_COLUMNS.
    """
    found = [Run(*row[:_RUN_WIDTH]) for row in rows]
    inputs: list[tuple[int, int, str]] = []  # (run id, dataset id, tags JSON)
    if inline:
        _attach_inline(found, rows, inputs)
    else:
        _attach_loaded(conn, found, inputs)
    if inputs:
        _attach_datasets(conn, {run.internal_id: run for run in found}, inputs)
    return found


def _attach_loaded(conn: Connection, found: list[Run], inputs: list[tuple[int, int, str]]) -> None:
    by_id = {run.internal_id: run for run in found}
    for start in range(0, len(found), _LOAD_CHUNK):
        chunk = found[start : start + _LOAD_CHUNK]
        ids = [run.internal_id for run in chunk]
        data = _queries(conn, len(ids)).data.fetch(conn, _ids_param(conn, ids))
        # Rows are unpacked as plain tuples: listing thousands of runs makes per-row costs add up.
        for run_id, kind, key, text_value, number, is_nan, timestamp, step in data:
            run = by_id[run_id]
            if kind == "m":
                run.metrics.append(MetricPoint(key, math.nan if is_nan else number, timestamp, step))
            elif kind == "p":
                run.params[key] = text_value
            elif kind == "t":
                run.tags[key] = text_value
            elif kind == "d":
                inputs.append((run_id, step, text_value))
            elif kind == "input":
                run.model_inputs.append(key)
            else:
                run.model_outputs.append((key, step or 0))


def _attach_inline(found: list[Run], rows: list[tuple], inputs: list[tuple[int, int, str]]) -> None:
    loads = orjson.loads
    for run, row in zip(found, rows, strict=True):
        metrics, params, tags, links, run_inputs = row[_RUN_WIDTH : _RUN_WIDTH + len(_INLINE_COLUMNS)]
        if metrics:
            # float(): JSON writes 1.0 as 1, and infinities as strings.
            run.metrics = [
                MetricPoint(key, math.nan if is_nan else float(value), timestamp, step)
                for key, value, is_nan, timestamp, step in loads(metrics)
            ]
        if params:
            run.params = loads(params)
        if tags:
            run.tags = loads(tags)
        for direction, model_id, step in loads(links) if links else ():
            if direction == "input":
                run.model_inputs.append(model_id)
            else:
                run.model_outputs.append((model_id, step or 0))
        for dataset_id, tags_json in loads(run_inputs) if run_inputs else ():
            inputs.append((run.internal_id, dataset_id, tags_json))


def _attach_datasets(conn: Connection, by_id: dict[int, Run], inputs: list[tuple[int, int, str]]) -> None:
    d = s.datasets.c
    dataset_ids = sorted({dataset_id for _, dataset_id, _ in inputs})
    datasets = {
        row[0]: row[1:]
        for row in conn.execute(
            select(d.id, d.name, d.digest, d.source_type, d.source, d.schema, d.profile).where(
                d.id.in_(dataset_ids)
            )
        ).all()
    }
    for run_id, dataset_id, tags_json in sorted(inputs, key=lambda i: (i[0], i[1])):
        tags = [(t["key"], t["value"]) for t in json.loads(tags_json)]
        by_id[run_id].dataset_inputs.append(DatasetInput(*datasets[dataset_id], tags))


_RUN_WIDTH = len(RUN_COLUMNS)


def _inline_columns() -> tuple[ColumnElement[Any], ...]:
    """Each run's latest metrics, params, tags, model links and dataset inputs as JSON text.

    Correlated to the runs row, so PostgreSQL finds each run's rows by index probes whatever its
    statistics say (with none, it plans the separate load as sequential scans), and a page comes
    back in one statement instead of two.
    """
    ms, p, t, lk, ri = s.metric_series.c, s.params.c, s.run_tags.c, s.run_model_links.c, s.run_inputs.c

    def as_text(aggregate: ColumnElement[Any], run_id: ColumnElement[int], label: str) -> ColumnElement[Any]:
        return select(cast(aggregate, Text)).where(run_id == _r.id).scalar_subquery().label(label)

    return (
        as_text(
            func.json_agg(func.json_build_array(ms.key, ms.value, ms.is_nan, ms.timestamp, ms.step)),
            ms.run_id,
            "metrics_json",
        ),
        as_text(func.json_object_agg(p.key, p.value), p.run_id, "params_json"),
        as_text(func.json_object_agg(t.key, t.value), t.run_id, "tags_json"),
        as_text(
            func.json_agg(func.json_build_array(lk.direction, lk.model_id, lk.step)), lk.run_id, "links_json"
        ),
        as_text(func.json_agg(func.json_build_array(ri.dataset_id, ri.tags)), ri.run_id, "inputs_json"),
    )


_INLINE_COLUMNS = _inline_columns()
# Past this many runs a page loads their data in one set-oriented query instead: per-run probes cost
# more than scanning when a page covers much of a table.
_INLINE_MAX = 200


@dataclass(frozen=True, slots=True)
class _Queries:
    runs: CompiledQuery
    data: CompiledQuery


def _ids_param(conn: Connection, ids: list[int]) -> dict[str, object]:
    return id_lists.bound("ids", ids, id_lists.shape(conn.dialect, len(ids)))


def _queries(conn: Connection, count: int) -> _Queries:
    """The compiled loading statements for `count` ids."""
    return _queries_for(conn.dialect, id_lists.shape(conn.dialect, count))


@functools.lru_cache(maxsize=64)
def _queries_for(dialect: Dialect, size: int) -> _Queries:
    statements = _run_statements(id_lists.member("ids", BigInteger(), size))
    return _Queries(*(CompiledQuery.of(stmt, dialect) for stmt in statements))


def _run_statements(member: id_lists.Member) -> tuple[Select, CompoundSelect]:
    """The two reads that load runs by id, for the runs that `member` selects.

    The second fetches latest metrics, params, tags, model links and dataset links in one round
    trip; each row is (run_id, kind, key, text, number, is_nan, timestamp, step), where kind is
    "m", "p", "t", "d" (the dataset id in step, the input's tags in text) or the model link
    direction. Its metrics branch comes first so its typed columns set the union's types.
    """
    p, t, ms, lk, ri = s.params.c, s.run_tags.c, s.metric_series.c, s.run_model_links.c, s.run_inputs.c
    runs = select(*RUN_COLUMNS).where(member(_r.id))
    data = union_all(
        select(
            ms.run_id, literal("m"), ms.key, cast(null(), Text), ms.value, ms.is_nan, ms.timestamp, ms.step
        ).where(member(ms.run_id)),
        select(p.run_id, literal("p"), p.key, p.value, null(), null(), null(), null()).where(
            member(p.run_id)
        ),
        select(t.run_id, literal("t"), t.key, t.value, null(), null(), null(), null()).where(
            member(t.run_id)
        ),
        select(lk.run_id, lk.direction, lk.model_id, null(), null(), null(), null(), lk.step).where(
            member(lk.run_id)
        ),
        select(ri.run_id, literal("d"), null(), ri.tags, null(), null(), null(), ri.dataset_id).where(
            member(ri.run_id)
        ),
    )
    return runs, data


def update_run(
    conn: Connection,
    internal_id: int,
    *,
    status: str | None,
    end_time: int | None,
    run_name: str | None,
) -> None:
    values: dict[str, object] = {}
    if status is not None:
        values["status"] = status
    if end_time is not None:
        values["end_time"] = end_time
    if values:
        conn.execute(update(s.runs).where(s.runs.c.id == internal_id).values(**values))
    if run_name is not None:
        set_run_tags(conn, internal_id, [("mlflow.runName", run_name)])


def set_run_lifecycle(conn: Connection, internal_id: int, stage: str, now: int) -> None:
    conn.execute(
        update(s.runs)
        .where(s.runs.c.id == internal_id)
        .values(lifecycle_stage=stage, deleted_time=now if stage == "deleted" else None)
    )


def set_run_tags(conn: Connection, internal_id: int, tags: list[tuple[str, str]]) -> None:
    merged = upsert_tags(conn, s.run_tags, {"run_id": internal_id}, tags)
    if "mlflow.runName" in merged:
        conn.execute(update(s.runs).where(s.runs.c.id == internal_id).values(name=merged["mlflow.runName"]))


def delete_run_tag(conn: Connection, internal_id: int, key: str) -> bool:
    return delete_tag(conn, s.run_tags, {"run_id": internal_id}, key)


def get_run_tag(conn: Connection, internal_id: int, key: str) -> str | None:
    return conn.execute(
        select(s.run_tags.c.value).where(s.run_tags.c.run_id == internal_id, s.run_tags.c.key == key)
    ).scalar()
