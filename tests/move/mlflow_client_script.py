"""Run by the stock client of one MLflow release (3.x or 2.22, in its own venv): fill a store, or describe it.

    python mlflow_client_script.py populate TRACKING_URI
    python mlflow_client_script.py snapshot TRACKING_URI OUT.json

The snapshot is everything the client reads back (experiments, runs, metric histories, datasets, logged
models, the registry, a prediction through a model alias), as JSON, so two servers can be compared.
"""

from __future__ import annotations

import json
import math
import sys
import time

import mlflow
import mlflow.pyfunc
import mlflow.sklearn
from mlflow import MlflowClient
from mlflow.entities import Metric, Param, RunTag, ViewType

MLFLOW3 = int(mlflow.__version__.split(".")[0]) >= 3
MODEL = "move-model"
FEATURES = [[0.0, 1.0], [1.0, 0.0], [2.0, 1.0], [3.0, 0.0], [0.5, 0.5], [2.5, 2.0]]
LABELS = [0, 0, 1, 1, 0, 1]
# Given, so that log_model does not spend many seconds inferring them in a subprocess.
_REQS = ["scikit-learn"]


def _log_model(model, run_id_holder):  # noqa: ANN001, ANN202
    if MLFLOW3:
        info = mlflow.sklearn.log_model(
            model, name="model", registered_model_name=MODEL, pip_requirements=_REQS
        )
    else:
        info = mlflow.sklearn.log_model(
            model, artifact_path="model", registered_model_name=MODEL, pip_requirements=_REQS
        )
    run_id_holder.append(info)
    return info


def populate(uri: str) -> None:
    from sklearn.linear_model import LogisticRegression

    mlflow.set_tracking_uri(uri)
    client = MlflowClient(uri)
    exp_a = client.create_experiment("move-a", tags={"team": "vision", "mlflow.note.content": "notes"})
    exp_b = client.create_experiment("move-b")
    exp_gone = client.create_experiment("move-deleted")
    mlflow.set_experiment(experiment_id=exp_a)

    import pandas as pd

    frame = pd.DataFrame({"x": [1.0, 2.0, 3.0], "y": [0, 1, 0]})
    dataset = mlflow.data.from_pandas(frame, source="s3://bucket/train.csv", name="train", targets="y")
    with mlflow.start_run(run_name="parent") as parent:
        mlflow.log_params({"lr": "0.1", "layers": "3"})
        mlflow.set_tags({"stage": "dev", "owner": "ana"})
        mlflow.log_input(dataset, context="training")
        now = int(time.time() * 1000)
        points = [Metric("loss", 1.0 / (i + 1), now + i, i) for i in range(300)]
        points += [
            Metric("acc", v, now + i, i) for i, v in enumerate([0.5, math.nan, math.inf, -math.inf, 0.7])
        ]
        points += [Metric("tie", v, now, 3) for v in (1.0, 2.0, math.nan)]  # one step, one time, three values
        for start in range(0, len(points), 200):
            client.log_batch(parent.info.run_id, metrics=points[start : start + 200])
        with mlflow.start_run(run_name="child", nested=True):
            mlflow.log_metric("child_metric", 3.0, step=1)
            mlflow.log_param("child_param", "x")
        model = LogisticRegression().fit(FEATURES, LABELS)
        infos: list = []
        _log_model(model, infos)
    with mlflow.start_run(run_name="second-model"):
        _log_model(LogisticRegression(C=0.5).fit(FEATURES, LABELS), infos)
        mlflow.log_metric("only", 1.0)
    failed = client.create_run(exp_a, run_name="failed", tags={"kind": "failure"})
    client.log_batch(failed.info.run_id, params=[Param("p", "1")], tags=[RunTag("t", "v")])
    client.set_terminated(failed.info.run_id, "FAILED")
    killed = client.create_run(exp_b, run_name="killed")
    client.set_terminated(killed.info.run_id, "KILLED", end_time=int(time.time() * 1000) + 5)
    deleted = client.create_run(exp_b, run_name="deleted")
    client.log_metric(deleted.info.run_id, "m", 2.0, step=7)
    client.delete_run(deleted.info.run_id)
    in_gone = client.create_run(exp_gone, run_name="in-deleted-experiment")
    client.log_param(in_gone.info.run_id, "k", "v")
    client.delete_experiment(exp_gone)

    client.update_registered_model(MODEL, description="a model moved from MLflow")
    client.set_registered_model_tag(MODEL, "domain", "tabular")
    client.update_model_version(MODEL, "1", description="first")
    client.set_model_version_tag(MODEL, "1", "validated", "yes")
    client.transition_model_version_stage(MODEL, "1", "Production")
    client.transition_model_version_stage(MODEL, "2", "Staging")
    client.set_registered_model_alias(MODEL, "champion", "2")
    client.set_registered_model_alias(MODEL, "previous", "1")
    client.create_registered_model("empty-model", tags={"k": "v"}, description="no versions")

    if MLFLOW3:
        lm = mlflow.create_external_model(name="external", model_type="agent", params={"temperature": "0.2"})
        client.set_logged_model_tags(lm.model_id, {"purpose": "eval"})
        with mlflow.start_run(run_name="eval") as run:
            mlflow.log_metric("quality", 0.8, step=2, model_id=lm.model_id, dataset=dataset)
            mlflow.log_metric("speed", 12.0, model_id=lm.model_id)
            client.log_outputs(run.info.run_id, [mlflow.entities.LoggedModelOutput(lm.model_id, 4)])


def _f(value: float) -> object:
    if isinstance(value, float) and (math.isnan(value) or math.isinf(value)):
        return repr(value)
    return value


def _experiment(e) -> dict:  # noqa: ANN001
    return {
        "id": e.experiment_id,
        "name": e.name,
        "artifact_location": e.artifact_location,
        "lifecycle_stage": e.lifecycle_stage,
        "creation_time": e.creation_time,
        "last_update_time": e.last_update_time,
        "tags": dict(e.tags),
    }


def _run(client: MlflowClient, r) -> dict:  # noqa: ANN001
    info = r.info
    out = {
        "run_id": info.run_id,
        "experiment_id": info.experiment_id,
        "run_name": info.run_name,
        "user_id": info.user_id,
        "status": info.status,
        "start_time": info.start_time,
        "end_time": info.end_time,
        "lifecycle_stage": info.lifecycle_stage,
        "artifact_uri": info.artifact_uri,
        "params": dict(r.data.params),
        "tags": dict(r.data.tags),
        "metrics": {k: _f(v) for k, v in r.data.metrics.items()},
        "datasets": sorted(
            json.dumps(
                {
                    "name": d.dataset.name,
                    "digest": d.dataset.digest,
                    "source_type": d.dataset.source_type,
                    "source": d.dataset.source,
                    "schema": d.dataset.schema,
                    "profile": d.dataset.profile,
                    "tags": sorted((t.key, t.value) for t in d.tags),
                },
                sort_keys=True,
            )
            for d in (r.inputs.dataset_inputs if r.inputs else [])
        ),
    }
    if MLFLOW3:
        out["model_inputs"] = sorted(m.model_id for m in (r.inputs.model_inputs if r.inputs else []) or [])
        out["model_outputs"] = sorted(
            (m.model_id, m.step) for m in ((r.outputs.model_outputs if r.outputs else []) or [])
        )
    out["history"] = {
        key: [
            (m.step, m.timestamp, _f(m.value))
            for m in sorted(
                client.get_metric_history(info.run_id, key),
                key=lambda m: (m.step, m.timestamp, repr(m.value)),
            )
        ]
        for key in sorted(r.data.metrics)
    }
    return out


def _version(v) -> dict:  # noqa: ANN001
    out = {
        "name": v.name,
        "version": str(v.version),
        "creation_timestamp": v.creation_timestamp,
        "last_updated_timestamp": v.last_updated_timestamp,
        "description": v.description or "",
        "user_id": v.user_id or "",
        "current_stage": v.current_stage,
        "source": v.source,
        "run_id": v.run_id,
        "run_link": v.run_link or "",
        "status": v.status,
        "status_message": v.status_message or "",
        "tags": dict(v.tags),
        "aliases": sorted(v.aliases),
    }
    if MLFLOW3:
        out["model_id"] = getattr(v, "model_id", None)
    return out


def snapshot(uri: str, out_path: str) -> None:
    mlflow.set_tracking_uri(uri)
    client = MlflowClient(uri)
    experiments = sorted(
        client.search_experiments(view_type=ViewType.ALL), key=lambda e: int(e.experiment_id)
    )
    snap: dict = {"experiments": [_experiment(e) for e in experiments]}
    snap["get_experiment"] = [_experiment(client.get_experiment(e.experiment_id)) for e in experiments]
    runs = client.search_runs(
        [e.experiment_id for e in experiments], run_view_type=ViewType.ALL, max_results=1000
    )
    snap["runs"] = sorted((_run(client, r) for r in runs), key=lambda r: r["run_id"])
    snap["get_run"] = sorted(
        (_run(client, client.get_run(r.info.run_id)) for r in runs), key=lambda r: r["run_id"]
    )
    snap["active_runs"] = sorted(
        r.info.run_id
        for r in client.search_runs(
            [e.experiment_id for e in experiments], run_view_type=ViewType.ACTIVE_ONLY
        )
    )
    models = sorted(client.search_registered_models(), key=lambda m: m.name)
    snap["registered_models"] = [
        {
            "name": m.name,
            "description": m.description or "",
            "creation_timestamp": m.creation_timestamp,
            "last_updated_timestamp": m.last_updated_timestamp,
            "tags": dict(m.tags),
            "aliases": dict(m.aliases) if isinstance(m.aliases, dict) else sorted(m.aliases),
            "latest_versions": sorted(_version(v)["version"] for v in (m.latest_versions or [])),
        }
        for m in models
    ]
    snap["versions"] = sorted(
        (_version(v) for m in models for v in client.search_model_versions(f"name='{m.name}'")),
        key=lambda v: (v["name"], int(v["version"])),
    )
    snap["by_alias"] = {
        alias: _version(client.get_model_version_by_alias(MODEL, alias))["version"]
        for alias in ("champion", "previous")
    }
    model = mlflow.pyfunc.load_model(f"models:/{MODEL}@champion")
    snap["prediction"] = [int(x) for x in model.predict(FEATURES)]
    if MLFLOW3:
        found = client.search_logged_models([e.experiment_id for e in experiments], max_results=100)
        snap["logged_models"] = sorted(
            (
                {
                    "model_id": m.model_id,
                    "experiment_id": m.experiment_id,
                    "name": m.name,
                    "artifact_location": m.artifact_location,
                    "creation_timestamp": m.creation_timestamp,
                    "last_updated_timestamp": m.last_updated_timestamp,
                    "status": str(m.status),
                    "model_type": m.model_type,
                    "source_run_id": m.source_run_id,
                    "params": dict(m.params),
                    "tags": dict(m.tags),
                    "metrics": sorted(
                        (x.key, _f(x.value), x.step, x.timestamp, x.run_id, x.dataset_name, x.dataset_digest)
                        for x in (m.metrics or [])
                    ),
                }
                for m in found
            ),
            key=lambda m: m["model_id"],
        )
        snap["get_logged_model"] = [
            client.get_logged_model(m["model_id"]).name for m in snap["logged_models"]
        ]
    with open(out_path, "w") as handle:
        json.dump(snap, handle, indent=1, sort_keys=True, default=str)


if __name__ == "__main__":
    if sys.argv[1] == "populate":
        populate(sys.argv[2])
    else:
        snapshot(sys.argv[2], sys.argv[3])
