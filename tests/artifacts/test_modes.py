"""Server modes: --no-serve-artifacts and --artifacts-only, and where runs point in each."""

from __future__ import annotations

from pathlib import Path

import requests
from harness.plugin import ServerFactory


def test_no_serve_artifacts_gives_runs_the_destination_and_disables_the_proxy(
    server_factory: ServerFactory, tmp_path: Path
) -> None:
    destination = tmp_path / "shared-artifacts"
    srv = server_factory(
        f"sqlite:///{tmp_path / 'db.sqlite'}",
        artifacts_dir=destination,
        extra_args=["--no-serve-artifacts"],
    )
    run = requests.post(srv.api("runs/create"), json={"experiment_id": "0"}, timeout=30).json()["run"]["info"]
    assert run["artifact_uri"] == f"{destination.resolve().as_uri()}/0/{run['run_id']}/artifacts"
    proxied = requests.put(f"{srv.url}/api/2.0/mlflow-artifacts/artifacts/0/x.txt", data=b"x", timeout=30)
    assert proxied.status_code == 503
    assert not (destination / "0" / "x.txt").exists()
    info = requests.get(f"{srv.url}/api/3.0/mlflow/server-info", timeout=30).json()
    assert info["multipart_uploads_enabled"] is False


def test_artifacts_only_serves_artifacts_without_a_database(
    server_factory: ServerFactory, tmp_path: Path
) -> None:
    destination = tmp_path / "artifact-server"
    srv = server_factory(
        f"sqlite:///{tmp_path / 'never-created.sqlite'}",
        artifacts_dir=destination,
        extra_args=["--artifacts-only"],
    )
    url = f"{srv.url}/api/2.0/mlflow-artifacts/artifacts/exp/run/artifacts/model.pkl"
    assert requests.put(url, data=b"weights", timeout=30).status_code == 200
    assert requests.get(url, timeout=30).content == b"weights"
    assert (destination / "exp" / "run" / "artifacts" / "model.pkl").read_bytes() == b"weights"
    tracking = requests.post(srv.api("experiments/create"), json={"name": "x"}, timeout=30)
    assert tracking.status_code == 503
    assert requests.get(f"{srv.url}/health", timeout=30).status_code == 200
    assert not (tmp_path / "never-created.sqlite").exists()


def test_artifacts_only_with_no_serve_artifacts_is_a_one_line_error(tmp_path: Path) -> None:
    from harness.server import run_cli

    result = run_cli(["server", "--artifacts-only", "--no-serve-artifacts", "--port", "1"], cwd=tmp_path)
    assert result.returncode != 0
    assert "--artifacts-only" in result.stderr and "Traceback" not in result.stderr


def test_direct_transfers_can_be_switched_off(
    server_factory: ServerFactory, s3_emulator, tmp_path: Path
) -> None:
    """With TRACKLIGHT_DIRECT_TRANSFERS=false an S3 destination is proxy-only: clients that cannot reach
    the bucket (a private endpoint, compose's internal hostname) get the single-PUT fallback."""
    srv = server_factory(
        f"sqlite:///{tmp_path / 'db.sqlite'}",
        extra_args=["--artifacts-destination", s3_emulator.destination("proxy-only")],
        env={**s3_emulator.env, "TRACKLIGHT_DIRECT_TRANSFERS": "false"},
    )
    info = requests.get(f"{srv.url}/api/3.0/mlflow/server-info", timeout=30).json()
    assert info["multipart_uploads_enabled"] is False and info["multipart_downloads_enabled"] is False
    created = requests.post(
        f"{srv.url}/api/2.0/mlflow-artifacts/mpu/create/0/r/artifacts",
        json={"path": "model.bin", "num_parts": 2},
        timeout=30,
    )
    assert created.status_code == 501
    assert created.json()["message"].startswith("Multipart upload is not supported")
    url = f"{srv.url}/api/2.0/mlflow-artifacts/artifacts/0/r/artifacts/model.bin"
    assert requests.put(url, data=b"through the proxy", timeout=30).status_code == 200
    assert (
        requests.get(f"{srv.url}/api/2.0/mlflow-artifacts/presigned/0/r/artifacts/model.bin").status_code
        == 501
    )
    assert s3_emulator.read("proxy-only/0/r/artifacts/model.bin") == b"through the proxy"
