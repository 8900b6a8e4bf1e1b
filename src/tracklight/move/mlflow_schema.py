"""What an MLflow SQL store holds: its schema revision, and which of the tables and columns we read it has.

Tables are reflected from the database itself, so a store of any MLflow release from 2.x on reads the
same way: a table or column that release lacks is simply absent, and the phase that needs it is skipped.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from sqlalchemy import Column, Connection, MetaData, Table, func, inspect, select, text

# The tables the importer reads.
READ_TABLES = (
    "experiments",
    "experiment_tags",
    "runs",
    "params",
    "tags",
    "metrics",
    "datasets",
    "inputs",
    "input_tags",
    "logged_models",
    "logged_model_params",
    "logged_model_tags",
    "logged_model_metrics",
    "registered_models",
    "registered_model_tags",
    "model_versions",
    "model_version_tags",
    "registered_model_aliases",
)
# Tables that are read on purpose not at all: MLflow's bookkeeping, and latest_metrics, which is derived
# from the points (ours is recomputed from them exactly as our own write path would have).
NOT_DATA = frozenset(
    {
        "alembic_version",
        "latest_metrics",
        "scheduler_leases",
        "job_locks",
        "sql_trace_rollup_rebuild_queue",
        "workspaces",  # the default one always exists; experiments say which they belong to
    }
)


class NotAnMlflowStore(ValueError):
    """The source database has no MLflow tracking schema."""


@dataclass
class MlflowSchema:
    revision: str | None  # MLflow's alembic revision, e.g. "0584bdc529eb" for 2.22
    tables: dict[str, Table]
    other_tables: list[str] = field(default_factory=list)  # present but not imported

    def has(self, table: str, column: str | None = None) -> bool:
        t = self.tables.get(table)
        return t is not None and (column is None or column in t.c)

    def column(self, table: str, name: str) -> Column | None:
        t = self.tables.get(table)
        return None if t is None else t.c.get(name)


def reflect_store(conn: Connection, wanted: Iterable[str]) -> tuple[set[str], str | None, dict[str, Table]]:
    """An MLflow store's table names, its Alembic revision (None without one), and those of `wanted` it
    has, reflected as its release created them. Shared by the importer (source) and the exporter (target)."""
    names = set(inspect(conn).get_table_names())
    revision = None
    if "alembic_version" in names:
        revision = conn.execute(text("SELECT version_num FROM alembic_version")).scalar()
    metadata = MetaData()
    metadata.reflect(conn, only=[n for n in wanted if n in names], resolve_fks=False)
    return names, None if revision is None else str(revision), dict(metadata.tables)


def reflect(conn: Connection) -> MlflowSchema:
    names, revision, tables = reflect_store(conn, READ_TABLES)
    if not {"experiments", "runs"} <= names:
        raise NotAnMlflowStore("the source database has no MLflow tables (no experiments and runs tables)")
    others = sorted(names - set(READ_TABLES) - NOT_DATA)
    return MlflowSchema(revision, tables, others)


def skipped_rows(conn: Connection, schema: MlflowSchema) -> dict[str, int]:
    """Row counts of the tables that are present, hold data, and are not imported (traces and the like)."""
    counts = {}
    metadata = MetaData()
    for name in schema.other_tables:
        table = Table(name, metadata)  # no columns needed to count
        n = conn.execute(select(func.count()).select_from(table)).scalar_one()
        if n:
            counts[name] = int(n)
    return counts
