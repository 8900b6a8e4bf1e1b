"""Behaviour MLflow's own server tests pin down: registry sources, logged-model links, download headers,
artifact URIs with query strings, relative artifact locations, and the error texts clients match on."""

from __future__ import annotations

import json
import uuid
from pathlib import Path
from types import ModuleType

import pytest
import requests
from harness.api import assert_error, get, is_mlflow3, ok, post, raises_code
from harness.plugin import ServerFactory, Tracking

needs_mlflow3 = pytest.mark.skipif(not is_mlflow3(), reason="logged models are an MLflow 3 client API")


def _versions(tracking: Tracking, name: str) -> list[str]:
    return sorted(v.version for v in tracking.client.search_model_versions(f"name = '{name}'"))


# -- model-versions/create with runs:/ sources -----------------------------------------------------


def test_runs_source_of_a_run_not_on_this_server_is_stored(tracking: Tracking) -> None:
    name = tracking.new_name("model")
    tracking.client.create_registered_model(name)
    absent = uuid.uuid4().hex
    version = tracking.client.create_model_version(name, f"runs:/{absent}/model", run_id=absent)
    assert (version.version, version.source, version.run_id) == ("1", f"runs:/{absent}/model", absent)
    # Nothing to resolve it against here: the client gets the source back and resolves it itself.
    assert tracking.client.get_model_version_download_uri(name, "1") == f"runs:/{absent}/model"
    assert _versions(tracking, name) == ["1"]
    # The UI's download of such a version's files is a 404, not a 5xx.
    resp = get(
        f"{tracking.url}/model-versions/get-artifact", {"name": name, "version": "1", "path": "MLmodel"}
    )
    assert_error(resp, 404, "RESOURCE_DOES_NOT_EXIST")


def test_runs_source_must_name_the_request_run(tracking: Tracking) -> None:
    name = tracking.new_name("model")
    tracking.client.create_registered_model(name)
    url = tracking.api("model-versions/create")
    mismatch = assert_error(post(url, {"name": name, "source": "runs:/aaaa/model", "run_id": "bbbb"}), 400)
    assert mismatch["message"].startswith("Invalid model version source: 'runs:/aaaa/model'.")
    assert_error(post(url, {"name": name, "source": "runs://aaaa/model", "run_id": "aaaa"}), 400)
    assert _versions(tracking, name) == []


def test_runs_source_of_a_run_here_serves_its_files(mlflow: ModuleType, tracking: Tracking) -> None:
    with mlflow.start_run() as run:
        mlflow.log_text("flavors: {}\n", "model/MLmodel")
    name = tracking.new_name("model")
    tracking.client.create_registered_model(name)
    run_id = run.info.run_id
    tracking.client.create_model_version(name, f"runs:/{run_id}/model", run_id=run_id)
    # As the UI asks for it: a double slash before model-versions.
    resp = get(
        f"{tracking.url}//model-versions/get-artifact", {"name": name, "version": "1", "path": "MLmodel"}
    )
    assert resp.status_code == 200, resp.text
    assert resp.text == "flavors: {}\n"


# -- registering a logged model --------------------------------------------------------------------


@needs_mlflow3
def test_registering_a_logged_model_lists_the_versions_on_it(mlflow: ModuleType, tracking: Tracking) -> None:
    first, second = tracking.new_name("model"), tracking.new_name("model")
    for name in (first, second):
        tracking.client.create_registered_model(name)
    model = tracking.client.create_logged_model(experiment_id=tracking.experiment_id)
    tracking.client.create_model_version(first, model.artifact_location, model_id=model.model_id)
    tags = tracking.client.get_logged_model(model.model_id).tags
    assert tags["mlflow.modelVersions"] == json.dumps([{"name": first, "version": 1}])
    tracking.client.create_model_version(first, model.artifact_location, model_id=model.model_id)
    tracking.client.create_model_version(second, model.model_uri, model_id=model.model_id)
    tags = tracking.client.get_logged_model(model.model_id).tags
    assert json.loads(tags["mlflow.modelVersions"]) == [
        {"name": first, "version": 1},
        {"name": first, "version": 2},
        {"name": second, "version": 1},
    ]
    # A version registered without model_id leaves the logged model alone.
    tracking.client.create_model_version(second, "s3://bucket/elsewhere")
    assert tracking.client.get_logged_model(model.model_id).tags == tags


@needs_mlflow3
def test_registering_an_unknown_logged_model_is_404(tracking: Tracking) -> None:
    name = tracking.new_name("model")
    tracking.client.create_registered_model(name)
    missing = f"m-{uuid.uuid4().hex}"
    raises_code(
        lambda: tracking.client.create_model_version(name, "s3://bucket/model", model_id=missing),
        "RESOURCE_DOES_NOT_EXIST",
    )


# -- downloads -------------------------------------------------------------------------------------

_KINDS = [
    ("a.txt", "text/plain"),
    ("conf.yaml", "text/plain"),
    ("MLmodel", "text/plain"),
    ("mlproject", "text/plain"),
    ("MLproject", "application/octet-stream"),  # MLflow's name list is case-sensitive
    ("b.pkl", "application/octet-stream"),
    ("c.png", "image/png"),
    ("d.pdf", "application/pdf"),
]


@pytest.mark.parametrize(("filename", "content_type"), _KINDS)
def test_download_headers(tracking: Tracking, tmp_path: Path, filename: str, content_type: str) -> None:
    served = f"{tracking.url}/api/2.0/mlflow-artifacts/artifacts/parity/{uuid.uuid4().hex}/{filename}"
    assert requests.put(served, data=b"x", timeout=60).status_code == 200
    # The client's Accept header does not change what the server says the file is.
    resp = get(served, headers={"Accept": "text/html"})
    assert resp.status_code == 200
    assert resp.headers["Content-Disposition"] == f"attachment; filename={filename}"
    assert resp.headers["Content-Type"] == content_type
    assert resp.headers["X-Content-Type-Options"] == "nosniff"


def test_run_file_download_headers(mlflow: ModuleType, tracking: Tracking, tmp_path: Path) -> None:
    names = {
        "notes.txt": "attachment; filename=notes.txt",
        "two words.txt": 'attachment; filename="two words.txt"',
    }
    names["données.txt"] = "attachment; filename=donnees.txt; filename*=UTF-8''donn%C3%A9es.txt"
    with mlflow.start_run() as run:
        for name in names:
            (tmp_path / name).write_text("hello")
            mlflow.log_artifact(str(tmp_path / name))
    for name, disposition in names.items():
        resp = get(f"{tracking.url}/get-artifact", {"run_id": run.info.run_id, "path": name})
        assert resp.status_code == 200, resp.text
        assert resp.headers["Content-Disposition"] == disposition
        assert resp.headers["Content-Type"] == "text/plain"
        assert resp.text == "hello"


# -- artifact URIs ---------------------------------------------------------------------------------


def test_run_and_model_folders_go_before_the_query_string(mlflow: ModuleType, tracking: Tracking) -> None:
    eid = tracking.client.create_experiment(tracking.new_name(), artifact_location="s3://bucket/root?x=1")
    run = tracking.client.create_run(eid)
    run_id = run.info.run_id
    assert run.info.artifact_uri == f"s3://bucket/root/{run_id}/artifacts?x=1"
    assert tracking.client.get_run(run_id).info.artifact_uri == f"s3://bucket/root/{run_id}/artifacts?x=1"
    if is_mlflow3():
        model = tracking.client.create_logged_model(experiment_id=eid)
        assert model.artifact_location == f"s3://bucket/root/models/{model.model_id}/artifacts?x=1"
    slashed = tracking.client.create_experiment(tracking.new_name(), artifact_location="s3://bucket/root/")
    run = tracking.client.create_run(slashed)
    assert run.info.artifact_uri == f"s3://bucket/root/{run.info.run_id}/artifacts"


def test_default_artifact_root_with_a_query_string(server_factory: ServerFactory, tmp_path: Path) -> None:
    srv = server_factory(
        f"sqlite:///{tmp_path / 'db.sqlite'}", extra_args=["--default-artifact-root", "s3://bucket/root?x=1"]
    )
    default = ok(get(srv.api("experiments/get"), {"experiment_id": "0"}))["experiment"]
    assert default["artifact_location"] == "s3://bucket/root/0?x=1"
    eid = ok(post(srv.api("experiments/create"), {"name": "q"}))["experiment_id"]
    created = ok(get(srv.api("experiments/get"), {"experiment_id": eid}))["experiment"]
    assert created["artifact_location"] == f"s3://bucket/root/{eid}?x=1"
    run = ok(post(srv.api("runs/create"), {"experiment_id": eid}))["run"]["info"]
    assert run["artifact_uri"] == f"s3://bucket/root/{eid}/{run['run_id']}/artifacts?x=1"


def test_relative_artifact_location_is_made_absolute(server_factory: ServerFactory, tmp_path: Path) -> None:
    workdir = tmp_path / "cwd"
    workdir.mkdir()
    srv = server_factory(f"sqlite:///{tmp_path / 'db.sqlite'}", cwd=workdir)

    def location(artifact_location: str) -> str:
        body = {"name": uuid.uuid4().hex, "artifact_location": artifact_location}
        eid = ok(post(srv.api("experiments/create"), body))["experiment_id"]
        return ok(get(srv.api("experiments/get"), {"experiment_id": eid}))["experiment"]["artifact_location"]

    assert location("my_location") == str(workdir.resolve() / "my_location")
    assert location("file:rel/dir") == (workdir.resolve() / "rel/dir").as_uri()
    assert location("/abs/dir") == "/abs/dir"
    assert location("s3://bucket/p") == "s3://bucket/p"
    create = srv.api("experiments/create")
    for refused in ("s3://bucket/p#frag", "runs:/abc/model", "s3://bucket/p?x=../y"):
        assert_error(post(create, {"name": uuid.uuid4().hex, "artifact_location": refused}), 400)


# -- error texts -----------------------------------------------------------------------------------


def test_log_batch_names_the_field_path(mlflow: ModuleType, tracking: Tracking) -> None:
    run_id = tracking.client.create_run(tracking.experiment_id).info.run_id
    url = tracking.api("runs/log-batch")
    metric = {"key": "m", "value": 1.0, "timestamp": 1}
    missing_ts = {"run_id": run_id, "metrics": [metric, {"key": "mae", "value": 2.5}]}
    body = assert_error(post(url, missing_ts), 400, "INVALID_PARAMETER_VALUE")
    assert "Missing value for required parameter 'metrics[1].timestamp'" in body["message"]
    body = assert_error(post(url, {"run_id": run_id, "params": [{"value": "v"}]}), 400)
    assert "Missing value for required parameter 'params[0].key'" in body["message"]
    body = assert_error(post(url, {"run_id": run_id, "tags": [{"key": "k"}, {"value": "v"}]}), 400)
    assert "Missing value for required parameter 'tags[1].key'" in body["message"]
    ok(post(url, {"run_id": run_id, "metrics": [{"key": "mae", "value": 2.5, "timestamp": 123456789}]}))


def test_history_bulk_interval_names_missing_fields(tracking: Tracking) -> None:
    url = tracking.ajax("metrics/get-history-bulk-interval")
    for params in ({"metric_key": "k"}, {"run_ids": [], "metric_key": "k"}):
        body = assert_error(get(url, params), 400, "INVALID_PARAMETER_VALUE")
        assert "Missing value for required parameter 'run_ids'." in body["message"]
    for params in ({"run_ids": ["r"], "metric_key": ""}, {"run_ids": ["r"]}):
        body = assert_error(get(url, params), 400, "INVALID_PARAMETER_VALUE")
        assert "Missing value for required parameter 'metric_key'" in body["message"]


def test_unsafe_artifact_paths_read_invalid_path(mlflow: ModuleType, tracking: Tracking) -> None:
    run_id = tracking.client.create_run(tracking.experiment_id).info.run_id
    for url, params in (
        (tracking.api("artifacts/list"), {"run_id": run_id, "path": "../path"}),
        (f"{tracking.url}/get-artifact", {"run_id": run_id, "path": "../path"}),
        (f"{tracking.url}/get-artifact", {"run_id": run_id, "path": "/etc/passwd"}),
        # The path is checked before the (absent) model is looked up.
        (f"{tracking.url}//model-versions/get-artifact", {"name": "nope", "version": 1, "path": "../path"}),
    ):
        body = assert_error(get(url, params), 400, "INVALID_PARAMETER_VALUE")
        assert body["message"] == "Invalid path"


# -- the UI's prompt engineering runs --------------------------------------------------------------


def test_promptlab_run_is_recorded_finished_with_its_table(mlflow: ModuleType, tracking: Tracking) -> None:
    url = tracking.ajax("runs/create-promptlab-run")
    body = {
        "experiment_id": tracking.experiment_id,
        "run_name": "trial",
        "prompt_template": "Say {{ word }}",
        "prompt_parameters": [{"key": "word", "value": "hi"}],
        "model_route": "chat",
        "model_parameters": [{"key": "temperature", "value": 0.5}],
        "model_input": "Say hi",
        "model_output": "hi",
        "model_output_parameters": [{"key": "latency", "value": "100"}],
        "mlflow_version": "3.0.0",
        "user_id": "someone",
        "start_time": 456,
    }
    info = ok(post(url, body))["run"]["info"]
    assert (info["run_name"], info["user_id"], info["status"], info["start_time"]) == (
        "trial",
        "someone",
        "FINISHED",
        456,
    )
    run = tracking.client.get_run(info["run_id"])
    assert run.data.params == {
        "temperature": "0.5",
        "model_route": "chat",
        "prompt_template": "Say {{ word }}",
    }
    assert run.data.tags["mlflow.runSourceType"] == "PROMPT_ENGINEERING"
    assert json.loads(run.data.tags["mlflow.loggedArtifacts"]) == [
        {"path": "eval_results_table.json", "type": "table"}
    ]
    table = get(f"{tracking.url}/get-artifact", {"run_id": info["run_id"], "path": "eval_results_table.json"})
    assert table.json() == {
        "columns": ["word", "prompt", "output", "latency"],
        "data": [["hi", "Say hi", "hi", "100"]],
    }


def test_promptlab_run_names_the_first_missing_field(tracking: Tracking) -> None:
    url = tracking.ajax("runs/create-promptlab-run")
    body: dict[str, object] = {}
    for name, value in (
        ("experiment_id", "0"),
        ("prompt_template", "t"),
        ("prompt_parameters", [{"key": "k", "value": "v"}]),
        ("model_route", "r"),
        ("model_input", "i"),
        ("mlflow_version", "1.0.0"),
    ):
        error = assert_error(post(url, body), 400, "INVALID_PARAMETER_VALUE")
        assert f"CreatePromptlabRun request must specify {name}." in error["message"]
        body[name] = value
