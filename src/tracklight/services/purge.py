"""The rules of `tracklight gc`: what is purged for good, in which order, and how that stays safe beside live servers.

Order, for each run: claim it, delete its artifacts, then its rows. The claim is one short transaction that
re-checks the run is still deleted (as it was when listed) and gives it a tombstone id and the 'purging'
stage (store.purge.claim_run): from then on no client can find, restore or log to it, and no search lists
it. Artifacts go before rows so that a crash at any point leaves the run in the database, claimed, with
whatever artifacts remain: every gc starts by finishing the claimed runs it finds, so nothing is ever left
in the store with no row to lead back to it. Metric points go in bounded transactions (a run may hold
millions), the remaining rows in one last one.

Logged models cannot be restored, so they need no claim: artifacts first, then the rows, after re-checking
in that transaction that the model is still deleted. An experiment goes last, once its runs and models
are gone: in one transaction that locks its row and re-checks it is still deleted and empty, its folder is
deleted (only the one the server assigned it, <artifact root>/<id>, when no other experiment's location
overlaps it), then its rows. The folder goes before the row because ids are handed out as max + 1: once the
row is gone, a new experiment may get the same id and the same folder.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta

from sqlalchemy import Connection

from tracklight.artifacts.locations import child_uri
from tracklight.artifacts.store import ArtifactStore
from tracklight.artifacts.targets import (
    MODEL_FOLDER,
    RUN_FOLDER,
    ArtifactTargets,
    join,
    overlaps,
    owned_folder,
)
from tracklight.errors import InvalidParameter, NotFound, TracklightError
from tracklight.services.experiments import parse_experiment_id
from tracklight.store import experiments as experiment_store
from tracklight.store import purge as store
from tracklight.store.engine import Database
from tracklight.store.purge import ExperimentRow, ModelRow, RunRow
from tracklight.store.transactions import in_transaction

# Metric points deleted per transaction. Only SQLite's lock blocks anyone else (the points of a claimed run
# are nobody else's rows), for about 15 ms a batch; PostgreSQL takes about 30 ms, MariaDB 100 ms
# (bench/gc_batches.py, 100,000 points, shared 2-core machine).
POINTS_PER_BATCH = 5000
# Uploads left this long are abandoned: a live one writes every few seconds, and URLs we sign last an hour.
STALE_UPLOAD_AGE_S = 86400.0

_AGE = re.compile(
    r"^(?:(?P<days>[.\d]+)d)?(?:(?P<hours>[.\d]+)h)?(?:(?P<minutes>[.\d]+)m)?(?:(?P<seconds>[.\d]+)s)?$"
)


def parse_age(text: str) -> int:
    """MLflow's --older-than format (#d#h#m#s, each part optional, decimals allowed) in milliseconds."""
    wrong = InvalidParameter(
        f"--older-than {text!r} is not an age: use #d#h#m#s, e.g. 30d, 8h, 1.5d or 1d2h3m4s"
    )
    match = _AGE.match(text.strip())
    if not text.strip() or match is None:
        raise wrong
    try:
        parts = {name: float(value) for name, value in match.groupdict().items() if value}
    except ValueError:
        raise wrong from None
    return int(timedelta(**parts).total_seconds() * 1000)


def _split_ids(text: str | None) -> list[str]:
    """The distinct ids of a comma-separated list, in order."""
    return list(dict.fromkeys(part.strip() for part in (text or "").split(",") if part.strip()))


@dataclass(frozen=True, slots=True)
class Selection:
    """What to purge, as `mlflow gc` takes it: an age, and optional lists of ids (comma-separated)."""

    older_than: str | None = None
    run_ids: str | None = None
    experiment_ids: str | None = None
    logged_model_ids: str | None = None

    @property
    def named(self) -> bool:
        """Whether any id is named (an empty list, as MLflow takes it, names none)."""
        return any(_split_ids(v) for v in (self.run_ids, self.experiment_ids, self.logged_model_ids))


@dataclass
class Plan:
    """What a selection comes to, listed before anything is deleted."""

    claimed: list[RunRow] = field(default_factory=list)  # left half-purged by an earlier gc
    runs: list[RunRow] = field(default_factory=list)
    models: list[ModelRow] = field(default_factory=list)
    experiments: list[ExperimentRow] = field(default_factory=list)
    # Runs and models that go because their experiment does, whatever their own stage and age (as MLflow).
    cascade_runs: dict[int, list[RunRow]] = field(default_factory=dict)
    cascade_models: dict[int, list[ModelRow]] = field(default_factory=dict)


@dataclass
class Outcome:
    """What a gc did (or, dry, would do)."""

    runs: int = 0
    models: int = 0
    experiments: int = 0
    uploads: int = 0
    skipped: int = 0  # changed under us (restored, or taken by another gc): left alone
    failed: int = 0  # errors, each reported; the item stays for the next gc


def _named_runs(conn: Connection, run_ids: list[str], cutoff: int | None, older: str) -> list[RunRow]:
    found = store.runs_by_uuid(conn, run_ids) if run_ids else {}
    for run_id in run_ids:
        run = found.get(run_id)
        if run is None:
            raise NotFound(f"Run with id={run_id} not found")
        if run.lifecycle_stage != "deleted":
            raise InvalidParameter(
                f"Run {run_id} is not in the deleted lifecycle stage; only deleted runs can be purged."
            )
        if cutoff is not None and (run.deleted_time is None or run.deleted_time > cutoff):
            raise InvalidParameter(f"Run {run_id} was not deleted {older}; only such runs can be purged.")
    return [found[run_id] for run_id in run_ids]


def _named_models(conn: Connection, model_ids: list[str], cutoff: int | None, older: str) -> list[ModelRow]:
    found = store.models_by_id(conn, model_ids) if model_ids else {}
    for model_id in model_ids:
        model = found.get(model_id)
        if model is None:
            raise NotFound(f"Logged model with id={model_id} not found")
        if model.lifecycle_stage != "deleted":
            raise InvalidParameter(
                f"Logged model {model_id} is not in the deleted lifecycle stage; "
                "only deleted logged models can be purged."
            )
        if cutoff is not None and model.last_updated_time > cutoff:
            raise InvalidParameter(
                f"Logged model {model_id} was not deleted {older}; only such logged models can be purged."
            )
    return [found[model_id] for model_id in model_ids]


def _named_experiments(
    conn: Connection, ids: list[str], cutoff: int | None, older: str
) -> list[ExperimentRow]:
    """The experiments named, checked together as MLflow checks them (one error lists every offender)."""
    experiment_ids = list(dict.fromkeys(parse_experiment_id(e) for e in ids))
    found = store.experiments_by_id(conn, experiment_ids) if experiment_ids else {}
    for eid in experiment_ids:
        if eid not in found:
            raise experiment_store.missing(eid)
    active = [e for e in experiment_ids if found[e].lifecycle_stage != "deleted"]
    if active:
        raise InvalidParameter(
            f"Experiments {active} are not in the deleted lifecycle stage; only deleted experiments can be purged."
        )
    # MLflow's rule for experiments: last_update_time strictly before the cutoff.
    young = [e for e in experiment_ids if cutoff is not None and found[e].last_update_time >= cutoff]
    if young:
        raise InvalidParameter(
            f"Experiments {young} were not deleted {older}; only such experiments can be purged."
        )
    return [found[e] for e in experiment_ids]


class Purge:
    """One gc pass over a database and the artifact stores its rows point to."""

    def __init__(
        self,
        db: Database,
        targets: ArtifactTargets,
        *,
        artifact_root: str,
        emit: Callable[[str], None] = print,
        warn: Callable[[str], None] = print,
        now_ms: Callable[[], int] = lambda: int(time.time() * 1000),
    ) -> None:
        self.db = db
        self.targets = targets
        self.artifact_root = artifact_root  # the root new experiments get folders under (Settings)
        self.emit = emit
        self.warn = warn
        self.now_ms = now_ms

    # -- planning ---------------------------------------------------------------------------------------

    def plan(self, selection: Selection) -> Plan:
        """What the selection names, checked as MLflow checks it: a named id must exist, be deleted, and be
        older than --older-than; otherwise nothing at all is deleted. With no ids, everything deleted (and old
        enough) goes. Unlike MLflow, naming some ids purges only those (MLflow also purges every other deleted
        run and logged model when only --experiment-ids is given)."""
        age = parse_age(selection.older_than) if selection.older_than is not None else None
        cutoff = self.now_ms() - age if age is not None else None
        return in_transaction(self.db, lambda conn: self._plan(conn, selection, cutoff), write=False)

    def _plan(self, conn: Connection, selection: Selection, cutoff: int | None) -> Plan:
        plan = Plan(claimed=store.claimed_runs(conn))
        older = f"older than {selection.older_than}"
        if not selection.named:
            plan.runs = store.deleted_runs(conn, cutoff)
            plan.models = store.deleted_models(conn, cutoff)
            plan.experiments = store.deleted_experiments(conn, cutoff)
        plan.runs += _named_runs(conn, _split_ids(selection.run_ids), cutoff, older)
        plan.models += _named_models(conn, _split_ids(selection.logged_model_ids), cutoff, older)
        plan.experiments += _named_experiments(conn, _split_ids(selection.experiment_ids), cutoff, older)
        if plan.experiments:
            eids = [e.experiment_id for e in plan.experiments]
            for run in store.experiment_runs(conn, eids):
                plan.cascade_runs.setdefault(run.experiment_id, []).append(run)
            for model in store.experiment_models(conn, eids):
                plan.cascade_models.setdefault(model.experiment_id, []).append(model)
            # A run or model listed on its own and through its experiment goes once, with its experiment.
            cascading = set(eids)
            plan.runs = [r for r in plan.runs if r.experiment_id not in cascading]
            plan.models = [m for m in plan.models if m.experiment_id not in cascading]
        return plan

    # -- doing ------------------------------------------------------------------------------------------

    def run(self, plan: Plan, *, dry_run: bool = False) -> Outcome:
        outcome = Outcome()
        for run in plan.claimed:
            self._run(run, None, outcome, dry_run, claimed=True)
        for run in plan.runs:
            self._run(run, None, outcome, dry_run)
        for model in plan.models:
            self._model(model, None, outcome, dry_run)
        for experiment in plan.experiments:
            eid = experiment.experiment_id
            for run in plan.cascade_runs.get(eid, []):
                self._run(run, eid, outcome, dry_run)
            for model in plan.cascade_models.get(eid, []):
                self._model(model, eid, outcome, dry_run)
            self._experiment(experiment, outcome, dry_run)
        return outcome

    def _run(
        self, run: RunRow, cascade: int | None, outcome: Outcome, dry_run: bool, *, claimed: bool = False
    ) -> None:
        name = (
            f"run {run.run_uuid}" if not claimed else f"run at {run.artifact_uri} (claimed by an earlier gc)"
        )
        if dry_run:
            self.emit(f"Would purge {name} of experiment {run.experiment_id}.")
            outcome.runs += 1
            return
        try:
            if not claimed and not in_transaction(self.db, lambda conn: self._claim(conn, run, cascade)):
                outcome.skipped += 1
                self.warn(f"Skipped {name}: it was restored, or purged by someone else, since it was listed.")
                return
            self._delete_artifacts(owned_folder(run.artifact_uri, RUN_FOLDER), name)
            for series_id in in_transaction(
                self.db, lambda conn: store.run_series(conn, run.internal_id), write=False
            ):
                while not in_transaction(
                    self.db, lambda conn, sid=series_id: store.delete_points(conn, sid, POINTS_PER_BATCH)
                ):
                    pass
            if in_transaction(self.db, lambda conn: store.delete_run(conn, run.internal_id)):
                outcome.runs += 1
                self.emit(f"Purged {name}.")
        except Exception as exc:  # noqa: BLE001 - reported; the claimed run is finished by the next gc
            outcome.failed += 1
            self.warn(f"Could not purge {name}: {_describe(exc)}")

    def _claim(self, conn: Connection, listed: RunRow, cascade: int | None) -> bool:
        """Claim the run if it is still what was listed: deleted by the same deletion (its deleted_time
        unchanged), or, when its experiment is being purged, in an experiment that is still deleted."""
        # The experiment's row first, then the run's: the order in which restoring an experiment locks them.
        if cascade is not None:
            experiment = store.lock_experiment(conn, cascade)
            if experiment is None or experiment.lifecycle_stage != "deleted":
                return False
        run = store.lock_run(conn, listed.run_uuid)
        if run is None:
            return False
        if cascade is None and (run.lifecycle_stage != "deleted" or run.deleted_time != listed.deleted_time):
            return False
        store.claim_run(conn, run)
        return True

    def _model(self, model: ModelRow, cascade: int | None, outcome: Outcome, dry_run: bool) -> None:
        name = f"logged model {model.model_id}"
        if dry_run:
            self.emit(f"Would purge {name} of experiment {model.experiment_id}.")
            outcome.models += 1
            return
        try:
            if not in_transaction(
                self.db, lambda conn: self._model_eligible(conn, model, cascade, lock=False), write=False
            ):
                outcome.skipped += 1
                self.warn(f"Skipped {name}: it changed, or was purged by someone else, since it was listed.")
                return
            self._delete_artifacts(owned_folder(model.artifact_uri, MODEL_FOLDER), name)

            def finish(conn: Connection) -> bool:
                return self._model_eligible(conn, model, cascade, lock=True) and store.delete_model(
                    conn, model.model_id
                )

            if in_transaction(self.db, finish):
                outcome.models += 1
                self.emit(f"Purged {name}.")
            else:
                outcome.skipped += 1
        except Exception as exc:  # noqa: BLE001 - reported; the model is still deleted and goes next time
            outcome.failed += 1
            self.warn(f"Could not purge {name}: {_describe(exc)}")

    def _model_eligible(self, conn: Connection, listed: ModelRow, cascade: int | None, *, lock: bool) -> bool:
        if cascade is not None:
            experiment = (
                store.lock_experiment(conn, cascade)
                if lock
                else store.experiments_by_id(conn, [cascade]).get(cascade)
            )
            if experiment is None or experiment.lifecycle_stage != "deleted":
                return False
        if lock:
            model = store.lock_model(conn, listed.model_id)
        else:
            model = store.models_by_id(conn, [listed.model_id]).get(listed.model_id)
        return model is not None and (cascade is not None or model.lifecycle_stage == "deleted")

    def _experiment(self, listed: ExperimentRow, outcome: Outcome, dry_run: bool) -> None:
        eid = listed.experiment_id
        name = f"experiment {eid} ({listed.name})"
        if dry_run:
            self.emit(f"Would purge {name}.")
            outcome.experiments += 1
            return
        notes: list[str] = []

        def finish(conn: Connection) -> str:
            experiment = store.lock_experiment(conn, eid)
            if experiment is None:
                return "gone"
            if experiment.lifecycle_stage != "deleted":
                return "restored"
            if store.has_children(conn, eid):
                return "busy"
            notes.clear()
            folder = self._experiment_folder(conn, experiment, notes)
            if folder is not None:
                self._delete_artifacts(folder, name)
            return "deleted" if store.delete_experiment(conn, eid) else "gone"

        try:
            result = in_transaction(self.db, finish)
        except Exception as exc:  # noqa: BLE001 - reported; the experiment is still deleted and goes next time
            outcome.failed += 1
            self.warn(f"Could not purge {name}: {_describe(exc)}")
            return
        for note in notes:
            self.warn(note)
        if result == "deleted":
            outcome.experiments += 1
            self.emit(f"Purged {name}.")
        elif result == "restored":
            outcome.skipped += 1
            self.warn(f"Skipped {name}: it was restored while gc ran.")
        elif result == "busy":
            # Another gc is still purging some of its runs, or one failed here (and was counted above).
            outcome.skipped += 1
            self.warn(
                f"Left {name} for a later gc: some of its runs or logged models are still being purged."
            )
        else:
            outcome.skipped += 1

    def _experiment_folder(self, conn: Connection, experiment: ExperimentRow, notes: list[str]) -> str | None:
        """The experiment's folder, if it is safe to delete: the one the server assigned, and no other
        experiment's location inside it, around it, or the same."""
        location = experiment.artifact_location
        mine = self.targets.canonical(location)
        assigned = {
            self.targets.canonical(child_uri(self.artifact_root, str(experiment.experiment_id))),
            join(self.targets.destination_root, str(experiment.experiment_id)),
        }
        if mine is None or mine not in assigned:
            notes.append(
                f"Left the artifact location of experiment {experiment.experiment_id} ({location}) alone: "
                "it is not a folder this server assigned, so it may hold other data."
            )
            return None
        for other_id, other in store.artifact_locations(conn).items():
            theirs = self.targets.canonical(other)
            if other_id != experiment.experiment_id and theirs is not None and overlaps(mine, theirs):
                notes.append(
                    f"Left the artifact location of experiment {experiment.experiment_id} ({location}) alone: "
                    f"experiment {other_id}'s location ({other}) overlaps it."
                )
                return None
        return location

    def _delete_artifacts(self, uri: str, name: str) -> None:
        try:
            found = self.targets.target(uri)
        except InvalidParameter as exc:
            # As MLflow: an artifact URI that cannot be resolved is reported, and the metadata still goes.
            self.warn(
                f"Left the artifacts of {name} alone: {exc.message}. Delete them by hand if they exist."
            )
            return
        if found is not None:
            store_, path = found
            store_.delete(path)

    def sweep(
        self, destination: ArtifactStore | None, max_age_s: float, outcome: Outcome, *, dry_run: bool
    ) -> None:
        """Remove what abandoned uploads left in the artifact destination."""
        if destination is None:
            return
        try:
            swept = destination.sweep_uploads(max_age_s, dry_run=dry_run)
        except Exception as exc:  # noqa: BLE001 - reported; the next gc sweeps again
            outcome.failed += 1
            self.warn(f"Could not sweep abandoned uploads: {_describe(exc)}")
            return
        for line in swept:
            self.emit(f"{'Would remove' if dry_run else 'Removed'} abandoned upload {line}.")
        outcome.uploads += len(swept)


def _describe(exc: BaseException) -> str:
    if isinstance(exc, TracklightError):
        return exc.message
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[0]}" if text else type(exc).__name__
