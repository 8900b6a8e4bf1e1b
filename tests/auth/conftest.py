"""Fixtures for the authentication tests: a server with --auth on a fresh database per backend, its
admin, users made through the stock client's admin API, and the client's credentials in the environment."""

from __future__ import annotations

import os
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import requests
from harness.databases import create_database, drop_database, selected_backends
from harness.server import ServerProcess, db_upgrade, run_cli

ADMIN, ADMIN_PASSWORD = "admin", "admin-" + uuid.uuid4().hex[:12]
CLIENT_ENV = {
    "MLFLOW_HTTP_REQUEST_MAX_RETRIES": "0",
    "MLFLOW_HTTP_REQUEST_BACKOFF_FACTOR": "0",
    "MLFLOW_HTTP_REQUEST_TIMEOUT": "30",
    "MLFLOW_DISABLE_TELEMETRY": "true",
    "DO_NOT_TRACK": "true",
    "MLFLOW_ENABLE_ASYNC_LOGGING": "false",
    "GIT_PYTHON_REFRESH": "quiet",
}
SETTLE_S = 15.0  # a change reaches every replica within seconds (each re-reads auth_version every 2 s)


def eventually(check: Callable[[], bool], timeout: float = SETTLE_S) -> bool:
    """Whether `check` comes true within `timeout`: for changes that reach other replicas a little later."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return True
        time.sleep(0.2)
    return False


_CREDENTIALS = ("MLFLOW_TRACKING_USERNAME", "MLFLOW_TRACKING_PASSWORD", "MLFLOW_TRACKING_TOKEN")


def start_auth_server(
    uri: str, workdir: Path, *, env: dict[str, str] | None = None, **kw: object
) -> ServerProcess:
    server = ServerProcess(
        uri,
        workdir / "artifacts",
        workdir / f"server-{uuid.uuid4().hex[:6]}.log",
        extra_args=["--auth"],
        env={"TRACKLIGHT_ADMIN_PASSWORD": ADMIN_PASSWORD, **(env or {})},
        name="tracklight-auth",
        **kw,  # type: ignore[arg-type]
    )
    return server.start(timeout=90)


@pytest.fixture(scope="module", params=selected_backends())
def auth_db(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    db = create_database(request.param, tmp_path_factory.mktemp(f"authdb-{request.param}"))
    if db.needs_upgrade:
        db_upgrade(db)
    try:
        yield db
    finally:
        drop_database(db)


@pytest.fixture(scope="module")
def auth_server(auth_db: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    server = start_auth_server(auth_db, tmp_path_factory.mktemp("authsrv"))
    try:
        yield server
    finally:
        server.stop()


class Credentials:
    """Switches the stock client's credentials (it reads them from the environment on every request)."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.monkeypatch = monkeypatch

    def none(self) -> None:
        for name in _CREDENTIALS:
            self.monkeypatch.delenv(name, raising=False)

    def basic(self, username: str, password: str) -> None:
        self.none()
        self.monkeypatch.setenv("MLFLOW_TRACKING_USERNAME", username)
        self.monkeypatch.setenv("MLFLOW_TRACKING_PASSWORD", password)

    def token(self, token: str) -> None:
        self.none()
        self.monkeypatch.setenv("MLFLOW_TRACKING_TOKEN", token)

    def admin(self) -> None:
        self.basic(ADMIN, ADMIN_PASSWORD)


@pytest.fixture
def creds(monkeypatch: pytest.MonkeyPatch, auth_server: ServerProcess) -> Credentials:
    for key, value in CLIENT_ENV.items():
        monkeypatch.setenv(key, value)
    monkeypatch.setenv("MLFLOW_TRACKING_URI", auth_server.url)
    c = Credentials(monkeypatch)
    c.admin()
    return c


def new_user(server: ServerProcess, label: str = "user") -> tuple[str, str]:
    """A fresh user, created by the admin over the REST API; returns (username, password)."""
    username, password = f"{label}-{uuid.uuid4().hex[:8]}", "pw-" + uuid.uuid4().hex
    got = requests.post(
        server.api("users/create"),
        json={"username": username, "password": password},
        auth=(ADMIN, ADMIN_PASSWORD),
        timeout=30,
    )
    assert got.status_code == 200, got.text
    return username, password


def cli_token(server: ServerProcess, username: str, *extra: str) -> str:
    """A personal access token made with `tracklight tokens create` against the server's database."""
    result = run_cli(
        ["tokens", "create", username, "--backend-store-uri", server.backend_store_uri, *extra], timeout=120
    )
    assert result.returncode == 0, result.stderr
    token = result.stdout.strip()
    assert token.startswith("tl_") and len(token) > 40, result.stdout
    return token


def mlflow_major() -> int:
    import mlflow

    return int(mlflow.__version__.split(".")[0])


def is_mlflow2() -> bool:
    return mlflow_major() < 3


__all__ = ["ADMIN", "ADMIN_PASSWORD", "Credentials", "cli_token", "new_user", "os", "start_auth_server"]
