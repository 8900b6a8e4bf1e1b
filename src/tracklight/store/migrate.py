"""Schema migrations: apply them under a database-wide lock, and tell whether a database is current."""

from __future__ import annotations

import contextlib
import fcntl
from collections.abc import Iterator
from pathlib import Path

from sqlalchemy import Connection, inspect, text

from tracklight.store.engine import Database

# The newest revision in migrations/versions; tests check that it matches Alembic's head.
HEAD_REVISION = "0003"
_MIGRATIONS = Path(__file__).with_name("migrations")


class SchemaOutOfDate(RuntimeError):
    """The database needs `tracklight db upgrade` before a server can use it."""


def current_revision(conn: Connection) -> str | None:
    if not inspect(conn).has_table("alembic_version"):
        return None
    return conn.execute(text("SELECT version_num FROM alembic_version")).scalar()


def upgrade(db: Database) -> tuple[str | None, str]:
    """Bring the schema to the head revision; returns (before, after). Safe to run concurrently."""
    with _migration_lock(db):
        with db.engine.connect() as conn:
            before = current_revision(conn)
        if before == HEAD_REVISION:
            return before, before
        # Only now: Alembic costs a noticeable part of start-up, and a current database does not need it.
        from alembic import command
        from alembic.config import Config

        cfg = Config()
        cfg.set_main_option("script_location", str(_MIGRATIONS))
        with db.engine.begin() as conn:
            cfg.attributes["connection"] = conn
            command.upgrade(cfg, "head")
        with db.engine.connect() as conn:
            return before, current_revision(conn) or ""


def check_current(db: Database) -> None:
    """Raise SchemaOutOfDate unless the schema is at the head revision."""
    with db.engine.connect() as conn:
        revision = current_revision(conn)
    if revision != HEAD_REVISION:
        found = "an empty database" if revision is None else f"schema revision {revision}"
        raise SchemaOutOfDate(
            f"found {found}, but this server needs revision {HEAD_REVISION}; "
            f"run `tracklight db upgrade <backend-store-uri>` first"
        )


@contextlib.contextmanager
def _migration_lock(db: Database) -> Iterator[None]:
    """Serialise migrations across processes with the database's own lock (a file lock for SQLite)."""
    if db.dialect == "sqlite":
        path = db.engine.url.database or ""
        if path in ("", ":memory:"):
            yield
            return
        with open(f"{path}.migrate-lock", "w") as handle:
            fcntl.flock(handle, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)
        return
    with db.engine.connect() as conn:
        if db.dialect == "postgresql":
            conn.execute(text("SELECT pg_advisory_lock(7413001)"))
            conn.commit()
            try:
                yield
            finally:
                conn.execute(text("SELECT pg_advisory_unlock(7413001)"))
                conn.commit()
        else:
            got = conn.execute(text("SELECT GET_LOCK('tracklight_migrate', 600)")).scalar()
            if got != 1:
                raise RuntimeError("timed out waiting for another migration to finish")
            try:
                yield
            finally:
                conn.execute(text("SELECT RELEASE_LOCK('tracklight_migrate')"))
