"""The Alembic migrations and the schema module describe the same database, on every backend."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.config import Config
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import create_engine, text

from tracklight.store import migrate
from tracklight.store.engine import open_database
from tracklight.store.schema import metadata

ADMIN = {
    "postgresql": "postgresql+psycopg2://postgres@127.0.0.1:5432/postgres",
    "mysql": "mysql+pymysql://root@127.0.0.1:3306/",
}


@pytest.fixture(params=["sqlite", "postgresql", "mysql"])
def store_uri(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'm.db'}"
        return
    name = f"tl_mig_{uuid.uuid4().hex[:10]}"
    admin = create_engine(ADMIN[request.param], isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f"CREATE DATABASE {name}"))
    try:
        yield ADMIN[request.param].rsplit("/", 1)[0] + f"/{name}"
    finally:
        with admin.connect() as conn:
            if request.param == "postgresql":
                conn.execute(text(f"DROP DATABASE {name} WITH (FORCE)"))
            else:
                conn.execute(text(f"DROP DATABASE {name}"))
        admin.dispose()


def test_head_revision_constant_matches_alembic() -> None:
    cfg = Config()
    cfg.set_main_option("script_location", str(Path(migrate.__file__).with_name("migrations")))
    assert ScriptDirectory.from_config(cfg).get_current_head() == migrate.HEAD_REVISION


def test_upgrade_is_idempotent_and_matches_schema(store_uri: str) -> None:
    db = open_database(store_uri)
    try:
        assert migrate.upgrade(db) == (None, migrate.HEAD_REVISION)
        assert migrate.upgrade(db) == (migrate.HEAD_REVISION, migrate.HEAD_REVISION)
        migrate.check_current(db)
        with db.engine.connect() as conn:
            diffs = compare_metadata(MigrationContext.configure(conn), metadata)
        assert diffs == []
    finally:
        db.engine.dispose()


def test_check_current_refuses_an_empty_database(store_uri: str) -> None:
    db = open_database(store_uri)
    try:
        with pytest.raises(migrate.SchemaOutOfDate, match="tracklight db upgrade"):
            migrate.check_current(db)
    finally:
        db.engine.dispose()
