"""Every row of every table of a test database, read behind the server's back (SQLite file or SQL)."""

from __future__ import annotations

import sqlite3
from typing import Any

from harness.databases import MARIADB_HOST, MARIADB_PORT, MARIADB_USER, PG_HOST, PG_PORT, PG_USER, BackendURI

# Tables that the server changes on its own, between requests: the webhook outbox, whose rows the
# delivery worker claims and settles in the background.
BACKGROUND_TABLES = frozenset({"webhook_deliveries"})


class StoreDigest:
    """Reads one database's full contents over its own connection, in a form that compares regardless of row order."""

    def __init__(self, db: BackendURI) -> None:
        self.db = db
        self.conn: Any = self._connect()

    def _connect(self) -> Any:
        if self.db.backend == "sqlite":
            assert self.db.path is not None
            # Read-only, so the digest can never be what changed the file.
            return sqlite3.connect(f"file:{self.db.path}?mode=ro", uri=True, isolation_level=None)
        if self.db.backend == "postgresql":
            import psycopg2

            conn = psycopg2.connect(
                host=PG_HOST, port=PG_PORT, user=PG_USER, dbname=self.db.name, connect_timeout=10
            )
            conn.autocommit = True
            return conn
        import pymysql

        return pymysql.connect(
            host=MARIADB_HOST,
            port=MARIADB_PORT,
            user=MARIADB_USER,
            password="",
            database=self.db.name,
            autocommit=True,
            connect_timeout=10,
        )

    def tables(self) -> list[str]:
        if self.db.backend == "sqlite":
            sql = "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'"
        elif self.db.backend == "postgresql":
            sql = "SELECT table_name FROM information_schema.tables WHERE table_schema = 'public'"
        else:
            sql = "SELECT table_name FROM information_schema.tables WHERE table_schema = DATABASE()"
        return sorted(row[0] for row in self._rows(sql))

    def _rows(self, sql: str) -> list[tuple[Any, ...]]:
        cur = self.conn.cursor()
        try:
            cur.execute(sql)
            return list(cur.fetchall())
        finally:
            cur.close()

    def contents(self) -> dict[str, list[str]]:
        """Every table's rows, each rendered with repr and sorted, so row order cannot matter."""
        quote = "`" if self.db.backend == "mariadb" else '"'
        out: dict[str, list[str]] = {}
        for table in self.tables():
            if table in BACKGROUND_TABLES:
                continue
            rows = self._rows(f"SELECT * FROM {quote}{table}{quote}")
            out[table] = sorted(
                repr(tuple(bytes(v) if isinstance(v, memoryview) else v for v in r)) for r in rows
            )
        return out

    def close(self) -> None:
        self.conn.close()


def diff(before: dict[str, list[str]], after: dict[str, list[str]], limit: int = 6) -> str:
    """What changed between two `contents()` snapshots, briefly: for a failure message."""
    lines = []
    for table in sorted(set(before) | set(after)):
        old, new = set(before.get(table, [])), set(after.get(table, []))
        for row in sorted(new - old)[:limit]:
            lines.append(f"+ {table}: {row[:300]}")
        for row in sorted(old - new)[:limit]:
            lines.append(f"- {table}: {row[:300]}")
    return "\n".join(lines) or "(no row differs)"
