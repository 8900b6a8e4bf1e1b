"""`tracklight import-mlflow --from-server`: a live stock MLflow server (3.x or 2.22), filled by its own client,
is read over REST into a fresh Tracklight store and artifact folder; the stock client then reads the same
runs, registry and artifact bytes from Tracklight, a registered model loads by alias and predicts, a second
import adds nothing, and a server behind MLflow's basic auth is read with the client's credentials."""

from __future__ import annotations

import filecmp
import hashlib
import json
import os
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from harness.databases import BackendURI, create_database, drop_database, selected_backends
from harness.mlflow_servers import MlflowServer, mlflow_python
from harness.server import run_cli

from move.test_import_mlflow import SCRIPT, _differences, _known_differences, _snapshot

# (release, backend, proxied): both releases on SQLite, the 3.x server on every other backend selected, and
# once with --no-serve-artifacts, where runs name their folder itself and artifacts come through the
# run-scoped listing and get-artifact, as on a managed server whose runs point at a bucket.
CASES = [("3", "sqlite", True), ("2", "sqlite", True), ("3", "sqlite", False)] + [
    ("3", b, True) for b in selected_backends() if b != "sqlite"
]

# Artifacts beside the models the populate script logs: text, binary (bigger than one read chunk),
# nested folders and a name with a space.
_EXTRA_ARTIFACTS = {
    "notes/readme.txt": b"hello from mlflow\n",
    "data/deep/er/blob.bin": hashlib.sha256(b"seed").digest() * 90_000,  # 2.8 MiB
    "with space.json": json.dumps({"a": 1}).encode(),
}


class DirectMlflowServer(MlflowServer):
    """The stock server without its artifact proxy: new runs get a folder of --default-artifact-root."""

    def command(self) -> list[str]:
        command = super().command()
        at = command.index("--artifacts-destination")
        command[at : at + 2] = ["--no-serve-artifacts", "--default-artifact-root", str(self.artifacts_dir)]
        return command


@dataclass
class Served:
    release: str
    backend: str
    server: MlflowServer
    artifacts: Path
    snapshot: dict[str, Any]
    run_with_files: str


def _client_env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("MLFLOW_")}
    env["PYTHONUNBUFFERED"] = "1"
    return env


def _log_extra_artifacts(release: str, url: str, folder: Path, env: dict[str, str] | None = None) -> str:
    """One more run, with plain artifacts, logged by the release's own client; returns its id."""
    for name, data in _EXTRA_ARTIFACTS.items():
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        (folder / name).write_bytes(data)
    code = (
        "import sys, mlflow\n"
        "mlflow.set_tracking_uri(sys.argv[1])\n"
        "mlflow.set_experiment('move-b')\n"
        "with mlflow.start_run(run_name='with-files') as run:\n"
        "    mlflow.log_artifacts(sys.argv[2])\n"
        "    print('RUN_ID=' + run.info.run_id)\n"
    )
    result = subprocess.run(
        [str(mlflow_python(release)), "-c", code, url, str(folder)],
        capture_output=True,
        text=True,
        timeout=300,
        env={**_client_env(), **(env or {})},
        check=False,
    )
    assert result.returncode == 0, result.stderr[-4000:]
    return next(line[7:] for line in result.stdout.splitlines() if line.startswith("RUN_ID="))


def _populate(release: str, url: str) -> None:
    result = subprocess.run(
        [str(mlflow_python(release)), str(SCRIPT), "populate", url],
        capture_output=True,
        text=True,
        timeout=600,
        env=_client_env(),
        check=False,
    )
    assert result.returncode == 0, f"populate failed:\n{result.stdout[-3000:]}\n{result.stderr[-6000:]}"


@pytest.fixture(
    scope="module",
    params=CASES,
    ids=[f"mlflow{r}-{b}" + ("" if proxied else "-unproxied") for r, b, proxied in CASES],
)
def served(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Any:
    """A running stock MLflow server, filled and described by its own release's client."""
    release, backend, proxied = request.param
    workdir = tmp_path_factory.mktemp(f"served{release}-{backend}")
    db = create_database(backend, workdir / "sqlite")
    kind = MlflowServer if proxied else DirectMlflowServer
    server = kind(release, db, workdir / "artifacts", workdir / "mlflow.log")
    try:
        server.start()
        _populate(release, server.url)
        run_id = _log_extra_artifacts(release, server.url, workdir / "files")
        snapshot = _snapshot(release, server.url, workdir / "mlflow.json")
        if not proxied:
            # Tracklight serves the copies: where MLflow named its folder, Tracklight names its proxy.
            text = json.dumps(snapshot)
            for root in (workdir.joinpath("artifacts").as_uri(), str(workdir / "artifacts")):
                text = text.replace(root, "mlflow-artifacts:")
            snapshot = json.loads(text)
        yield Served(release, backend, server, workdir / "artifacts", snapshot, run_id)
    finally:
        server.stop()
        drop_database(db)


@pytest.fixture
def target(served: Served, tmp_path: Path) -> Any:
    db = create_database(served.backend, tmp_path / "target")
    try:
        yield db
    finally:
        drop_database(db)


def _import(url: str, target: str, artifacts: Path, *extra: str, env: dict[str, str] | None = None) -> Any:
    return run_cli(
        [
            "import-mlflow",
            "--from-server",
            url,
            "--backend-store-uri",
            target,
            "--artifacts-destination",
            str(artifacts),
            *extra,
        ],
        timeout=900,
        env=env,
    )


def _files(root: Path) -> dict[str, bytes]:
    return {
        p.relative_to(root).as_posix(): p.read_bytes()
        for p in sorted(root.rglob("*"))
        if p.is_file() and not p.name.startswith(".tracklight-upload-")
    }


def test_the_stock_client_reads_the_same_server_from_tracklight(
    served: Served, target: BackendURI, server_factory: Any, tmp_path: Path
) -> None:
    artifacts = tmp_path / "tracklight-artifacts"
    result = _import(served.server.url, target, artifacts)
    assert result.returncode == 0, result.stderr
    assert "Added:" in result.stdout
    assert "Source: MLflow server" in result.stdout
    if served.release == "3":
        assert "logged_models +" in result.stdout

    # Every file MLflow holds was copied, to the same place under our destination, with the same bytes.
    theirs, ours_files = _files(served.artifacts), _files(artifacts)
    assert theirs.keys() == ours_files.keys()
    assert all(theirs[name] == ours_files[name] for name in theirs)
    assert any(name.endswith("blob.bin") for name in ours_files)

    server = server_factory(target, artifacts_dir=artifacts)
    ours = _snapshot(served.release, server.url, tmp_path / "tracklight.json")
    assert ours["prediction"] == served.snapshot["prediction"]
    assert {r["lifecycle_stage"] for r in ours["runs"]} == {"active", "deleted"}
    assert any(e["lifecycle_stage"] == "deleted" for e in ours["experiments"])
    assert (
        _differences(_known_differences(served.snapshot, ours=False), _known_differences(ours, ours=True))
        == []
    )
    # Downloaded through each server by the stock client, a run's artifacts are the same bytes.
    mine, source = tmp_path / "from-tracklight", tmp_path / "from-mlflow"
    for url, into in ((server.url, mine), (served.server.url, source)):
        _download(url, served.run_with_files, into)
    assert _files(mine) == _files(source)
    assert (mine / "data/deep/er/blob.bin").read_bytes() == _EXTRA_ARTIFACTS["data/deep/er/blob.bin"]

    again = _import(served.server.url, target, artifacts)
    assert again.returncode == 0, again.stderr
    assert "Nothing new" in again.stdout
    assert "Artifacts: 0 files copied (0 bytes)" in again.stdout
    assert _snapshot(served.release, server.url, tmp_path / "again.json") == ours


def _download(url: str, run_id: str, into: Path) -> None:
    code = (
        "import sys, mlflow\n"
        "mlflow.artifacts.download_artifacts(run_id=sys.argv[2], dst_path=sys.argv[3], tracking_uri=sys.argv[1])\n"
    )
    result = subprocess.run(
        [str(mlflow_python("3")), "-c", code, url, run_id, str(into)],
        capture_output=True,
        text=True,
        timeout=300,
        env=_client_env(),
        check=False,
    )
    assert result.returncode == 0, result.stderr[-4000:]


def test_an_artifact_cut_short_is_copied_again_and_a_whole_one_is_not(
    served: Served, target: BackendURI, tmp_path: Path
) -> None:
    artifacts = tmp_path / "tracklight-artifacts"
    assert _import(served.server.url, target, artifacts).returncode == 0
    blob = next(p for p in artifacts.rglob("blob.bin"))
    readme = next(p for p in artifacts.rglob("readme.txt"))
    blob.write_bytes(blob.read_bytes()[:1000])  # as if the copy had stopped there
    readme_mtime = readme.stat().st_mtime_ns
    result = _import(served.server.url, target, artifacts)
    assert result.returncode == 0, result.stderr
    assert "Artifacts: 1 files copied" in result.stdout
    assert blob.read_bytes() == _EXTRA_ARTIFACTS["data/deep/er/blob.bin"]
    assert readme.stat().st_mtime_ns == readme_mtime
    assert filecmp.cmp(readme, served.artifacts / readme.relative_to(artifacts), shallow=False)


def test_dry_run_counts_and_writes_nothing(served: Served, target: BackendURI, tmp_path: Path) -> None:
    artifacts = tmp_path / "tracklight-artifacts"
    result = _import(served.server.url, target, artifacts, "--dry-run")
    assert result.returncode == 0, result.stderr
    assert f"  runs: {len(served.snapshot['runs'])}\n" in result.stdout
    assert "  registered models: 2\n" in result.stdout
    assert "  metric points: (counted while copying)\n" in result.stdout
    assert "Dry run: nothing was written." in result.stdout
    assert not artifacts.exists() or _files(artifacts) == {}


class BasicAuthMlflowServer(MlflowServer):
    """The stock server with MLflow's basic-auth app: every call needs a user's credentials."""

    def __init__(self, workdir: Path, admin_password: str) -> None:
        super().__init__(
            "3", f"sqlite:///{workdir / 'mlflow.db'}", workdir / "artifacts", workdir / "mlflow.log"
        )
        config = workdir / "basic_auth.ini"
        config.write_text(
            "[mlflow]\ndefault_permission = NO_PERMISSIONS\n"
            f"database_uri = sqlite:///{workdir / 'auth.db'}\nadmin_username = admin\n"
        )
        self.env.update(
            {
                "MLFLOW_AUTH_CONFIG_PATH": str(config),
                "MLFLOW_AUTH_ADMIN_PASSWORD": admin_password,
                "MLFLOW_FLASK_SERVER_SECRET_KEY": "a-test-secret",
            }
        )

    def command(self) -> list[str]:
        return [*super().command(), "--app-name", "basic-auth"]


def test_a_server_behind_basic_auth_is_read_with_the_clients_credentials(
    tmp_path: Path, server_factory: Any
) -> None:
    password = "a-long-admin-password-1"
    credentials = {"MLFLOW_TRACKING_USERNAME": "admin", "MLFLOW_TRACKING_PASSWORD": password}
    source = BasicAuthMlflowServer(tmp_path, password)
    target = f"sqlite:///{tmp_path / 'target.db'}"
    artifacts = tmp_path / "tracklight-artifacts"
    try:
        source.start()
        run_id = _log_extra_artifacts("3", source.url, tmp_path / "files", credentials)

        refused = _import(source.url, target, artifacts)
        assert refused.returncode == 2
        assert "401" in refused.stderr

        result = _import(source.url, target, artifacts, env=credentials)
        assert result.returncode == 0, result.stderr
        assert "  runs: 1\n" in result.stdout
    finally:
        source.stop()
    server = server_factory(target, artifacts_dir=artifacts)
    into = tmp_path / "downloaded"
    _download(server.url, run_id, into)
    assert _files(into) == _EXTRA_ARTIFACTS
