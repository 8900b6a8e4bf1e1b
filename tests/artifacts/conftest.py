"""Fixtures for the artifact suite: a live server per artifact backend (local disk and each emulator)."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType

import pytest
from harness.object_stores import ObjectStoreEmulator
from harness.server import ServerProcess

ARTIFACT_BACKENDS = ["local", "s3", "gcs", "azure"]
_EMULATOR_FIXTURES = {"s3": "s3_emulator", "gcs": "gcs_emulator", "azure": "azurite_emulator"}


@dataclass
class ArtifactServer:
    """A server whose --artifacts-destination is on one backend, with direct access to what it stored."""

    kind: str
    server: ServerProcess
    emulator: ObjectStoreEmulator | None
    prefix: str  # the destination's key prefix in the emulator's bucket
    root: Path  # the destination directory of the local backend

    @property
    def url(self) -> str:
        return self.server.url

    def artifacts_url(self, path: str = "") -> str:
        return f"{self.url}/api/2.0/mlflow-artifacts/artifacts/{path}".rstrip("/")

    def stored(self, under: str = "") -> list[str]:
        """Every object or file the destination holds under `under`, as destination-relative names."""
        if self.emulator is None:
            base = self.root / under
            return sorted(str(p.relative_to(self.root)) for p in base.rglob("*") if p.is_file())
        key = f"{self.prefix}/{under}".rstrip("/")
        return [k[len(self.prefix) + 1 :] for k in self.emulator.keys(key)]


@pytest.fixture(scope="session", params=ARTIFACT_BACKENDS)
def artifact_server(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[ArtifactServer]:
    """One SQLite-backed server per artifact backend for the whole session."""
    kind = request.param
    workdir = tmp_path_factory.mktemp(f"artifacts-{kind}")
    emulator = None if kind == "local" else request.getfixturevalue(_EMULATOR_FIXTURES[kind])
    prefix = f"run-{uuid.uuid4().hex[:8]}"
    root = workdir / "destination"
    extra: list[str] = []
    if emulator is not None:
        extra = ["--artifacts-destination", emulator.destination(prefix)]
    server = ServerProcess(
        f"sqlite:///{workdir / 'tracklight.db'}",
        root,
        workdir / "server.log",
        name=f"tracklight-artifacts-{kind}",
        extra_args=extra,
        env=emulator.env if emulator else None,
    )
    server.start(timeout=90)
    try:
        yield ArtifactServer(kind, server, emulator, prefix, root)
    finally:
        server.stop()


@pytest.fixture
def mlflow_at(artifact_server: ArtifactServer, monkeypatch: pytest.MonkeyPatch) -> Iterator[ModuleType]:
    """The mlflow module pointed at the artifact server, in a fresh experiment."""
    import mlflow

    monkeypatch.setenv("MLFLOW_TRACKING_URI", artifact_server.url)
    mlflow.set_tracking_uri(artifact_server.url)
    mlflow.set_experiment(f"artifacts-{uuid.uuid4().hex[:8]}")
    yield mlflow
    while mlflow.active_run():
        mlflow.end_run()


def random_file(path: Path, size: int) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(os.urandom(size))
    return path
