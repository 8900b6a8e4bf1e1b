"""The stock client's whole workflow with a personal access token (log, log_model, register, alias, load
by alias), and clean, quick failures without credentials or with too little permission."""

from __future__ import annotations

import time
import uuid

import numpy as np
import pytest
from harness.server import ServerProcess

from .conftest import Credentials, cli_token, is_mlflow2, new_user

sklearn = pytest.importorskip("sklearn")
from sklearn.datasets import load_iris  # noqa: E402
from sklearn.linear_model import LogisticRegression  # noqa: E402


def _log_model(mlflow, model: object, registered: str) -> object:  # type: ignore[no-untyped-def]
    if is_mlflow2():
        return mlflow.sklearn.log_model(model, artifact_path="model", registered_model_name=registered)
    return mlflow.sklearn.log_model(model, name="model", registered_model_name=registered)


def test_workflow_with_a_token(auth_server: ServerProcess, creds: Credentials) -> None:
    import mlflow

    username, _ = new_user(auth_server, "ci")
    creds.token(cli_token(auth_server, username))
    mlflow.set_tracking_uri(auth_server.url)
    x, y = load_iris(return_X_y=True, as_frame=True)
    model = LogisticRegression(max_iter=300).fit(x, y)
    name = f"iris-{uuid.uuid4().hex[:8]}"
    mlflow.set_experiment(f"token-{uuid.uuid4().hex[:8]}")
    with mlflow.start_run() as run:
        mlflow.log_params({"max_iter": 300})
        mlflow.log_metric("accuracy", float(model.score(x, y)))
        _log_model(mlflow, model, name)
    client = mlflow.MlflowClient(auth_server.url)
    version = client.get_model_version(name, "1")
    assert (version.status, version.run_id) == ("READY", run.info.run_id)
    client.set_registered_model_alias(name, "champion", "1")
    loaded = mlflow.pyfunc.load_model(f"models:/{name}@champion")
    np.testing.assert_array_equal(loaded.predict(x.head(10)), model.predict(x.head(10)))
    assert client.get_run(run.info.run_id).data.metrics["accuracy"] > 0.9


def test_without_credentials_the_client_fails_at_once(auth_server: ServerProcess, creds: Credentials) -> None:
    import mlflow
    from mlflow.exceptions import MlflowException

    creds.none()
    client = mlflow.MlflowClient(auth_server.url)
    start = time.monotonic()
    with pytest.raises(MlflowException) as info:
        client.create_experiment(f"anon-{uuid.uuid4().hex[:6]}")
    assert info.value.get_http_status_code() == 401 or "401" in str(info.value)
    creds.token("tl_" + "x" * 43)
    with pytest.raises(MlflowException) as info:
        client.search_experiments()
    assert "401" in str(info.value)
    assert time.monotonic() - start < 30  # no retry loop on 401 (a retried request backs off for minutes)


def test_too_little_permission_fails_cleanly(auth_server: ServerProcess, creds: Credentials) -> None:
    import mlflow
    from mlflow.exceptions import MlflowException

    client = mlflow.MlflowClient(auth_server.url)
    eid = client.create_experiment(f"owned-{uuid.uuid4().hex[:6]}")
    run_id = client.create_run(eid).info.run_id
    username, _ = new_user(auth_server, "reader")
    creds.token(cli_token(auth_server, username))
    start = time.monotonic()
    assert client.get_run(run_id).info.run_id == run_id  # the default READ
    with pytest.raises(MlflowException) as info:
        client.log_metric(run_id, "m", 1.0)
    assert info.value.error_code == "PERMISSION_DENIED" and info.value.get_http_status_code() == 403
    # A proxied artifact upload: the client's artifact repository raises requests' HTTPError.
    with pytest.raises(Exception, match="403") as upload:
        client.log_text(run_id, "hello", "notes.txt")
    assert "PERMISSION_DENIED" in str(upload.value)
    assert time.monotonic() - start < 10
