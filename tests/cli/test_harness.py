"""Self-checks of tests/harness: databases are really created and dropped, and a dead service fails instead of skipping."""

from __future__ import annotations

from pathlib import Path

import pytest
from harness import databases
from harness.databases import (
    BackendURI,
    DatabaseServiceError,
    create_database,
    database_exists,
    drop_database,
    require_service,
    selected_backends,
)
from harness.plugin import ServerFactory
from harness.server import ServerStartError


@pytest.mark.parametrize("kind", selected_backends())
def test_create_and_drop_database(kind: str, tmp_path: Path) -> None:
    db = create_database(kind, tmp_path / "db")
    assert db.backend == kind
    assert str(db).startswith(
        {"sqlite": "sqlite:///", "mariadb": "mysql+pymysql://", "postgresql": "postgresql://"}[kind]
    )
    if kind == "sqlite":
        db.path.touch()  # type: ignore[union-attr]  # SQLite files appear on first use
    assert database_exists(db)
    drop_database(db)
    if kind != "sqlite":
        assert not database_exists(db)


def test_backend_fixture_yields_fresh_uri(backend: BackendURI) -> None:
    assert backend.uri == str(backend)
    assert backend.needs_upgrade == (backend.backend != "sqlite")
    if backend.backend != "sqlite":
        assert database_exists(backend)
        assert backend.name in backend


def test_unreachable_service_raises_not_skips(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(
        databases, "_SERVICE_PORTS", {"postgresql": ("127.0.0.1", 1), "mariadb": ("127.0.0.1", 1)}
    )
    monkeypatch.setattr(databases, "_down", {})
    with pytest.raises(DatabaseServiceError, match="not answering"):
        require_service("postgresql", timeout=0.5)
    with pytest.raises(DatabaseServiceError):  # remembered: fails at once the second time
        require_service("postgresql", timeout=30)


def test_start_timeout_reports_log_tail(tmp_path: Path, server_factory: ServerFactory) -> None:
    with pytest.raises(ServerStartError) as info:
        server_factory("sqlite:///unused", upgrade=False, argv=["server", "--no-such-flag"], timeout=30)
    assert "--no-such-flag" in str(info.value)
    assert "log tail" in str(info.value)
