"""Fresh, uniquely named test databases on SQLite, MariaDB and PostgreSQL, created and dropped over admin connections."""

from __future__ import annotations

import os
import socket
import time
import uuid
from pathlib import Path

BACKENDS: tuple[str, ...] = ("sqlite", "mariadb", "postgresql")

PG_HOST, PG_PORT, PG_USER = "127.0.0.1", 5432, "postgres"
MARIADB_HOST, MARIADB_PORT, MARIADB_USER = "127.0.0.1", 3306, "root"

_SERVICE_PORTS = {"postgresql": (PG_HOST, PG_PORT), "mariadb": (MARIADB_HOST, MARIADB_PORT)}


_down: dict[str, str] = {}  # backend -> why it is unreachable, once found so in this session


class DatabaseServiceError(RuntimeError):
    """A database service the tests need is not reachable (the tests fail; they never skip)."""


class BackendURI(str):
    """A backend store URI that also knows its backend kind and database name (or SQLite file)."""

    backend: str
    name: str
    path: Path | None

    def __new__(cls, uri: str, backend: str, name: str, path: Path | None = None) -> BackendURI:
        obj = super().__new__(cls, uri)
        obj.backend = backend
        obj.name = name
        obj.path = path
        return obj

    @property
    def uri(self) -> str:
        return str(self)

    @property
    def needs_upgrade(self) -> bool:
        """MariaDB and PostgreSQL need `tracklight db upgrade` first; SQLite migrates itself."""
        return self.backend != "sqlite"


def selected_backends() -> tuple[str, ...]:
    """The backends to test: all three, or the comma list in TRACKLIGHT_TEST_BACKENDS."""
    raw = os.environ.get("TRACKLIGHT_TEST_BACKENDS", "").strip()
    if not raw:
        return BACKENDS
    chosen = tuple(b.strip() for b in raw.split(",") if b.strip())
    unknown = [b for b in chosen if b not in BACKENDS]
    if unknown:
        raise ValueError(f"TRACKLIGHT_TEST_BACKENDS names unknown backends {unknown}; choose from {BACKENDS}")
    return chosen


def unique_name(prefix: str = "tl") -> str:
    """A database name that no other test, process or earlier run uses."""
    return f"{prefix}_{os.getpid()}_{uuid.uuid4().hex[:12]}"


def port_open(host: str, port: int, timeout: float = 1.0) -> bool:
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


def require_service(backend: str, timeout: float = 20.0) -> None:
    """Wait up to `timeout` seconds for the backend's service; raise DatabaseServiceError if it never answers."""
    if backend == "sqlite":
        return
    if backend in _down:  # fail the rest of the session at once instead of waiting again for every test
        raise DatabaseServiceError(_down[backend])
    host, port = _SERVICE_PORTS[backend]
    deadline = time.monotonic() + timeout
    while not port_open(host, port):
        if time.monotonic() > deadline:
            _down[backend] = (
                f"{backend} is not answering on {host}:{port}; start it (scripts/test does) and re-run"
            )
            raise DatabaseServiceError(_down[backend])
        time.sleep(0.5)


def _pg_admin():  # type: ignore[no-untyped-def]
    import psycopg2

    conn = psycopg2.connect(host=PG_HOST, port=PG_PORT, user=PG_USER, dbname="postgres", connect_timeout=10)
    conn.autocommit = True
    return conn


def _mariadb_admin():  # type: ignore[no-untyped-def]
    import pymysql

    return pymysql.connect(
        host=MARIADB_HOST,
        port=MARIADB_PORT,
        user=MARIADB_USER,
        password="",
        connect_timeout=10,
        autocommit=True,
    )


def postgresql_uri(name: str) -> str:
    return f"postgresql://{PG_USER}@{PG_HOST}:{PG_PORT}/{name}"


def mariadb_uri(name: str) -> str:
    return f"mysql+pymysql://{MARIADB_USER}@{MARIADB_HOST}:{MARIADB_PORT}/{name}"


def create_database(backend: str, workdir: Path) -> BackendURI:
    """Create a fresh empty database for `backend` and return its backend store URI."""
    if backend == "sqlite":
        workdir.mkdir(parents=True, exist_ok=True)
        path = workdir / "tracklight.db"
        if path.exists():
            raise FileExistsError(f"{path} already exists; a fresh SQLite database needs a fresh directory")
        return BackendURI(f"sqlite:///{path}", "sqlite", path.name, path)
    require_service(backend)
    name = unique_name()
    try:
        if backend == "postgresql":
            conn = _pg_admin()
            try:
                with conn.cursor() as cur:
                    cur.execute(f'CREATE DATABASE "{name}"')
            finally:
                conn.close()
            return BackendURI(postgresql_uri(name), backend, name)
        if backend == "mariadb":
            conn = _mariadb_admin()
            try:
                with conn.cursor() as cur:
                    cur.execute(f"CREATE DATABASE `{name}`")
            finally:
                conn.close()
            return BackendURI(mariadb_uri(name), backend, name)
    except Exception as exc:  # a driver error: make it say which service and why
        raise DatabaseServiceError(f"could not create a {backend} test database: {exc}") from exc
    raise ValueError(f"unknown backend {backend!r}")


def drop_database(db: BackendURI) -> None:
    """Drop a database made by create_database (SQLite files go with their temp directory)."""
    if db.backend == "postgresql":
        conn = _pg_admin()
        try:
            with conn.cursor() as cur:
                cur.execute(f'DROP DATABASE IF EXISTS "{db.name}" WITH (FORCE)')
        finally:
            conn.close()
    elif db.backend == "mariadb":
        conn = _mariadb_admin()
        try:
            with conn.cursor() as cur:
                cur.execute("SET SESSION lock_wait_timeout = 30")
                cur.execute(f"DROP DATABASE IF EXISTS `{db.name}`")
        finally:
            conn.close()


def database_exists(db: BackendURI) -> bool:
    """Whether the database behind `db` still exists (used to check the fixtures clean up)."""
    if db.backend == "sqlite":
        return db.path is not None and db.path.exists()
    if db.backend == "postgresql":
        conn = _pg_admin()
        try:
            with conn.cursor() as cur:
                cur.execute("SELECT 1 FROM pg_database WHERE datname = %s", (db.name,))
                return cur.fetchone() is not None
        finally:
            conn.close()
    conn = _mariadb_admin()
    try:
        with conn.cursor() as cur:
            cur.execute("SELECT 1 FROM information_schema.schemata WHERE schema_name = %s", (db.name,))
            return cur.fetchone() is not None
    finally:
        conn.close()


def list_tables(db: BackendURI) -> list[str]:
    """Names of the tables in the database behind `db` (to check that nothing was created or dropped)."""
    if db.backend == "sqlite":
        import sqlite3

        if db.path is None or not db.path.exists():
            return []
        with sqlite3.connect(db.path) as conn:
            rows = conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'").fetchall()
        return sorted(r[0] for r in rows)
    if db.backend == "postgresql":
        import psycopg2

        conn = psycopg2.connect(host=PG_HOST, port=PG_PORT, user=PG_USER, dbname=db.name, connect_timeout=10)
        try:
            with conn.cursor() as cur:
                cur.execute("SELECT table_name FROM information_schema.tables WHERE table_schema = 'public'")
                return sorted(r[0] for r in cur.fetchall())
        finally:
            conn.close()
    conn = _mariadb_admin()
    try:
        with conn.cursor() as cur:
            cur.execute(
                "SELECT table_name FROM information_schema.tables WHERE table_schema = %s", (db.name,)
            )
            return sorted(r[0] for r in cur.fetchall())
    finally:
        conn.close()


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def drop_stale_databases() -> list[str]:
    """Drop test databases (tl_<pid>_<hex>) left behind by test sessions whose process no longer exists."""
    dropped: list[str] = []
    for backend in ("postgresql", "mariadb"):
        host, port = _SERVICE_PORTS[backend]
        if not port_open(host, port):
            continue
        if backend == "postgresql":
            conn = _pg_admin()
            query = "SELECT datname FROM pg_database WHERE datname LIKE 'tl\\_%'"
        else:
            conn = _mariadb_admin()
            query = "SELECT schema_name FROM information_schema.schemata WHERE schema_name LIKE 'tl\\_%'"
        try:
            with conn.cursor() as cur:
                cur.execute(query)
                names = [r[0] for r in cur.fetchall()]
        finally:
            conn.close()
        for name in names:
            parts = name.split("_")
            if len(parts) != 3 or not parts[1].isdigit() or _pid_alive(int(parts[1])):
                continue
            drop_database(BackendURI("", backend, name))
            dropped.append(f"{backend}:{name}")
    return dropped
