"""Write records into Tracklight's store: batched, idempotent, and safe to resume after an interruption.

Every row goes in by its natural key with insert-if-absent (or upsert, for values that may change), so
writing the same records twice adds nothing, and an import killed half-way is completed by running it
again. Metric points go through the store's own log_metrics, so a series' latest point ends up exactly
as the server's write path computes it. Nothing here knows where the records come from.
"""

from __future__ import annotations

import io
import math
from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from typing import Any

from sqlalchemy import Connection, Table, event, func, select, text, update
from sqlalchemy.exc import DBAPIError

from tracklight.move.records import (
    DatasetInputRecord,
    ExperimentRecord,
    LoggedModelRecord,
    ModelLinkRecord,
    ModelMetricRecord,
    RegisteredModelRecord,
    RunPoint,
    RunRecord,
)
from tracklight.store import schema as s
from tracklight.store.dialect import insert_ignore, upsert
from tracklight.store.engine import Database
from tracklight.store.inputs import link_models, log_dataset_inputs
from tracklight.store.metrics import log_metrics
from tracklight.store.records import DatasetInput, MetricPoint

# Bound parameters per statement: under SQLite's 32,766 and PostgreSQL's 65,535.
_MAX_PARAMS = 30_000

# The tables whose row counts tell what an import added.
COUNTED = (
    s.experiments,
    s.experiment_tags,
    s.runs,
    s.params,
    s.run_tags,
    s.metric_series,
    s.metrics,
    s.datasets,
    s.run_inputs,
    s.run_model_links,
    s.logged_models,
    s.logged_model_params,
    s.logged_model_tags,
    s.logged_model_metrics,
    s.registered_models,
    s.registered_model_tags,
    s.model_versions,
    s.model_version_tags,
    s.registered_model_aliases,
)


def relax_durability(db: Database) -> None:
    """Let the import's commits return before the disk has them; call before its first connection.

    An import is resumable, so losing its last commits to a machine crash costs a re-run, not data,
    while waiting for an fsync per batch cost most of its time on a busy disk. SQLite in WAL mode with
    synchronous=NORMAL stays consistent and syncs at checkpoints (made rarer here); PostgreSQL's
    asynchronous commit is durable within a fraction of a second. make_durable() syncs at the end.
    """
    if db.dialect == "sqlite":

        @event.listens_for(db.engine, "connect")
        def _sqlite(dbapi_conn, _record) -> None:  # runs after the store's own PRAGMAs
            cursor = dbapi_conn.cursor()
            cursor.execute("PRAGMA synchronous=NORMAL")
            cursor.execute("PRAGMA wal_autocheckpoint=20000")
            cursor.close()

    elif db.dialect == "postgresql":

        @event.listens_for(db.engine, "connect")
        def _postgresql(dbapi_conn, _record) -> None:
            cursor = dbapi_conn.cursor()
            cursor.execute("SET synchronous_commit = off")
            cursor.close()
            dbapi_conn.commit()


def make_durable(db: Database) -> None:
    """Put everything the import committed on disk (SQLite: a checkpoint, which syncs the file)."""
    if db.dialect == "sqlite":
        with db.engine.connect() as conn:
            conn.execute(text("PRAGMA wal_checkpoint(TRUNCATE)"))


class ImportCollision(RuntimeError):
    """The target already holds different data under ids the source uses; nothing was written."""

    def __init__(self, collisions: list[str]) -> None:
        self.collisions = collisions
        shown = "\n  ".join(collisions[:20])
        more = f"\n  ... and {len(collisions) - 20} more" if len(collisions) > 20 else ""
        super().__init__(
            f"the target store already holds other data under the source's ids:\n  {shown}{more}"
        )


def _chunks(rows: Sequence[dict[str, Any]], width: int) -> Iterable[Sequence[dict[str, Any]]]:
    size = max(1, _MAX_PARAMS // max(1, width))
    for start in range(0, len(rows), size):
        yield rows[start : start + size]


def _insert_ignore(conn: Connection, table: Table, rows: list[dict[str, Any]], keys: list[str]) -> None:
    for chunk in _chunks(rows, len(table.c)):
        insert_ignore(conn, table, chunk, keys)


def _upsert(conn: Connection, table: Table, rows: list[dict[str, Any]], keys: list[str]) -> None:
    columns = [c for c in rows[0] if c not in keys] if rows else []
    for chunk in _chunks(rows, len(table.c)):
        upsert(conn, table, chunk, keys, columns)


def _tag_rows(owner: dict[str, Any], tags: Iterable[tuple[str, str]]) -> list[dict[str, Any]]:
    return [{**owner, "key": k, "value": v} for k, v in dict(tags).items()]


def _insert_points(conn: Connection, rows: list[tuple[int, int, int, float, bool]]) -> None:
    """Insert (series id, step, timestamp, value, is_nan) rows, skipping those already stored."""
    if not rows:
        return
    dialect = conn.dialect.name
    if dialect == "postgresql":
        _copy_points(conn, rows)
    elif dialect == "sqlite":
        conn.exec_driver_sql(
            "INSERT INTO metrics (series_id, step, timestamp, value, is_nan) VALUES (?,?,?,?,?) "
            "ON CONFLICT DO NOTHING",
            rows,
        )
    else:  # PyMySQL's executemany sends multi-row INSERTs of up to about a megabyte
        conn.exec_driver_sql(
            "INSERT INTO metrics (series_id, step, timestamp, value, is_nan) VALUES (%s,%s,%s,%s,%s) "
            "ON DUPLICATE KEY UPDATE series_id = series_id",
            rows,
        )


def _insert_new_points(conn: Connection, rows: list[tuple[int, int, int, float, bool]]) -> None:
    """Insert points of runs that held none here when this import reached them.

    A source holds each point once, so on PostgreSQL these are copied straight into `metrics`, which
    takes about half the server's work of staging them; should one be there after all (another
    writer), the batch falls back to the staged copy that skips stored points.
    """
    if not rows or conn.dialect.name != "postgresql":
        _insert_points(conn, rows)
        return
    text = _copy_text(rows)
    cursor = conn.connection.dbapi_connection.cursor()  # type: ignore[union-attr]
    dbapi = conn.dialect.loaded_dbapi
    try:
        cursor.execute("SAVEPOINT tracklight_import_points")
        try:
            cursor.copy_expert(
                "COPY metrics (series_id, step, timestamp, value, is_nan) FROM STDIN", io.StringIO(text)
            )
        except dbapi.IntegrityError:
            cursor.execute("ROLLBACK TO SAVEPOINT tracklight_import_points")
            _copy_points(conn, rows)
        else:
            cursor.execute("RELEASE SAVEPOINT tracklight_import_points")
    except dbapi.Error as exc:
        raise DBAPIError.instance("COPY metrics", None, exc, dbapi.Error, dialect=conn.dialect) from exc
    finally:
        cursor.close()


def _copy_text(rows: list[tuple[int, int, int, float, bool]]) -> str:
    """Rows in COPY's text format (floats by repr, which round-trips; NaN is stored as 0 with is_nan)."""
    return "".join(f"{a}\t{b}\t{c}\t{d!r}\t{'t' if e else 'f'}\n" for a, b, c, d, e in rows)


_STAGE = (
    "CREATE TEMPORARY TABLE IF NOT EXISTS tracklight_import_points "
    "(series_id bigint, step bigint, timestamp bigint, value float8, is_nan boolean) ON COMMIT DELETE ROWS"
)


def _copy_points(conn: Connection, rows: list[tuple[int, int, int, float, bool]]) -> None:
    """PostgreSQL: COPY into a temporary table, then one INSERT ... SELECT that skips stored points.

    COPY's text format is the cheapest way in, for the client and the server alike (in a same-run
    comparison on 20,000 points it took half the time of a five-array unnest INSERT).
    """
    text = _copy_text(rows)
    cursor = conn.connection.dbapi_connection.cursor()  # type: ignore[union-attr]
    dbapi = conn.dialect.loaded_dbapi
    try:
        cursor.execute(_STAGE)
        cursor.copy_expert("COPY tracklight_import_points FROM STDIN", io.StringIO(text))
        cursor.execute(
            "INSERT INTO metrics (series_id, step, timestamp, value, is_nan) "
            "SELECT * FROM tracklight_import_points ON CONFLICT DO NOTHING"
        )
    except dbapi.Error as exc:
        raise DBAPIError.instance("COPY metrics", None, exc, dbapi.Error, dialect=conn.dialect) from exc
    finally:
        cursor.close()


class _PointsThere(Exception):
    """A copied point was already stored (by another writer): the copy's transaction is rolled back."""


class StoreWriter:
    """Writes records into one Tracklight database (whose schema is at the head revision)."""

    def __init__(self, db: Database) -> None:
        self.db = db
        self._series: dict[int, dict[str, int]] = {}  # series ids by run, for the runs being copied
        self._empty: set[str] = set()  # runs of the current page that held no point here before

    # -- collisions (reads only) ----------------------------------------------------------------------

    def experiment_collisions(self, experiments: Sequence[ExperimentRecord]) -> list[str]:
        e = s.experiments.c
        by_id = {x.experiment_id: x.name for x in experiments}
        by_name = {x.name: x.experiment_id for x in experiments}
        found = []
        with self.db.read() as conn:
            for exp_id, name in conn.execute(select(e.id, e.name)):
                if exp_id in by_id and by_id[exp_id] != name:
                    found.append(
                        f"experiment id {exp_id} is named {name!r} in the target but {by_id[exp_id]!r} "
                        "in the source"
                    )
                if name in by_name and by_name[name] != exp_id:
                    found.append(
                        f"experiment {name!r} has id {exp_id} in the target but {by_name[name]} in the source"
                    )
        return found

    def run_collisions(self, runs: Sequence[RunRecord]) -> list[str]:
        r = s.runs.c
        wanted = {x.run_id: x.experiment_id for x in runs}
        with self.db.read() as conn:
            rows = conn.execute(select(r.run_uuid, r.experiment_id).where(r.run_uuid.in_(list(wanted))))
            return [
                f"run {run_id} is in experiment {exp_id} in the target but in {wanted[run_id]} in the source"
                for run_id, exp_id in rows
                if exp_id != wanted[run_id]
            ]

    def logged_model_collisions(self, models: Sequence[LoggedModelRecord]) -> list[str]:
        lm = s.logged_models.c
        wanted = {x.model_id: x.experiment_id for x in models}
        with self.db.read() as conn:
            rows = conn.execute(select(lm.id, lm.experiment_id).where(lm.id.in_(list(wanted))))
            return [
                f"logged model {model_id} is in experiment {exp_id} in the target but in "
                f"{wanted[model_id]} in the source"
                for model_id, exp_id in rows
                if exp_id != wanted[model_id]
            ]

    def registered_model_collisions(self, models: Sequence[RegisteredModelRecord]) -> list[str]:
        """A model of the same name collides unless each of its versions is the source's, as imported."""
        rm, mv = s.registered_models.c, s.model_versions.c
        wanted = {m.name: {(v.version, v.creation_time, v.source) for v in m.versions} for m in models}
        found = []
        with self.db.read() as conn:
            rows = conn.execute(
                select(rm.name, mv.version, mv.creation_time, mv.source)
                .select_from(s.registered_models.outerjoin(s.model_versions, mv.registered_model_id == rm.id))
                .where(rm.name.in_(list(wanted)))
            ).all()
        other: dict[str, list[int]] = defaultdict(list)
        for name, version, created, source in rows:
            if version is not None and (version, created, source) not in wanted[name]:
                other[name].append(version)
        for name, versions in sorted(other.items()):
            found.append(
                f"registered model {name!r} exists in the target with other versions "
                f"({', '.join(map(str, sorted(versions)))})"
            )
        return found

    # -- experiments, runs, inputs --------------------------------------------------------------------

    def write_experiments(self, experiments: Sequence[ExperimentRecord]) -> None:
        rows = [
            {
                "id": x.experiment_id,
                "name": x.name,
                "artifact_location": x.artifact_location,
                "lifecycle_stage": x.lifecycle_stage,
                "creation_time": x.creation_time,
                "last_update_time": x.last_update_time,
            }
            for x in experiments
        ]
        tags = [row for x in experiments for row in _tag_rows({"experiment_id": x.experiment_id}, x.tags)]
        with self.db.write() as conn:
            # An experiment already there has the source's id and name (anything else is a collision):
            # the Default experiment, or one written by an earlier run of the import. It takes the
            # source's location, stage and times.
            _upsert(conn, s.experiments, rows, ["id"])
            _upsert(conn, s.experiment_tags, tags, ["experiment_id", "key"])

    def write_runs(self, runs: Sequence[RunRecord]) -> None:
        rows = [
            {
                "run_uuid": x.run_id,
                "experiment_id": x.experiment_id,
                "name": x.name,
                "user_id": x.user_id,
                "status": x.status,
                "start_time": x.start_time,
                "end_time": x.end_time,
                "lifecycle_stage": x.lifecycle_stage,
                "artifact_uri": x.artifact_uri,
                "deleted_time": x.deleted_time,
            }
            for x in runs
        ]
        with self.db.write() as conn:
            _insert_ignore(conn, s.runs, rows, ["run_uuid"])
            ids = self._run_ids(conn, [x.run_id for x in runs])
            params = [row for x in runs for row in _tag_rows({"run_id": ids[x.run_id]}, x.params)]
            tags = [row for x in runs for row in _tag_rows({"run_id": ids[x.run_id]}, x.tags)]
            _insert_ignore(conn, s.params, params, ["run_id", "key"])
            _upsert(conn, s.run_tags, tags, ["run_id", "key"])

    def write_dataset_inputs(self, inputs: Sequence[DatasetInputRecord]) -> None:
        by_run: dict[str, list[DatasetInputRecord]] = defaultdict(list)
        for x in inputs:
            by_run[x.run_id].append(x)
        with self.db.write() as conn:
            ids = self._run_ids(conn, list(by_run))
            for run_id, items in by_run.items():
                if run_id not in ids:
                    continue  # an input of a run the source no longer has
                log_dataset_inputs(
                    conn,
                    ids[run_id],
                    items[0].experiment_id,
                    [
                        DatasetInput(
                            x.name,
                            x.digest,
                            x.source_type,
                            x.source,
                            x.schema,
                            x.profile,
                            x.tags,
                        )
                        for x in items
                    ],
                )

    def write_model_links(self, links: Sequence[ModelLinkRecord]) -> None:
        grouped: dict[tuple[str, str], list[tuple[str, int | None]]] = defaultdict(list)
        for x in links:
            grouped[(x.run_id, x.direction)].append((x.model_id, x.step))
        with self.db.write() as conn:
            ids = self._run_ids(conn, list({run_id for run_id, _ in grouped}))
            for (run_id, direction), models in grouped.items():
                if run_id in ids:
                    link_models(conn, ids[run_id], direction, models)

    @staticmethod
    def _run_ids(conn: Connection, run_ids: Sequence[str]) -> dict[str, int]:
        r = s.runs.c
        found: dict[str, int] = {}
        for start in range(0, len(run_ids), 1000):
            chunk = list(run_ids[start : start + 1000])
            found.update(conn.execute(select(r.run_uuid, r.id).where(r.run_uuid.in_(chunk))).all())
        return found

    # -- metric points --------------------------------------------------------------------------------

    def runs_short_of(self, source_counts: dict[str, int]) -> list[str]:
        """The runs that hold fewer points here than the source has (an import not yet done or cut short)."""
        self._empty = set()
        if not source_counts:
            return []
        r, ms, m = s.runs.c, s.metric_series.c, s.metrics.c
        with self.db.read() as conn:
            here = dict(
                conn.execute(
                    select(r.run_uuid, func.count())
                    .select_from(
                        s.runs.join(s.metric_series, ms.run_id == r.id).join(s.metrics, m.series_id == ms.id)
                    )
                    .where(r.run_uuid.in_(list(source_counts)))
                    .group_by(r.run_uuid)
                ).all()
            )
        self._empty = {run_id for run_id in source_counts if not here.get(run_id)}
        return [run_id for run_id, n in source_counts.items() if here.get(run_id, 0) < n]

    def start_points(self) -> None:
        """Forget the series ids of the previous runs (keeps memory bounded to the runs being copied)."""
        self._series.clear()

    def write_points(self, points: Sequence[RunPoint]) -> None:
        """Points of any runs, in one transaction; identical points are stored once, as the server does.

        Each run's latest point per key goes through the store's log_metrics, so series rows are created
        and moved forward by the server's own statements; the bulk of the points is then inserted
        directly, in one multi-row statement (or executemany) per batch.
        """
        # The largest (step, timestamp, is_nan, value) per series: the write path's "latest".
        latest: dict[tuple[str, str], tuple[int, int, bool, float]] = {}
        get = latest.get
        for run_id, key, step, ts, value, nan in points:
            candidate = (step, ts, nan, value)
            best = get((run_id, key))
            if best is None or candidate > best:
                latest[(run_id, key)] = candidate
        with self.db.write() as conn:
            series = self._log_newest(conn, latest, self._series)
            into_empty: list[tuple[int, int, int, float, bool]] = []
            into_held: list[tuple[int, int, int, float, bool]] = []
            empty, series_of, stored = self._empty, series.get, latest.get
            for r, k, step, ts, value, nan in points:
                series_id = series_of((r, k))
                if series_id is None:
                    continue
                if r not in empty:
                    into_held.append((series_id, step, ts, value, nan))
                elif stored((r, k)) != (step, ts, nan, value):  # log_metrics stored the latest above
                    into_empty.append((series_id, step, ts, value, nan))
            _insert_new_points(conn, into_empty)
            _insert_points(conn, into_held)

    def _log_newest(
        self,
        conn: Connection,
        latest: dict[tuple[str, str], tuple[int, int, bool, float]],
        known_series: dict[int, dict[str, int]],
    ) -> dict[tuple[str, str], int]:
        """Each series' newest point through the store's log_metrics (which creates the series row or
        moves it forward, and stores the point); returns the series ids by (run id, key).

        `latest` maps (run id, key) to (step, timestamp, is_nan, value); runs the target does not
        have are left out. `known_series` holds the ids found so far, by internal run id.
        """
        newest: dict[str, list[MetricPoint]] = defaultdict(list)
        for (run_id, key), (step, ts, nan, value) in latest.items():
            newest[run_id].append(MetricPoint(key, math.nan if nan else value, ts, step))
        ids = self._run_ids(conn, list(newest))
        series: dict[tuple[str, str], int] = {}
        for run_id, run_newest in newest.items():
            internal = ids.get(run_id)
            if internal is None:
                continue  # points of a run the source no longer has
            known = known_series.setdefault(internal, {})
            known.update(log_metrics(conn, internal, run_newest, known))
            for point in run_newest:
                series[(run_id, point.key)] = known[point.key]
        return series

    def runs_without_points(self) -> frozenset[str]:
        """Of the runs runs_short_of was last asked about, those that held no point here."""
        return frozenset(self._empty)

    def copy_new_points(
        self, newest: Sequence[RunPoint], copy: Callable[[list[tuple[RunPoint, int]], Any], None]
    ) -> bool:
        """PostgreSQL: all points of runs that hold none here, in one transaction, the bulk as a COPY stream.

        `newest` is each series' newest point: they go through log_metrics, which gives the series
        ids. `copy(pairs, cursor)` is then handed each newest point with its series id and must
        stream every other point of these series into `cursor` (a COPY into `metrics`). Should a
        point be there after all (another writer), nothing is written and this returns False.
        """
        try:
            with self.db.write() as conn:
                latest = {(r, k): (step, ts, nan, value) for r, k, step, ts, value, nan in newest}
                series = self._log_newest(conn, latest, {})
                pairs = [(p, series[(p[0], p[1])]) for p in newest if (p[0], p[1]) in series]
                cursor = conn.connection.dbapi_connection.cursor()  # type: ignore[union-attr]
                dbapi = conn.dialect.loaded_dbapi
                try:
                    copy(pairs, cursor)
                except dbapi.IntegrityError as exc:
                    raise _PointsThere from exc  # leaves the transaction, which rolls back
                except dbapi.Error as exc:
                    raise DBAPIError.instance(
                        "COPY metrics", None, exc, dbapi.Error, dialect=conn.dialect
                    ) from exc
                finally:
                    cursor.close()
        except _PointsThere:
            return False
        return True

    # -- logged models --------------------------------------------------------------------------------

    def write_logged_models(self, models: Sequence[LoggedModelRecord]) -> None:
        rows = [
            {
                "id": x.model_id,
                "experiment_id": x.experiment_id,
                "name": x.name,
                "model_type": x.model_type,
                "source_run_id": x.source_run_id,
                "status": x.status,
                "status_message": x.status_message,
                "artifact_uri": x.artifact_uri,
                "lifecycle_stage": x.lifecycle_stage,
                "creation_time": x.creation_time,
                "last_updated_time": x.last_updated_time,
            }
            for x in models
        ]
        params = [row for x in models for row in _tag_rows({"model_id": x.model_id}, x.params)]
        tags = [row for x in models for row in _tag_rows({"model_id": x.model_id}, x.tags)]
        with self.db.write() as conn:
            _insert_ignore(conn, s.logged_models, rows, ["id"])
            _insert_ignore(conn, s.logged_model_params, params, ["model_id", "key"])
            _upsert(conn, s.logged_model_tags, tags, ["model_id", "key"])

    def write_model_metrics(self, metrics: Sequence[ModelMetricRecord]) -> None:
        rows = {}
        for x in metrics:
            nan = math.isnan(x.value)
            digest = x.dataset_digest or ""  # '' is how our table spells "no dataset"
            rows[(x.model_id, x.key, x.step, x.timestamp, digest)] = {
                "model_id": x.model_id,
                "key": x.key,
                "step": x.step,
                "timestamp": x.timestamp,
                "dataset_digest": digest,
                "dataset_name": x.dataset_name or "",
                "run_id": x.run_id,
                "value": 0.0 if nan else x.value,
                "is_nan": nan,
            }
        with self.db.write() as conn:
            _upsert(
                conn,
                s.logged_model_metrics,
                [rows[k] for k in sorted(rows)],
                ["model_id", "key", "step", "timestamp", "dataset_digest"],
            )

    # -- model registry -------------------------------------------------------------------------------

    def write_registered_models(self, models: Sequence[RegisteredModelRecord]) -> None:
        rm = s.registered_models.c
        rows = [
            {
                "name": m.name,
                "description": m.description,
                "creation_time": m.creation_time,
                "last_updated_time": m.last_updated_time,
                "last_version": m.last_version,
            }
            for m in models
        ]
        with self.db.write() as conn:
            _insert_ignore(conn, s.registered_models, rows, ["name"])
            ids = dict(
                conn.execute(select(rm.name, rm.id).where(rm.name.in_([m.name for m in models]))).all()
            )
            for m in models:
                # Never hand out a number the source already used, nor lower one the target has.
                conn.execute(
                    update(s.registered_models)
                    .where(rm.id == ids[m.name], rm.last_version < m.last_version)
                    .values(last_version=m.last_version)
                )
            _upsert(
                conn,
                s.registered_model_tags,
                [r for m in models for r in _tag_rows({"registered_model_id": ids[m.name]}, m.tags)],
                ["registered_model_id", "key"],
            )
            versions = [
                {
                    "registered_model_id": ids[v.name],
                    "version": v.version,
                    "creation_time": v.creation_time,
                    "last_updated_time": v.last_updated_time,
                    "description": v.description,
                    "user_id": v.user_id,
                    "current_stage": v.current_stage,
                    "source": v.source,
                    "storage_location": v.storage_location,
                    "run_id": v.run_id,
                    "run_link": v.run_link,
                    "model_id": v.model_id,
                    "status": v.status,
                    "status_message": v.status_message,
                }
                for m in models
                for v in m.versions
            ]
            _insert_ignore(conn, s.model_versions, versions, ["registered_model_id", "version"])
            _upsert(
                conn,
                s.model_version_tags,
                [
                    r
                    for m in models
                    for v in m.versions
                    for r in _tag_rows(
                        {"registered_model_id": ids[m.name], "version": v.version},
                        v.tags,
                    )
                ],
                ["registered_model_id", "version", "key"],
            )
            _upsert(
                conn,
                s.registered_model_aliases,
                [
                    {
                        "registered_model_id": ids[m.name],
                        "alias": alias,
                        "version": version,
                    }
                    for m in models
                    for alias, version in m.aliases
                ],
                ["registered_model_id", "alias"],
            )

    # -- bookkeeping ----------------------------------------------------------------------------------

    def table_counts(self) -> dict[str, int]:
        """Rows in each table an import writes (compared before and after to say what it added)."""
        with self.db.read() as conn:
            return {
                t.name: int(conn.execute(select(func.count()).select_from(t)).scalar_one()) for t in COUNTED
            }
