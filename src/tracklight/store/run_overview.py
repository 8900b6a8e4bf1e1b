"""Questions about many runs at once that the dashboard asks: which keys exist, which runs are children."""

from __future__ import annotations

from sqlalchemy import Connection, select

from tracklight.store import schema as s

PARENT_TAG = "mlflow.parentRunId"
_STAGES = {"ACTIVE_ONLY": ("active",), "DELETED_ONLY": ("deleted",), "ALL": ("active", "deleted")}


def distinct_keys(
    conn: Connection, experiment_ids: list[int], limit: int
) -> tuple[list[str], list[str], list[str]]:
    """The param, metric and tag keys logged to the experiments' runs, sorted, at most `limit` of each.

    Each is one DISTINCT over a key column joined to the runs' experiment index, so it reads the key
    tables once and never loads values; metrics read their series table (one row per run and key).
    """
    r = s.runs.c
    in_experiments = r.experiment_id.in_(experiment_ids)
    out: list[list[str]] = []
    for table, run_column in (
        (s.params, s.params.c.run_id),
        (s.metric_series, s.metric_series.c.run_id),
        (s.run_tags, s.run_tags.c.run_id),
    ):
        key = table.c.key
        stmt = (
            select(key)
            .distinct()
            .select_from(table.join(s.runs, r.id == run_column))
            .where(in_experiments)
            .order_by(key)
            .limit(limit)
        )
        out.append([row[0] for row in conn.execute(stmt)])
    return out[0], out[1], out[2]


def child_run_ids(
    conn: Connection, parent_ids: list[str], experiment_ids: list[int], view_type: str, limit: int
) -> list[str]:
    """Runs of the experiments whose parent-run tag names one of `parent_ids`, oldest first."""
    if not parent_ids:
        return []
    r = s.runs.c
    t = s.run_tags.c
    stmt = (
        select(r.run_uuid)
        .select_from(s.run_tags.join(s.runs, r.id == t.run_id))
        .where(
            t.key == PARENT_TAG,
            t.value.in_(parent_ids),
            r.experiment_id.in_(experiment_ids),
            r.lifecycle_stage.in_(_STAGES[view_type]),
        )
        .order_by(r.start_time, r.id)
        .limit(limit)
    )
    return [row[0] for row in conn.execute(stmt)]
