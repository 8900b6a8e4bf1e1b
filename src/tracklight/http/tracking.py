"""Handlers for the tracking API: experiments, runs, logging, search and metric history."""

from __future__ import annotations

import time
from typing import Any

from tracklight.errors import InvalidParameter
from tracklight.http import encode
from tracklight.http.request import Fields
from tracklight.http.telemetry import POINTS_INGESTED
from tracklight.services.artifacts import Artifacts
from tracklight.services.experiments import Experiments
from tracklight.services.promptlab import PromptTrial, record_trial
from tracklight.services.runs import Runs
from tracklight.store.records import DatasetInput, MetricPoint, ModelMetricPoint

Json = dict[str, Any]


def _missing(name: str) -> InvalidParameter:
    return InvalidParameter(
        f"Missing value for required parameter '{name}'. See the API docs for more information."
    )


# Experiments ------------------------------------------------------------------------------------


def create_experiment(f: Fields, experiments: Experiments) -> Json:
    eid = experiments.create(f.required_str("name"), f.str("artifact_location"), f.pairs("tags"))
    return {"experiment_id": str(eid)}


def get_experiment(f: Fields, experiments: Experiments) -> Json:
    return {"experiment": encode.experiment(experiments.get(f.required_str("experiment_id")))}


def get_experiment_by_name(f: Fields, experiments: Experiments) -> Json:
    return {"experiment": encode.experiment(experiments.get_by_name(f.required_str("experiment_name")))}


def search_experiments(f: Fields, experiments: Experiments) -> Json:
    found, token = experiments.search(
        filter_string=f.str("filter"),
        view_type=f.str("view_type"),
        order_by=f.strings("order_by"),
        max_results=f.int("max_results"),
        page_token=f.str("page_token"),
    )
    return encode.page("experiments", [encode.experiment(e) for e in found], token)


def update_experiment(f: Fields, experiments: Experiments) -> Json:
    new_name = f.str("new_name")
    if new_name is not None:
        experiments.rename(f.required_str("experiment_id"), new_name)
    else:
        experiments.get(f.required_str("experiment_id"))
    return {}


def delete_experiment(f: Fields, experiments: Experiments) -> Json:
    experiments.set_lifecycle(f.required_str("experiment_id"), "deleted")
    return {}


def restore_experiment(f: Fields, experiments: Experiments) -> Json:
    experiments.set_lifecycle(f.required_str("experiment_id"), "active")
    return {}


def set_experiment_tag(f: Fields, experiments: Experiments) -> Json:
    experiments.set_tag(f.required_str("experiment_id"), f.required_str("key"), f.required_str("value"))
    return {}


def delete_experiment_tag(f: Fields, experiments: Experiments) -> Json:
    experiments.delete_tag(f.required_str("experiment_id"), f.required_str("key"))
    return {}


# Runs -------------------------------------------------------------------------------------------


def create_run(f: Fields, runs: Runs) -> Json:
    run = runs.create(
        experiment_id=f.str("experiment_id"),
        user_id=f.str("user_id"),
        run_name=f.str("run_name"),
        start_time=f.int("start_time"),
        tags=f.pairs("tags"),
    )
    return {"run": encode.run(run)}


def get_run(f: Fields, runs: Runs) -> Json:
    return {"run": encode.run(runs.get(f.run_id()))}


def update_run(f: Fields, runs: Runs) -> Json:
    run = runs.update(
        f.run_id(), status=f.str("status"), end_time=f.int("end_time"), run_name=f.str("run_name")
    )
    return {"run_info": encode.run_info(run)}


def delete_run(f: Fields, runs: Runs) -> Json:
    runs.set_lifecycle(f.run_id(), "deleted")
    return {}


def restore_run(f: Fields, runs: Runs) -> Json:
    runs.set_lifecycle(f.run_id(), "active")
    return {}


def set_tag(f: Fields, runs: Runs) -> Json:
    runs.set_tag(f.run_id(), f.required_str("key"), f.required_str("value"))
    return {}


def delete_tag(f: Fields, runs: Runs) -> Json:
    runs.delete_tag(f.run_id(), f.required_str("key"))
    return {}


def _metric(f: Fields) -> MetricPoint:
    key = f.required_str("key")
    value = f.float("value", required=True)
    timestamp = f.int("timestamp", required=True)
    assert value is not None and timestamp is not None  # required=True raises instead
    step = f.int("step") or 0
    model_id = f.str("model_id")
    if model_id:
        # Logged against a model too (MLflow 3): the model's metrics keep the dataset it was computed on.
        return ModelMetricPoint(
            key,
            value,
            timestamp,
            step,
            model_id=model_id,
            dataset_name=f.str("dataset_name") or None,
            dataset_digest=f.str("dataset_digest") or None,
        )
    return MetricPoint(key, value, timestamp, step)


_INT64_MIN, _INT64_MAX = -(2**63), 2**63 - 1


def _metrics(f: Fields) -> tuple[list[MetricPoint], list[ModelMetricPoint]]:
    """Parse a batch's metrics, and those of them logged against a model; well-typed points (what
    the client sends) skip the general parser unless they name a model."""
    out: list[MetricPoint] = []
    for_models: list[ModelMetricPoint] = []
    for index, item in enumerate(f.list("metrics")):
        if type(item) is dict and "model_id" not in item:
            key, value, ts, step = (
                item.get("key"),
                item.get("value"),
                item.get("timestamp"),
                item.get("step", 0),
            )
            if (
                type(key) is str
                and type(value) in (float, int)
                and type(ts) is int
                and type(step) is int
                and _INT64_MIN <= ts <= _INT64_MAX
                and _INT64_MIN <= step <= _INT64_MAX
            ):
                out.append(MetricPoint(key, float(value), ts, step))
                continue
        path = f"metrics[{index}]"
        point = _metric(
            Fields(item, path=path) if isinstance(item, dict) else Fields({"value": item}, path=path)
        )
        out.append(point)
        if type(point) is ModelMetricPoint:
            for_models.append(point)
    return out, for_models


def log_metric(f: Fields, runs: Runs) -> Json:
    point = _metric(f)
    model_metrics = [point] if type(point) is ModelMetricPoint else []
    runs.log_batch(f.run_id(), metrics=[point], params=[], tags=[], model_metrics=model_metrics)
    runs.after_commit(POINTS_INGESTED.inc)  # counted once, even if a write batch runs the call again
    return {}


def log_param(f: Fields, runs: Runs) -> Json:
    runs.log_batch(f.run_id(), metrics=[], params=[(f.required_str("key"), f.required_str("value"))], tags=[])
    return {}


def log_batch(f: Fields, runs: Runs) -> Json:
    metrics, model_metrics = _metrics(f)
    runs.log_batch(
        f.run_id(),
        metrics=metrics,
        params=[(p.required_str("key"), p.required_str("value")) for p in f.objects("params")],
        tags=f.pairs("tags"),
        model_metrics=model_metrics,
    )
    if metrics:
        runs.after_commit(lambda: POINTS_INGESTED.inc(len(metrics)))
    return {}


def log_inputs(f: Fields, runs: Runs) -> Json:
    datasets = []
    for item in f.objects("datasets"):
        d = Fields(item.raw("dataset") or {})
        datasets.append(
            DatasetInput(
                name=d.required_str("name"),
                digest=d.required_str("digest"),
                source_type=d.str("source_type") or "",
                source=d.str("source") or "",
                schema=d.str("schema"),
                profile=d.str("profile"),
                tags=item.pairs("tags"),
            )
        )
    model_ids = [m.required_str("model_id") for m in f.objects("models")]
    runs.log_inputs(f.run_id(), datasets, model_ids)
    return {}


def log_outputs(f: Fields, runs: Runs) -> Json:
    models = [(m.required_str("model_id"), m.int("step") or 0) for m in f.objects("models")]
    runs.log_outputs(f.run_id(), models)
    return {}


def log_model(f: Fields, runs: Runs) -> Json:
    runs.log_model(f.run_id(), f.required_str("model_json"))
    return {}


def search_runs(f: Fields, runs: Runs) -> Json:
    found, token = runs.search(
        experiment_ids=f.strings("experiment_ids"),
        filter_string=f.str("filter"),
        run_view_type=f.str("run_view_type"),
        order_by=f.strings("order_by"),
        max_results=f.int("max_results"),
        page_token=f.str("page_token"),
    )
    return encode.page("runs", [encode.run(r) for r in found], token)


# Metric history ---------------------------------------------------------------------------------


def get_metric_history(f: Fields, runs: Runs) -> Json:
    key = f.required_str("metric_key")
    rows, token = runs.metric_history(f.run_id(), key, f.int("max_results"), f.str("page_token"))
    return encode.page("metrics", encode.history(key, rows), token)


def get_metric_history_bulk_interval(f: Fields, runs: Runs) -> Json:
    # An empty list or key counts as missing, as in MLflow's request checks.
    run_ids = f.strings("run_ids")
    if not run_ids:
        raise _missing("run_ids")
    metric_key = f.required_str("metric_key")
    if not metric_key:
        raise _missing("metric_key")
    points = runs.sampled_history(
        run_ids,
        metric_key,
        f.int("max_results"),
        f.int("start_step"),
        f.int("end_step"),
    )
    return {"metrics": [encode.metric(p) for p in points]} if points else {}


def get_metric_history_bulk(f: Fields, runs: Runs) -> Json:
    """GET metrics/get-history-bulk?run_id=…&run_id=…&metric_key=: every run's points, with its run_id."""
    points = runs.metric_history_bulk(f.strings("run_id"), f.str("metric_key"), f.int("max_results"))
    return {"metrics": [encode.metric(p) for p in points]}


# Datasets ---------------------------------------------------------------------------------------


def search_datasets(f: Fields, experiments: Experiments) -> Json:
    """POST experiments/search-datasets: the datasets logged to the experiments' runs, by input context."""
    summaries = []
    for experiment_id, name, digest, context in experiments.dataset_summaries(f.strings("experiment_ids")):
        summary = {"experiment_id": str(experiment_id), "name": name, "digest": digest}
        if context is not None:
            summary["context"] = context
        summaries.append(summary)
    return {"dataset_summaries": summaries} if summaries else {}


# PromptLab ---------------------------------------------------------------------------------------

_PROMPTLAB_REQUIRED = (
    "experiment_id",
    "prompt_template",
    "prompt_parameters",
    "model_route",
    "model_input",
    "mlflow_version",
)


def create_promptlab_run(f: Fields, artifacts: Artifacts) -> Json:
    """The UI's prompt engineering page records a trial as a run (MLflow's ajax-only endpoint)."""
    for name in _PROMPTLAB_REQUIRED:  # checked in this order, each absent or empty value refused
        if not f.raw(name):
            raise InvalidParameter(f"CreatePromptlabRun request must specify {name}.")
    trial = PromptTrial(
        experiment_id=str(f.raw("experiment_id")),
        run_name=f.str("run_name"),
        user_id=f.str("user_id") or "unknown",
        start_time=f.int("start_time") or int(time.time() * 1000),
        tags=f.pairs("tags"),
        prompt_template=f.required_str("prompt_template"),
        prompt_parameters=_stringified_pairs(f, "prompt_parameters"),
        model_route=f.required_str("model_route"),
        model_parameters=_stringified_pairs(f, "model_parameters"),
        model_input=f.required_str("model_input"),
        model_output=f.str("model_output"),
        model_output_parameters=_stringified_pairs(f, "model_output_parameters"),
    )
    return {"run": encode.run(record_trial(artifacts, trial))}


def _stringified_pairs(f: Fields, name: str) -> list[tuple[str, str]]:
    """{key, value} objects whose values may be numbers: MLflow logs them as Python prints them."""
    out = []
    for item in f.objects(name):
        value = item.raw("value")
        out.append((item.required_str("key"), value if isinstance(value, str) else str(value)))
    return out
