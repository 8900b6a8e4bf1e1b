"""Fresh databases per server (SQLite file, PostgreSQL or MariaDB database), their size and their CPU."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import time
from pathlib import Path

from procfs import comm_cpu_seconds

PG_ADMIN = [
    "psql",
    "-h",
    "127.0.0.1",
    "-p",
    "5432",
    "-U",
    "postgres",
    "-d",
    "postgres",
    "-v",
    "ON_ERROR_STOP=1",
    "-Atc",
]
MY_ADMIN = ["mariadb", "-h", "127.0.0.1", "-P", "3306", "-u", "root", "-N", "-B", "-e"]


class Database:
    """One fresh database for one server; the URI is spelled the way that server wants it."""

    kind = "base"
    cpu_note = ""

    def uri_for(self, server: str) -> str:
        raise NotImplementedError

    def size_bytes(self) -> int:
        """Size on disk; call with the server stopped (SQLite is checkpointed first)."""
        raise NotImplementedError

    def cpu_seconds(self) -> float:
        """CPU spent by the database itself, outside the server's process tree."""
        return 0.0

    def drop(self) -> None:
        raise NotImplementedError

    def refresh_statistics(self) -> bool:
        """Give the planner statistics, as the database's own maintenance would; True if it did anything."""
        return False

    def flush(self) -> None:
        """Write out what a bulk load left in the database's buffers, so that the reads timed next do
        not share the machine with that write-back (PostgreSQL's checkpoint)."""


class SqliteDb(Database):
    kind = "sqlite"
    cpu_note = "SQLite runs inside the server process: its CPU is part of the server's."

    def __init__(self, workdir: Path, server: str) -> None:
        self.path = (workdir / f"{server}.db").resolve()

    def uri_for(self, server: str) -> str:
        # fml reads sqlite://<path>; SQLAlchemy wants sqlite:///<path> (so four slashes for /abs).
        return f"sqlite://{self.path}" if server == "fml" else f"sqlite:///{self.path}"

    def size_bytes(self) -> int:
        if not self.path.exists():
            return 0
        conn = sqlite3.connect(self.path, timeout=30)
        try:
            conn.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchall()
        finally:
            conn.close()
        total = 0
        for suffix in ("", "-wal"):
            p = Path(f"{self.path}{suffix}")
            if p.exists():
                total += p.stat().st_size
        return total

    def drop(self) -> None:
        for suffix in ("", "-wal", "-shm", "-journal"):
            Path(f"{self.path}{suffix}").unlink(missing_ok=True)


def _psql(sql: str, database: str = "postgres") -> str:
    argv = [*PG_ADMIN, sql]
    argv[argv.index("-d") + 1] = database
    return subprocess.run(argv, check=True, capture_output=True, text=True, timeout=120).stdout.strip()


class PostgresDb(Database):
    kind = "postgresql"
    cpu_note = "DB CPU = every `postgres` process (postmaster incl. reaped backends); other sessions' use adds noise."

    def __init__(self, server: str) -> None:
        self.name = f"tlbench_{server.replace('-', '_')}_{os.getpid()}_{int(time.time())}"
        _psql(f"DROP DATABASE IF EXISTS {self.name} WITH (FORCE)")
        _psql(f"CREATE DATABASE {self.name}")

    def uri_for(self, server: str) -> str:
        if server == "fml":
            return f"postgres://postgres@127.0.0.1:5432/{self.name}?sslmode=disable"
        return f"postgresql://postgres@127.0.0.1:5432/{self.name}"

    def size_bytes(self) -> int:
        _psql("CHECKPOINT")
        return int(_psql(f"SELECT pg_database_size('{self.name}')"))

    def cpu_seconds(self) -> float:
        return comm_cpu_seconds({"postgres"})

    def drop(self) -> None:
        _psql(f"DROP DATABASE IF EXISTS {self.name} WITH (FORCE)")

    def refresh_statistics(self) -> bool:
        # Production PostgreSQL (RDS, Cloud SQL, stock installs) runs autovacuum, which analyzes a
        # table soon after a bulk load. This machine's server has it off, so without this step the
        # reads would be planned on tables that have never been analyzed, a state production rarely sees.
        _psql("ANALYZE", database=self.name)
        return True

    def flush(self) -> None:
        _psql("CHECKPOINT", database=self.name)


def _mysql(sql: str) -> str:
    return subprocess.run(
        [*MY_ADMIN, sql], check=True, capture_output=True, text=True, timeout=120
    ).stdout.strip()


class MysqlDb(Database):
    kind = "mysql"
    cpu_note = "DB CPU = the mariadbd process."

    def __init__(self, server: str) -> None:
        self.name = f"tlbench_{server.replace('-', '_')}_{os.getpid()}_{int(time.time())}"
        _mysql(f"DROP DATABASE IF EXISTS {self.name}")
        _mysql(f"CREATE DATABASE {self.name} CHARACTER SET utf8mb4")

    def uri_for(self, server: str) -> str:
        return f"mysql+pymysql://root@127.0.0.1:3306/{self.name}"

    def size_bytes(self) -> int:
        tables = _mysql(
            f"SELECT table_name FROM information_schema.tables WHERE table_schema='{self.name}'"
        ).split()
        if tables:
            _mysql(f"ANALYZE TABLE {', '.join(f'{self.name}.`{t}`' for t in tables)}")
        out = _mysql(
            "SELECT COALESCE(SUM(data_length + index_length), 0) FROM information_schema.tables "
            f"WHERE table_schema='{self.name}'"
        )
        return int(out or 0)

    def cpu_seconds(self) -> float:
        return comm_cpu_seconds({"mariadbd", "mysqld"})

    def drop(self) -> None:
        _mysql(f"DROP DATABASE IF EXISTS {self.name}")


def create_database(kind: str, server: str, workdir: Path) -> Database:
    if kind == "sqlite":
        return SqliteDb(workdir, server)
    if kind == "postgresql":
        return PostgresDb(server)
    if kind == "mysql":
        return MysqlDb(server)
    raise ValueError(f"unknown backend {kind!r}")
