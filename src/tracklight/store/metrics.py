"""Metric ingest (log-batch) and metric history reads."""

from __future__ import annotations

import math
from collections.abc import Sequence
from operator import attrgetter

from sqlalchemy import Connection, select

from tracklight.store import driver
from tracklight.store import schema as s
from tracklight.store.params import insert_params
from tracklight.store.records import MetricPoint
from tracklight.store.search.keyset import SortColumn

# Column order of a point, which is also the primary key's order after series_id.
_POINT_SQL = {
    "sqlite": " ON CONFLICT DO NOTHING",
    "mysql": " ON DUPLICATE KEY UPDATE series_id = series_id",
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
    insert_params(conn, s.params, {"run_id": run_internal_id}, params, described=f"run ID='{run_id}'")


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


class SeriesIds:
    """Series ids by (run, key), remembered across requests: a series row, once committed, never moves.

    Ids found inside a transaction are held back until it commits, since a rolled-back insert's id
    may be handed out again.
    """

    def __init__(self, capacity: int = 200_000) -> None:
        self.capacity = capacity
        self._ids: dict[tuple[int, str], int] = {}

    def known(self, run_internal_id: int, keys: Sequence[str]) -> dict[str, int]:
        found = {}
        for key in keys:
            series_id = self._ids.get((run_internal_id, key))
            if series_id is not None:
                found[key] = series_id
        return found

    def remember(self, run_internal_id: int, ids: dict[str, int]) -> None:
        if len(self._ids) + len(ids) > self.capacity:
            self._ids.clear()
        for key, series_id in ids.items():
            self._ids[(run_internal_id, key)] = series_id


def log_metrics(
    conn: Connection, run_internal_id: int, points: Sequence[MetricPoint], known: dict[str, int]
) -> dict[str, int]:
    """Store points (identical ones once) and move each series' latest point forward.

    `known` holds series ids the caller already has; returns the ids it had to look up.
    """
    if not points:
        return {}
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
    missing = [k for k in keys if k not in known]
    found: dict[str, int] = {}
    if missing:
        key_col = "`key`" if dialect == "mysql" else "key"
        found = dict(
            driver.rows(
                conn,
                # Only placeholders are interpolated into these statements, never values.
                f"SELECT {key_col}, id FROM metric_series WHERE run_id = ? AND {key_col} IN "  # noqa: S608
                f"({','.join(['?'] * len(missing))})",
                (run_internal_id, *missing),
            )
        )
    series_ids = {**known, **found}
    ordered = sorted(points, key=_KEY_STEP_TS)
    if dialect == "postgresql":
        _insert_points_pg(conn, series_ids, ordered)
        return found
    flat: list[object] = []
    for p in ordered:
        nan = p.value != p.value
        flat.extend((series_ids[p.key], p.step, p.timestamp, 0.0 if nan else p.value, nan))
    driver.write(
        conn,
        "INSERT INTO metrics (series_id, step, timestamp, value, is_nan) VALUES "  # noqa: S608
        + ",".join(["(?,?,?,?,?)"] * (len(flat) // 5))
        + _POINT_SQL[dialect],
        flat,
    )
    return found


# Dialects where log_point stores a single point in one statement.
ONE_STATEMENT_POINT = frozenset({"postgresql"})

# The run looked up by its uuid, its series advanced (or created), the point stored, in one statement.
# A series row that another transaction committed after this statement's snapshot, and that this
# point does not advance, is invisible to both the upsert's RETURNING and the lookup: then nothing is
# stored and the count is 0.
_ONE_POINT_PG = driver.Prepared(
    "tracklight_log_point",
    "text, text, bigint, bigint, double precision, boolean",
    "WITH r AS (SELECT id, lifecycle_stage FROM runs WHERE run_uuid = $1), "
    "s AS (INSERT INTO metric_series AS ms (run_id, key, step, timestamp, value, is_nan) "
    "SELECT r.id, $2, $3, $4, $5, $6 FROM r WHERE r.lifecycle_stage = 'active' "
    "ON CONFLICT (run_id, key) DO UPDATE SET step = excluded.step, timestamp = excluded.timestamp, "
    "value = excluded.value, is_nan = excluded.is_nan "
    "WHERE (excluded.step, excluded.timestamp, excluded.is_nan, excluded.value) > "
    "(ms.step, ms.timestamp, ms.is_nan, ms.value) RETURNING id), "
    "sid AS (SELECT id FROM s UNION ALL SELECT ms.id FROM metric_series ms JOIN r ON ms.run_id = r.id "
    "WHERE ms.key = $2 AND r.lifecycle_stage = 'active' AND NOT EXISTS (SELECT 1 FROM s)), "
    "p AS (INSERT INTO metrics (series_id, step, timestamp, value, is_nan) "
    "SELECT id, $3, $4, $5, $6 FROM sid ON CONFLICT DO NOTHING) "
    "SELECT r.lifecycle_stage, (SELECT count(*) FROM sid) FROM r",
)


def log_point(conn: Connection, run_id: str, point: MetricPoint) -> tuple[str, bool] | None:
    """One point for run `run_id` (its uuid) in one statement, safe in autocommit (ONE_STATEMENT_POINT
    dialects only): None if there is no such run, else (the run's lifecycle stage, whether the point
    was stored). Only an active run takes points; a series created concurrently by another
    transaction can make this store nothing, and the caller then takes the general path."""
    nan = point.value != point.value
    row = driver.prepared_first(
        conn,
        _ONE_POINT_PG,
        (run_id, point.key, point.step, point.timestamp, 0.0 if nan else point.value, nan),
    )
    if row is None:
        return None
    return row[0], row[1] > 0


def _insert_points_pg(conn: Connection, series_ids: dict[str, int], points: list[MetricPoint]) -> None:
    """One INSERT of five array parameters: PostgreSQL parses a number array far faster than psycopg2
    adapts thousands of separate parameters (about a fifth of the client CPU per batch)."""
    nan = [p.value != p.value for p in points]
    arrays = (
        ",".join([str(series_ids[p.key]) for p in points]),
        ",".join([str(p.step) for p in points]),
        ",".join([str(p.timestamp) for p in points]),
        ",".join([repr(0.0 if n else p.value) for p, n in zip(points, nan, strict=True)]),
        ",".join(["t" if n else "f" for n in nan]),
    )
    conn.exec_driver_sql(
        "INSERT INTO metrics (series_id, step, timestamp, value, is_nan) "
        "SELECT * FROM unnest(%s::bigint[], %s::bigint[], %s::bigint[], %s::float8[], %s::boolean[]) "
        "ON CONFLICT DO NOTHING",
        tuple("{" + a + "}" for a in arrays),
    )


def _advance_latest(conn: Connection, dialect: str, rows: list[tuple]) -> None:
    if dialect in ("sqlite", "postgresql"):
        driver.write(
            conn,
            "INSERT INTO metric_series (run_id, key, step, timestamp, value, is_nan) VALUES "  # noqa: S608
            + ",".join(["(?,?,?,?,?,?)"] * len(rows))
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


def _ordered_scan_hint(conn: Connection) -> str:
    """On PostgreSQL, steer a series read to the primary key's ordered scan.

    Right after a large ingest, before autovacuum has analysed the table, the planner badly
    underestimates a series and picks a bitmap scan plus an on-disk sort, several times slower.
    The primary key already yields rows in the order wanted, so no plan without it is better.
    """
    if conn.dialect.name != "postgresql":
        return ""
    return "SET LOCAL enable_sort = off; SET LOCAL enable_bitmapscan = off; "


# The order history pages are read in: the primary key after series_id (is_nan travels as 0/1).
HISTORY_ORDER = [
    SortColumn(s.metrics.c.step, True, int),
    SortColumn(s.metrics.c.timestamp, True, int),
    SortColumn(s.metrics.c.value, True, float),
    SortColumn(s.metrics.c.is_nan, True, int),
]

HistoryRow = tuple[int, int, float, bool]  # (step, timestamp, value, is_nan), exactly as stored


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
        # Only placeholders are interpolated, never values.
        query = f"SELECT step, timestamp, value, is_nan FROM metrics WHERE series_id = {mark}{keyset} "  # noqa: S608
        cursor.execute(
            _ordered_scan_hint(conn) + query + f"ORDER BY step, timestamp, value, is_nan LIMIT {mark}",
            tuple(params),
        )
        raw = cursor.fetchall()
    finally:
        cursor.close()
    if len(raw) <= max_results:
        return raw, None
    raw = raw[:max_results]
    last = raw[-1]
    return raw, (last[0], last[1], last[2], bool(last[3]))


# Above this many rows per wanted point, walking the primary key beats numbering every row.
_WALK_RATIO = 100


def kept_positions(n: int, wanted: int) -> list[int]:
    """The 0-based ranks the sampler keeps of n rows: every row up to `wanted`, else the first row to
    reach each of `wanted` even shares of the range (the first and the last among them)."""
    if n <= wanted:
        return list(range(n))
    if wanted == 1:
        return [n - 1]
    # floor(r*(w-1)/(n-1)) first reaches k at r = ceil(k*(n-1)/(w-1)).
    return [-(-k * (n - 1) // (wanted - 1)) for k in range(wanted)]


def sampled_history(
    conn: Connection,
    run_internal_ids: list[int],
    key: str,
    max_results: int,
    start_step: int | None,
    end_step: int | None,
) -> dict[int, list[MetricPoint]]:
    """Per run, up to max_results points spread evenly over its series, keeping the first and last.

    Row r (0-based, of n in the series or step range) is kept when floor(r*(m-1)/(n-1)) steps up
    there, m being the points wanted. Ordinary series are sampled by one windowed query that numbers
    their rows; a series far longer than m (a million points for a thousand wanted) is walked along
    its primary key instead, skipping from one kept row to the next, which reads a small fraction
    of the time numbering every row takes.
    """
    ms = s.metric_series.c
    series = dict(
        conn.execute(select(ms.id, ms.run_id).where(ms.key == key, ms.run_id.in_(run_internal_ids))).all()
    )
    if not series:
        return {}
    mark = "?" if conn.dialect.name == "sqlite" else "%s"
    step_range = ""
    range_params: list[object] = []
    if start_step is not None and end_step is not None:
        step_range = f" AND step >= {mark} AND step <= {mark}"
        range_params = [start_step, end_step]
    # One plain COUNT per series: SQLite counts a key range about three times faster this way than
    # grouped over an IN list, and a series of a million points makes that the larger part of the read.
    count_sql = f"SELECT COUNT(*) FROM metrics WHERE series_id = {mark}{step_range}"  # noqa: S608
    counts = {sid: int(_fetch(conn, count_sql, [sid, *range_params])[0][0]) for sid in series}
    counts = {sid: n for sid, n in counts.items() if n}
    # The walk is measured on SQLite only: on PostgreSQL its thousand OFFSET probes, each planned apart
    # (reads run in autocommit, so the scan hint does not hold), took 15 s for a 200,000-point series.
    walk = conn.dialect.name == "sqlite"
    long = [sid for sid, n in counts.items() if walk and n > _WALK_RATIO * max_results]
    short = [sid for sid in counts if sid not in long]
    rows = _numbered_sample(conn, short, max_results, step_range, range_params) if short else []
    for sid in long:
        rows += [
            (sid, *row)
            for row in _walked_sample(conn, sid, counts[sid], max_results, step_range, range_params)
        ]
    out: dict[int, list[MetricPoint]] = {}
    for series_id, step, timestamp, value, is_nan in rows:
        out.setdefault(series[series_id], []).append(
            MetricPoint(key, math.nan if is_nan else value, timestamp, step)
        )
    return out


def _fetch(conn: Connection, sql: str, params: list[object]) -> list[tuple]:
    """Straight to the driver's cursor: these reads return many small rows."""
    cursor = conn.connection.dbapi_connection.cursor()  # type: ignore[union-attr]
    try:
        cursor.execute(sql, tuple(params))
        return list(cursor.fetchall())
    finally:
        cursor.close()


def _numbered_sample(
    conn: Connection, series_ids: list[int], max_results: int, step_range: str, range_params: list[object]
) -> list[tuple]:
    """One windowed query over every given series: (series_id, step, timestamp, value, is_nan) rows."""
    mark = "?" if conn.dialect.name == "sqlite" else "%s"
    div = "DIV" if conn.dialect.name == "mysql" else "/"  # integer division everywhere
    in_list = ",".join([mark] * len(series_ids))
    params: list[object] = [*series_ids, *range_params]
    count_params = list(params)
    if max_results == 1:
        keep = "r = n - 1"
    else:
        keep = (
            f"n <= {mark} OR r = 0 OR "
            f"(r * ({mark} - 1)) {div} (n - 1) > ((r - 1) * ({mark} - 1)) {div} (n - 1)"
        )
        params += [max_results, max_results, max_results]
    return _fetch(
        conn,
        # Only placeholders and fixed operators are interpolated, never values.
        # The counts come from a grouped scan of the key, which is cheaper than a COUNT window.
        _ordered_scan_hint(conn) + "SELECT series_id, step, timestamp, value, is_nan FROM ("  # noqa: S608
        "SELECT m.series_id, m.step, m.timestamp, m.value, m.is_nan, c.n, "
        "ROW_NUMBER() OVER (PARTITION BY m.series_id ORDER BY m.step, m.timestamp, m.value, m.is_nan) - 1 AS r "
        f"FROM metrics m JOIN (SELECT series_id, COUNT(*) AS n FROM metrics WHERE series_id IN ({in_list})"
        f"{step_range} GROUP BY series_id) c ON c.series_id = m.series_id "
        f"WHERE m.series_id IN ({in_list}){step_range.replace('step', 'm.step')}) sampled "
        f"WHERE {keep} ORDER BY series_id, step, timestamp, value, is_nan",
        count_params + params,
    )


def _walked_sample(
    conn: Connection, series_id: int, n: int, max_results: int, step_range: str, range_params: list[object]
) -> list[tuple]:
    """The kept rows of one long series, each found by skipping (OFFSET) from the previous one along
    the primary key: (step, timestamp, value, is_nan) rows, in order."""
    mark = "?" if conn.dialect.name == "sqlite" else "%s"
    order = " ORDER BY step, timestamp, value, is_nan LIMIT 1 OFFSET " + mark
    first = f"SELECT step, timestamp, value, is_nan FROM metrics WHERE series_id = {mark}{step_range}"  # noqa: S608
    # The same keyset as a history page's: the leading step >= bound keeps it a range scan.
    after = (
        f"{first} AND step >= {mark} AND (step > {mark} OR (step = {mark} AND (timestamp > {mark} OR "
        f"(timestamp = {mark} AND (value > {mark} OR (value = {mark} AND is_nan > {mark}))))))"
    )
    rows: list[tuple] = []
    cursor = conn.connection.dbapi_connection.cursor()  # type: ignore[union-attr]
    try:
        if conn.dialect.name == "postgresql":
            cursor.execute(_ordered_scan_hint(conn).strip())
        previous = -1
        for position in kept_positions(n, max_results):
            if not rows:
                cursor.execute(first + order, (series_id, *range_params, position))
            else:
                step, ts, value, nan = rows[-1]
                keyset = (step, step, step, ts, ts, value, value, nan)
                cursor.execute(after + order, (series_id, *range_params, *keyset, position - previous - 1))
            row = cursor.fetchone()
            if row is None:  # rows vanished since the count (a concurrent delete): stop short
                break
            rows.append(tuple(row))
            previous = position
    finally:
        cursor.close()
    return rows


def history_bulk(conn: Connection, run_ids: Sequence[str], key: str, limit: int) -> list[MetricPoint]:
    """Every point of `key` in the given runs (unknown ids are skipped), up to `limit` in all, ordered
    by run id, then timestamp, step and value (NaN after the numbers), as the UI's charts read them."""
    if limit <= 0 or not run_ids:
        return []
    m, ms, r = s.metrics.c, s.metric_series.c, s.runs.c
    rows = conn.execute(
        select(r.run_uuid, m.step, m.timestamp, m.value, m.is_nan)
        .select_from(s.metrics.join(s.metric_series, ms.id == m.series_id).join(s.runs, r.id == ms.run_id))
        .where(ms.key == key, r.run_uuid.in_(set(run_ids)))
        .order_by(r.run_uuid, m.timestamp, m.step, m.is_nan, m.value)
        .limit(limit)
    ).all()
    return [
        MetricPoint(key, math.nan if is_nan else value, timestamp, step, run_id=run_id)
        for run_id, step, timestamp, value, is_nan in rows
    ]
