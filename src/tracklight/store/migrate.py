"""Schema migrations: apply them under a database-wide lock, and tell whether a database is current."""

from __future__ import annotations

import contextlib
import fcntl
from collections.abc import Iterator
from pathlib import Path

from sqlalchemy import Connection, inspect, text

from tracklight.store.engine import Database

# The newest revision in migrations/versions; tests check that it matches Alembic's head.
HEAD_REVISION = "0012"
_MIGRATIONS = Path(__file__).with_name("migrations")


class SchemaOutOfDate(RuntimeError):
    """The database has an older schema: it needs `tracklight db upgrade` before a server can use it."""


def current_revision(conn: Connection) -> str | None:
    if not inspect(conn).has_table("alembic_version"):
        return None
    return conn.execute(text("SELECT version_num FROM alembic_version")).scalar()


def upgrade(db: Database, *, only_empty: bool = False) -> tuple[str | None, str]:
    """Bring the schema to the head revision; returns (before, after). Safe to run concurrently.

    With only_empty, an existing older schema is refused (SchemaOutOfDate) instead of upgraded: a server
    creates the schema of an empty database itself, but upgrading one stays an explicit step.
    """
    with _migration_lock(db):
        with db.engine.connect() as conn:
            before = current_revision(conn)
        if before == HEAD_REVISION:
            return before, before
        if only_empty and before is not None:
            raise SchemaOutOfDate(_out_of_date(before))
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


def prepare_for_serving(db: Database) -> str | None:
    """Make the schema usable by a server; returns the revision it created on an empty database, if any.

    The embedded SQLite file migrates itself. A MySQL/PostgreSQL database at the head revision is used as
    it is; an empty one gets the schema, under the migration lock so that replicas starting together
    create it once; an older one is refused (SchemaOutOfDate): upgrading it stays an explicit step.
    """
    if db.dialect == "sqlite":
        upgrade(db)
        return None
    with db.engine.connect() as conn:
        revision = current_revision(conn)
    if revision == HEAD_REVISION:
        return None
    # An older revision is judged again under the lock: MySQL runs DDL outside transactions, so a replica
    # that is creating the schema right now shows its intermediate revisions to everyone else.
    before, after = upgrade(db, only_empty=True)
    return after if before != after else None


def check_current(db: Database) -> None:
    """Raise SchemaOutOfDate unless the schema is at the head revision."""
    with db.engine.connect() as conn:
        revision = current_revision(conn)
    if revision != HEAD_REVISION:
        raise SchemaOutOfDate(_out_of_date(revision))


def _out_of_date(revision: str | None) -> str:
    found = "an empty database" if revision is None else f"schema revision {revision}"
    return (
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
