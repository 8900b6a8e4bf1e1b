"""Database engines: URI normalisation, per-dialect connection settings and transactions."""

from __future__ import annotations

import contextlib
import functools
import re
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import Connection, Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, DisconnectionError, NoSuchModuleError

from tracklight.store import loop_reads
from tracklight.store.driver import begin_sqlite
from tracklight.store.group_commit import GroupCommit

_DRIVERS = {
    "sqlite": "sqlite",
    "mysql": "mysql+pymysql",
    "mariadb": "mysql+pymysql",
    "mysql+pymysql": "mysql+pymysql",
    "mariadb+pymysql": "mysql+pymysql",
    "postgresql": "postgresql+psycopg2",
    "postgres": "postgresql+psycopg2",
    "postgresql+psycopg2": "postgresql+psycopg2",
}


class StoreUriError(ValueError):
    """The backend store URI is malformed or names an unsupported database."""


@dataclass(frozen=True, slots=True)
class Database:
    """An engine plus the dialect facts the queries need."""

    engine: Engine
    dialect: str  # "sqlite", "mysql" or "postgresql"
    # SQLite: concurrent write transactions share a commit (see group_commit); None elsewhere.
    group_commit: GroupCommit | None = None
    busy_timeout_ms: int = 0  # SQLite: how long a statement waits for a lock

    def dispose(self) -> None:
        """Close every pooled connection (and the one group commit keeps)."""
        if self.group_commit is not None:
            self.group_commit.close()
        self.engine.dispose()

    def ping(self) -> None:
        """One round trip to the database (readiness); raises if it cannot be reached."""
        with self.engine.connect() as conn:
            conn.exec_driver_sql("SELECT 1")

    def write(self) -> contextlib.AbstractContextManager[Connection]:
        """A transaction that takes SQLite's write lock up front, so it never fails half-way on it."""
        return _write_transaction(self.engine)

    @contextlib.contextmanager
    def read(self) -> Iterator[Connection]:
        """Reads on PostgreSQL run in autocommit: under READ COMMITTED each statement takes its own
        snapshot either way, and this saves the BEGIN and COMMIT round trips."""
        if self.dialect == "sqlite":
            with self.engine.connect() as conn, loop_reads.bounded(conn, self.busy_timeout_ms), conn.begin():
                yield conn
            return
        if self.dialect != "postgresql":
            with self.engine.connect() as conn, conn.begin():
                yield conn
            return
        with self.autocommit() as conn:
            yield conn

    @contextlib.contextmanager
    def single_statement_write(self) -> Iterator[Connection]:
        """For work that writes with one statement: on PostgreSQL that statement is its own
        transaction (autocommit, committed durably before it returns) and the BEGIN and COMMIT
        round trips are saved; elsewhere a write transaction."""
        if self.dialect != "postgresql":
            with self.write() as conn:
                yield conn
            return
        with self.autocommit() as conn:
            yield conn

    @contextlib.contextmanager
    def autocommit(self) -> Iterator[Connection]:
        """A PostgreSQL connection in autocommit.

        The driver's autocommit flag is flipped directly, and back before the connection returns to
        the pool: SQLAlchemy's isolation_level option would reset the session on every check-in.
        """
        with self.engine.connect() as conn:
            raw = conn.connection.dbapi_connection
            raw.autocommit = True  # client-side only in psycopg2: no round trip
            try:
                with conn.begin():
                    yield conn
            finally:
                # A connection lost mid-read is invalidated and never reused, so a failure here is moot.
                with contextlib.suppress(self.engine.dialect.loaded_dbapi.Error):
                    if not raw.closed:
                        raw.autocommit = False


def _write_connection(engine: Engine) -> Connection:
    """A connection whose transactions take SQLite's write lock up front (BEGIN IMMEDIATE)."""
    return engine.connect().execution_options(tracklight_write=True)


@contextlib.contextmanager
def _write_transaction(engine: Engine) -> Iterator[Connection]:
    with _write_connection(engine) as conn, conn.begin():
        yield conn


def normalize_uri(uri: str) -> str:
    """Map the URI spellings MLflow accepts onto the drivers we ship."""
    try:
        url = make_url(uri)
    except ArgumentError as exc:
        raise StoreUriError(f"not a database URI: {uri!r}") from exc
    driver = _DRIVERS.get(url.drivername)
    if driver is None:
        raise StoreUriError(
            f"unsupported backend store {url.drivername!r} in {uri!r}; "
            "use sqlite:///path, mysql+pymysql://… or postgresql://…"
        )
    if driver == "sqlite" and url.database not in (None, "", ":memory:"):
        Path(url.database).expanduser().resolve().parent.mkdir(parents=True, exist_ok=True)
    return url.set(drivername=driver).render_as_string(hide_password=False)


def open_database(
    uri: str, *, pool_size: int = 10, timeout_s: float = 10.0, query_timeout_s: float | None = None
) -> Database:
    """Create an engine for a backend store URI, tuned per dialect.

    With query_timeout_s, a database that stops answering fails the request after that long
    (and the connection is discarded) instead of holding it forever; a server sets it, the
    migration command does not, since a migration may legitimately run long.
    """
    url = make_url(normalize_uri(uri))
    try:
        if url.get_backend_name() == "sqlite":
            return _open_sqlite(url, pool_size, timeout_s)
        if url.get_backend_name() == "mysql":
            engine = create_engine(
                url.update_query_dict({"charset": "utf8mb4"}),
                pool_size=pool_size,
                max_overflow=pool_size,
                pool_recycle=1800,
                pool_timeout=timeout_s,
                isolation_level="READ COMMITTED",
                connect_args={
                    "connect_timeout": int(timeout_s),
                    **(
                        {"read_timeout": query_timeout_s, "write_timeout": query_timeout_s}
                        if query_timeout_s
                        else {}
                    ),
                },
            )
            _ping_when_idle(engine)
            return Database(engine, "mysql")
        if query_timeout_s:
            from tracklight.store.pg_deadline import install_query_deadline

            install_query_deadline(query_timeout_s)
        engine = create_engine(
            url,
            pool_size=pool_size,
            max_overflow=pool_size,
            pool_recycle=1800,
            pool_timeout=timeout_s,
            connect_args={"connect_timeout": int(timeout_s)},
        )
        _ping_when_idle(engine)
        return Database(engine, "postgresql")
    except NoSuchModuleError as exc:
        raise StoreUriError(f"no driver for {url.drivername!r}") from exc


_IDLE_BEFORE_PING_S = 2.0


def _ping_when_idle(engine: Engine) -> None:
    """Check a pooled connection before use only if it sat idle; a busy server skips the round trip.

    A connection that was in use moments ago is almost surely alive, and if it is not, the failed
    request invalidates the pool and the services retry once on a fresh connection.
    """

    @event.listens_for(engine, "connect")
    def _on_connect(_dbapi_conn, record) -> None:
        record.info["tracklight_used"] = time.monotonic()

    @event.listens_for(engine, "checkout")
    def _on_checkout(dbapi_conn, record, _proxy) -> None:
        now = time.monotonic()
        idle = now - record.info.get("tracklight_used", 0.0)
        record.info["tracklight_used"] = now
        if idle < _IDLE_BEFORE_PING_S:
            return
        try:
            cursor = dbapi_conn.cursor()
            cursor.execute("SELECT 1")
            cursor.close()
            # Leave no transaction open: reads switch the connection to autocommit, which a driver
            # refuses inside one.
            dbapi_conn.rollback()
        except Exception as exc:
            # The pool discards this connection and checks out (or opens) another.
            raise DisconnectionError(str(exc)) from exc


@functools.lru_cache(maxsize=64)
def _compiled(pattern: str) -> re.Pattern[str]:
    return re.compile(pattern)


def _regexp_search(pattern: str | None, value: str | None) -> bool | None:
    if pattern is None or value is None:
        return None
    return _compiled(pattern).search(value) is not None


def _open_sqlite(url, pool_size: int, timeout_s: float) -> Database:
    engine = create_engine(
        url,
        pool_size=pool_size,
        max_overflow=pool_size,
        connect_args={"check_same_thread": False, "timeout": timeout_s},
    )

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn, _record) -> None:
        # Let SQLAlchemy's "begin" event issue BEGIN itself (pysqlite's own handling defers it).
        dbapi_conn.isolation_level = None
        cur = dbapi_conn.cursor()
        cur.execute("PRAGMA journal_mode=WAL")
        # FULL syncs the WAL at every commit: an acknowledged write survives power loss, not just a crash.
        cur.execute("PRAGMA synchronous=FULL")
        cur.execute(f"PRAGMA busy_timeout={int(timeout_s * 1000)}")
        cur.close()
        # SQLite parses `x REGEXP p` but ships no function behind it; trace searches' RLIKE needs one.
        dbapi_conn.create_function("regexp", 2, _regexp_search, deterministic=True)

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Connection) -> None:
        begin_sqlite(conn, conn.get_execution_options().get("tracklight_write", False))

    write_connection = functools.partial(_write_connection, engine)
    return Database(engine, "sqlite", GroupCommit(write_connection), int(timeout_s * 1000))
