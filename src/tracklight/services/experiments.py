"""Experiment rules: naming, lifecycle, tags and search."""

from __future__ import annotations

import time
from pathlib import Path
from urllib.parse import unquote, urlparse, urlsplit, urlunsplit

from sqlalchemy import Connection

from tracklight.auth import gate
from tracklight.auth.permissions import EXPERIMENT, Permission
from tracklight.errors import InvalidParameter, NotFound
from tracklight.services import validation as v
from tracklight.store import experiments as store
from tracklight.store import inputs as input_store
from tracklight.store.engine import Database
from tracklight.store.records import Experiment
from tracklight.store.search.experiments import search_experiment_ids
from tracklight.store.transactions import in_transaction

MAX_DATASET_EXPERIMENTS = 20
MAX_DATASET_SUMMARIES = 1000


def _now() -> int:
    return int(time.time() * 1000)


# Experiment ids are BIGINT (SQLite INTEGER) columns: an integer outside this range is no experiment's id,
# and handing it to the database driver fails (SQLite overflows) instead of matching nothing.
_ID_RANGE = range(-(2**63), 2**63)


def _parse_id(value: str | int) -> int:
    if isinstance(value, bool):  # bool is an int in Python, but no client means True as an id
        raise InvalidParameter(f"Invalid experiment ID: '{value}'")
    try:
        return int(value)
    except (TypeError, ValueError):
        raise InvalidParameter(f"Invalid experiment ID: '{value}'") from None


def require_active(experiment_id: int, stage: str) -> None:
    """Refuse a write into an experiment that is not active (deleted), as MLflow words it."""
    if stage != "active":
        raise InvalidParameter(
            f"The experiment {experiment_id} must be in the 'active' state. Current state is {stage}."
        )


def active_location(conn: Connection, experiment_id: int) -> str:
    """The artifact location of an experiment that new runs, models or traces go into: it must exist
    (RESOURCE_DOES_NOT_EXIST) and be active."""
    location, stage = store.experiment_state(conn, experiment_id)
    require_active(experiment_id, stage)
    return location


def parse_experiment_id(value: str | int) -> int:
    """The id of one experiment to act on; an integer too big to be an id names no experiment (404)."""
    number = _parse_id(value)
    if number not in _ID_RANGE:
        raise store.missing(number)
    return number


def parse_experiment_ids(values: list[str]) -> list[int]:
    """The ids a search is limited to; one too big to be an id matches nothing, so it is left out."""
    return [n for n in (_parse_id(value) for value in values) if n in _ID_RANGE]


MAX_ARTIFACT_LOCATION_LENGTH = 2000  # the column's size


def resolve_artifact_location(location: str) -> str:
    """An experiment's artifact_location as MLflow stores it: a relative local path (or file: URI)
    made absolute against the server's working directory, anything else unchanged; locations the
    reference refuses (fragments, ;params, '..' in a query, runs: URIs) are a 400."""
    parsed = urlparse(location)
    if parsed.fragment or parsed.params:
        raise InvalidParameter("'artifact_location' URL can't include fragments or params.")
    if ".." in unquote(parsed.query):
        raise InvalidParameter("Invalid query string")
    if parsed.scheme == "runs":
        raise InvalidParameter(f"Artifact location cannot be a runs:/ URI. Given: '{location}'")
    if not parsed.scheme and not Path(unquote(location)).is_absolute():
        location = Path.cwd().joinpath(unquote(location)).as_posix()
    elif parsed.scheme == "file" and not parsed.netloc and not Path(unquote(parsed.path)).is_absolute():
        absolute = Path.cwd().joinpath(unquote(parsed.path)).as_posix()
        location = urlunsplit(("file", "", absolute, urlsplit(location).query, ""))
    if len(location) > MAX_ARTIFACT_LOCATION_LENGTH:
        raise InvalidParameter(
            f"Invalid artifact path length. An artifact_location may be at most {MAX_ARTIFACT_LOCATION_LENGTH} "
            "characters long."
        )
    return location


class Experiments:
    """Operations on experiments."""

    def __init__(self, db: Database, artifact_root: str) -> None:
        self.db = db
        self.artifact_root = artifact_root

    def ensure_default(self) -> None:
        in_transaction(self.db, lambda c: store.ensure_default_experiment(c, self.artifact_root, _now()))

    def create(self, name: str, artifact_location: str | None, tags: list[tuple[str, str]]) -> int:
        v.validate_experiment_name(name)
        for key, _ in tags:
            v.validate_key(key, "key")
        if artifact_location:
            artifact_location = resolve_artifact_location(artifact_location)

        def work(conn: Connection) -> int:
            experiment_id = store.insert_experiment(conn, name, artifact_location, self.artifact_root, _now())
            store.set_experiment_tags(
                conn,
                experiment_id,
                [(k, v.truncate(val, v.MAX_EXPERIMENT_TAG_VALUE_LENGTH)) for k, val in tags],
            )
            return experiment_id

        experiment_id = in_transaction(self.db, work)
        gate.created(EXPERIMENT, str(experiment_id))
        return experiment_id

    @gate.requires(Permission.READ, EXPERIMENT, "experiment_id")
    def get(self, experiment_id: str | int) -> Experiment:
        eid = parse_experiment_id(experiment_id)
        return in_transaction(self.db, lambda c: store.get_experiment(c, eid), write=False)

    def get_by_name(self, name: str) -> Experiment:
        experiment = in_transaction(self.db, lambda c: store.get_experiment_by_name(c, name), write=False)
        gate.check(EXPERIMENT, experiment.experiment_id, Permission.READ)
        return experiment

    @gate.requires(Permission.EDIT, EXPERIMENT, "experiment_id")
    def rename(self, experiment_id: str | int, new_name: str) -> None:
        eid = parse_experiment_id(experiment_id)
        v.validate_experiment_name(new_name)

        def work(conn: Connection) -> None:
            experiment = store.get_experiment(conn, eid)
            if experiment.lifecycle_stage != "active":
                raise InvalidParameter("Cannot rename a non-active experiment.")
            store.rename_experiment(conn, eid, new_name, _now())

        in_transaction(self.db, work)

    @gate.requires(Permission.MANAGE, EXPERIMENT, "experiment_id")
    def set_lifecycle(self, experiment_id: str | int, stage: str) -> None:
        eid = parse_experiment_id(experiment_id)

        def work(conn: Connection) -> None:
            experiment = store.get_experiment(conn, eid)
            if stage == "deleted" and eid == store.DEFAULT_EXPERIMENT_ID:
                raise InvalidParameter("Cannot delete the default experiment '0'.")
            if experiment.lifecycle_stage == stage:
                raise InvalidParameter(
                    f"Cannot {'delete' if stage == 'deleted' else 'restore'} experiment {eid}: "
                    f"it is already {stage}."
                )
            store.set_experiment_lifecycle(conn, eid, stage, _now())

        in_transaction(self.db, work)

    @gate.requires(Permission.EDIT, EXPERIMENT, "experiment_id")
    def set_tag(self, experiment_id: str | int, key: str, value: str) -> None:
        eid = parse_experiment_id(experiment_id)
        v.validate_key(key, "key")
        value = v.truncate(value, v.MAX_EXPERIMENT_TAG_VALUE_LENGTH)

        def work(conn: Connection) -> None:
            experiment = store.get_experiment(conn, eid)
            if experiment.lifecycle_stage != "active":
                raise InvalidParameter(f"The experiment {eid} must be in the 'active' state.")
            store.set_experiment_tags(conn, eid, [(key, value)])

        in_transaction(self.db, work)

    @gate.requires(Permission.EDIT, EXPERIMENT, "experiment_id")
    def delete_tag(self, experiment_id: str | int, key: str) -> None:
        eid = parse_experiment_id(experiment_id)

        def work(conn: Connection) -> None:
            experiment = store.get_experiment(conn, eid)
            if experiment.lifecycle_stage != "active":
                raise InvalidParameter(f"The experiment {eid} must be in the 'active' state.")
            if not store.delete_experiment_tag(conn, eid, key):
                raise NotFound(f"No tag with name: {key} in experiment with id {eid}")

        in_transaction(self.db, work)

    @gate.requires(Permission.READ, EXPERIMENT, "experiment_ids")
    def run_activity(self, experiment_ids: list[int]) -> dict[int, tuple[int, int | None]]:
        """(active run count, latest run start) per experiment, for listings."""
        return in_transaction(self.db, lambda c: store.run_activity(c, experiment_ids), write=False)

    def search(
        self,
        *,
        filter_string: str | None,
        view_type: str | None,
        order_by: list[str],
        max_results: int | None,
        page_token: str | None,
    ) -> tuple[list[Experiment], str | None]:
        if max_results is None or max_results <= 0:
            raise InvalidParameter(
                f"Invalid value {max_results or 0} for parameter 'max_results' supplied. "
                "It must be a positive integer."
            )
        args = v.search_args(filter_string, order_by, max_results, page_token, default=1000, cap=50000)
        view = v.validate_view_type(view_type)

        visible = gate.visible(EXPERIMENT)

        def work(conn: Connection) -> tuple[list[Experiment], str | None]:
            page = search_experiment_ids(conn, args, view_type=view, visible=visible)
            return store.get_experiments(conn, page.experiment_ids), page.next_page_token

        return in_transaction(self.db, work, write=False)

    @gate.requires(Permission.READ, EXPERIMENT, "experiment_ids")
    def dataset_summaries(self, experiment_ids: list[str]) -> list[tuple[int, str, str, str | None]]:
        """The distinct datasets (with their input context) logged to runs of these experiments."""
        if not experiment_ids:
            raise InvalidParameter("SearchDatasets request must specify at least one experiment_id.")
        if len(experiment_ids) > MAX_DATASET_EXPERIMENTS:
            raise InvalidParameter(
                f"SearchDatasets request cannot specify more than {MAX_DATASET_EXPERIMENTS} experiment_ids. "
                f"Received {len(experiment_ids)} experiment_ids."
            )
        ids = [parse_experiment_id(e) for e in experiment_ids]
        return in_transaction(
            self.db, lambda c: input_store.dataset_summaries(c, ids, MAX_DATASET_SUMMARIES), write=False
        )
