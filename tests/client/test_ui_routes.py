"""The web UI's REST routes, over plain HTTP and the client: metric history in bulk, dataset summaries,
uploading a run artifact, a logged model's file, and all of them (with GraphQL) under --static-prefix."""

from __future__ import annotations

import math
from pathlib import Path

import pytest
import requests
from harness.api import TIMEOUT, assert_error, get, is_mlflow3, ok, post
from harness.databases import BackendURI
from harness.plugin import ServerFactory, Tracking
from mlflow.entities import Dataset, DatasetInput, InputTag

BOTH_APIS = ("api", "ajax")


def _url(tracking: Tracking, api: str, path: str) -> str:
    return tracking.api(path) if api == "api" else tracking.ajax(path)


def _upload(
    tracking: Tracking, params: dict[str, str], data: bytes | None, api: str = "ajax"
) -> requests.Response:
    return requests.post(_url(tracking, api, "upload-artifact"), params=params, data=data, timeout=TIMEOUT)


# -- metrics/get-history-bulk ------------------------------------------------------------------------------


@pytest.mark.parametrize("api", BOTH_APIS)
def test_history_bulk_gives_every_runs_points_by_run_then_time(tracking: Tracking, api: str) -> None:
    exp = tracking.client.create_experiment(tracking.new_name())
    runs = sorted(tracking.client.create_run(exp).info.run_id for _ in range(3))
    quiet = runs[2]  # logs only another key
    points = [
        (5, 0, 1.0),
        (1, 3, 2.0),
        (1, 3, 1.5),
        (1, 2, math.nan),
        (9, -1, -4.0),
    ]  # (timestamp, step, value)
    for offset, run_id in enumerate(runs[:2]):
        for ts, step, value in points:
            tracking.client.log_metric(run_id, "loss", value + offset, timestamp=ts, step=step)
    tracking.client.log_metric(runs[0], "other", 7.0, timestamp=1, step=0)
    tracking.client.log_metric(quiet, "other", 7.0, timestamp=1, step=0)

    def expected(run_id: str, offset: int) -> list[dict]:
        # timestamp, then step, then value, NaN after the numbers
        ordered = sorted(
            points, key=lambda p: (p[0], p[1], math.isnan(p[2]), 0 if math.isnan(p[2]) else p[2])
        )
        return [
            {
                "key": "loss",
                "value": "NaN" if math.isnan(v) else v + offset,
                "timestamp": ts,
                "step": step,
                "run_id": run_id,
            }
            for ts, step, v in ordered
        ]

    url = _url(tracking, api, "metrics/get-history-bulk")
    # Asked for in reverse order, with an unknown id among them: answered in run-id order, unknown skipped.
    body = ok(get(url, {"run_id": [runs[1], "0" * 32, quiet, runs[0]], "metric_key": "loss"}))
    assert body["metrics"] == expected(runs[0], 0) + expected(runs[1], 1)

    # The same points the per-run history gives.
    for run_id in runs[:2]:
        history = tracking.client.get_metric_history(run_id, "loss")
        got = [m for m in body["metrics"] if m["run_id"] == run_id]
        assert sorted((m.timestamp, m.step, str(m.value)) for m in history) == sorted(
            (m["timestamp"], m["step"], str(float(m["value"]))) for m in got
        )

    # max_results bounds the whole answer, not each run.
    limited = ok(get(url, {"run_id": runs[:2], "metric_key": "loss", "max_results": "7"}))
    assert limited["metrics"] == (expected(runs[0], 0) + expected(runs[1], 1))[:7]
    assert ok(get(url, {"run_id": runs[:2], "metric_key": "loss", "max_results": "0"})) == {"metrics": []}
    assert ok(get(url, {"run_id": [quiet], "metric_key": "loss"})) == {"metrics": []}


def test_history_bulk_rejects_bad_requests(tracking: Tracking) -> None:
    url = tracking.ajax("metrics/get-history-bulk")
    for params, words in [
        ({"metric_key": "k"}, "must specify at least one run_id"),
        (
            {"run_id": [f"r{i}" for i in range(101)], "metric_key": "k"},
            "cannot specify more than 100 run_ids",
        ),
        ({"run_id": ["r"]}, "must specify a metric_key"),
        ({"run_id": ["r"], "metric_key": "k", "max_results": "-1"}, "max_results"),
        ({"run_id": ["r"], "metric_key": "k", "max_results": "many"}, "max_results"),
    ]:
        body = assert_error(get(url, params), 400, "INVALID_PARAMETER_VALUE")
        assert words in body["message"], (params, body)
    # A hundred runs is the limit, not an error.
    assert ok(get(url, {"run_id": [f"r{i}" for i in range(100)], "metric_key": "k"})) == {"metrics": []}


# -- experiments/search-datasets ---------------------------------------------------------------------------


def _dataset(name: str, digest: str) -> Dataset:
    return Dataset(name=name, digest=digest, source_type="local", source=f"/data/{name}")


def _log(tracking: Tracking, run_id: str, dataset: Dataset, context: str | None) -> None:
    tags = [InputTag("mlflow.data.context", context)] if context is not None else []
    tracking.client.log_inputs(run_id, [DatasetInput(dataset, tags=tags + [InputTag("owner", "ann")])])


@pytest.mark.parametrize("api", BOTH_APIS)
def test_search_datasets_summarises_the_experiments_datasets(tracking: Tracking, api: str) -> None:
    exp_a = tracking.client.create_experiment(tracking.new_name("a"))
    exp_b = tracking.client.create_experiment(tracking.new_name("b"))
    exp_other = tracking.client.create_experiment(tracking.new_name("other"))
    exp_empty = tracking.client.create_experiment(tracking.new_name("empty"))
    a1, a2, a3 = (tracking.client.create_run(exp_a).info.run_id for _ in range(3))
    b1 = tracking.client.create_run(exp_b).info.run_id
    other = tracking.client.create_run(exp_other).info.run_id
    train, evals = _dataset("train", "d1"), _dataset("eval", "d2")
    _log(tracking, a1, train, "training")
    _log(tracking, a2, train, "training")  # the same summary again: listed once
    _log(tracking, a3, train, "validation")  # another context: its own summary
    _log(tracking, a3, evals, None)  # no context: the field is left out
    _log(tracking, b1, train, "training")  # same name and digest in another experiment: its own summary
    _log(tracking, other, _dataset("hidden", "d3"), "training")
    tracking.client.delete_run(a2)  # datasets stay logged to deleted runs, as in MLflow

    url = _url(tracking, api, "experiments/search-datasets")
    body = ok(post(url, {"experiment_ids": [exp_a, exp_b, exp_empty]}))
    got = sorted(
        body["dataset_summaries"], key=lambda s: (s["experiment_id"], s["name"], s.get("context", ""))
    )
    assert got == [
        {"experiment_id": exp_a, "name": "eval", "digest": "d2"},
        {"experiment_id": exp_a, "name": "train", "digest": "d1", "context": "training"},
        {"experiment_id": exp_a, "name": "train", "digest": "d1", "context": "validation"},
        {"experiment_id": exp_b, "name": "train", "digest": "d1", "context": "training"},
    ]
    assert ok(post(url, {"experiment_ids": [exp_empty]})) == {}


def test_search_datasets_rejects_bad_requests(tracking: Tracking) -> None:
    url = tracking.ajax("experiments/search-datasets")
    for body, words in [
        ({}, "must specify at least one experiment_id"),
        ({"experiment_ids": []}, "must specify at least one experiment_id"),
        ({"experiment_ids": [str(i) for i in range(21)]}, "cannot specify more than 20 experiment_ids"),
        ({"experiment_ids": ["abc"]}, "abc"),
        ({"experiment_ids": "0"}, "experiment_ids"),
    ]:
        error = assert_error(post(url, body), 400, "INVALID_PARAMETER_VALUE")
        assert words in error["message"], (body, error)
    not_json = requests.post(url, data="experiment_ids=0", timeout=TIMEOUT)
    assert_error(not_json, 400, "INVALID_PARAMETER_VALUE")
    assert_error(get(url, {"experiment_ids": "0"}), 405)


# -- upload-artifact ------------------------------------------------------------------------------------------


@pytest.mark.parametrize("api", BOTH_APIS)
def test_upload_artifact_stores_the_body_as_a_run_artifact(
    tracking: Tracking, api: str, tmp_path: Path
) -> None:
    exp = tracking.client.create_experiment(tracking.new_name())
    run_id = tracking.client.create_run(exp).info.run_id
    payload = bytes(range(256)) * 1000  # binary, 256 kB
    assert ok(_upload(tracking, {"run_uuid": run_id, "path": "ui/sub/blob.bin"}, payload, api)) == {}
    assert ok(_upload(tracking, {"run_uuid": run_id, "path": "note.txt"}, b"first", api)) == {}
    assert ok(_upload(tracking, {"run_uuid": run_id, "path": "note.txt"}, b"second", api)) == {}  # replaced

    listed = {(f.path, f.is_dir) for f in tracking.client.list_artifacts(run_id)}
    assert listed == {("ui", True), ("note.txt", False)}
    assert [(f.path, f.file_size) for f in tracking.client.list_artifacts(run_id, "ui/sub")] == [
        ("ui/sub/blob.bin", len(payload))
    ]
    local = tracking.client.download_artifacts(run_id, "ui/sub/blob.bin", str(tmp_path))
    assert Path(local).read_bytes() == payload
    resp = get(f"{tracking.url}/get-artifact", {"run_uuid": run_id, "path": "note.txt"})
    assert resp.status_code == 200 and resp.content == b"second"


def test_upload_artifact_rejects_bad_requests(tracking: Tracking) -> None:
    exp = tracking.client.create_experiment(tracking.new_name())
    run_id = tracking.client.create_run(exp).info.run_id
    cases = [
        ({}, b"x", "Request must specify run_uuid."),
        ({"run_uuid": run_id}, b"x", "Request must specify path."),
        ({"run_uuid": run_id, "path": ""}, b"x", "Request must specify path."),
        ({"run_uuid": run_id, "path": "f.txt"}, b"", "Request must specify data."),
        ({"run_uuid": run_id, "path": "f.txt"}, None, "Request must specify data."),
    ]
    for bad in [
        "../escape.txt",
        "a/../../escape.txt",
        "/etc/escape.txt",
        "a\\..\\escape.txt",
        "%2e%2e/escape.txt",
    ]:
        cases.append(({"run_uuid": run_id, "path": bad}, b"x", "Invalid path"))
    for params, data, words in cases:
        body = assert_error(_upload(tracking, params, data), 400, "INVALID_PARAMETER_VALUE")
        assert words in body["message"], (params, body)
    too_big = _upload(tracking, {"run_uuid": run_id, "path": "big.bin"}, b"\0" * (10 * 1024 * 1024 + 1))
    assert "too large" in assert_error(too_big, 400, "INVALID_PARAMETER_VALUE")["message"]
    assert_error(
        _upload(tracking, {"run_uuid": "f" * 32, "path": "f.txt"}, b"x"), 404, "RESOURCE_DOES_NOT_EXIST"
    )
    assert tracking.client.list_artifacts(run_id) == []
    assert not (tracking.server.artifacts_dir.parent / "escape.txt").exists()
    assert_error(requests.get(tracking.ajax("upload-artifact"), timeout=TIMEOUT), 405)


# -- logged-models/{id}/artifacts/files ----------------------------------------------------------------------


@pytest.mark.skipif(not is_mlflow3(), reason="logged models are an MLflow 3 API")
@pytest.mark.parametrize("api", BOTH_APIS)
def test_logged_model_file_is_streamed(tracking: Tracking, api: str, tmp_path: Path) -> None:
    exp = tracking.client.create_experiment(tracking.new_name())
    model = tracking.client.create_logged_model(exp, name="clf")
    files = tmp_path / "model"
    (files / "nested").mkdir(parents=True)
    (files / "MLmodel").write_text(f"model_id: {model.model_id}\n")
    blob = bytes(range(256)) * 4096  # 1 MiB
    (files / "nested" / "weights.bin").write_bytes(blob)
    tracking.client.log_model_artifacts(model.model_id, str(files))

    url = _url(tracking, api, f"logged-models/{model.model_id}/artifacts/files")
    resp = get(url, {"artifact_file_path": "MLmodel"})
    assert resp.status_code == 200 and model.model_id in resp.text
    resp = get(url, {"artifact_file_path": "nested/weights.bin"})
    assert resp.status_code == 200 and resp.content == blob
    assert resp.headers["content-length"] == str(len(blob))
    assert "weights.bin" in resp.headers["content-disposition"]
    ranged = get(url, {"artifact_file_path": "nested/weights.bin"}, headers={"Range": "bytes=10-19"})
    assert ranged.status_code == 206 and ranged.content == blob[10:20]


@pytest.mark.skipif(not is_mlflow3(), reason="logged models are an MLflow 3 API")
def test_logged_model_file_rejects_bad_requests(tracking: Tracking) -> None:
    exp = tracking.client.create_experiment(tracking.new_name())
    model_id = tracking.client.create_logged_model(exp).model_id
    url = tracking.ajax(f"logged-models/{model_id}/artifacts/files")
    assert_error(get(url), 400, "BAD_REQUEST")
    assert_error(get(url, {"artifact_file_path": ""}), 400, "BAD_REQUEST")
    for bad in ["../../../../etc/passwd", "/etc/passwd", "a/../../x", "%2e%2e/x"]:
        body = assert_error(get(url, {"artifact_file_path": bad}), 400, "INVALID_PARAMETER_VALUE")
        assert "Invalid path" in body["message"], body
    assert_error(get(url, {"artifact_file_path": "MLmodel"}), 404, "RESOURCE_DOES_NOT_EXIST")
    missing = tracking.ajax("logged-models/m-00000000000000000000000000000000/artifacts/files")
    assert_error(get(missing, {"artifact_file_path": "MLmodel"}), 404, "RESOURCE_DOES_NOT_EXIST")


# -- under a static prefix --------------------------------------------------------------------------------


def test_ui_routes_honour_the_static_prefix(backend: BackendURI, server_factory: ServerFactory) -> None:
    server = server_factory(backend, static_prefix="/tl")
    import mlflow

    client = mlflow.MlflowClient(tracking_uri=server.url)
    exp = client.create_experiment("prefixed-ui")
    run_id = client.create_run(exp).info.run_id
    client.log_metric(run_id, "m", 2.5, timestamp=3, step=1)
    client.log_inputs(run_id, [DatasetInput(_dataset("d", "x1"), tags=[])])
    base, root = server.url, server.base_url
    assert base == f"{root}/tl"

    query = {"query": f'{{ mlflowGetRun(input: {{runId: "{run_id}"}}) {{ run {{ info {{ runId }} }} }} }}'}
    for path in ["/graphql", "/ajax-api/2.0/mlflow/graphql", "/api/2.0/mlflow/graphql"]:
        answer = ok(post(base + path, query))
        assert answer == {"data": {"mlflowGetRun": {"run": {"info": {"runId": run_id}}}}, "errors": None}
        assert requests.post(root + path, json=query, timeout=TIMEOUT).status_code == 404
    for api in ["api", "ajax-api"]:
        history = ok(
            get(f"{base}/{api}/2.0/mlflow/metrics/get-history-bulk", {"run_id": run_id, "metric_key": "m"})
        )
        assert history == {
            "metrics": [{"key": "m", "value": 2.5, "timestamp": 3, "step": 1, "run_id": run_id}]
        }
        summaries = ok(
            post(f"{base}/{api}/2.0/mlflow/experiments/search-datasets", {"experiment_ids": [exp]})
        )
        assert summaries == {"dataset_summaries": [{"experiment_id": exp, "name": "d", "digest": "x1"}]}
        upload = requests.post(
            f"{base}/{api}/2.0/mlflow/upload-artifact",
            params={"run_uuid": run_id, "path": f"{api}.txt"},
            data=b"hi",
            timeout=TIMEOUT,
        )
        assert ok(upload) == {}
        assert (
            requests.get(f"{root}/{api}/2.0/mlflow/metrics/get-history-bulk", timeout=TIMEOUT).status_code
            == 404
        )
    # Over the wire: the 2.x client resolves mlflow-artifacts: URIs through the global tracking URI.
    listed = ok(get(f"{base}/api/2.0/mlflow/artifacts/list", {"run_id": run_id}))
    assert sorted(f["path"] for f in listed["files"]) == ["ajax-api.txt", "api.txt"]
    if is_mlflow3():
        model_id = client.create_logged_model(exp).model_id
        client.log_model_artifact(model_id, __file__)
        name = Path(__file__).name
        for api in ["api", "ajax-api"]:
            resp = get(
                f"{base}/{api}/2.0/mlflow/logged-models/{model_id}/artifacts/files",
                {"artifact_file_path": name},
            )
            assert resp.status_code == 200 and resp.content == Path(__file__).read_bytes()
