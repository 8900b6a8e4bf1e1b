"""The route table of the MLflow REST API: (method, path under /mlflow/, handler, service it needs)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from tracklight.http import tracking as t
from tracklight.http.artifacts import list_run_artifacts
from tracklight.http.logged_models import LOGGED_MODEL_ROUTES
from tracklight.http.registry import REGISTRY_ROUTES

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
    (("GET",), "artifacts/list", list_run_artifacts, "artifacts"),
    (("POST",), "runs/create-promptlab-run", t.create_promptlab_run, "artifacts"),
]
API_2_0 += LOGGED_MODEL_ROUTES + REGISTRY_ROUTES
