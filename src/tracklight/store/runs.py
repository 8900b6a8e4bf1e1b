"""Queries on runs: create, look up, load with their data, update, tag."""

from __future__ import annotations

import json
import math

from sqlalchemy import (
    BigInteger,
    CompoundSelect,
    Connection,
    Select,
    Text,
    any_,
    bindparam,
    cast,
    delete,
    insert,
    literal,
    null,
    select,
    union_all,
    update,
)
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.sql.elements import ColumnElement

from tracklight.errors import NotFound
from tracklight.store import schema as s
from tracklight.store.dialect import upsert
from tracklight.store.records import DatasetInput, MetricPoint, Run, RunRef

_LOAD_CHUNK = 1000  # keeps IN lists well inside every database's parameter limit


def insert_run(
    conn: Connection,
    *,
    run_id: str,
    experiment_id: int,
    run_name: str,
    user_id: str,
    start_time: int,
    artifact_uri: str,
    tags: list[tuple[str, str]],
) -> int:
    result = conn.execute(
        insert(s.runs).values(
            run_uuid=run_id,
            experiment_id=experiment_id,
            name=run_name,
            user_id=user_id,
            status="RUNNING",
            start_time=start_time,
            end_time=None,
            lifecycle_stage="active",
            artifact_uri=artifact_uri,
        )
    )
    internal_id = int(result.inserted_primary_key[0])
    set_run_tags(conn, internal_id, tags)
    return internal_id


def find_run(conn: Connection, run_id: str, *, for_update: bool = False) -> RunRef:
    stmt = select(s.runs.c.id, s.runs.c.experiment_id, s.runs.c.lifecycle_stage).where(
        s.runs.c.run_uuid == run_id
    )
    if for_update and conn.dialect.name != "sqlite":
        stmt = stmt.with_for_update()
    row = conn.execute(stmt).first()
    if row is None:
        raise NotFound(f"Run with id={run_id} not found")
    return RunRef(row.id, run_id, row.experiment_id, row.lifecycle_stage)


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


def load_runs(conn: Connection, internal_ids: list[int]) -> list[Run]:
    """Runs with params, tags, latest metrics and inputs, in the order of the ids given."""
    by_id: dict[int, Run] = {}
    for start in range(0, len(internal_ids), _LOAD_CHUNK):
        chunk = internal_ids[start : start + _LOAD_CHUNK]
        _load_chunk(conn, chunk, by_id)
    return [by_id[i] for i in internal_ids if i in by_id]


def _run_statements(postgresql: bool) -> tuple[Select, CompoundSelect, Select]:
    """The three reads that load runs, built once with an expanding "ids" parameter.

    The second fetches latest metrics, params, tags and model links in one round trip; each row
    is (run_id, kind, key, text, number, is_nan, timestamp, step), where kind is "m", "p", "t" or
    the link direction. Its metrics branch comes first so its typed columns set the union's types.
    """
    r, p, t, ms, lk = s.runs.c, s.params.c, s.run_tags.c, s.metric_series.c, s.run_model_links.c
    if postgresql:
        # One array parameter instead of a thousand: psycopg2 adapts each parameter in Python.
        id_array = cast(bindparam("ids", type_=Text), ARRAY(BigInteger))

        def member(column: ColumnElement[int]) -> ColumnElement[bool]:
            return column == any_(id_array)
    else:
        ids = bindparam("ids", expanding=True)

        def member(column: ColumnElement[int]) -> ColumnElement[bool]:
            return column.in_(ids)

    runs = select(
        r.id,
        r.run_uuid,
        r.experiment_id,
        r.name,
        r.user_id,
        r.status,
        r.start_time,
        r.end_time,
        r.lifecycle_stage,
        r.artifact_uri,
    ).where(member(r.id))
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
    )
    ri, d = s.run_inputs.c, s.datasets.c
    inputs = (
        select(ri.run_id, ri.tags, d.name, d.digest, d.source_type, d.source, d.schema, d.profile)
        .join_from(s.run_inputs, s.datasets, d.id == ri.dataset_id)
        .where(member(ri.run_id))
        .order_by(ri.run_id, d.id)
    )
    return runs, data, inputs


_STATEMENTS = {False: _run_statements(False), True: _run_statements(True)}


def _load_chunk(conn: Connection, ids: list[int], by_id: dict[int, Run]) -> None:
    # Rows are fetched whole and unpacked as tuples: listing thousands of runs makes per-row costs add up.
    postgresql = conn.dialect.name == "postgresql"
    runs_stmt, data_stmt, inputs_stmt = _STATEMENTS[postgresql]
    bound = {"ids": "{" + ",".join(map(str, ids)) + "}" if postgresql else ids}
    for values in conn.execute(runs_stmt, bound).all():
        by_id[values[0]] = Run(*values)
    for run_id, kind, key, text_value, number, is_nan, timestamp, step in conn.execute(
        data_stmt, bound
    ).all():
        run = by_id[run_id]
        if kind == "m":
            run.metrics.append(MetricPoint(key, math.nan if is_nan else number, timestamp, step))
        elif kind == "p":
            run.params[key] = text_value
        elif kind == "t":
            run.tags[key] = text_value
        elif kind == "input":
            run.model_inputs.append(key)
        else:
            run.model_outputs.append((key, step or 0))
    for run_id, tags_json, *dataset in conn.execute(inputs_stmt, bound).all():
        tags = [(t["key"], t["value"]) for t in json.loads(tags_json)]
        by_id[run_id].dataset_inputs.append(DatasetInput(*dataset, tags))


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
    # The last value given for a key wins, and a multi-row upsert may touch each key only once.
    merged = dict(tags)
    rows = [{"run_id": internal_id, "key": k, "value": v} for k, v in sorted(merged.items())]
    upsert(conn, s.run_tags, rows, ["run_id", "key"], ["value"])
    if "mlflow.runName" in merged:
        conn.execute(update(s.runs).where(s.runs.c.id == internal_id).values(name=merged["mlflow.runName"]))


def delete_run_tag(conn: Connection, internal_id: int, key: str) -> bool:
    result = conn.execute(
        delete(s.run_tags).where(s.run_tags.c.run_id == internal_id, s.run_tags.c.key == key)
    )
    return result.rowcount > 0


def get_run_tag(conn: Connection, internal_id: int, key: str) -> str | None:
    return conn.execute(
        select(s.run_tags.c.value).where(s.run_tags.c.run_id == internal_id, s.run_tags.c.key == key)
    ).scalar()
