"""Queries on MLflow 3 logged models: the model rows, their params and tags, and metrics logged against them."""

from __future__ import annotations

import math
from collections.abc import Sequence

from sqlalchemy import Connection, insert, select, update

from tracklight.errors import NotFound
from tracklight.store import schema as s
from tracklight.store import tags as tag_store
from tracklight.store.dialect import upsert
from tracklight.store.params import insert_params
from tracklight.store.records import LoggedModel, LoggedModelRef, ModelMetric, ModelMetricPoint

_LOAD_CHUNK = 1024  # keeps IN lists well inside every database's parameter limit


def not_found(model_id: str) -> NotFound:
    return NotFound(f"Logged model with ID '{model_id}' not found.")


def insert_logged_model(
    conn: Connection,
    *,
    model_id: str,
    experiment_id: int,
    name: str,
    model_type: str | None,
    source_run_id: str | None,
    status: str,
    artifact_uri: str,
    now: int,
    params: Sequence[tuple[str, str]],
    tags: Sequence[tuple[str, str]],
) -> None:
    conn.execute(
        insert(s.logged_models).values(
            id=model_id,
            experiment_id=experiment_id,
            name=name,
            model_type=model_type,
            source_run_id=source_run_id,
            status=status,
            status_message=None,
            artifact_uri=artifact_uri,
            lifecycle_stage="active",
            creation_time=now,
            last_updated_time=now,
        )
    )
    log_params(conn, model_id, params)
    set_tags(conn, model_id, tags)


def find_logged_model(conn: Connection, model_id: str, *, allow_deleted: bool = False) -> LoggedModelRef:
    lm = s.logged_models.c
    row = conn.execute(select(lm.experiment_id, lm.lifecycle_stage).where(lm.id == model_id)).first()
    if row is None or (row.lifecycle_stage == "deleted" and not allow_deleted):
        raise not_found(model_id)
    return LoggedModelRef(model_id, row.experiment_id, row.lifecycle_stage)


def get_logged_model(conn: Connection, model_id: str, *, allow_deleted: bool = False) -> LoggedModel:
    found = load_logged_models(conn, [model_id])
    if not found or (found[0].lifecycle_stage == "deleted" and not allow_deleted):
        raise not_found(model_id)
    return found[0]


def load_logged_models(conn: Connection, model_ids: list[str]) -> list[LoggedModel]:
    """Models with their tags, params and metrics, in the order of the ids given (unknown ids skipped)."""
    lm, t, p, mm = s.logged_models.c, s.logged_model_tags.c, s.logged_model_params.c, s.logged_model_metrics.c
    by_id: dict[str, LoggedModel] = {}
    for start in range(0, len(model_ids), _LOAD_CHUNK):
        chunk = model_ids[start : start + _LOAD_CHUNK]
        rows = conn.execute(
            select(
                lm.id,
                lm.experiment_id,
                lm.name,
                lm.model_type,
                lm.source_run_id,
                lm.status,
                lm.status_message,
                lm.artifact_uri,
                lm.lifecycle_stage,
                lm.creation_time,
                lm.last_updated_time,
            ).where(lm.id.in_(chunk))
        ).all()
        for row in rows:
            by_id[row[0]] = LoggedModel(*row)
        if not rows:
            continue
        found = [row[0] for row in rows]
        for model_id, key, value in conn.execute(
            select(t.model_id, t.key, t.value).where(t.model_id.in_(found)).order_by(t.model_id, t.key)
        ):
            by_id[model_id].tags[key] = value
        for model_id, key, value in conn.execute(
            select(p.model_id, p.key, p.value).where(p.model_id.in_(found)).order_by(p.model_id, p.key)
        ):
            by_id[model_id].params[key] = value
        metric_rows = conn.execute(
            select(
                mm.model_id,
                mm.key,
                mm.value,
                mm.is_nan,
                mm.timestamp,
                mm.step,
                mm.run_id,
                mm.dataset_name,
                mm.dataset_digest,
            )
            .where(mm.model_id.in_(found))
            .order_by(mm.model_id, mm.key, mm.dataset_digest, mm.step, mm.timestamp)
        )
        for model_id, key, value, is_nan, timestamp, step, run_id, dataset_name, digest in metric_rows:
            by_id[model_id].metrics.append(
                ModelMetric(
                    key,
                    math.nan if is_nan else value,
                    timestamp,
                    step,
                    run_id,
                    dataset_name or None,  # '' is how the table spells "no dataset"
                    digest or None,
                )
            )
    return [by_id[i] for i in model_ids if i in by_id]


def set_status(conn: Connection, model_id: str, status: str, now: int) -> None:
    conn.execute(
        update(s.logged_models)
        .where(s.logged_models.c.id == model_id)
        .values(status=status, last_updated_time=now)
    )


def set_lifecycle(conn: Connection, model_id: str, stage: str, now: int) -> None:
    conn.execute(
        update(s.logged_models)
        .where(s.logged_models.c.id == model_id)
        .values(lifecycle_stage=stage, last_updated_time=now)
    )


def set_tags(conn: Connection, model_id: str, tags: Sequence[tuple[str, str]]) -> None:
    tag_store.upsert_tags(conn, s.logged_model_tags, {"model_id": model_id}, tags)


def delete_tag(conn: Connection, model_id: str, key: str) -> bool:
    return tag_store.delete_tag(conn, s.logged_model_tags, {"model_id": model_id}, key)


def log_params(conn: Connection, model_id: str, params: Sequence[tuple[str, str]]) -> None:
    insert_params(
        conn, s.logged_model_params, {"model_id": model_id}, params, described=f"logged model ID='{model_id}'"
    )


def log_model_metrics(conn: Connection, run_id: str, points: Sequence[ModelMetricPoint]) -> None:
    """Upsert points into their models' metrics; every model named must exist and not be deleted."""
    if not points:
        return
    lm = s.logged_models.c
    model_ids = sorted({p.model_id for p in points})
    live = set(
        conn.execute(select(lm.id).where(lm.id.in_(model_ids), lm.lifecycle_stage == "active")).scalars()
    )
    for model_id in model_ids:
        if model_id not in live:
            raise not_found(model_id)
    rows: dict[tuple[str, str, int, int, str], dict[str, object]] = {}
    for p in points:
        nan = p.value != p.value
        digest = p.dataset_digest or ""
        # One row per primary key: a multi-row upsert may touch each row only once; the last point wins.
        rows[(p.model_id, p.key, p.step, p.timestamp, digest)] = {
            "model_id": p.model_id,
            "key": p.key,
            "step": p.step,
            "timestamp": p.timestamp,
            "dataset_digest": digest,
            "dataset_name": p.dataset_name or "",
            "run_id": run_id,
            "value": 0.0 if nan else p.value,
            "is_nan": nan,
        }
    upsert(
        conn,
        s.logged_model_metrics,
        [rows[k] for k in sorted(rows)],  # one lock order for concurrent writers
        ["model_id", "key", "step", "timestamp", "dataset_digest"],
        ["dataset_name", "run_id", "value", "is_nan"],
    )
