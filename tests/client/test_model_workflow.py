"""The article's workflow with either client: log a model, register it, alias it, load it by alias."""

from __future__ import annotations

import json
from types import ModuleType

import numpy as np
import pytest
from harness.api import is_mlflow3
from harness.plugin import Tracking

sklearn = pytest.importorskip("sklearn")
from sklearn.datasets import load_iris  # noqa: E402
from sklearn.linear_model import LogisticRegression  # noqa: E402


def _log_model(mlflow: ModuleType, model: object, registered: str) -> object:
    # 3.x names the model; 2.x places it at an artifact path inside the run.
    if is_mlflow3():
        return mlflow.sklearn.log_model(model, name="model", registered_model_name=registered)
    return mlflow.sklearn.log_model(model, artifact_path="model", registered_model_name=registered)


def test_log_register_alias_and_load(mlflow: ModuleType, tracking: Tracking) -> None:
    x, y = load_iris(return_X_y=True, as_frame=True)
    model = LogisticRegression(max_iter=300).fit(x, y)
    name = tracking.new_name("iris")
    mlflow.set_experiment(tracking.experiment_name)
    with mlflow.start_run() as run:
        mlflow.log_params({"max_iter": 300})
        mlflow.log_metric("accuracy", float(model.score(x, y)))
        _log_model(mlflow, model, name)
    client = tracking.client
    version = client.get_model_version(name, "1")
    assert (version.status, version.run_id) == ("READY", run.info.run_id)
    client.set_registered_model_alias(name, "champion", "1")

    loaded = mlflow.pyfunc.load_model(f"models:/{name}@champion")
    np.testing.assert_array_equal(loaded.predict(x.head(20)), model.predict(x.head(20)))
    latest = mlflow.pyfunc.load_model(f"models:/{name}/latest")
    np.testing.assert_array_equal(latest.predict(x.tail(5)), model.predict(x.tail(5)))

    if is_mlflow3():
        # The 3.x client logs a model entity and registers it from models:/<model_id>.
        assert version.source.startswith("models:/m-")
    else:
        # The 2.22 client uploads under the run and records the model with runs/log-model.
        assert version.source == f"{run.info.artifact_uri}/model"
        history = json.loads(client.get_run(run.info.run_id).data.tags["mlflow.log-model.history"])
        assert history[0]["artifact_path"] == "model" and "python_function" in history[0]["flavors"]
