"""The route tables: the MLflow REST API (method, path under /mlflow/, handler, service it needs), and the
routes whose handlers read the request themselves (GraphQL, raw uploads, streamed files)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from tracklight.http import traces as tr
from tracklight.http import tracking as t
from tracklight.http.artifacts import list_run_artifacts
from tracklight.http.assessments import ASSESSMENT_ROUTES
from tracklight.http.datasets import DATASET_ROUTES
from tracklight.http.gateway import GATEWAY_ROUTES
from tracklight.http.issues import ISSUE_ROUTES
from tracklight.http.logged_models import LOGGED_MODEL_ROUTES
from tracklight.http.registry import REGISTRY_ROUTES
from tracklight.http.scorers import SCORER_ROUTES
from tracklight.http.ui_artifacts import logged_model_file, upload_run_artifact
from tracklight.http.webhooks import WEBHOOK_ROUTES

Handler = Callable[[Any, Any], dict[str, Any]]

# Each entry is served at /api/2.0/mlflow/<path> and mirrored at /ajax-api/2.0/mlflow/<path>.
API_2_0: list[tuple[tuple[str, ...], str, Handler, str]] = [
    (("POST",), "experiments/create", t.create_experiment, "experiments"),
    (("GET",), "experiments/get", t.get_experiment, "experiments"),
    (("GET",), "experiments/get-by-name", t.get_experiment_by_name, "experiments"),
    (("POST", "GET"), "experiments/search", t.search_experiments, "experiments"),
    (("POST",), "experiments/update", t.update_experiment, "experiments"),
    (("POST",), "experiments/delete", t.delete_experiment, "experiments"),
    (("POST",), "experiments/restore", t.restore_experiment, "experiments"),
    (("POST",), "experiments/set-experiment-tag", t.set_experiment_tag, "experiments"),
    (("POST",), "experiments/delete-experiment-tag", t.delete_experiment_tag, "experiments"),
    (("POST",), "runs/create", t.create_run, "runs"),
    (("GET",), "runs/get", t.get_run, "runs"),
    (("POST",), "runs/update", t.update_run, "runs"),
    (("POST",), "runs/delete", t.delete_run, "runs"),
    (("POST",), "runs/restore", t.restore_run, "runs"),
    (("POST",), "runs/search", t.search_runs, "runs"),
    (("POST",), "runs/set-tag", t.set_tag, "runs"),
    (("POST",), "runs/delete-tag", t.delete_tag, "runs"),
    (("POST",), "runs/log-metric", t.log_metric, "runs"),
    (("POST",), "runs/log-parameter", t.log_param, "runs"),
    (("POST",), "runs/log-batch", t.log_batch, "runs"),
    (("POST",), "runs/log-inputs", t.log_inputs, "runs"),
    (("POST",), "runs/outputs", t.log_outputs, "runs"),
    (("POST",), "runs/log-model", t.log_model, "runs"),
    (("GET",), "metrics/get-history", t.get_metric_history, "runs"),
    (("GET",), "metrics/get-history-bulk-interval", t.get_metric_history_bulk_interval, "runs"),
    (("GET",), "metrics/get-history-bulk", t.get_metric_history_bulk, "runs"),
    (("POST",), "experiments/search-datasets", t.search_datasets, "experiments"),
    (("GET",), "artifacts/list", list_run_artifacts, "artifacts"),
    (("POST",), "runs/create-promptlab-run", t.create_promptlab_run, "artifacts"),
]
API_2_0 += LOGGED_MODEL_ROUTES + REGISTRY_ROUTES
API_2_0 += WEBHOOK_ROUTES
API_2_0 += tr.TRACE_ROUTES_2_0

# Handlers whose work is at most one short write transaction (and reads before it), each with what makes
# a call short: on SQLite these may run on the event loop's thread (http.app.TracklightApp._call).
# Re-running one from the start is harmless until its write has begun, which the loop's thread relies on.
_BATCH_ENTRIES_INLINE = 100


def _always(_: Any) -> bool:
    return True


def _small_batch(f: Any) -> bool:
    return sum(len(v) for k in ("metrics", "params", "tags") if isinstance(v := f.data.get(k), list)) <= (
        _BATCH_ENTRIES_INLINE
    )


SHORT_WRITES: dict[Handler, Callable[[Any], bool]] = {
    t.create_run: _always,
    t.update_run: _always,
    t.set_tag: _always,
    t.delete_tag: _always,
    t.log_metric: _always,
    t.log_param: _always,
    t.log_batch: _small_batch,
}

# Handlers that only read, and in a few milliseconds when the request is an ordinary one: on SQLite
# these may run on the event loop's thread too, their reads bounded (store.loop_reads), which saves
# the hop to a worker and back (two thread wake-ups, a tenth to a fifth of such a request's CPU).
SHORT_READS: frozenset[Handler] = frozenset(
    {
        t.get_experiment,
        t.get_experiment_by_name,
        t.get_run,
        tr.search_traces_v3,
        tr.search_traces_v2,
        tr.get_trace_info_v3,
        tr.batch_get_trace_infos,
    }
)

# MLflow 3-only services, served at /api/3.0/mlflow/<path> and /ajax-api/3.0/mlflow/<path> (not under 2.0).
API_3_0: list[tuple[tuple[str, ...], str, Handler, str]] = list(DATASET_ROUTES)
API_3_0 += SCORER_ROUTES + ISSUE_ROUTES
API_3_0 += tr.TRACE_ROUTES_3_0
API_3_0 += ASSESSMENT_ROUTES
API_3_0 += GATEWAY_ROUTES


@dataclass(frozen=True)
class RawRoute:
    """A handler given the request itself, every service by name, and the path's parameters."""

    serve: Callable[[Request, Mapping[str, Any], dict[str, str]], Awaitable[Response]]


async def _graphql(request: Request, services: Mapping[str, Any], params: dict[str, str]) -> Response:
    # Imported on the first query: the GraphQL library is a tenth of the server's start-up, and only
    # MLflow's web UI sends GraphQL.
    from tracklight.http import graphql

    return await graphql.serve(request, services, params)


async def _otlp_export(request: Request, services: Mapping[str, Any], params: dict[str, str]) -> Response:
    # Imported on the first spans: protobuf and OpenTelemetry's messages are ~2 MB and a part of
    # start-up that a server nobody sends traces to need not pay.
    from tracklight.http import otlp

    return await otlp.export_traces(request, services, params)


def _ui_routes() -> list[tuple[tuple[str, ...], str, RawRoute]]:
    routes = [(("GET", "POST"), "/graphql", RawRoute(_graphql))]
    for api in ("/api/2.0/mlflow/", "/ajax-api/2.0/mlflow/"):
        routes += [
            (("GET", "POST"), api + "graphql", RawRoute(_graphql)),
            (("POST",), api + "upload-artifact", RawRoute(upload_run_artifact)),
            (("GET",), api + "logged-models/{model_id}/artifacts/files", RawRoute(logged_model_file)),
        ]
    # Traces: the reads whose spans are streamed from the database, and OTLP span ingest (no /api prefix).
    for api in ("/api/2.0/mlflow/", "/ajax-api/2.0/mlflow/", "/api/3.0/mlflow/", "/ajax-api/3.0/mlflow/"):
        routes.append((("GET",), api + "get-trace-artifact", RawRoute(tr.get_trace_artifact)))
    for api in ("/api/3.0/mlflow/", "/ajax-api/3.0/mlflow/"):
        routes += [
            (("GET",), api + "traces/get", RawRoute(tr.get_trace)),
            (("GET",), api + "traces/batchGet", RawRoute(tr.batch_get_traces)),
        ]
    routes.append((("POST",), "/v1/traces", RawRoute(_otlp_export)))
    return routes


# (methods, path under the static prefix, handler): the web UI's routes beside the REST API.
RAW_ROUTES = _ui_routes()
