"""An MLflow SQL store as an export target: its tables and columns as the release that created it made them."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Connection, Engine, Table, create_engine, func, select
from sqlalchemy.engine import make_url

from tracklight.move.mlflow_schema import READ_TABLES, reflect_store
from tracklight.store.engine import normalize_uri

# The tables an export may write, whichever of them the target's release has: what an import reads, and
# the latest values MLflow keeps beside the points.
WRITTEN = (*READ_TABLES, "latest_metrics")
# Every MLflow tracking schema since 1.x has these; a database without them is not an MLflow store.
_REQUIRED = {
    "experiments": "experiment_id",
    "runs": "run_uuid",
    "params": "run_uuid",
    "tags": "run_uuid",
    "metrics": "run_uuid",
    "registered_models": "name",
    "model_versions": "version",
}
# Tables whose rows mean the store is in use; experiment 0 (MLflow's Default) is checked apart.
_MUST_BE_EMPTY = ("runs", "registered_models", "logged_models", "trace_info", "evaluation_datasets")
HOW_TO_CREATE = "create it with `mlflow db upgrade TARGET_URI` of the MLflow release you want"


class TargetRefused(ValueError):
    """The target is not a fresh MLflow SQL store; nothing was written to it."""


@dataclass
class MlflowTarget:
    """The target's engine, its Alembic revision and its tables, reflected."""

    engine: Engine
    revision: str
    tables: dict[str, Table]

    def has(self, table: str, column: str | None = None) -> bool:
        found = self.tables.get(table)
        return found is not None and (column is None or column in found.c)


def target_engine(uri: str) -> Engine:
    """A plain engine on the target: none of our server's session settings (such as SQLite's WAL mode)
    are applied to a database that MLflow owns."""
    url = make_url(normalize_uri(uri))
    if url.get_backend_name() == "mysql":
        url = url.update_query_dict({"charset": "utf8mb4"})
    return create_engine(url, pool_size=2)


def open_target(uri: str) -> MlflowTarget:
    """Reflect the target; refuse (TargetRefused) a database that is not an MLflow tracking store."""
    engine = target_engine(uri)
    with engine.connect() as conn:
        names, revision, tables = reflect_store(conn, WRITTEN + _MUST_BE_EMPTY)
    missing = [f"{t}.{c}" for t, c in _REQUIRED.items() if t not in tables or c not in tables[t].c]
    if revision is None or missing:
        engine.dispose()
        what = "an empty database" if not names else "not an MLflow tracking store"
        detail = "no alembic_version row" if revision is None else "no " + ", ".join(missing)
        raise TargetRefused(f"the target is {what} ({detail}); {HOW_TO_CREATE}")
    return MlflowTarget(engine, str(revision), tables)


def check_fresh(conn: Connection, target: MlflowTarget) -> None:
    """Refuse a target that already holds anything but MLflow's Default experiment 0 (with no runs)."""
    exp = target.tables["experiments"]
    others = conn.execute(select(func.count()).select_from(exp).where(exp.c.experiment_id != 0)).scalar_one()
    held = [f"{others} experiments besides Default (0)"] if others else []
    for name in _MUST_BE_EMPTY:
        table = target.tables.get(name)
        if table is not None:
            count = conn.execute(select(func.count()).select_from(table)).scalar_one()
            if count:
                held.append(f"{count} rows in {name}")
    if held:
        raise TargetRefused(
            "the target MLflow store is not empty ("
            + "; ".join(held)
            + "); export into a fresh store: "
            + HOW_TO_CREATE
        )


def advance_sequences(conn: Connection, target: MlflowTarget) -> None:
    """PostgreSQL: move the sequences behind serial keys past the ids written explicitly, so MLflow's next
    experiment does not collide with ours (MySQL and SQLite advance their counters by themselves)."""
    if conn.dialect.name != "postgresql":
        return
    for name in WRITTEN:
        table = target.tables.get(name)
        if table is None:
            continue
        for column in table.primary_key.columns:
            seq = conn.execute(select(func.pg_get_serial_sequence(name, column.name))).scalar()
            if seq:
                top = conn.execute(select(func.max(column))).scalar()
                conn.execute(select(func.setval(seq, (top or 0) + 1, False)))
