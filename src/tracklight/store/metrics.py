"""Metric ingest (log-batch) and metric history reads."""

from __future__ import annotations

import math
from collections.abc import Sequence
from operator import attrgetter

from sqlalchemy import Connection, func, select

from tracklight.errors import InvalidParameter
from tracklight.store import schema as s
from tracklight.store.dialect import insert_ignore
from tracklight.store.records import MetricPoint

# Column order of a point, which is also the primary key's order after series_id.
_POINT_SQL = {
    "sqlite": (
        "INSERT INTO metrics (series_id, step, timestamp, value, is_nan) VALUES ",
        "(?,?,?,?,?)",
        " ON CONFLICT DO NOTHING",
    ),
    "postgresql": (
        "INSERT INTO metrics (series_id, step, timestamp, value, is_nan) VALUES ",
        "(%s,%s,%s,%s,%s)",
        " ON CONFLICT DO NOTHING",
    ),
    "mysql": (
        "INSERT INTO metrics (series_id, step, timestamp, value, is_nan) VALUES ",
        "(%s,%s,%s,%s,%s)",
        " ON DUPLICATE KEY UPDATE series_id = series_id",
    ),
}


_STEP_TS = attrgetter("step", "timestamp")
_KEY_STEP_TS = attrgetter("key", "step", "timestamp")


def _order_key(p: MetricPoint) -> tuple[int, int, bool, float]:
    """MLflow's "latest" is the largest (step, timestamp, value); we rank NaN above every number."""
    nan = math.isnan(p.value)
    return (p.step, p.timestamp, nan, 0.0 if nan else p.value)


def log_params(
    conn: Connection, run_internal_id: int, run_id: str, params: Sequence[tuple[str, str]]
) -> None:
    """Insert params; re-logging the same value is a no-op, a different value is an error."""
    if not params:
        return
    wanted = dict(params)
    rows = [{"run_id": run_internal_id, "key": k, "value": v} for k, v in sorted(wanted.items())]
    insert_ignore(conn, s.params, rows, ["run_id", "key"])
    p = s.params.c
    stored = conn.execute(
        select(p.key, p.value).where(p.run_id == run_internal_id, p.key.in_(list(wanted)))
    ).all()
    for key, value in stored:
        if value != wanted[key]:
            raise InvalidParameter(
                f"Changing param values is not allowed. Param with key='{key}' was already logged "
                f"with value='{value}' for run ID='{run_id}'. Attempted logging new value '{wanted[key]}'."
            )


def _latest_per_key(points: Sequence[MetricPoint]) -> dict[str, MetricPoint]:
    groups: dict[str, list[MetricPoint]] = {}
    for p in points:
        groups.setdefault(p.key, []).append(p)
    latest = {}
    for key, group in groups.items():
        best = max(group, key=_STEP_TS)
        ties = [p for p in group if p.step == best.step and p.timestamp == best.timestamp]
        latest[key] = best if len(ties) == 1 else max(ties, key=_order_key)
    return latest


def log_metrics(conn: Connection, run_internal_id: int, points: Sequence[MetricPoint]) -> None:
    """Store points (identical ones once) and move each series' latest point forward."""
    if not points:
        return
    dialect = conn.dialect.name
    latest = _latest_per_key(points)
    # Sorted keys give every transaction the same lock order, so concurrent replicas don't deadlock.
    keys = sorted(latest)
    rows = []
    for k in keys:
        p = latest[k]
        nan = p.value != p.value
        rows.append((run_internal_id, k, p.step, p.timestamp, 0.0 if nan else p.value, nan))
    _advance_latest(conn, dialect, rows)
    mark = "?" if dialect == "sqlite" else "%s"
    key_col = "`key`" if dialect == "mysql" else "key"
    series_ids = dict(
        conn.exec_driver_sql(
            # Only placeholders are interpolated into these statements, never values.
            f"SELECT {key_col}, id FROM metric_series WHERE run_id = {mark} AND {key_col} IN "  # noqa: S608
            f"({','.join([mark] * len(keys))})",
            (run_internal_id, *keys),
        ).all()
    )
    flat: list[object] = []
    for p in sorted(points, key=_KEY_STEP_TS):
        nan = p.value != p.value
        flat.extend((series_ids[p.key], p.step, p.timestamp, 0.0 if nan else p.value, nan))
    head, row_sql, tail = _POINT_SQL[dialect]
    conn.exec_driver_sql(head + ",".join([row_sql] * (len(flat) // 5)) + tail, tuple(flat))


def _advance_latest(conn: Connection, dialect: str, rows: list[tuple]) -> None:
    if dialect in ("sqlite", "postgresql"):
        mark = "(?,?,?,?,?,?)" if dialect == "sqlite" else "(%s,%s,%s,%s,%s,%s)"
        conn.exec_driver_sql(
            "INSERT INTO metric_series (run_id, key, step, timestamp, value, is_nan) VALUES "  # noqa: S608
            + ",".join([mark] * len(rows))
            + " ON CONFLICT (run_id, key) DO UPDATE SET step = excluded.step, timestamp = excluded.timestamp, "
            "value = excluded.value, is_nan = excluded.is_nan "
            "WHERE (excluded.step, excluded.timestamp, excluded.is_nan, excluded.value) > "
            "(metric_series.step, metric_series.timestamp, metric_series.is_nan, metric_series.value)",
            tuple(x for row in rows for x in row),
        )
        return
    # MySQL evaluates ON DUPLICATE KEY assignments one by one, so a multi-column conditional update
    # cannot be written there; create missing series first, then update through a join.
    conn.exec_driver_sql(
        "INSERT INTO metric_series (run_id, `key`, step, timestamp, value, is_nan) VALUES "  # noqa: S608
        + ",".join(["(%s,%s,%s,%s,%s,%s)"] * len(rows))
        + " ON DUPLICATE KEY UPDATE id = id",
        tuple(x for row in rows for x in row),
    )
    selects = " UNION ALL ".join(["SELECT %s AS k, %s AS st, %s AS ts, %s AS v, %s AS nn"] * len(rows))
    conn.exec_driver_sql(
        f"UPDATE metric_series s JOIN ({selects}) n ON s.`key` = n.k "  # noqa: S608
        "SET s.step = n.st, s.timestamp = n.ts, s.is_nan = n.nn, s.value = n.v "
        "WHERE s.run_id = %s AND (n.st, n.ts, n.nn, n.v) > (s.step, s.timestamp, s.is_nan, s.value)",
        (*(x for row in rows for x in row[1:]), rows[0][0]),
    )


def _series_id(conn: Connection, run_internal_id: int, key: str) -> int | None:
    ms = s.metric_series.c
    return conn.execute(select(ms.id).where(ms.run_id == run_internal_id, ms.key == key)).scalar()


def _point(key: str, row) -> MetricPoint:
    return MetricPoint(key, math.nan if row.is_nan else row.value, row.timestamp, row.step)


HistoryRow = tuple[int, int, float]  # (step, timestamp, value); NaN restored as float("nan")


def metric_history(
    conn: Connection,
    run_internal_id: int,
    key: str,
    max_results: int,
    after: tuple[int, int, float, bool] | None,
) -> tuple[list[HistoryRow], tuple[int, int, float, bool] | None]:
    """One page of a metric's points in (step, timestamp) order, and the key to resume after.

    This is the heaviest read (clients page 25,000 points at a time), so it goes straight to the
    driver's cursor and hands back plain tuples rather than row objects.
    """
    series_id = _series_id(conn, run_internal_id, key)
    if series_id is None:
        return [], None
    mark = "?" if conn.dialect.name == "sqlite" else "%s"
    params: list[object] = [series_id]
    keyset = ""
    if after is not None:
        step, ts, value, nan = after
        # The leading step >= bound lets every optimizer use the primary key as a range scan.
        keyset = (
            f" AND step >= {mark} AND (step > {mark} OR (step = {mark} AND (timestamp > {mark} OR "
            f"(timestamp = {mark} AND (value > {mark} OR (value = {mark} AND is_nan > {mark}))))))"
        )
        params += [step, step, step, ts, ts, value, value, nan]
    params.append(max_results + 1)
    cursor = conn.connection.dbapi_connection.cursor()  # type: ignore[union-attr]
    try:
        cursor.execute(
            # Only placeholders are interpolated, never values.
            f"SELECT step, timestamp, value, is_nan FROM metrics WHERE series_id = {mark}{keyset} "  # noqa: S608
            f"ORDER BY step, timestamp, value, is_nan LIMIT {mark}",
            tuple(params),
        )
        raw = cursor.fetchall()
    finally:
        cursor.close()
    more = len(raw) > max_results
    if more:
        raw = raw[:max_results]
    nan_value = math.nan
    rows = [(r[0], r[1], nan_value if r[3] else r[2]) for r in raw]
    if not more:
        return rows, None
    last = raw[-1]
    return rows, (last[0], last[1], last[2], bool(last[3]))


def sampled_history(
    conn: Connection,
    run_internal_id: int,
    key: str,
    max_results: int,
    start_step: int | None,
    end_step: int | None,
) -> list[MetricPoint]:
    """Up to max_results points spread evenly over the series, keeping the first and the last."""
    series_id = _series_id(conn, run_internal_id, key)
    if series_id is None:
        return []
    m = s.metrics.c
    where = [m.series_id == series_id]
    if start_step is not None and end_step is not None:
        where += [m.step >= start_step, m.step <= end_step]
    order = (m.step, m.timestamp, m.value, m.is_nan)
    total = conn.execute(select(func.count()).select_from(s.metrics).where(*where)).scalar_one()
    if total <= max_results:
        rows = conn.execute(
            select(m.step, m.timestamp, m.value, m.is_nan).where(*where).order_by(*order)
        ).all()
        return [_point(key, r) for r in rows]
    if max_results == 1:
        wanted = [total - 1]
    else:
        wanted = sorted({round(i * (total - 1) / (max_results - 1)) for i in range(max_results)})
    numbered = (
        select(m.step, m.timestamp, m.value, m.is_nan, func.row_number().over(order_by=order).label("rn"))
        .where(*where)
        .subquery()
    )
    rows = conn.execute(
        select(numbered).where(numbered.c.rn.in_([i + 1 for i in wanted])).order_by(numbered.c.rn)
    ).all()
    return [_point(key, r) for r in rows]
