"""--artifacts-presigned-only: run and model artifact bytes move between the client and the bucket only."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

import numpy
import pytest
import requests
from harness.object_stores import ObjectStoreEmulator
from harness.plugin import ServerFactory
from harness.server import ServerProcess, run_cli

from artifacts.conftest import random_file


def _classifier() -> object:
    linear_model = pytest.importorskip("sklearn.linear_model")
    return linear_model.LogisticRegression()


@pytest.fixture(scope="module")
def presigned_server(
    s3_emulator: ObjectStoreEmulator, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[ServerProcess, str]]:
    workdir = tmp_path_factory.mktemp("presigned-only")
    prefix = f"signed-{uuid.uuid4().hex[:8]}"
    server = ServerProcess(
        f"sqlite:///{workdir / 'tracklight.db'}",
        workdir / "unused",
        workdir / "server.log",
        name="tracklight-presigned-only",
        extra_args=["--artifacts-destination", s3_emulator.destination(prefix), "--artifacts-presigned-only"],
        env=s3_emulator.env,
    )
    server.start(timeout=90)
    try:
        yield server, prefix
    finally:
        server.stop()


@pytest.fixture
def mlflow_signed(presigned_server: tuple[ServerProcess, str], monkeypatch: pytest.MonkeyPatch) -> ModuleType:
    import mlflow

    url = presigned_server[0].url
    monkeypatch.setenv("MLFLOW_TRACKING_URI", url)
    mlflow.set_tracking_uri(url)
    mlflow.set_experiment(f"signed-{uuid.uuid4().hex[:8]}")
    return mlflow


def test_server_info_says_so(presigned_server: tuple[ServerProcess, str]) -> None:
    info = requests.get(f"{presigned_server[0].url}/api/3.0/mlflow/server-info", timeout=30).json()
    assert info["artifacts_presigned_only"] is True
    assert info["multipart_uploads_enabled"] is True and info["artifact_serving_enabled"] is True
    assert info["model_artifact_presigned_downloads_supported"] is True


def test_the_stock_client_logs_and_downloads_through_the_bucket(
    mlflow_signed: ModuleType,
    presigned_server: tuple[ServerProcess, str],
    s3_emulator: ObjectStoreEmulator,
    tmp_path: Path,
) -> None:
    server, prefix = presigned_server
    since = server.log_size()
    small = random_file(tmp_path / "in" / "small.bin", 1234)
    empty = random_file(tmp_path / "in" / "empty.txt", 0)
    with mlflow_signed.start_run() as run:
        mlflow_signed.log_artifact(str(small))
        mlflow_signed.log_artifact(str(empty), artifact_path="sub")
    run_id, exp_id = run.info.run_id, run.info.experiment_id
    stored = s3_emulator.keys(f"{prefix}/{exp_id}/{run_id}")
    assert sorted(k.rsplit("/", 1)[1] for k in stored) == ["empty.txt", "small.bin"]
    got = Path(mlflow_signed.artifacts.download_artifacts(run_id=run_id, dst_path=str(tmp_path / "out")))
    assert (got / "small.bin").read_bytes() == small.read_bytes()
    assert (got / "sub" / "empty.txt").read_bytes() == b""
    # Every byte went to and from the bucket: the server log shows no proxied transfer.
    log = server.log_text(since)
    assert '"path":"/api/2.0/mlflow-artifacts/mpu/create/' in log  # the access log is there to read
    assert '"path":"/api/2.0/mlflow-artifacts/artifacts/' not in log


def test_a_model_logs_registers_and_loads(mlflow_signed: ModuleType) -> None:
    features = numpy.array([[0.0, 1.0], [1.0, 0.0], [0.9, 0.1], [0.1, 0.9]])
    model = _classifier().fit(features, [0, 1, 1, 0])  # type: ignore[attr-defined]
    name = f"signed-model-{uuid.uuid4().hex[:8]}"
    with mlflow_signed.start_run():
        info = mlflow_signed.sklearn.log_model(model, name="model", registered_model_name=name)
    loaded = mlflow_signed.pyfunc.load_model(f"models:/{name}/1")
    assert list(loaded.predict(features)) == [0, 1, 1, 0]
    assert info.model_id


def test_proxied_transfers_are_refused_and_store_nothing(
    mlflow_signed: ModuleType, presigned_server: tuple[ServerProcess, str], s3_emulator: ObjectStoreEmulator
) -> None:
    server, prefix = presigned_server
    base = f"{server.url}/api/2.0/mlflow-artifacts/artifacts"
    refused = requests.put(f"{base}/0/refused/file.txt", data=b"through the proxy", timeout=30)
    assert refused.status_code == 403
    body = refused.json()
    assert body["error_code"] == "PERMISSION_DENIED" and body["artifacts_presigned_only"] is True
    assert s3_emulator.keys(f"{prefix}/0/refused") == []

    with mlflow_signed.start_run() as run:
        mlflow_signed.log_text("hello", "note.txt")
    root = f"{run.info.experiment_id}/{run.info.run_id}/artifacts"
    assert requests.get(f"{base}/{root}/note.txt", timeout=30).status_code == 403
    assert requests.get(f"{base}", params={"path": root}, timeout=30).json()["files"]  # listing is fine
    legacy = requests.get(
        f"{server.url}/get-artifact", params={"run_uuid": run.info.run_id, "path": "note.txt"}, timeout=30
    )
    assert legacy.status_code == 403 and legacy.json()["artifacts_presigned_only"] is True
    upload = requests.post(
        f"{server.url}/ajax-api/2.0/mlflow/upload-artifact",
        params={"run_uuid": run.info.run_id, "path": "ui.txt"},
        data=b"from the browser",
        timeout=30,
    )
    assert upload.status_code == 403
    assert s3_emulator.keys(f"{prefix}/{root}/ui.txt") == []
    # A file at a trace's data path is artifact bytes like any other (spans stored here would be served).
    s3_emulator.put(f"{prefix}/0/traces/tr-planted/artifacts/traces.json", b'{"spans": []}')
    planted = requests.get(f"{base}/0/traces/tr-planted/artifacts/traces.json", timeout=30)
    assert planted.status_code == 403
    # Deleting is not a transfer.
    assert requests.delete(f"{base}/{root}/note.txt", timeout=30).status_code == 200
    assert s3_emulator.keys(f"{prefix}/{root}/note.txt") == []


def test_model_files_come_as_presigned_urls(
    mlflow_signed: ModuleType, presigned_server: tuple[ServerProcess, str]
) -> None:
    server = presigned_server[0]
    name = f"signed-files-{uuid.uuid4().hex[:8]}"
    with mlflow_signed.start_run():
        info = mlflow_signed.sklearn.log_model(_classifier(), name="model", registered_model_name=name)
    query = {"name": name, "version": "1", "path": "MLmodel"}
    url = f"{server.url}/model-versions/get-artifact"
    assert requests.get(url, params=query, timeout=30).status_code == 403
    signed = requests.get(url, params={**query, "presigned": "true"}, timeout=30).json()
    mlmodel = requests.get(signed["url"], headers=signed.get("headers") or {}, timeout=30)
    assert b"flavors" in mlmodel.content and signed["file_size"] == len(mlmodel.content)

    files = f"{server.url}/ajax-api/2.0/mlflow/logged-models/{info.model_id}/artifacts/files"
    assert requests.get(files, params={"artifact_file_path": "MLmodel"}, timeout=30).status_code == 403
    signed = requests.get(
        files, params={"artifact_file_path": "MLmodel", "presigned": "true"}, timeout=30
    ).json()
    assert requests.get(signed["url"], timeout=30).content == mlmodel.content


def test_the_dashboard_links_to_the_bucket(
    mlflow_signed: ModuleType, presigned_server: tuple[ServerProcess, str], s3_emulator: ObjectStoreEmulator
) -> None:
    server = presigned_server[0]
    with mlflow_signed.start_run() as run:
        mlflow_signed.log_text("bucket bytes", "notes/readme.txt")
        mlflow_signed.log_image(numpy.zeros((4, 4, 3), dtype="uint8"), "pic.png")
    page = f"{server.url}/experiments/{run.info.experiment_id}/runs/{run.info.run_id}/artifact"
    text = requests.get(page, params={"path": "notes/readme.txt"}, timeout=30)
    assert text.status_code == 200 and "bucket bytes" in text.text  # the preview itself is read here
    href = text.text.split('class="download" href="', 1)[1].split('"', 1)[0].replace("&amp;", "&")
    assert href.startswith(s3_emulator.endpoint)
    assert requests.get(href, timeout=30).content == b"bucket bytes"
    image = requests.get(page, params={"path": "pic.png"}, timeout=30)
    assert f"img-src 'self' data: {s3_emulator.endpoint}" in image.headers["Content-Security-Policy"]


def test_a_destination_without_presigned_urls_is_a_one_line_error(tmp_path: Path) -> None:
    local = run_cli(
        [
            "server",
            "--artifacts-presigned-only",
            "--artifacts-destination",
            str(tmp_path / "a"),
            "--port",
            "0",
        ],
        cwd=tmp_path,
    )
    assert local.returncode != 0 and "--artifacts-presigned-only" in local.stderr
    assert "Traceback" not in local.stderr
    unsigned = run_cli(
        ["server", "--artifacts-presigned-only", "--port", "0"],
        cwd=tmp_path,
        env={"TRACKLIGHT_DIRECT_TRANSFERS": "false"},
    )
    assert unsigned.returncode != 0 and "TRACKLIGHT_DIRECT_TRANSFERS=false" in unsigned.stderr
    unserved = run_cli(
        ["server", "--artifacts-presigned-only", "--no-serve-artifacts", "--port", "0"], cwd=tmp_path
    )
    assert unserved.returncode != 0 and "--no-serve-artifacts" in unserved.stderr
    assert "Traceback" not in unserved.stderr


def test_a_bucket_whose_credentials_cannot_sign_is_a_one_line_error(
    gcs_emulator: ObjectStoreEmulator, tmp_path: Path
) -> None:
    """The GCS emulator takes anonymous credentials, which sign nothing: such a server could store
    artifacts and never hand them back."""
    result = run_cli(
        ["server", "--artifacts-presigned-only", "--port", "0"]
        + ["--artifacts-destination", gcs_emulator.destination("unsigned")],
        cwd=tmp_path,
        env=gcs_emulator.env,
    )
    assert result.returncode != 0 and "cannot" in result.stderr.splitlines()[-1]
    assert "Traceback" not in result.stderr


def test_without_the_flag_model_files_can_still_be_presigned(
    server_factory: ServerFactory, s3_emulator: ObjectStoreEmulator, tmp_path: Path
) -> None:
    """?presigned=true is a request contract of its own: it works on any server whose bucket signs."""
    server = server_factory(
        f"sqlite:///{tmp_path / 'db.sqlite'}",
        extra_args=["--artifacts-destination", s3_emulator.destination(f"plain-{uuid.uuid4().hex[:6]}")],
        env=s3_emulator.env,
    )
    info = requests.get(f"{server.url}/api/3.0/mlflow/server-info", timeout=30).json()
    assert info["artifacts_presigned_only"] is False
    run = requests.post(
        f"{server.url}/api/2.0/mlflow/runs/create", json={"experiment_id": "0"}, timeout=30
    ).json()
    run_id = run["run"]["info"]["run_id"]
    assert (
        requests.put(
            f"{server.url}/api/2.0/mlflow-artifacts/artifacts/0/{run_id}/artifacts/model/MLmodel",
            data=b"flavors: {}",
            timeout=30,
        ).status_code
        == 200
    )
    requests.post(f"{server.url}/api/2.0/mlflow/registered-models/create", json={"name": "plain"}, timeout=30)
    requests.post(
        f"{server.url}/api/2.0/mlflow/model-versions/create",
        json={"name": "plain", "source": f"runs:/{run_id}/model", "run_id": run_id},
        timeout=30,
    )
    url = f"{server.url}/model-versions/get-artifact"
    query = {"name": "plain", "version": "1", "path": "MLmodel"}
    assert requests.get(url, params=query, timeout=30).content == b"flavors: {}"
    signed = requests.get(url, params={**query, "presigned": "true"}, timeout=30).json()
    assert requests.get(signed["url"], timeout=30).content == b"flavors: {}"
