"""Test harness: fresh databases per backend and real `tracklight server` processes for the test suites."""

from harness.databases import BACKENDS, BackendURI, create_database, drop_database, selected_backends
from harness.server import (
    REPO_ROOT,
    ServerProcess,
    ServerStartError,
    db_upgrade,
    free_port,
    run_cli,
    tracklight_bin,
)

__all__ = [
    "BACKENDS",
    "REPO_ROOT",
    "BackendURI",
    "ServerProcess",
    "ServerStartError",
    "create_database",
    "db_upgrade",
    "drop_database",
    "free_port",
    "run_cli",
    "selected_backends",
    "tracklight_bin",
]
