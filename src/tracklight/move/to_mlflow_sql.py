"""`tracklight export-mlflow`: write a Tracklight store into a fresh MLflow SQL store, at that store's schema.

The target is created, empty, by the chosen MLflow release itself; this module never creates or alters a
table there. It reflects the target's tables and writes, of each row, the columns that release has. The
source is read in one snapshot, as streams of batches (memory stays flat whatever the store's size), and
everything is written in one transaction on the target: an export that fails leaves the target as it was.
"""

from __future__ import annotations

import contextlib
import json
import math
import uuid
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Connection, Select, delete, func, select, update
from sqlalchemy.exc import DBAPIError

from tracklight.cli_messages import first_line
from tracklight.move.mlflow_target import (
    MlflowTarget,
    TargetRefused,
    advance_sequences,
    check_fresh,
    open_target,
)
from tracklight.store import schema as s
from tracklight.store.engine import Database, open_database
from tracklight.store.migrate import check_current
from tracklight.store.search.logged_models import STATUSES

BATCH = 1000
_MAX_DOUBLE = 1.7976931348623157e308  # MLflow's SQL store keeps ±inf as ±max double
_DELETED_VERSION = "Deleted_Internal"  # MLflow's stage for a deleted version's row, which keeps its number
# MLflow's SQL store keeps a logged model's status as the enum's number.
_STATUS_NUMBERS = {name: int(spellings[-1]) for name, spellings in STATUSES.items()}
# Columns MLflow fills on every run that Tracklight has no data for, with the values MLflow's store writes.
_RUN_FILLER = {"source_type": "UNKNOWN", "source_name": "", "entry_point_name": "", "source_version": ""}


_ROLLED_BACK = "; the export was rolled back, the target is as it was"


class ExportRefused(ValueError):
    """The export cannot start (or would leave data out without --allow-loss); nothing was written."""


class ExportFailed(RuntimeError):
    """The export failed part-way; its message says whether the target was rolled back (it always is, unless
    the connection was lost during the final COMMIT)."""


@dataclass
class ExportReport:
    """What was written (rows per target table), what was left out, and what the reader should know."""

    revision: str
    written: dict[str, int] = field(default_factory=dict)
    left_out: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


class _Sink:
    """Buffers rows per target table and inserts them in batches, keeping only the columns the target has."""

    def __init__(self, conn: Connection, target: MlflowTarget, report: ExportReport) -> None:
        self.conn = conn
        self.target = target
        self.report = report
        self._rows: dict[str, list[dict[str, Any]]] = {}
        self._columns = {name: set(table.c.keys()) for name, table in target.tables.items()}

    def add(self, table: str, row: dict[str, Any]) -> None:
        columns = self._columns.get(table)
        if columns is None:
            return  # left out: the up-front check reported it
        rows = self._rows.setdefault(table, [])
        rows.append({k: v for k, v in row.items() if k in columns})
        if len(rows) >= BATCH:
            self._flush(table)

    def flush(self) -> None:
        """Write everything buffered: called between parts, so rows land after the rows they refer to."""
        for table in list(self._rows):
            self._flush(table)

    def _flush(self, table: str) -> None:
        rows = self._rows.pop(table, [])
        if not rows:
            return
        try:
            self.conn.execute(self.target.tables[table].insert(), rows)
        except DBAPIError as exc:
            raise ExportFailed(f"writing {table} failed: {first_line(exc.orig)}{_ROLLED_BACK}") from exc
        self.report.written[table] = self.report.written.get(table, 0) + len(rows)


def _stream(conn: Connection, stmt: Select[Any]) -> Iterator[Any]:
    """Rows of one query, fetched BATCH at a time by a server-side cursor. Each stream is read to its end
    before the next starts (MySQL's driver allows one open stream per connection)."""
    result = conn.execution_options(stream_results=True, yield_per=BATCH).execute(stmt)
    for part in result.partitions():
        yield from part


def _value(value: float, is_nan: bool) -> float:
    """A metric value as MLflow's SQL store holds it: NaN as 0 (is_nan says so), infinities as ±max double."""
    if is_nan or math.isnan(value):
        return 0.0
    if math.isinf(value):
        return math.copysign(_MAX_DOUBLE, value)
    return value


# -- the parts of a store, in the order their rows may refer to each other ----------------------------------


def _experiments(src: Connection, sink: _Sink) -> None:
    e = s.experiments.c
    target_exp = sink.target.tables["experiments"]
    for row in _stream(src, select(s.experiments).order_by(e.id)):
        values = {
            "name": row.name,
            "artifact_location": row.artifact_location,
            "lifecycle_stage": row.lifecycle_stage,
            "creation_time": row.creation_time,
            "last_update_time": row.last_update_time,
        }
        if row.id == 0:
            # MLflow's own Default experiment may be there already: it becomes ours, tags and all.
            values = {k: v for k, v in values.items() if k in target_exp.c}
            target_tags = sink.target.tables["experiment_tags"]
            sink.conn.execute(delete(target_tags).where(target_tags.c.experiment_id == 0))
            done = sink.conn.execute(update(target_exp).where(target_exp.c.experiment_id == 0).values(values))
            if done.rowcount:
                sink.report.written["experiments"] = sink.report.written.get("experiments", 0) + 1
                continue
        sink.add("experiments", {"experiment_id": row.id, **values})
    sink.flush()
    t = s.experiment_tags.c
    for row in _stream(src, select(t.experiment_id, t.key, t.value)):
        sink.add("experiment_tags", {"experiment_id": row.experiment_id, "key": row.key, "value": row.value})
    sink.flush()


def _runs(src: Connection, sink: _Sink) -> None:
    r = s.runs.c
    for row in _stream(src, select(s.runs).order_by(r.id)):
        sink.add(
            "runs",
            {
                "run_uuid": row.run_uuid,
                "experiment_id": row.experiment_id,
                "name": row.name,
                "user_id": row.user_id,
                "status": row.status,
                "start_time": row.start_time,
                "end_time": row.end_time,
                "lifecycle_stage": row.lifecycle_stage,
                "artifact_uri": row.artifact_uri,
                "deleted_time": row.deleted_time,
                **_RUN_FILLER,
            },
        )
    sink.flush()
    for source, target in ((s.params, "params"), (s.run_tags, "tags")):
        stmt = select(r.run_uuid, source.c.key, source.c.value).join_from(
            source, s.runs, source.c.run_id == r.id
        )
        for row in _stream(src, stmt):
            sink.add(target, {"run_uuid": row.run_uuid, "key": row.key, "value": row.value})
        sink.flush()


def _metrics(src: Connection, sink: _Sink) -> None:
    """Every point, and per series the latest as MLflow's store keeps it: the largest (step, timestamp, value),
    NaN counting as 0. MLflow keeps the first logged of tied points; the logging order is not stored, so of a
    NaN and a 0 at the same step and timestamp the 0 is taken."""
    m, ms, r = s.metrics.c, s.metric_series.c, s.runs.c
    stmt = (
        select(m.series_id, r.run_uuid, ms.key, m.step, m.timestamp, m.value, m.is_nan)
        .join_from(s.metrics, s.metric_series, m.series_id == ms.id)
        .join(s.runs, ms.run_id == r.id)
        .order_by(m.series_id, m.step, m.timestamp, m.value, m.is_nan)
    )
    series, latest = None, None
    for row in _stream(src, stmt):
        point = {
            "run_uuid": row.run_uuid,
            "key": row.key,
            "step": row.step,
            "timestamp": row.timestamp,
            "value": _value(row.value, bool(row.is_nan)),
            "is_nan": bool(row.is_nan),
        }
        sink.add("metrics", point)
        if row.series_id != series:
            if latest is not None:
                sink.add("latest_metrics", latest)
            series, latest = row.series_id, point
        elif (point["step"], point["timestamp"], point["value"]) > (
            latest["step"],  # type: ignore[index]
            latest["timestamp"],  # type: ignore[index]
            latest["value"],  # type: ignore[index]
        ):
            latest = point
    if latest is not None:
        sink.add("latest_metrics", latest)
    sink.flush()


def _inputs(src: Connection, sink: _Sink, ids: Callable[[str], str]) -> None:
    """Datasets (one per experiment, name and digest) and the runs' inputs of them, with their tags.
    MLflow keys both by uuids Tracklight does not keep; they are derived from our ids, so no map is held."""
    for row in _stream(src, select(s.datasets)):
        sink.add(
            "datasets",
            {
                "dataset_uuid": ids(f"dataset:{row.id}"),
                "experiment_id": row.experiment_id,
                "name": row.name,
                "digest": row.digest,
                "dataset_source_type": row.source_type,
                "dataset_source": row.source,
                "dataset_schema": row.schema,
                "dataset_profile": row.profile,
            },
        )
    sink.flush()
    ri, r = s.run_inputs.c, s.runs.c
    stmt = select(r.run_uuid, ri.dataset_id, ri.tags).join_from(s.run_inputs, s.runs, ri.run_id == r.id)
    for row in _stream(src, stmt):
        input_uuid = ids(f"input:{row.run_uuid}:{row.dataset_id}")
        sink.add(
            "inputs",
            {
                "input_uuid": input_uuid,
                "source_type": "DATASET",
                "source_id": ids(f"dataset:{row.dataset_id}"),
                "destination_type": "RUN",
                "destination_id": row.run_uuid,
                "step": 0,
            },
        )
        tags = {t["key"]: t["value"] for t in json.loads(row.tags or "[]")}
        for key, value in tags.items():
            sink.add("input_tags", {"input_uuid": input_uuid, "name": key, "value": value})
    sink.flush()


def _logged_models(src: Connection, sink: _Sink, ids: Callable[[str], str]) -> None:
    """MLflow 3 logged models with their params, tags and metrics, and the runs' links to them."""
    lm = s.logged_models.c
    for row in _stream(src, select(s.logged_models).order_by(lm.creation_time)):
        sink.add(
            "logged_models",
            {
                "model_id": row.id,
                "experiment_id": row.experiment_id,
                "name": row.name,
                "artifact_location": row.artifact_uri,
                "creation_timestamp_ms": row.creation_time,
                "last_updated_timestamp_ms": row.last_updated_time,
                "status": _STATUS_NUMBERS.get(row.status, 0),
                "lifecycle_stage": row.lifecycle_stage,
                "model_type": row.model_type,
                "source_run_id": row.source_run_id,
                "status_message": row.status_message,
            },
        )
    sink.flush()
    for source, target, key, value in (
        (s.logged_model_params, "logged_model_params", "param_key", "param_value"),
        (s.logged_model_tags, "logged_model_tags", "tag_key", "tag_value"),
    ):
        stmt = select(source.c.model_id, lm.experiment_id, source.c.key, source.c.value).join_from(
            source, s.logged_models, source.c.model_id == lm.id
        )
        for row in _stream(src, stmt):
            sink.add(
                target,
                {
                    "model_id": row.model_id,
                    "experiment_id": row.experiment_id,
                    key: row.key,
                    value: row.value,
                },
            )
        sink.flush()
    mm, r = s.logged_model_metrics.c, s.runs.c
    stmt = select(s.logged_model_metrics, r.experiment_id).join_from(
        s.logged_model_metrics, s.runs, mm.run_id == r.run_uuid
    )
    for row in _stream(src, stmt):
        sink.add(
            "logged_model_metrics",
            {
                "model_id": row.model_id,
                "metric_name": row.key,
                "metric_timestamp_ms": row.timestamp,
                "metric_step": row.step,
                "metric_value": _value(row.value, bool(row.is_nan)),
                "experiment_id": row.experiment_id,
                "run_id": row.run_id,
                "dataset_uuid": None,  # what MLflow's store records for metrics logged with a dataset name
                "dataset_name": row.dataset_name or None,
                "dataset_digest": row.dataset_digest or None,
            },
        )
    sink.flush()
    link, r = s.run_model_links.c, s.runs.c
    stmt = select(r.run_uuid, link.direction, link.model_id, link.step).join_from(
        s.run_model_links, s.runs, link.run_id == r.id
    )
    for row in _stream(src, stmt):
        kind = "INPUT" if row.direction == "input" else "OUTPUT"
        sink.add(
            "inputs",
            {
                "input_uuid": ids(f"model-{kind}:{row.run_uuid}:{row.model_id}"),
                "source_type": f"RUN_{kind}",
                "source_id": row.run_uuid,
                "destination_type": f"MODEL_{kind}",
                "destination_id": row.model_id,
                "step": row.step or 0,
            },
        )
    sink.flush()


def _registry(src: Connection, sink: _Sink) -> None:
    rm = s.registered_models.c
    for row in _stream(src, select(s.registered_models).order_by(rm.id)):
        sink.add(
            "registered_models",
            {
                "name": row.name,
                "creation_time": row.creation_time,
                "last_updated_time": row.last_updated_time,
                "description": row.description,
            },
        )
    sink.flush()
    t = s.registered_model_tags.c
    stmt = select(rm.name, t.key, t.value).join_from(
        s.registered_model_tags, s.registered_models, t.registered_model_id == rm.id
    )
    for row in _stream(src, stmt):
        sink.add("registered_model_tags", {"name": row.name, "key": row.key, "value": row.value})
    sink.flush()
    _versions(src, sink)
    vt, a = s.model_version_tags.c, s.registered_model_aliases.c
    stmt = select(rm.name, vt.version, vt.key, vt.value).join_from(
        s.model_version_tags, s.registered_models, vt.registered_model_id == rm.id
    )
    for row in _stream(src, stmt):
        sink.add(
            "model_version_tags",
            {"name": row.name, "version": row.version, "key": row.key, "value": row.value},
        )
    stmt = select(rm.name, a.alias, a.version).join_from(
        s.registered_model_aliases, s.registered_models, a.registered_model_id == rm.id
    )
    for row in _stream(src, stmt):
        sink.add("registered_model_aliases", {"name": row.name, "alias": row.alias, "version": row.version})
    sink.flush()


def _versions(src: Connection, sink: _Sink) -> None:
    """Model versions. A deleted version's number never comes back in Tracklight (registered_models keeps the
    highest number handed out); MLflow gets the same by keeping a deleted version's row, redacted, in the
    stage Deleted_Internal. So numbers that were handed out and deleted get such rows."""
    rm, mv = s.registered_models.c, s.model_versions.c
    stmt = (
        select(
            rm.id, rm.name, rm.last_version, rm.last_updated_time.label("model_updated"), *s.model_versions.c
        )
        .select_from(s.registered_models.outerjoin(s.model_versions, mv.registered_model_id == rm.id))
        .order_by(rm.id, mv.version)
    )
    model, name, last, updated, expected = None, "", 0, 0, 1

    def deleted_up_to(end: int) -> None:
        nonlocal expected
        for number in range(expected, end):
            sink.add(
                "model_versions",
                {
                    "name": name,
                    "version": number,
                    "creation_time": updated,
                    "last_updated_time": updated,
                    "description": None,
                    "user_id": None,
                    "current_stage": _DELETED_VERSION,
                    "source": "REDACTED-SOURCE-PATH",
                    "storage_location": None,
                    "run_id": "REDACTED-RUN-ID",
                    "run_link": "REDACTED-RUN-LINK",
                    "model_id": None,
                    "status": "READY",
                    "status_message": None,
                },
            )
        expected = max(expected, end)

    for row in _stream(src, stmt):
        if row.id != model:
            if model is not None:
                deleted_up_to(last + 1)
            model, name, last, updated, expected = row.id, row.name, row.last_version, row.model_updated, 1
        if row.version is None:
            continue
        deleted_up_to(row.version)
        sink.add(
            "model_versions",
            {
                "name": row.name,
                "version": row.version,
                "creation_time": row.creation_time,
                "last_updated_time": row.last_updated_time,
                "description": row.description,
                "user_id": row.user_id,
                "current_stage": row.current_stage,
                "source": row.source,
                "storage_location": row.storage_location,
                "run_id": row.run_id,
                "run_link": row.run_link,
                "model_id": row.model_id,  # written only where the target release has the column
                "status": row.status,
                "status_message": row.status_message,
            },
        )
        expected = row.version + 1
    if model is not None:
        deleted_up_to(last + 1)
    sink.flush()


# -- what the target cannot hold ------------------------------------------------------------------------------


def _count(conn: Connection, table: Any, *where: Any) -> int:
    return int(conn.execute(select(func.count()).select_from(table).where(*where)).scalar_one())


def _left_out(src: Connection, target: MlflowTarget) -> list[str]:
    """What of the source the target's schema has no place for, one line each (empty: nothing)."""
    release = f"the target's schema (revision {target.revision})"
    losses: list[str] = []
    models = _count(src, s.logged_models)
    if models and not target.has("logged_models"):
        losses.append(
            f"{models} logged models with their params, tags and metrics: {release} has no logged models"
        )
    links = _count(src, s.run_model_links)
    if links and not (target.has("logged_models") and target.has("inputs", "step")):
        losses.append(f"{links} links between runs and logged models: {release} has no logged models")
    with_dataset = _count(src, s.logged_model_metrics, s.logged_model_metrics.c.dataset_digest != "")
    if (
        with_dataset
        and target.has("logged_model_metrics")
        and not target.has("logged_model_metrics", "dataset_name")
    ):
        losses.append(
            f"the datasets of {with_dataset} logged-model metric points: {release} has no column for them"
        )
    deleted = _count(src, s.runs, s.runs.c.deleted_time.is_not(None))
    if deleted and not target.has("runs", "deleted_time"):
        losses.append(f"the deletion times of {deleted} deleted runs: {release} has no runs.deleted_time")
    evaluation = _count(src, s.evaluation_datasets)
    if evaluation:
        losses.append(f"{evaluation} evaluation datasets with their records: this export does not carry them")
    scorers = _count(src, s.scorers)
    if scorers:
        losses.append(f"{scorers} registered scorers with their versions: this export does not carry them")
    issues = _count(src, s.issues)
    if issues:
        losses.append(f"{issues} issues: this export does not carry them")
    return losses


def _notes(src: Connection, target: MlflowTarget) -> list[str]:
    notes = []
    users = _count(src, s.auth_users)
    if users:
        notes.append(
            f"{users} users with their tokens and permissions stay behind: MLflow keeps those in its "
            "authentication app's own database"
        )
    if not target.has("model_versions", "model_id") and _count(
        src, s.model_versions, s.model_versions.c.model_id.is_not(None)
    ):
        notes.append(
            "a model version's model_id is kept in its source (models:/<model_id>) only, as in MLflow's SQL store, "
            "which has no column for it"
        )
    return notes


# -- the export ------------------------------------------------------------------------------------------------


def export(
    source_uri: str,
    target_uri: str,
    *,
    allow_loss: bool = False,
    progress: Callable[[str], None] | None = None,
) -> ExportReport:
    """Copy the Tracklight store at source_uri into the fresh MLflow store at target_uri.

    Raises, before writing anything, ExportRefused when the target is not a fresh MLflow store or cannot hold
    part of the source (unless allow_loss), SchemaOutOfDate when the source is not a current Tracklight store;
    ExportFailed when reading or writing fails part-way, after rolling the target back.
    """
    say = progress or (lambda _line: None)
    try:
        target = open_target(target_uri)
    except TargetRefused as exc:
        raise ExportRefused(str(exc)) from None
    source = open_database(source_uri, pool_size=1)
    try:
        check_current(source)  # also refuses an MLflow store given as the source
        with _snapshot(source) as src:
            report = ExportReport(target.revision, left_out=_left_out(src, target), notes=_notes(src, target))
            if report.left_out and not allow_loss:
                raise ExportRefused(
                    "the target's MLflow schema cannot hold all of this store; nothing was written. Left out "
                    "would be:\n  "
                    + "\n  ".join(report.left_out)
                    + "\nExport into a store made by a newer MLflow "
                    "release, or pass --allow-loss to export without them."
                )
            _write(src, target, report, say)
        return report
    except TargetRefused as exc:
        raise ExportRefused(str(exc)) from None
    finally:
        source.dispose()
        target.engine.dispose()


def _write(src: Connection, target: MlflowTarget, report: ExportReport, say: Callable[[str], None]) -> None:
    """Every part, in one transaction on the target: rolled back whole if any of it fails."""
    with target.engine.connect() as conn:
        transaction = conn.begin()
        try:
            if conn.dialect.name == "mysql":
                # Experiment 0 is an explicit 0 in an AUTO_INCREMENT column, which MySQL would otherwise take as
                # "the next id" (MLflow sets the same mode to create its Default experiment); strict modes stay.
                conn.exec_driver_sql(
                    "SET SESSION sql_mode = CONCAT_WS(',', NULLIF(@@SESSION.sql_mode, ''), 'NO_AUTO_VALUE_ON_ZERO')"
                )
            check_fresh(conn, target)
            sink = _Sink(conn, target, report)
            ids = _uuid_maker()
            for label, part in (
                ("experiments", lambda: _experiments(src, sink)),
                ("runs, params and tags", lambda: _runs(src, sink)),
                ("metrics", lambda: _metrics(src, sink)),
                ("datasets and run inputs", lambda: _inputs(src, sink, ids)),
                ("logged models", lambda: _logged_models(src, sink, ids)),
                ("model registry", lambda: _registry(src, sink)),
            ):
                say(f"exporting {label}")
                try:
                    part()
                except DBAPIError as exc:  # reading the source, or a write outside the batches
                    raise ExportFailed(
                        f"exporting {label} failed: {first_line(exc.orig)}{_ROLLED_BACK}"
                    ) from exc
            advance_sequences(conn, target)
        except BaseException:
            transaction.rollback()
            raise
        say("committing")
        try:
            transaction.commit()
        except DBAPIError as exc:
            # The one failure after which the target's state is not known for sure: a connection lost during
            # COMMIT may or may not have committed. Either nothing or everything is there.
            raise ExportFailed(
                f"committing failed: {first_line(exc.orig)}; the target holds either all of the export or "
                "none of it (check for its experiments)"
            ) from exc


def _uuid_maker() -> Callable[[str], str]:
    """Stable uuids within one export, for the ids MLflow keeps and Tracklight does not (no map in memory)."""
    namespace = uuid.uuid4()
    return lambda name: uuid.uuid5(namespace, name).hex


@contextlib.contextmanager
def _snapshot(source: Database) -> Iterator[Connection]:
    """A read-only transaction on the source that sees one state of it throughout, even while a server keeps
    writing: REPEATABLE READ on PostgreSQL and MySQL, a read transaction on SQLite (WAL)."""
    with source.engine.connect() as conn:
        if source.dialect != "sqlite":
            options: dict[str, Any] = {"isolation_level": "REPEATABLE READ"}
            if source.dialect == "postgresql":
                options["postgresql_readonly"] = True
            conn = conn.execution_options(**options)
        with conn.begin() as transaction:
            try:
                yield conn
            finally:
                transaction.rollback()


def summary(report: ExportReport) -> Iterable[str]:
    """The lines the command prints when an export is done."""
    yield f"Exported into an MLflow store at schema revision {report.revision}:"
    for table, count in report.written.items():
        yield f"  {table}: {count}"
    for line in report.left_out:
        yield f"left out: {line}"
    for line in report.notes:
        yield f"note: {line}"
