"""Queries of `tracklight gc`: find deleted runs, logged models and experiments, claim them, delete their rows."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from sqlalchemy import Connection, delete, exists, select, update
from sqlalchemy.sql.elements import ColumnElement

from tracklight.auth.permissions import EXPERIMENT
from tracklight.store import auth as auth_store
from tracklight.store import schema as s
from tracklight.store import traces as trace_store

# A claimed run's run_uuid starts with this character, which no run id has (they are hex): from the claim on,
# no client call can find the run by its id, so nobody can restore it or log to it while gc removes it.
TOMBSTONE = "~"
# A claimed run's lifecycle stage: no search view lists it (they select 'active' and/or 'deleted').
PURGING = "purging"

_r = s.runs.c
_lm = s.logged_models.c
_e = s.experiments.c


@dataclass(frozen=True, slots=True)
class RunRow:
    internal_id: int
    run_uuid: str
    experiment_id: int
    lifecycle_stage: str
    deleted_time: int | None
    artifact_uri: str


@dataclass(frozen=True, slots=True)
class ModelRow:
    model_id: str
    experiment_id: int
    lifecycle_stage: str
    last_updated_time: int
    artifact_uri: str


@dataclass(frozen=True, slots=True)
class ExperimentRow:
    experiment_id: int
    name: str
    artifact_location: str
    lifecycle_stage: str
    last_update_time: int


_RUN_COLUMNS = (_r.id, _r.run_uuid, _r.experiment_id, _r.lifecycle_stage, _r.deleted_time, _r.artifact_uri)
_MODEL_COLUMNS = (_lm.id, _lm.experiment_id, _lm.lifecycle_stage, _lm.last_updated_time, _lm.artifact_uri)
_EXPERIMENT_COLUMNS = (_e.id, _e.name, _e.artifact_location, _e.lifecycle_stage, _e.last_update_time)


def _runs(conn: Connection, *where: ColumnElement[bool]) -> list[RunRow]:
    rows = conn.execute(select(*_RUN_COLUMNS).where(*where).order_by(_r.id))
    return [RunRow(*row) for row in rows]


def _models(conn: Connection, *where: ColumnElement[bool]) -> list[ModelRow]:
    rows = conn.execute(select(*_MODEL_COLUMNS).where(*where).order_by(_lm.creation_time, _lm.id))
    return [ModelRow(*row) for row in rows]


def _experiments(conn: Connection, *where: ColumnElement[bool]) -> list[ExperimentRow]:
    rows = conn.execute(select(*_EXPERIMENT_COLUMNS).where(*where).order_by(_e.id))
    return [ExperimentRow(*row) for row in rows]


# -- finding ------------------------------------------------------------------------------------------


def deleted_runs(conn: Connection, deleted_by: int | None) -> list[RunRow]:
    """Runs in the deleted stage; with `deleted_by`, only those deleted at or before it (epoch ms).

    A run with no deleted_time has no known age, so an age limit leaves it out.
    """
    where = [_r.lifecycle_stage == "deleted"]
    if deleted_by is not None:
        where.append(_r.deleted_time <= deleted_by)
    return _runs(conn, *where)


def runs_by_uuid(conn: Connection, run_uuids: list[str]) -> dict[str, RunRow]:
    return {row.run_uuid: row for row in _runs(conn, _r.run_uuid.in_(run_uuids))}


def experiment_runs(conn: Connection, experiment_ids: list[int]) -> list[RunRow]:
    """Every run of these experiments, whatever its stage, that is not claimed yet."""
    return _runs(conn, _r.experiment_id.in_(experiment_ids), _r.run_uuid.not_like(f"{TOMBSTONE}%"))


def claimed_runs(conn: Connection) -> list[RunRow]:
    """Runs an earlier gc claimed and did not finish (it crashed, or is still at work)."""
    return _runs(conn, _r.run_uuid.like(f"{TOMBSTONE}%"))


def deleted_models(conn: Connection, updated_by: int | None) -> list[ModelRow]:
    where = [_lm.lifecycle_stage == "deleted"]
    if updated_by is not None:
        where.append(_lm.last_updated_time <= updated_by)
    return _models(conn, *where)


def models_by_id(conn: Connection, model_ids: list[str]) -> dict[str, ModelRow]:
    return {row.model_id: row for row in _models(conn, _lm.id.in_(model_ids))}


def experiment_models(conn: Connection, experiment_ids: list[int]) -> list[ModelRow]:
    return _models(conn, _lm.experiment_id.in_(experiment_ids))


def deleted_experiments(conn: Connection, updated_before: int | None) -> list[ExperimentRow]:
    """Experiments in the deleted stage; with `updated_before`, only those last updated before it (as MLflow
    ages experiments: by last_update_time, which deleting one sets)."""
    where = [_e.lifecycle_stage == "deleted"]
    if updated_before is not None:
        where.append(_e.last_update_time < updated_before)
    return _experiments(conn, *where)


def experiments_by_id(conn: Connection, experiment_ids: list[int]) -> dict[int, ExperimentRow]:
    return {row.experiment_id: row for row in _experiments(conn, _e.id.in_(experiment_ids))}


def artifact_locations(conn: Connection) -> dict[int, str]:
    """Every experiment's artifact location, by id: what an experiment folder must not overlap to be deleted."""
    return {int(eid): loc for eid, loc in conn.execute(select(_e.id, _e.artifact_location))}


def run_series(conn: Connection, internal_id: int) -> list[int]:
    c = s.metric_series.c
    return [
        int(i) for i in conn.execute(select(c.id).where(c.run_id == internal_id).order_by(c.id)).scalars()
    ]


# -- claiming -----------------------------------------------------------------------------------------


def lock_run(conn: Connection, run_uuid: str) -> RunRow | None:
    """The run, its row locked until the transaction ends (SQLite's write transaction locks everything)."""
    query = select(*_RUN_COLUMNS).where(_r.run_uuid == run_uuid)
    if conn.dialect.name != "sqlite":
        query = query.with_for_update()
    row = conn.execute(query).first()
    return RunRow(*row) if row is not None else None


def lock_model(conn: Connection, model_id: str) -> ModelRow | None:
    query = select(*_MODEL_COLUMNS).where(_lm.id == model_id)
    if conn.dialect.name != "sqlite":
        query = query.with_for_update()
    row = conn.execute(query).first()
    return ModelRow(*row) if row is not None else None


def lock_experiment(conn: Connection, experiment_id: int) -> ExperimentRow | None:
    query = select(*_EXPERIMENT_COLUMNS).where(_e.id == experiment_id)
    if conn.dialect.name != "sqlite":
        query = query.with_for_update()
    row = conn.execute(query).first()
    return ExperimentRow(*row) if row is not None else None


def claim_run(conn: Connection, run: RunRow) -> None:
    """Take the run out of every client's reach: a tombstone id and the purging stage.

    The logged-model metrics it wrote go now, while its id is still known: they name the run only by id.
    """
    tombstone = TOMBSTONE + uuid.uuid4().hex[:31]  # run_uuid is 32 characters wide
    conn.execute(
        update(s.runs).where(_r.id == run.internal_id).values(run_uuid=tombstone, lifecycle_stage=PURGING)
    )
    conn.execute(delete(s.logged_model_metrics).where(s.logged_model_metrics.c.run_id == run.run_uuid))
    # Issues found by the run outlive it, without the link (the reference's ON DELETE SET NULL).
    conn.execute(update(s.issues).where(s.issues.c.source_run_id == run.run_uuid).values(source_run_id=None))


# -- deleting -----------------------------------------------------------------------------------------


def delete_points(conn: Connection, series_id: int, limit: int) -> bool:
    """Delete about `limit` of the oldest points of one series; True once the series has none left.

    Bounded by (step, timestamp) rather than a row count, which PostgreSQL's DELETE cannot take: the boundary
    is the point `limit` rows in. Should more than `limit` points share one (step, timestamp), they go at once.
    """
    m = s.metrics.c
    boundary = conn.execute(
        select(m.step, m.timestamp)
        .where(m.series_id == series_id)
        .order_by(m.step, m.timestamp)
        .limit(1)
        .offset(limit)
    ).first()
    if boundary is None:
        conn.execute(delete(s.metrics).where(m.series_id == series_id))
        return True
    step, timestamp = boundary
    # (step, timestamp) < the boundary; the leading `step <= ?` gives every database an index range to scan
    # (the primary key starts with series_id, step), where the bare OR made PostgreSQL read the whole series.
    earlier = (m.step <= step) & ((m.step < step) | (m.timestamp < timestamp))
    if conn.execute(delete(s.metrics).where(m.series_id == series_id, earlier)).rowcount == 0:
        conn.execute(
            delete(s.metrics).where(m.series_id == series_id, m.step == step, m.timestamp == timestamp)
        )
    return False


def delete_run(conn: Connection, internal_id: int) -> bool:
    """Delete a run's remaining rows, children first; True if the run row was there to delete."""
    series = select(s.metric_series.c.id).where(s.metric_series.c.run_id == internal_id)
    conn.execute(delete(s.metrics).where(s.metrics.c.series_id.in_(series.scalar_subquery())))
    for table in (s.metric_series, s.params, s.run_tags, s.run_inputs, s.run_model_links):
        conn.execute(delete(table).where(table.c.run_id == internal_id))
    return conn.execute(delete(s.runs).where(_r.id == internal_id)).rowcount == 1


def delete_model(conn: Connection, model_id: str) -> bool:
    """Delete a logged model's rows; True if the model row was there to delete.

    Registered model versions made from it stay, with their source URI, as in MLflow: the registry is
    another store there, and a version outlives the run or model it was made from.
    """
    for table in (s.logged_model_params, s.logged_model_tags, s.logged_model_metrics, s.run_model_links):
        conn.execute(delete(table).where(table.c.model_id == model_id))
    return conn.execute(delete(s.logged_models).where(_lm.id == model_id)).rowcount == 1


def has_children(conn: Connection, experiment_id: int) -> bool:
    """Whether any run or logged model is still in the experiment."""
    return bool(
        conn.execute(
            select(
                exists().where(_r.experiment_id == experiment_id)
                | exists().where(_lm.experiment_id == experiment_id)
            )
        ).scalar()
    )


def delete_experiment(conn: Connection, experiment_id: int) -> bool:
    """Delete an experiment without runs or models left; its grants go too, since its id may be handed out
    again (ids are max + 1). True if the experiment row was there to delete."""
    ede = s.evaluation_dataset_experiments
    # Its traces, spans and all, go with it (one transaction: a trace-heavy experiment makes a long one).
    trace_store.delete_traces(conn, trace_store.trace_ids_of_experiments(conn, [experiment_id]))
    for table, column in (
        (s.experiment_tags, s.experiment_tags.c.experiment_id),
        (s.datasets, s.datasets.c.experiment_id),
        (ede, ede.c.experiment_id),
    ):
        conn.execute(delete(table).where(column == experiment_id))
    delete_scorers_and_issues(conn, experiment_id)
    auth_store.forget_resource(conn, EXPERIMENT, str(experiment_id))
    return conn.execute(delete(s.experiments).where(_e.id == experiment_id)).rowcount == 1


def delete_scorers_and_issues(conn: Connection, experiment_id: int) -> None:
    """Delete the experiment's registered scorers (versions and online configurations too) and issues."""
    scorer_ids = select(s.scorers.c.id).where(s.scorers.c.experiment_id == experiment_id).scalar_subquery()
    for table in (s.online_scoring_configs, s.scorer_versions):
        conn.execute(delete(table).where(table.c.scorer_id.in_(scorer_ids)))
    conn.execute(delete(s.scorers).where(s.scorers.c.experiment_id == experiment_id))
    conn.execute(delete(s.issues).where(s.issues.c.experiment_id == experiment_id))
