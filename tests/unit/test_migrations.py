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


def test_tag_search_columns_are_filled_for_tags_written_before_them(store_uri: str) -> None:
    """0012 copies each trace's experiment and time, and the value's prefix, into the tags it already has."""
    from alembic import command

    db = open_database(store_uri)
    try:
        cfg = Config()
        cfg.set_main_option("script_location", str(Path(migrate.__file__).with_name("migrations")))
        with db.engine.begin() as conn:
            cfg.attributes["connection"] = conn
            command.upgrade(cfg, "0011")
        with db.engine.begin() as conn:
            conn.execute(
                text(
                    "INSERT INTO experiments (id, name, artifact_location, lifecycle_stage, creation_time,"
                    " last_update_time) VALUES (7, 'e', 'file:///a', 'active', 0, 0)"
                )
            )
            conn.execute(
                text(
                    "INSERT INTO traces (id, experiment_id, timestamp_ms, state) VALUES ('tr-1', 7, 1234, 'OK')"
                )
            )
            conn.execute(
                text(
                    "INSERT INTO trace_tags (trace_id, " + _quoted("key", store_uri) + ", value) VALUES"
                    " ('tr-1', 'env', 'prod'), ('tr-1', 'long', :long)"
                ),
                {"long": "ü" * 70},
            )
        assert migrate.upgrade(db) == ("0011", migrate.HEAD_REVISION)
        with db.engine.connect() as conn:
            rows = conn.execute(
                text("SELECT value, experiment_id, timestamp_ms, value_prefix FROM trace_tags ORDER BY value")
            ).all()
        assert [tuple(r) for r in rows] == [("prod", 7, 1234, "prod"), ("ü" * 70, 7, 1234, "ü" * 64)]
    finally:
        db.engine.dispose()


def _quoted(name: str, uri: str) -> str:
    return f"`{name}`" if uri.startswith("mysql") else f'"{name}"'
