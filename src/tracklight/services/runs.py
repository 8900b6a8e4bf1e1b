"""Run rules: lifecycle, logging (params, metrics, tags, inputs) and search."""

from __future__ import annotations

import json
import math
import os
import time
from collections.abc import Callable, Sequence

from sqlalchemy import Connection

from tracklight.artifacts.locations import child_uri
from tracklight.auth import gate
from tracklight.auth.permissions import EXPERIMENT, Permission
from tracklight.errors import InvalidParameter, NotFound, StoreUnavailable
from tracklight.services import validation as v
from tracklight.services.experiment_locations import ExperimentLocations
from tracklight.services.experiments import active_location, parse_experiment_id, parse_experiment_ids
from tracklight.services.run_names import generate_run_name
from tracklight.store import inputs as input_store
from tracklight.store import logged_models as logged_model_store
from tracklight.store import metrics as metric_store
from tracklight.store import run_overview
from tracklight.store import runs as store
from tracklight.store.engine import Database
from tracklight.store.metrics import HISTORY_ORDER, HistoryRow
from tracklight.store.records import DatasetInput, MetricPoint, ModelMetricPoint, Run, RunRef
from tracklight.store.search.keyset import decode_token, encode_token
from tracklight.store.search.runs import search_run_page
from tracklight.store.transactions import after_commit, in_transaction

MAX_HISTORY_PAGE = 25000
MAX_BULK_RUNS = 100
MAX_BULK_POINTS = 2500
_HISTORY_TOKEN = "history"  # the fingerprint that ties a token to metric history
_CREATE_ATTEMPTS = 3


def _now() -> int:
    return int(time.time() * 1000)


def _new_run_id() -> str:
    """uuid.uuid4().hex (version 4, RFC 4122 variant) without building a UUID object: a tenth of the
    Python a run create runs went into that object."""
    raw = bytearray(os.urandom(16))
    raw[6] = raw[6] & 0x0F | 0x40
    raw[8] = raw[8] & 0x3F | 0x80
    return raw.hex()


def _require_active(run: RunRef) -> RunRef:
    if run.lifecycle_stage != "active":
        raise InvalidParameter(
            f"The run {run.run_id} must be in the 'active' state. Current state is {run.lifecycle_stage}."
        )
    return run


class Runs:
    """Operations on runs and what is logged to them."""

    def __init__(self, db: Database) -> None:
        self.db = db
        self.series_ids = metric_store.SeriesIds()
        self.locations = ExperimentLocations()
        # A single metric point (log-metric) is one statement on these databases.
        self._one_statement_point = db.dialect in metric_store.ONE_STATEMENT_POINT

    def create(
        self,
        *,
        experiment_id: str | None,
        user_id: str | None,
        run_name: str | None,
        start_time: int | None,
        tags: list[tuple[str, str]],
    ) -> Run:
        eid = parse_experiment_id(experiment_id if experiment_id not in (None, "") else "0")
        gate.check(EXPERIMENT, eid, Permission.EDIT)
        tags = [(v.validate_key(k, "key"), v.truncate(val, v.MAX_TAG_VALUE_LENGTH)) for k, val in tags]
        tag_name = dict(tags).get("mlflow.runName")
        if run_name and tag_name and run_name != tag_name:
            raise InvalidParameter(
                f"Both 'run_name' argument and 'mlflow.runName' tag are specified, but with "
                f"different values (run_name='{run_name}', mlflow.runName='{tag_name}')."
            )
        name = run_name or tag_name or generate_run_name()
        tags = [(k, val) for k, val in tags if k != "mlflow.runName"] + [("mlflow.runName", name)]
        run_id = _new_run_id()
        user = user_id or ""
        started = start_time if start_time is not None else _now()
        tags = sorted(dict(tags).items())

        def insert(conn: Connection, location: str) -> Run | None:
            artifact_uri = child_uri(location, run_id, "artifacts")
            internal_id = store.create_run(
                conn,
                run_id=run_id,
                experiment_id=eid,
                location=location,
                run_name=name,
                user_id=user,
                start_time=started,
                artifact_uri=artifact_uri,
                tags=tags,
            )
            if internal_id is None:
                return None
            # The record is what was just written, not read back: a new run has nothing else yet.
            return Run(
                internal_id,
                run_id,
                eid,
                name,
                user,
                "RUNNING",
                started,
                None,
                "active",
                artifact_uri,
                tags=dict(tags),
            )

        def work(conn: Connection) -> Run:
            known = self.locations.get(eid)
            run = insert(conn, known) if known is not None else None
            for _ in range(_CREATE_ATTEMPTS):
                if run is not None:
                    return run
                # Not known here yet, or the statement found the experiment deleted or changed (in
                # autocommit another replica may change it between these two statements: look again).
                location = active_location(conn, eid)
                self.locations.remember(eid, location)
                run = insert(conn, location)
            raise StoreUnavailable(f"experiment {eid} kept changing while a run was created in it")

        return in_transaction(self.db, work, single_statement=True)

    @gate.requires(Permission.READ, gate.RUN, "run_id")
    def get(self, run_id: str) -> Run:
        return in_transaction(self.db, lambda c: store.get_run(c, run_id), write=False)

    @gate.requires(Permission.EDIT, gate.RUN, "run_id")
    def update(self, run_id: str, *, status: str | None, end_time: int | None, run_name: str | None) -> Run:
        if status is not None and status not in v.RUN_STATUSES:
            status = None  # MLflow ignores an unknown status rather than failing the call

        def work(conn: Connection) -> Run:
            run = _require_active(store.find_run(conn, run_id))
            store.update_run(
                conn, run.internal_id, status=status, end_time=end_time, run_name=run_name or None
            )
            return store.load_runs(conn, [run.internal_id])[0]

        return in_transaction(self.db, work)

    @gate.requires(Permission.MANAGE, gate.RUN, "run_id")
    def set_lifecycle(self, run_id: str, stage: str) -> None:
        def work(conn: Connection) -> None:
            run = store.find_run(conn, run_id)
            store.set_run_lifecycle(conn, run.internal_id, stage, _now())

        in_transaction(self.db, work)

    def set_tag(self, run_id: str, key: str, value: str) -> None:
        self.log_batch(run_id, metrics=[], params=[], tags=[(key, value)])

    @gate.requires(Permission.EDIT, gate.RUN, "run_id")
    def delete_tag(self, run_id: str, key: str) -> None:
        def work(conn: Connection) -> None:
            run = _require_active(store.find_run(conn, run_id))
            if not store.delete_run_tag(conn, run.internal_id, key):
                raise NotFound(f"No tag with name: {key} in run with id {run_id}")

        in_transaction(self.db, work)

    @gate.requires(Permission.EDIT, gate.RUN, "run_id")
    def log_batch(
        self,
        run_id: str,
        *,
        metrics: list[MetricPoint],
        params: list[tuple[str, str]],
        tags: list[tuple[str, str]],
        model_metrics: Sequence[ModelMetricPoint] = (),
    ) -> None:
        """Log everything in one transaction: either all of it is stored or none of it.

        `model_metrics` are those of `metrics` that name a logged model: they are also stored as
        that model's metrics.
        """
        v.validate_batch_sizes(len(metrics), len(params), len(tags))
        for m in model_metrics:
            # The limits of datasets logged as run inputs, which is where these names come from.
            if len(m.dataset_name or "") > 500 or len(m.dataset_digest or "") > 36:
                raise InvalidParameter(
                    "A metric's dataset_name may have at most 500 characters and its dataset_digest 36."
                )
        for key in {m.key for m in metrics}:
            v.validate_key(key)
        for m in metrics:
            if math.isinf(m.value):
                m.value = v.metric_value(m.value)
        params = [(v.validate_key(k), v.truncate(val, v.MAX_PARAM_VALUE_LENGTH)) for k, val in params]
        seen: set[str] = set()
        for key, _ in params:
            if key in seen:
                raise InvalidParameter(
                    f"Duplicate parameter keys have been submitted: ['{key}']. Please ensure the request "
                    "contains only one param value per param key."
                )
            seen.add(key)
        tags = [(v.validate_key(k, "key"), v.truncate(val, v.MAX_TAG_VALUE_LENGTH)) for k, val in tags]
        if len(metrics) == 1 and not (params or tags or model_metrics) and self._one_statement_point:
            point = metrics[0]
            found = in_transaction(
                self.db, lambda c: metric_store.log_point(c, run_id, point), single_statement=True
            )
            if found is None:
                raise NotFound(f"Run with id={run_id} not found")
            stage, stored = found
            if stage != "active":
                raise InvalidParameter(
                    f"The run {run_id} must be in the 'active' state. Current state is {stage}."
                )
            if stored:
                return
            # A series another transaction created just now: the general path below sees it.

        def work(conn: Connection) -> tuple[int, dict[str, int]]:
            run = _require_active(store.find_run(conn, run_id))
            metric_store.log_params(conn, run.internal_id, run_id, params)
            if tags:
                store.set_run_tags(conn, run.internal_id, tags)
            known = self.series_ids.known(run.internal_id, list({m.key for m in metrics})) if metrics else {}
            found = metric_store.log_metrics(conn, run.internal_id, metrics, known)
            if model_metrics:
                logged_model_store.log_model_metrics(conn, run_id, model_metrics)
            return run.internal_id, found

        internal_id, new_series = in_transaction(self.db, work)
        # A series id is remembered only once its insert is committed: a rolled-back one is reused.
        after_commit(self.db, lambda: self.series_ids.remember(internal_id, new_series))

    def after_commit(self, fn: Callable[[], None]) -> None:
        """fn() once what this thread just logged is committed: with the write batch it joined, if any,
        and never if that batch is undone (its calls then log, and call this, again)."""
        after_commit(self.db, fn)

    @gate.requires(Permission.EDIT, gate.RUN, "run_id")
    def log_inputs(self, run_id: str, datasets: list[DatasetInput], model_ids: list[str]) -> None:
        for dataset in datasets:
            v.validate_dataset(dataset)

        def work(conn: Connection) -> None:
            run = _require_active(store.find_run(conn, run_id))
            input_store.log_dataset_inputs(conn, run.internal_id, run.experiment_id, datasets)
            input_store.link_models(conn, run.internal_id, "input", [(m, None) for m in model_ids])

        in_transaction(self.db, work)

    @gate.requires(Permission.EDIT, gate.RUN, "run_id")
    def log_outputs(self, run_id: str, models: list[tuple[str, int]]) -> None:
        def work(conn: Connection) -> None:
            run = _require_active(store.find_run(conn, run_id))
            input_store.link_models(conn, run.internal_id, "output", models)

        in_transaction(self.db, work)

    @gate.requires(Permission.EDIT, gate.RUN, "run_id")
    def log_model(self, run_id: str, model_json: str) -> None:
        """Append an MLmodel description to the run's mlflow.log-model.history tag (the 2.x client's path)."""
        try:
            model = json.loads(model_json)
        except ValueError:
            raise InvalidParameter("model_json is not valid JSON.") from None
        if not isinstance(model, dict):
            raise InvalidParameter("model_json must be a JSON object.")

        def work(conn: Connection) -> None:
            run = _require_active(store.find_run(conn, run_id, for_update=True))
            current = store.get_run_tag(conn, run.internal_id, "mlflow.log-model.history")
            history = json.loads(current) if current else []
            history.append(model)
            store.set_run_tags(conn, run.internal_id, [("mlflow.log-model.history", json.dumps(history))])

        in_transaction(self.db, work)

    def search(
        self,
        *,
        experiment_ids: list[str],
        filter_string: str | None,
        run_view_type: str | None,
        order_by: list[str],
        max_results: int | None,
        page_token: str | None,
    ) -> tuple[list[Run], str | None]:
        ids = parse_experiment_ids(experiment_ids)
        args = v.search_args(filter_string, order_by, max_results, page_token, default=1000, cap=50000)
        view = v.validate_view_type(run_view_type)
        if gate.installed() is not None:
            # Runs of experiments the caller may not read are left out, as if those were not asked for.
            ids = [e for e in ids if gate.readable(EXPERIMENT, e)]
            if not ids:
                return [], None

        def work(conn: Connection) -> tuple[list[Run], str | None]:
            page = search_run_page(conn, args, experiment_ids=ids, run_view_type=view)
            return page.runs, page.next_page_token

        return in_transaction(self.db, work, write=False)

    @gate.requires(Permission.READ, EXPERIMENT, "experiment_ids")
    def keys(self, experiment_ids: list[str], limit: int = 5000) -> tuple[list[str], list[str], list[str]]:
        """The param, metric and tag keys in use in the experiments (filter completion, column choice)."""
        ids = [parse_experiment_id(e) for e in experiment_ids]
        return in_transaction(self.db, lambda c: run_overview.distinct_keys(c, ids, limit), write=False)

    @gate.requires(Permission.READ, EXPERIMENT, "experiment_ids")
    def child_ids(
        self, parent_ids: list[str], experiment_ids: list[str], run_view_type: str | None, limit: int
    ) -> list[str]:
        """Ids of the runs in the experiments whose parent is one of `parent_ids`."""
        ids = [parse_experiment_id(e) for e in experiment_ids]
        view = v.validate_view_type(run_view_type)
        return in_transaction(
            self.db,
            lambda c: run_overview.child_run_ids(c, parent_ids, ids, view, limit),
            write=False,
        )

    def metric_history(
        self, run_id: str, key: str, max_results: int | None, page_token: str | None
    ) -> tuple[list[HistoryRow], str | None]:
        gate.check(gate.RUN, run_id, Permission.READ)
        limit = v.validate_max_results(max_results, default=MAX_HISTORY_PAGE, cap=MAX_HISTORY_PAGE)
        # History tokens are keyset tokens like the search ones: the last point's sort values.
        after = None
        if page_token:
            step, ts, value, nan = decode_token(page_token, _HISTORY_TOKEN, HISTORY_ORDER, self.db.dialect)
            after = (int(step), int(ts), float(value), bool(nan))

        def work(conn: Connection) -> tuple[list[HistoryRow], str | None]:
            run = store.find_run(conn, run_id)
            points, resume = metric_store.metric_history(conn, run.internal_id, key, limit, after)
            if resume is None:
                return points, None
            step, ts, value, nan = resume
            return points, encode_token(_HISTORY_TOKEN, [step, ts, value, int(nan)])

        return in_transaction(self.db, work, write=False)

    @gate.requires(Permission.READ, gate.RUN, "run_ids")
    def sampled_history(
        self,
        run_ids: list[str],
        key: str,
        max_results: int | None,
        start_step: int | None,
        end_step: int | None,
    ) -> list[MetricPoint]:
        if not run_ids:
            raise InvalidParameter("GetMetricHistoryBulkInterval request must specify at least one run_id.")
        if len(run_ids) > MAX_BULK_RUNS:
            raise InvalidParameter(
                f"GetMetricHistoryBulkInterval request must specify at most {MAX_BULK_RUNS} run_ids. "
                f"Received {len(run_ids)} run_ids."
            )
        limit = max_results if max_results is not None else MAX_BULK_POINTS
        if not 1 <= limit <= MAX_BULK_POINTS:
            raise InvalidParameter(f"max_results must be between 1 and {MAX_BULK_POINTS}.")
        if (start_step is None) != (end_step is None):
            raise InvalidParameter("If either start step or end step are specified, both must be specified.")
        if start_step is not None and end_step is not None and start_step > end_step:
            raise InvalidParameter(
                "end_step must be greater than start_step. "
                f"Found start_step={start_step} and end_step={end_step}."
            )

        def work(conn: Connection) -> list[MetricPoint]:
            refs = store.find_runs(conn, run_ids)
            sampled = metric_store.sampled_history(
                conn, [r.internal_id for r in refs], key, limit, start_step, end_step
            )
            out: list[MetricPoint] = []
            for ref in refs:
                for point in sampled.get(ref.internal_id, []):
                    point.run_id = ref.run_id
                    out.append(point)
            return out

        return in_transaction(self.db, work, write=False)

    @gate.requires(Permission.READ, gate.RUN, "run_ids")
    def metric_history_bulk(
        self, run_ids: list[str], key: str | None, max_results: int | None
    ) -> list[MetricPoint]:
        """Whole histories of one metric for several runs (the UI's charts), at most 25,000 points in all."""
        if not run_ids:
            raise InvalidParameter("GetMetricHistoryBulk request must specify at least one run_id.")
        if len(run_ids) > MAX_BULK_RUNS:
            raise InvalidParameter(
                f"GetMetricHistoryBulk request cannot specify more than {MAX_BULK_RUNS} run_ids. "
                f"Received {len(run_ids)} run_ids."
            )
        if key is None:
            raise InvalidParameter("GetMetricHistoryBulk request must specify a metric_key.")
        if max_results is not None and max_results < 0:
            raise InvalidParameter(f"max_results must be 0 or more, not {max_results}.")
        limit = MAX_HISTORY_PAGE if max_results is None else min(max_results, MAX_HISTORY_PAGE)
        return in_transaction(
            self.db, lambda c: metric_store.history_bulk(c, run_ids, key, limit), write=False
        )
