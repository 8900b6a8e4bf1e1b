"""Store records to MLflow wire JSON: snake_case fields, empty fields omitted, NaN as a string."""

from __future__ import annotations

import math
from math import isfinite
from typing import Any

from tracklight.store.records import DatasetInput, Experiment, MetricPoint, Run


def wire_float(value: float) -> float | str:
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "Infinity" if value > 0 else "-Infinity"
    return value


def _tags(tags: dict[str, str]) -> list[dict[str, str]]:
    return [{"key": k, "value": v} for k, v in tags.items()]


def experiment(e: Experiment) -> dict[str, Any]:
    out: dict[str, Any] = {
        "experiment_id": str(e.experiment_id),
        "name": e.name,
        "artifact_location": e.artifact_location,
        "lifecycle_stage": e.lifecycle_stage,
        "last_update_time": e.last_update_time,
        "creation_time": e.creation_time,
    }
    if e.tags:
        out["tags"] = _tags(e.tags)
    return out


def metric(m: MetricPoint) -> dict[str, Any]:
    out: dict[str, Any] = {
        "key": m.key,
        "value": wire_float(m.value),
        "timestamp": m.timestamp,
        "step": m.step,
    }
    if m.run_id is not None:
        out["run_id"] = m.run_id
    return out


def history(key: str, rows: list[tuple[int, int, float, bool]]) -> list[dict[str, Any]]:
    """Metric history rows (step, timestamp, value, is_nan); inline, as a page holds up to 25,000."""
    return [
        {"key": key, "value": "NaN" if is_nan else value, "timestamp": ts, "step": step}
        for step, ts, value, is_nan in rows
    ]


def run_info(r: Run) -> dict[str, Any]:
    out: dict[str, Any] = {
        "run_id": r.run_id,
        "run_uuid": r.run_id,
        "run_name": r.run_name,
        "experiment_id": str(r.experiment_id),
        "status": r.status,
        "start_time": r.start_time,
        "artifact_uri": r.artifact_uri,
        "lifecycle_stage": r.lifecycle_stage,
    }
    # An empty user is the proto default: the client reads "" either way, and every field sent is
    # parsed again (protobuf ParseDict) for each of the thousands of runs in a listing.
    if r.user_id:
        out["user_id"] = r.user_id
    if r.end_time:
        out["end_time"] = r.end_time
    return out


def run(r: Run) -> dict[str, Any]:
    # Inlined rather than built from metric() and _tags(): a listing encodes thousands of runs.
    data: dict[str, Any] = {}
    if r.metrics:
        data["metrics"] = [
            {
                "key": m.key,
                "value": m.value if isfinite(m.value) else wire_float(m.value),
                "timestamp": m.timestamp,
                "step": m.step,
            }
            if m.run_id is None
            else metric(m)
            for m in r.metrics
        ]
    if r.params:
        data["params"] = [{"key": k, "value": v} for k, v in r.params.items()]
    if r.tags:
        data["tags"] = [{"key": k, "value": v} for k, v in r.tags.items()]
    out: dict[str, Any] = {"info": run_info(r), "data": data}
    # No empty "inputs": the client builds the same empty RunInputs from an absent block (both 2.x
    # and 3.x), and an empty message still costs it a parse per run.
    if r.dataset_inputs or r.model_inputs:
        inputs: dict[str, Any] = {}
        if r.dataset_inputs:
            inputs["dataset_inputs"] = [_dataset_input(d) for d in r.dataset_inputs]
        if r.model_inputs:
            inputs["model_inputs"] = [{"model_id": m} for m in r.model_inputs]
        out["inputs"] = inputs
    if r.model_outputs:
        out["outputs"] = {"model_outputs": [{"model_id": m, "step": s} for m, s in r.model_outputs]}
    return out


def _dataset_input(d: DatasetInput) -> dict[str, Any]:
    return {
        **({"tags": [{"key": k, "value": v} for k, v in d.tags]} if d.tags else {}),
        "dataset": {
            k: val
            for k, val in (
                ("name", d.name),
                ("digest", d.digest),
                ("source_type", d.source_type),
                ("source", d.source),
                ("schema", d.schema),
                ("profile", d.profile),
            )
            if val is not None
        },
    }


def page(name: str, items: list[dict[str, Any]], token: str | None) -> dict[str, Any]:
    """A page of results; MLflow omits the list when it is empty and the token on the last page."""
    out: dict[str, Any] = {}
    if items:
        out[name] = items
    if token:
        out["next_page_token"] = token
    return out
