"""Queries on experiments and their tags."""

from __future__ import annotations

from sqlalchemy import Connection, func, insert, select, update
from sqlalchemy.exc import IntegrityError

from tracklight.artifacts.locations import child_uri
from tracklight.errors import AlreadyExists, NotFound
from tracklight.store import driver
from tracklight.store import schema as s
from tracklight.store.purge import PURGING
from tracklight.store.records import Experiment
from tracklight.store.tags import delete_tag, upsert_tags

DEFAULT_EXPERIMENT_ID = 0
DEFAULT_EXPERIMENT_NAME = "Default"


_ID_ATTEMPTS = 20


def _insert_row(conn: Connection, experiment_id: int, name: str, location: str, now: int) -> None:
    """Insert in a savepoint, so a unique-key clash leaves the surrounding transaction usable."""
    with conn.begin_nested():
        conn.execute(
            insert(s.experiments).values(
                id=experiment_id,
                name=name,
                artifact_location=location,
                lifecycle_stage="active",
                creation_time=now,
                last_update_time=now,
            )
        )


def insert_experiment(
    conn: Connection, name: str, artifact_location: str | None, artifact_root: str, now: int
) -> int:
    """Insert with the next free id. Ids are allocated as max+1 rather than by a sequence so that
    experiment "0" can exist on every database; a concurrent insert that took the same id makes
    this one fail its savepoint and try the next id."""
    for _ in range(_ID_ATTEMPTS):
        if conn.execute(select(s.experiments.c.id).where(s.experiments.c.name == name)).first():
            raise AlreadyExists(f"Experiment(name={name}) already exists.")
        next_id = conn.execute(select(func.coalesce(func.max(s.experiments.c.id), 0) + 1)).scalar_one()
        try:
            _insert_row(conn, next_id, name, artifact_location or child_uri(artifact_root, str(next_id)), now)
            return int(next_id)
        except IntegrityError:
            continue  # the name check above decides, on the next pass, whether it was the name or the id
    raise RuntimeError(f"could not allocate an experiment id after {_ID_ATTEMPTS} attempts")


def ensure_default_experiment(conn: Connection, artifact_root: str, now: int) -> None:
    if conn.execute(select(s.experiments.c.id).where(s.experiments.c.id == DEFAULT_EXPERIMENT_ID)).first():
        return
    try:
        location = child_uri(artifact_root, str(DEFAULT_EXPERIMENT_ID))
        _insert_row(conn, DEFAULT_EXPERIMENT_ID, DEFAULT_EXPERIMENT_NAME, location, now)
    except IntegrityError:
        pass  # another replica created it first


def _load(conn: Connection, where) -> list[Experiment]:
    rows = conn.execute(select(s.experiments).where(where)).all()
    found = {
        r.id: Experiment(
            r.id, r.name, r.artifact_location, r.lifecycle_stage, r.creation_time, r.last_update_time
        )
        for r in rows
    }
    if found:
        tag_rows = conn.execute(
            select(s.experiment_tags).where(s.experiment_tags.c.experiment_id.in_(list(found)))
        )
        for t in tag_rows:
            found[t.experiment_id].tags[t.key] = t.value
    return list(found.values())


def missing(experiment_id: int) -> NotFound:
    """The error for an experiment id that names no experiment, worded as MLflow words it."""
    return NotFound(f"No Experiment with id={experiment_id} exists")


def experiment_state(conn: Connection, experiment_id: int) -> tuple[str, str]:
    """(artifact location, lifecycle stage) of one experiment: what creating a run in it needs."""
    row = driver.first(
        conn, "SELECT artifact_location, lifecycle_stage FROM experiments WHERE id = ?", (experiment_id,)
    )
    if row is None:
        raise missing(experiment_id)
    return row[0], row[1]


def get_experiment(conn: Connection, experiment_id: int) -> Experiment:
    found = _load(conn, s.experiments.c.id == experiment_id)
    if not found:
        raise missing(experiment_id)
    return found[0]


def get_experiment_by_name(conn: Connection, name: str) -> Experiment:
    found = _load(conn, s.experiments.c.name == name)
    if not found:
        raise NotFound(f"Could not find experiment with name '{name}'")
    return found[0]


def get_experiments(conn: Connection, experiment_ids: list[int]) -> list[Experiment]:
    """Experiments in the order of the ids given."""
    by_id = {e.experiment_id: e for e in _load(conn, s.experiments.c.id.in_(experiment_ids))}
    return [by_id[i] for i in experiment_ids if i in by_id]


def rename_experiment(conn: Connection, experiment_id: int, new_name: str, now: int) -> None:
    clash = conn.execute(
        select(s.experiments.c.id).where(
            s.experiments.c.name == new_name, s.experiments.c.id != experiment_id
        )
    ).first()
    if clash:
        raise AlreadyExists(f"Experiment(name={new_name}) already exists.")
    conn.execute(
        update(s.experiments)
        .where(s.experiments.c.id == experiment_id)
        .values(name=new_name, last_update_time=now)
    )


def set_experiment_lifecycle(conn: Connection, experiment_id: int, stage: str, now: int) -> None:
    """Delete or restore an experiment together with its runs, as MLflow does."""
    conn.execute(
        update(s.experiments)
        .where(s.experiments.c.id == experiment_id)
        .values(lifecycle_stage=stage, last_update_time=now)
    )
    # A run that `tracklight gc` has claimed is on its way out: restoring the experiment leaves it so.
    conn.execute(
        update(s.runs)
        .where(s.runs.c.experiment_id == experiment_id, s.runs.c.lifecycle_stage != PURGING)
        .values(lifecycle_stage=stage, deleted_time=now if stage == "deleted" else None)
    )


def set_experiment_tags(conn: Connection, experiment_id: int, tags: list[tuple[str, str]]) -> None:
    upsert_tags(conn, s.experiment_tags, {"experiment_id": experiment_id}, tags)


def delete_experiment_tag(conn: Connection, experiment_id: int, key: str) -> bool:
    return delete_tag(conn, s.experiment_tags, {"experiment_id": experiment_id}, key)


def run_activity(conn: Connection, experiment_ids: list[int]) -> dict[int, tuple[int, int | None]]:
    """Per experiment: how many active runs it has and the latest start time among them."""
    if not experiment_ids:
        return {}
    r = s.runs.c
    rows = conn.execute(
        select(r.experiment_id, func.count(), func.max(r.start_time))
        .where(r.experiment_id.in_(experiment_ids), r.lifecycle_stage == "active")
        .group_by(r.experiment_id)
    )
    return {
        int(eid): (int(count), int(latest) if latest is not None else None) for eid, count, latest in rows
    }
