"""Read an MLflow SQL store (SQLite, MySQL/MariaDB, PostgreSQL) as records, streaming, never writing to it.

Every listing is read in keyset pages or through a server-side cursor, so memory stays flat however
large the store is: only one page of runs, or one batch of metric points, is held at a time.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Callable, Iterator, Sequence
from typing import Any

from sqlalchemy import Engine, Select, Table, create_engine, func, select

from tracklight.move.mlflow_schema import MlflowSchema, reflect, skipped_rows
from tracklight.move.records import (
    DatasetInputRecord,
    ExperimentRecord,
    LoggedModelRecord,
    ModelLinkRecord,
    ModelMetricRecord,
    ModelVersionRecord,
    RegisteredModelRecord,
    RunPoint,
    RunRecord,
)
from tracklight.store.engine import normalize_uri

MAX_DOUBLE = 1.7976931348623157e308
# MLflow keeps a deleted model version's row, redacted, in this stage; it is not a version any more.
_DELETED_VERSION_STAGE = "Deleted_Internal"
# MLflow stores a logged model's status as the number of its proto enum value.
_MODEL_STATUS = {
    0: "LOGGED_MODEL_STATUS_UNSPECIFIED",
    1: "LOGGED_MODEL_PENDING",
    2: "LOGGED_MODEL_READY",
    3: "LOGGED_MODEL_UPLOAD_FAILED",
}


def _value(value: float | None, is_nan: Any) -> float:
    """MLflow stores NaN as is_nan with value 0, and infinities as ±max double (older stores: as is)."""
    if is_nan:
        return math.nan
    if value is None:
        return 0.0
    if math.isinf(value):
        return MAX_DOUBLE if value > 0 else -MAX_DOUBLE
    return float(value)


def _clamped(dialect: str) -> str:
    """The value column with infinities clamped as MLflow clamps them (stores before that kept them on
    SQLite and PostgreSQL; MySQL never could), so the driver's rows need no per-row work in Python."""
    if dialect == "mysql":
        return "value"
    big = "'Infinity'::float8" if dialect == "postgresql" else "9e999"  # SQLite reads 9e999 as +inf
    return (
        f"CASE WHEN value = {big} THEN {MAX_DOUBLE!r} WHEN value = -{big} THEN -{MAX_DOUBLE!r} ELSE value END"
    )


# Each series' newest point, for the runs given (twice).
_NEWEST = (
    "SELECT run_uuid, key, step, timestamp, max(value), is_nan FROM "  # noqa: S608 - a constant
    f"(SELECT run_uuid, key, step, timestamp, {_clamped('postgresql')} AS value, is_nan FROM metrics "
    "WHERE run_uuid = ANY(%s::text[])) m "
    "WHERE (run_uuid, key, step, timestamp, is_nan::int) IN (SELECT run_uuid, key, t[1], t[2], t[3] FROM "
    "(SELECT run_uuid, key, max(ARRAY[step, timestamp, is_nan::int]) AS t FROM metrics "
    "WHERE run_uuid = ANY(%s::text[]) GROUP BY run_uuid, key) top) "
    "GROUP BY run_uuid, key, step, timestamp, is_nan"
)
# Each series' points but its newest, with the target's series id: the series given as arrays (run ids,
# keys, the newest point's step, timestamp, value, is_nan, the series id), their runs once more first.
# The join is on one text made of run id and key (the lengths of the run ids make it unambiguous), so
# that the series, not the points, are hashed. Only points ranked below the newest are taken: in a
# store that does not change, all the others; should a newer point arrive meanwhile, it is left out,
# the run stays short of the source, and the next import adds it by the path that moves the series on.
_POINTS_BUT_NEWEST = (
    "SELECT n.series_id, m.step, m.timestamp, m.value, m.is_nan FROM "  # noqa: S608 - a constant
    f"(SELECT run_uuid, run_uuid || key AS series, step, timestamp, {_clamped('postgresql')} AS value, "
    "is_nan FROM metrics WHERE run_uuid = ANY(%s::text[])) m "
    "JOIN (SELECT run_uuid, run_uuid || key AS series, step, timestamp, value, is_nan, series_id FROM "
    "unnest(%s::text[], %s::text[], %s::bigint[], %s::bigint[], %s::float8[], %s::boolean[], %s::bigint[]) "
    "AS n(run_uuid, key, step, timestamp, value, is_nan, series_id)) n "
    "ON m.series = n.series AND length(m.run_uuid) = length(n.run_uuid) "
    "WHERE (m.step, m.timestamp, m.is_nan, m.value) < (n.step, n.timestamp, n.is_nan, n.value)"
)


class MlflowSqlSource:
    """An MLflow tracking and registry database, opened for reading."""

    def __init__(self, uri: str, *, page: int = 500, batch: int = 20_000) -> None:
        self.engine: Engine = create_engine(normalize_uri(uri), pool_size=2, max_overflow=2)
        self.page = page  # runs (or models) per keyset page
        self.batch = batch  # metric points per streamed batch
        with self.engine.connect() as conn:
            self.schema: MlflowSchema = reflect(conn)

    def close(self) -> None:
        self.engine.dispose()

    def describe(self) -> str:
        return f"MLflow schema revision {self.schema.revision or 'unknown'}"

    def _t(self, name: str) -> Table:
        return self.schema.tables[name]

    def _rows(self, stmt: Select) -> list[Any]:
        with self.engine.connect() as conn:
            return list(conn.execute(stmt).all())

    def _keyset_pages(self, stmt: Select, key: Any) -> Iterator[list[Any]]:
        """The rows of `stmt`, a page at a time in the order of `key` (unique), each page after the last one's key.

        Keyset paging rather than OFFSET: every page is an index range scan, however deep the listing.
        """
        after = None
        while True:
            page = stmt.order_by(key).limit(self.page)
            rows = self._rows(page if after is None else page.where(key > after))
            if not rows:
                return
            after = rows[-1]._mapping[key]
            yield rows

    def _count(self, table: str, *where: Any) -> int:
        if not self.schema.has(table):
            return 0
        stmt = select(func.count()).select_from(self._t(table))
        if where:
            stmt = stmt.where(*where)
        with self.engine.connect() as conn:
            return int(conn.execute(stmt).scalar_one())

    # -- what is there --------------------------------------------------------------------------------

    def counts(self) -> dict[str, int]:
        """How many of each kind of thing the source holds (what a dry run prints)."""
        mv = self.schema.column("model_versions", "current_stage")
        inputs = self.schema.column("inputs", "source_type")
        return {
            "experiments": self._count("experiments"),
            "experiment tags": self._count("experiment_tags"),
            "runs": self._count("runs"),
            "params": self._count("params"),
            "run tags": self._count("tags"),
            "metric points": self._count("metrics"),
            "dataset inputs": self._count("inputs", inputs == "DATASET") if inputs is not None else 0,
            "logged-model links": self._count("inputs", inputs.in_(["RUN_INPUT", "RUN_OUTPUT"]))
            if inputs is not None
            else 0,
            "logged models": self._count("logged_models"),
            "logged-model metrics": self._count("logged_model_metrics"),
            "registered models": self._count("registered_models"),
            "model versions": self._count("model_versions", mv != _DELETED_VERSION_STAGE)
            if mv is not None
            else 0,
            "model aliases": self._count("registered_model_aliases"),
        }

    def skipped(self) -> dict[str, int]:
        """Non-empty tables that are not imported (traces, evaluation data, ...), with their row counts."""
        with self.engine.connect() as conn:
            return skipped_rows(conn, self.schema)

    def workspaces(self) -> list[str]:
        """The MLflow workspaces that hold experiments (MLflow 3.10+); Tracklight has one namespace."""
        column = self.schema.column("experiments", "workspace")
        if column is None:
            return []
        return sorted(r[0] for r in self._rows(select(column).distinct()) if r[0] is not None)

    # -- experiments and runs ---------------------------------------------------------------------------

    def experiments(self) -> list[ExperimentRecord]:
        e = self._t("experiments").c
        cols = [e.experiment_id, e.name, e.artifact_location, e.lifecycle_stage]
        cols += [e.get("creation_time"), e.get("last_update_time")]
        found = {}
        for row in self._rows(select(*[c for c in cols if c is not None]).order_by(e.experiment_id)):
            data = dict(row._mapping)
            found[int(data["experiment_id"])] = ExperimentRecord(
                experiment_id=int(data["experiment_id"]),
                name=data["name"],
                artifact_location=data["artifact_location"] or "",
                lifecycle_stage=data["lifecycle_stage"] or "active",
                creation_time=data.get("creation_time") or 0,
                last_update_time=data.get("last_update_time") or data.get("creation_time") or 0,
            )
        if self.schema.has("experiment_tags"):
            t = self._t("experiment_tags").c
            for exp_id, key, value in self._rows(select(t.experiment_id, t.key, t.value).order_by(t.key)):
                if int(exp_id) in found:
                    found[int(exp_id)].tags.append((key, value or ""))
        return list(found.values())

    def run_pages(self) -> Iterator[list[RunRecord]]:
        """Runs with their params and tags, a keyset page at a time, in run id order."""
        r = self._t("runs").c
        wanted = [
            "run_uuid",
            "experiment_id",
            "name",
            "user_id",
            "status",
            "start_time",
            "end_time",
        ]
        wanted += ["lifecycle_stage", "artifact_uri", "deleted_time"]
        cols = [r[name] for name in wanted if name in r]
        for rows in self._keyset_pages(select(*cols), r.run_uuid):
            runs = {}
            for row in rows:
                d = dict(row._mapping)
                runs[d["run_uuid"]] = RunRecord(
                    run_id=d["run_uuid"],
                    experiment_id=int(d["experiment_id"] or 0),
                    name=d.get("name") or "",
                    user_id=d.get("user_id") or "",
                    status=d.get("status") or "RUNNING",
                    start_time=d.get("start_time") or 0,
                    end_time=d.get("end_time"),
                    lifecycle_stage=d.get("lifecycle_stage") or "active",
                    artifact_uri=d.get("artifact_uri") or "",
                    deleted_time=d.get("deleted_time"),
                )
            ids = list(runs)
            for table, attr in (("params", "params"), ("tags", "tags")):
                if not self.schema.has(table):
                    continue
                t = self._t(table).c
                stmt = select(t.run_uuid, t.key, t.value).where(t.run_uuid.in_(ids)).order_by(t.key)
                for run_id, key, value in self._rows(stmt):
                    getattr(runs[run_id], attr).append((key, value or ""))
            for run in runs.values():
                if not run.name:  # runs from before MLflow 1.27 kept the name only as a tag
                    run.name = dict(run.tags).get("mlflow.runName", "")
            yield list(runs.values())

    # -- inputs ---------------------------------------------------------------------------------------------

    def dataset_inputs(self) -> Iterator[list[DatasetInputRecord]]:
        """Datasets logged as run inputs, with the input tags, a page of inputs at a time."""
        if not (self.schema.has("inputs") and self.schema.has("datasets")):
            return
        i, d = self._t("inputs").c, self._t("datasets").c
        join = self._t("inputs").join(self._t("datasets"), d.dataset_uuid == i.source_id)
        cols = [i.input_uuid, i.destination_id, d.experiment_id, d.name, d.digest]
        cols += [
            d.dataset_source_type,
            d.dataset_source,
            d.dataset_schema,
            d.dataset_profile,
        ]
        runs_datasets = (
            select(*cols).select_from(join).where(i.source_type == "DATASET", i.destination_type == "RUN")
        )
        for rows in self._keyset_pages(runs_datasets, i.input_uuid):
            tags: dict[str, list[tuple[str, str]]] = defaultdict(list)
            if self.schema.has("input_tags"):
                t = self._t("input_tags").c
                stmt = select(t.input_uuid, t.name, t.value).where(t.input_uuid.in_([r[0] for r in rows]))
                for input_uuid, name, value in self._rows(stmt.order_by(t.input_uuid, t.name)):
                    tags[input_uuid].append((name, value))
            yield [
                DatasetInputRecord(
                    run_id=r[1],
                    experiment_id=int(r[2]),
                    name=r[3],
                    digest=r[4],
                    source_type=r[5],
                    source=r[6],
                    schema=r[7],
                    profile=r[8],
                    tags=tags.get(r[0], []),
                )
                for r in rows
            ]

    def model_links(self) -> Iterator[list[ModelLinkRecord]]:
        """Runs' logged-model inputs and outputs (MLflow 3 keeps them in the inputs table)."""
        if not self.schema.has("inputs"):
            return
        i = self._t("inputs").c
        step = i.get("step")
        cols = [i.input_uuid, i.source_type, i.source_id, i.destination_id] + (
            [step] if step is not None else []
        )
        kinds = {
            "RUN_INPUT": ("MODEL_INPUT", "input"),
            "RUN_OUTPUT": ("MODEL_OUTPUT", "output"),
        }
        links = select(*cols).where(
            i.source_type.in_(list(kinds)), i.destination_type.in_(["MODEL_INPUT", "MODEL_OUTPUT"])
        )
        for rows in self._keyset_pages(links, i.input_uuid):
            yield [
                ModelLinkRecord(
                    run_id=r[2],
                    direction=kinds[r[1]][1],
                    model_id=r[3],
                    step=r[4] if step is not None and kinds[r[1]][1] == "output" else None,
                )
                for r in rows
            ]

    # -- metrics ------------------------------------------------------------------------------------------

    def metric_counts(self, run_ids: Sequence[str]) -> dict[str, int]:
        """Points per run, for the runs given (those with none are absent)."""
        if not run_ids or not self.schema.has("metrics"):
            return {}
        m = self._t("metrics").c
        stmt = select(m.run_uuid, func.count()).where(m.run_uuid.in_(list(run_ids))).group_by(m.run_uuid)
        return {run_id: int(n) for run_id, n in self._rows(stmt)}

    def metric_points(self, run_ids: Sequence[str]) -> Iterator[list[RunPoint]]:
        """Every point of the runs given, in batches, through a server-side cursor (no order promised).

        The driver's own cursor, unwrapped: plain tuples instead of row objects, which at millions of
        points is most of the reading cost. Server-side on PostgreSQL (a named cursor) and MySQL
        (an unbuffered cursor), so a batch at a time is in memory.
        """
        if not run_ids or not self.schema.has("metrics"):
            return
        with self.engine.connect() as conn:
            dialect = conn.dialect
            q = dialect.identifier_preparer.quote
            mark = "?" if dialect.paramstyle == "qmark" else "%s"
            sql = (
                f"SELECT run_uuid, {q('key')}, step, timestamp, {_clamped(dialect.name)}, is_nan "  # noqa: S608
                f"FROM metrics WHERE run_uuid IN ({','.join([mark] * len(run_ids))})"
            )
            raw = conn.connection.dbapi_connection
            if dialect.name == "postgresql":
                cursor = raw.cursor(name="tracklight_import_points")  # type: ignore[union-attr]
                cursor.itersize = self.batch
            elif dialect.name == "mysql":
                import pymysql.cursors

                cursor = raw.cursor(pymysql.cursors.SSCursor)  # type: ignore[union-attr]
            else:
                cursor = raw.cursor()  # type: ignore[union-attr]
            try:
                cursor.execute(sql, tuple(run_ids))
                yield from self._point_batches(cursor)
            finally:
                cursor.close()

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    def newest_points(self, run_ids: Sequence[str]) -> list[RunPoint]:
        """PostgreSQL: each series' newest point, the largest (step, timestamp, is_nan, value) as the
        write path ranks them (value with infinities clamped), for the runs given.

        Two hashed passes (the largest (step, timestamp, is_nan) per series, then the largest value
        there) rather than a sort of every point: about a third of the database's time.
        """
        if not run_ids or not self.schema.has("metrics"):
            return []
        with self.engine.connect() as conn:
            cursor = conn.connection.dbapi_connection.cursor()  # type: ignore[union-attr]
            try:
                cursor.execute(_NEWEST, (list(run_ids), list(run_ids)))
                return cursor.fetchall()
            finally:
                cursor.close()

    def copy_points(
        self,
        newest: Sequence[tuple[RunPoint, int]],
        write: Callable[[bytes], object],
        *,
        on_cursor: Callable[[Any], None],
    ) -> None:
        """PostgreSQL: every point of the series given but their newest, straight from the database as
        rows of COPY's text format, (series id, step, timestamp, value, is_nan), handed to `write`.

        `newest` pairs each series' newest point (as newest_points returns it) with the target's id
        for the series. The database does the per-point work: the join to the series ids, leaving out
        the newest points, clamping infinities as MLflow does; each value is printed in the shortest
        form that reads back to the same double. `on_cursor` receives the connection, so that another
        thread can cancel the copy.
        """
        if not newest or not self.schema.has("metrics"):
            return
        runs = sorted({p[0] for p, _ in newest})
        columns = list(zip(*[(*p, series_id) for p, series_id in newest], strict=True))
        with self.engine.connect() as conn:
            raw = conn.connection.dbapi_connection
            cursor = raw.cursor()  # type: ignore[union-attr]
            try:
                # The shortest exact digits on PostgreSQL 12+, 17 significant digits before: exact either way.
                cursor.execute("SET LOCAL extra_float_digits = 3")
                # A merge join would sort the points; hashing the few series is what this query wants.
                cursor.execute("SET LOCAL enable_mergejoin = off")
                select_points = cursor.mogrify(
                    _POINTS_BUT_NEWEST,
                    (runs, *[list(c) for c in columns]),
                )
                on_cursor(raw)
                cursor.copy_expert(b"COPY (" + select_points + b") TO STDOUT", _Sink(write))
            finally:
                cursor.close()

    def _point_batches(self, cursor: Any) -> Iterator[list[RunPoint]]:
        while True:
            rows = cursor.fetchmany(self.batch)
            if not rows:
                return
            yield rows

    # -- logged models ----------------------------------------------------------------------------------

    def logged_model_pages(self) -> Iterator[list[LoggedModelRecord]]:
        if not self.schema.has("logged_models"):
            return
        lm = self._t("logged_models").c
        for rows in self._keyset_pages(select(self._t("logged_models")), lm.model_id):
            models = {}
            for row in rows:
                d = dict(row._mapping)
                status = d.get("status")
                models[d["model_id"]] = LoggedModelRecord(
                    model_id=d["model_id"],
                    experiment_id=int(d["experiment_id"]),
                    name=d["name"],
                    model_type=d.get("model_type"),
                    source_run_id=d.get("source_run_id"),
                    status=_MODEL_STATUS.get(status, str(status)) if isinstance(status, int) else str(status),
                    status_message=d.get("status_message"),
                    artifact_uri=d.get("artifact_location") or "",
                    lifecycle_stage=d.get("lifecycle_stage") or "active",
                    creation_time=d.get("creation_timestamp_ms") or 0,
                    last_updated_time=d.get("last_updated_timestamp_ms") or 0,
                )
            ids = list(models)
            for table, key, value, attr in (
                ("logged_model_params", "param_key", "param_value", "params"),
                ("logged_model_tags", "tag_key", "tag_value", "tags"),
            ):
                if not self.schema.has(table):
                    continue
                t = self._t(table).c
                stmt = select(t.model_id, t[key], t[value]).where(t.model_id.in_(ids)).order_by(t[key])
                for model_id, k, v in self._rows(stmt):
                    getattr(models[model_id], attr).append((k, v or ""))
            yield list(models.values())

    def model_metric_pages(self) -> Iterator[list[ModelMetricRecord]]:
        """Metrics logged against logged models, a page of models at a time."""
        if not (self.schema.has("logged_model_metrics") and self.schema.has("logged_models")):
            return
        lm, mm = self._t("logged_models").c, self._t("logged_model_metrics").c
        for page in self._keyset_pages(select(lm.model_id), lm.model_id):
            ids = [r[0] for r in page]
            cols = [
                mm.model_id,
                mm.metric_name,
                mm.metric_step,
                mm.metric_timestamp_ms,
                mm.metric_value,
            ]
            cols += [mm.run_id, mm.get("dataset_name"), mm.get("dataset_digest")]
            stmt = select(*[c for c in cols if c is not None]).where(mm.model_id.in_(ids))
            rows = [dict(r._mapping) for r in self._rows(stmt)]
            if rows:
                yield [
                    ModelMetricRecord(
                        model_id=d["model_id"],
                        key=d["metric_name"],
                        step=d["metric_step"] or 0,
                        timestamp=d["metric_timestamp_ms"] or 0,
                        value=_value(d["metric_value"], False),
                        run_id=d["run_id"] or "",
                        dataset_name=d.get("dataset_name"),
                        dataset_digest=d.get("dataset_digest"),
                    )
                    for d in rows
                ]

    # -- model registry -----------------------------------------------------------------------------------

    def registered_model_pages(self) -> Iterator[list[RegisteredModelRecord]]:
        """Registered models with their tags, aliases and versions (and the versions' tags)."""
        if not self.schema.has("registered_models"):
            return
        rm = self._t("registered_models").c
        names = select(rm.name, rm.description, rm.creation_time, rm.last_updated_time)
        for rows in self._keyset_pages(names, rm.name):
            models = {
                name: RegisteredModelRecord(name, description, created or 0, updated or created or 0, 0)
                for name, description, created, updated in rows
            }
            yield self._fill_models(models)

    def _fill_models(self, models: dict[str, RegisteredModelRecord]) -> list[RegisteredModelRecord]:
        names = list(models)
        if self.schema.has("registered_model_tags"):
            t = self._t("registered_model_tags").c
            for name, key, value in self._rows(
                select(t.name, t.key, t.value).where(t.name.in_(names)).order_by(t.key)
            ):
                models[name].tags.append((key, value or ""))
        if self.schema.has("registered_model_aliases"):
            a = self._t("registered_model_aliases").c
            for name, alias, version in self._rows(
                select(a.name, a.alias, a.version).where(a.name.in_(names)).order_by(a.alias)
            ):
                models[name].aliases.append((alias, int(version)))
        if not self.schema.has("model_versions"):
            return list(models.values())
        mv = self._t("model_versions")
        versions: dict[tuple[str, int], ModelVersionRecord] = {}
        for row in self._rows(select(mv).where(mv.c.name.in_(names)).order_by(mv.c.name, mv.c.version)):
            d = dict(row._mapping)
            model = models[d["name"]]
            model.last_version = max(model.last_version, int(d["version"]))
            if d.get("current_stage") == _DELETED_VERSION_STAGE:
                continue
            record = ModelVersionRecord(
                name=d["name"],
                version=int(d["version"]),
                creation_time=d.get("creation_time") or 0,
                last_updated_time=d.get("last_updated_time") or d.get("creation_time") or 0,
                description=d.get("description"),
                user_id=d.get("user_id"),
                current_stage=d.get("current_stage") or "None",
                source=d.get("source") or "",
                storage_location=d.get("storage_location"),
                run_id=d.get("run_id"),
                run_link=d.get("run_link"),
                model_id=d.get("model_id"),
                status=d.get("status") or "READY",
                status_message=d.get("status_message"),
            )
            versions[(record.name, record.version)] = record
            model.versions.append(record)
        if versions and self.schema.has("model_version_tags"):
            t = self._t("model_version_tags").c
            stmt = select(t.name, t.version, t.key, t.value).where(t.name.in_(names)).order_by(t.key)
            for name, version, key, value in self._rows(stmt):
                record = versions.get((name, int(version)))
                if record is not None:
                    record.tags.append((key, value or ""))
        return list(models.values())


class _Sink:
    """The file psycopg2 writes a COPY's output to: bytes (not a text file), each row passed on as is."""

    def __init__(self, write: Callable[[bytes], object]) -> None:
        self.write = write
