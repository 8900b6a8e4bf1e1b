"""The stock mlflow client's artifact calls against each backend: log, list, download, load, multipart."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from types import ModuleType

import pytest
import requests

from artifacts.conftest import ArtifactServer, random_file


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _tree(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


@pytest.fixture
def source(tmp_path: Path) -> Path:
    """A local folder with nested directories to log."""
    root = tmp_path / "source"
    (root / "a" / "b").mkdir(parents=True)
    (root / "top.txt").write_text("top")
    (root / "a" / "mid.json").write_text(json.dumps({"k": [1, 2]}))
    (root / "a" / "b" / "deep.bin").write_bytes(bytes(range(256)) * 5)
    return root


def test_log_artifacts_nested_then_list(mlflow_at: ModuleType, source: Path) -> None:
    with mlflow_at.start_run() as run:
        mlflow_at.log_artifact(str(source / "top.txt"))
        mlflow_at.log_artifacts(str(source), artifact_path="tree")
    client = mlflow_at.MlflowClient()
    top = {(f.path, f.is_dir, f.file_size) for f in client.list_artifacts(run.info.run_id)}
    assert top == {("top.txt", False, 3), ("tree", True, None)}
    tree = {(f.path, f.is_dir) for f in client.list_artifacts(run.info.run_id, "tree")}
    assert tree == {("tree/top.txt", False), ("tree/a", True)}
    deep = [(f.path, f.file_size) for f in client.list_artifacts(run.info.run_id, "tree/a/b")]
    assert deep == [("tree/a/b/deep.bin", 1280)]
    assert client.list_artifacts(run.info.run_id, "tree/top.txt") == []  # a file lists as nothing
    assert client.list_artifacts(run.info.run_id, "missing") == []


def test_download_whole_run_one_file_and_runs_uri(
    mlflow_at: ModuleType, source: Path, tmp_path: Path
) -> None:
    with mlflow_at.start_run() as run:
        mlflow_at.log_artifacts(str(source), artifact_path="tree")
    run_id = run.info.run_id
    whole = Path(mlflow_at.artifacts.download_artifacts(run_id=run_id, dst_path=str(tmp_path / "whole")))
    assert _tree(whole / "tree") == _tree(source)
    one = Path(
        mlflow_at.artifacts.download_artifacts(
            run_id=run_id, artifact_path="tree/a/b/deep.bin", dst_path=str(tmp_path / "one")
        )
    )
    assert one.read_bytes() == (source / "a" / "b" / "deep.bin").read_bytes()
    sub = Path(
        mlflow_at.artifacts.download_artifacts(f"runs:/{run_id}/tree/a", dst_path=str(tmp_path / "sub"))
    )
    assert _tree(sub) == _tree(source / "a")


def test_load_text_and_dict(mlflow_at: ModuleType) -> None:
    with mlflow_at.start_run() as run:
        mlflow_at.log_text("hello, artifacts", "notes/hello.txt")
        mlflow_at.log_dict({"alpha": 0.5, "layers": [64, 32]}, "config/params.json")
    run_id = run.info.run_id
    assert mlflow_at.artifacts.load_text(f"runs:/{run_id}/notes/hello.txt") == "hello, artifacts"
    assert mlflow_at.artifacts.load_dict(f"runs:/{run_id}/config/params.json") == {
        "alpha": 0.5,
        "layers": [64, 32],
    }


def test_multipart_upload_round_trip(
    mlflow_at: ModuleType, artifact_server: ArtifactServer, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """Three 5 MiB parts: direct to the bucket on cloud stores, a single-PUT fallback on local disk."""
    monkeypatch.setenv("MLFLOW_MULTIPART_UPLOAD_MINIMUM_FILE_SIZE", str(1024 * 1024))
    monkeypatch.setenv("MLFLOW_MULTIPART_UPLOAD_CHUNK_SIZE", str(5 * 1024 * 1024))
    big = random_file(tmp_path / "weights.bin", 11 * 1024 * 1024 + 17)
    with mlflow_at.start_run() as run:
        mlflow_at.log_artifact(str(big), artifact_path="model")
    info = requests.get(f"{artifact_server.url}/api/3.0/mlflow/server-info", timeout=10).json()
    assert info["multipart_uploads_enabled"] is (artifact_server.kind != "local")
    got = Path(
        mlflow_at.artifacts.download_artifacts(
            f"runs:/{run.info.run_id}/model/weights.bin", dst_path=str(tmp_path / "down")
        )
    )
    assert _sha(got) == _sha(big)
    stored = artifact_server.stored()
    assert any(name.endswith(f"{run.info.run_id}/artifacts/model/weights.bin") for name in stored)
    assert not [name for name in stored if "tracklight-upload" in name]
