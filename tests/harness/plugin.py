"""Pytest fixtures and hooks of the harness: databases per backend, server processes, object-store emulators, the configured mlflow client."""

from __future__ import annotations

import contextlib
import os
import re
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from harness.databases import (
    BackendURI,
    create_database,
    drop_database,
    drop_stale_databases,
    selected_backends,
)
from harness.object_stores import azurite_emulator, gcs_emulator, object_store, s3_emulator
from harness.server import ServerProcess, db_upgrade, reference_mode

__all__ = [
    "Tracking",
    "ServerFactory",
    "azurite_emulator",
    "backend",
    "gcs_emulator",
    "mlflow",
    "object_store",
    "pytest_configure",
    "pytest_runtest_makereport",
    "pytest_runtest_setup",
    "pytest_sessionstart",
    "s3_emulator",
    "server_factory",
    "session_backend",
    "tracking",
    "tracking_server",
]

# Client settings for the whole test session: one immediate retry instead of the client's 7 with exponential
# backoff (a server bug must show as a failure, not a 10-minute hang, while a keep-alive race on a pooled
# connection, which a real client retries, must not fail a test), and no telemetry on a closed network.
_CLIENT_ENV = {
    "MLFLOW_HTTP_REQUEST_MAX_RETRIES": "1",
    "MLFLOW_HTTP_REQUEST_BACKOFF_FACTOR": "0",
    "MLFLOW_HTTP_REQUEST_BACKOFF_JITTER": "0",
    "MLFLOW_HTTP_REQUEST_TIMEOUT": "60",
    "MLFLOW_DISABLE_TELEMETRY": "true",
    "DO_NOT_TRACK": "true",
    "MLFLOW_ENABLE_ASYNC_LOGGING": "false",
    "GIT_PYTHON_REFRESH": "quiet",
}

_LOG_MARKS = pytest.StashKey[dict[int, int]]()


def pytest_configure(config: pytest.Config) -> None:
    for key, value in _CLIENT_ENV.items():
        os.environ.setdefault(key, value)
    config.addinivalue_line(
        "markers", "reference_differs: Tracklight deliberately differs from stock mlflow here"
    )


def pytest_sessionstart(session: pytest.Session) -> None:
    with contextlib.suppress(Exception):  # housekeeping only; a real service problem shows in the fixtures
        drop_stale_databases()


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_setup(item: pytest.Item) -> None:
    item.stash[_LOG_MARKS] = {id(s): s.log_size() for s in ServerProcess.started}
    if reference_mode() and item.get_closest_marker("reference_differs"):
        pytest.xfail("deliberate difference from the stock mlflow server")


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Iterator[None]:
    report: pytest.TestReport = yield
    if report.failed and call.when in ("setup", "call"):
        marks = item.stash.get(_LOG_MARKS, {})
        for server in ServerProcess.started:
            since = marks.get(id(server), 0)
            if server.log_size() > since:
                report.sections.append(
                    (f"server log: {server.name} {server.url} (tail)", server.log_tail(80, since=since))
                )
    return report


# -- databases -----------------------------------------------------------------------------------------


@pytest.fixture(params=selected_backends())
def backend(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[BackendURI]:
    """A fresh, empty database on each backend; yields its backend store URI and drops it afterwards."""
    db = create_database(request.param, tmp_path / "sqlite")
    try:
        yield db
    finally:
        drop_database(db)


@pytest.fixture(scope="session", params=selected_backends())
def session_backend(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[BackendURI]:
    """One database per backend for the whole session (shared by the client suite's server)."""
    db = create_database(request.param, tmp_path_factory.mktemp(f"db-{request.param}"))
    try:
        yield db
    finally:
        drop_database(db)


# -- servers -------------------------------------------------------------------------------------------


class ServerFactory:
    """Starts server processes (several may share one database) and stops all of them at teardown."""

    def __init__(self, workdir: Path) -> None:
        self.workdir = workdir
        self.servers: list[ServerProcess] = []
        self._upgraded: set[str] = set()

    def __call__(
        self,
        uri: str,
        *,
        start: bool = True,
        upgrade: bool = True,
        timeout: float = 60.0,
        artifacts_dir: Path | None = None,
        **kwargs: Any,
    ) -> ServerProcess:
        """A server on `uri`; runs `tracklight db upgrade` first (once per URI) where the backend needs it."""
        index = len(self.servers)
        needs_upgrade = getattr(uri, "needs_upgrade", not str(uri).startswith("sqlite"))
        if upgrade and needs_upgrade and str(uri) not in self._upgraded:
            db_upgrade(str(uri))
            self._upgraded.add(str(uri))
        server = ServerProcess(
            uri,
            artifacts_dir or self.workdir / "artifacts",
            self.workdir / f"server-{index}.log",
            name=kwargs.pop("name", f"server-{index}"),
            **kwargs,
        )
        self.servers.append(server)
        if start:
            server.start(timeout)
        return server

    def stop_all(self) -> None:
        for server in reversed(self.servers):
            server.stop()


@pytest.fixture
def server_factory(tmp_path: Path) -> Iterator[ServerFactory]:
    """Factory for server processes; every process it started is stopped at teardown."""
    factory = ServerFactory(tmp_path / "servers")
    try:
        yield factory
    finally:
        factory.stop_all()


@pytest.fixture(scope="session")
def tracking_server(
    session_backend: BackendURI, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[ServerProcess]:
    """One server per backend for the whole client suite."""
    workdir = tmp_path_factory.mktemp(f"server-{session_backend.backend}")
    if session_backend.needs_upgrade:
        db_upgrade(session_backend)
    server = ServerProcess(
        session_backend,
        workdir / "artifacts",
        workdir / "server.log",
        name=f"tracklight-{session_backend.backend}",
    )
    server.start(timeout=90)
    try:
        yield server
    finally:
        server.stop()


# -- the configured client -----------------------------------------------------------------------------


def _slug(text: str, limit: int = 60) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "-", text).strip("-")[:limit]


@dataclass
class Tracking:
    """What a client test needs: the server, its backend, a fresh experiment and a client bound to it."""

    server: ServerProcess
    backend: str
    experiment_name: str
    test_slug: str
    client: Any = None  # mlflow.MlflowClient (typed loosely so the harness imports without mlflow)
    experiment_id: str | None = None
    _names: list[str] = field(default_factory=list)

    @property
    def url(self) -> str:
        return self.server.url

    def api(self, path: str, version: str = "2.0") -> str:
        """URL of /api/<version>/mlflow/<path> on the server under test."""
        return self.server.api(path, version)

    def ajax(self, path: str, version: str = "2.0") -> str:
        """URL of /ajax-api/<version>/mlflow/<path> on the server under test."""
        return f"{self.server.url}/ajax-api/{version}/mlflow/{path.lstrip('/')}"

    def new_name(self, label: str = "exp") -> str:
        """A fresh experiment (or other entity) name no other test uses."""
        name = f"{self.test_slug}-{label}-{uuid.uuid4().hex[:8]}"
        self._names.append(name)
        return name


@pytest.fixture
def tracking(
    tracking_server: ServerProcess,
    session_backend: BackendURI,
    request: pytest.FixtureRequest,
    monkeypatch: pytest.MonkeyPatch,
) -> Iterator[Tracking]:
    """Point the mlflow client at the session's server for this backend; no experiment is created yet."""
    import mlflow as mlflow_module

    monkeypatch.setenv("MLFLOW_TRACKING_URI", tracking_server.url)
    mlflow_module.set_tracking_uri(tracking_server.url)
    slug = _slug(getattr(request.node, "originalname", request.node.name))
    t = Tracking(
        server=tracking_server,
        backend=session_backend.backend,
        experiment_name=f"{slug}-{uuid.uuid4().hex[:8]}",
        test_slug=slug,
        client=mlflow_module.MlflowClient(tracking_uri=tracking_server.url),
    )
    yield t
    _reset_fluent_state(mlflow_module)


@pytest.fixture
def mlflow(tracking: Tracking) -> ModuleType:
    """The mlflow module, tracking to this backend's server, with a fresh experiment set as active."""
    import mlflow as mlflow_module

    experiment = mlflow_module.set_experiment(tracking.experiment_name)
    tracking.experiment_id = experiment.experiment_id
    return mlflow_module


def _reset_fluent_state(mlflow_module: ModuleType) -> None:
    """End whatever runs a test left active and switch async logging back off."""
    with contextlib.suppress(Exception):  # cleanup must not mask the test's own result
        mlflow_module.flush_async_logging()
    for _ in range(20):
        if mlflow_module.active_run() is None:
            break
        with contextlib.suppress(
            Exception
        ):  # e.g. the test deleted its active run; the stack is popped anyway
            mlflow_module.end_run()
    mlflow_module.config.enable_async_logging(False)
