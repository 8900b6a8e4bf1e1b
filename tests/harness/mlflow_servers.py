"""Run a stock `mlflow server` of a chosen release (3.x from .venv, 2.22 from .venv-mlflow2) on a store of ours."""

from __future__ import annotations

import os
from pathlib import Path

from harness.server import REPO_ROOT, ServerProcess

# The releases a store can come from or go back to, and the venv whose `mlflow` runs them. .venv holds the
# 3.x client the whole suite uses; scripts/test builds .venv-mlflow2 for the 2.22 client pass.
MLFLOW_RELEASES = {"3": REPO_ROOT / ".venv", "2": REPO_ROOT / ".venv-mlflow2"}

# The moves to and from MLflow run MLflow 3.x on every backend and 2.22 on SQLite only, unless
# TRACKLIGHT_TEST_FULL_MOVE=1 asks for 2.22 on every backend too: the full release x backend matrix
# passed when the importer and exporter landed, and CI runs the cheaper cut to stay inside its hour.
FULL_MOVE_MATRIX = os.environ.get("TRACKLIGHT_TEST_FULL_MOVE", "") in ("1", "true")


def in_move_matrix(release: str, backend: str) -> bool:
    """Whether a move test runs for this MLflow release on this backend (see FULL_MOVE_MATRIX)."""
    return release == "3" or backend == "sqlite" or FULL_MOVE_MATRIX


def mlflow_bin(release: str) -> Path:
    """The `mlflow` executable of a release ("3" or "2")."""
    return MLFLOW_RELEASES[release] / "bin" / "mlflow"


def mlflow_python(release: str) -> Path:
    """The interpreter of a release's venv, to run the stock client of that release in a subprocess."""
    return MLFLOW_RELEASES[release] / "bin" / "python"


def mlflow_store_uri(uri: str) -> str:
    """A backend URI as mlflow's SQLAlchemy opens it: psycopg2 named, since SQLAlchemy 2.1 defaults to psycopg 3."""
    if uri.startswith("postgresql://"):
        return "postgresql+psycopg2://" + uri[len("postgresql://") :]
    return uri


class MlflowServer(ServerProcess):
    """`mlflow server` of one release over a backend URI and an artifacts folder; it creates or upgrades its
    own schema at start, as MLflow does. Stop, kill and logs work as for our server."""

    def __init__(
        self,
        release: str,
        backend_store_uri: str,
        artifacts_dir: os.PathLike[str] | str,
        log_path: os.PathLike[str] | str,
    ) -> None:
        # MLflow 3 starts a job runner and half a dozen task-queue processes with its server; nothing here
        # submits jobs, and on two cores they slow every other test down.
        env = {"MLFLOW_SERVER_ENABLE_JOB_EXECUTION": "false"}
        super().__init__(backend_store_uri, artifacts_dir, log_path, name=f"mlflow-{release}", env=env)
        self.release = release

    def command(self) -> list[str]:
        return [
            str(mlflow_bin(self.release)),
            "server",
            "--workers",
            "1",
            "--backend-store-uri",
            mlflow_store_uri(self.backend_store_uri),
            "--artifacts-destination",
            str(self.artifacts_dir),
            "--host",
            self.host,
            "--port",
            str(self.port),
        ]

    def start(self, timeout: float = 180.0) -> MlflowServer:
        """Start and wait for /health; MLflow's first start on an empty database runs all its migrations."""
        super().start(timeout)
        return self
