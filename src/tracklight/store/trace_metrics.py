"""traces/metrics: trace counts and latencies grouped by name, state and time bucket (the UI's charts)."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy import Connection

from tracklight.errors import InvalidParameter
from tracklight.store.schema import trace_tags, traces
from tracklight.store.search import traces as trace_search
from tracklight.store.search.grammar import Comparison

TIME_BUCKET = "time_bucket"
_t = traces.c
# What each metric of the TRACES view aggregates (None: the traces themselves, for COUNT).
_METRICS: dict[str, Any] = {"trace_count": None, "latency": _t.execution_time_ms}
_DIMENSIONS: dict[str, Any] = {
    "trace_status": _t.state,
    "trace_name": trace_search.pair_value(trace_tags, trace_search.TRACE_NAME_TAG),
}
_SQL_AGGREGATES = {
    "COUNT": sa.func.count,
    "SUM": sa.func.sum,
    "AVG": sa.func.avg,
    "MIN": sa.func.min,
    "MAX": sa.func.max,
}


@dataclass(frozen=True, slots=True)
class Aggregation:
    kind: str  # COUNT, SUM, AVG, MIN, MAX or PERCENTILE
    percentile: float | None = None

    @property
    def label(self) -> str:
        if self.kind != "PERCENTILE":
            return self.kind
        return f"P{self.percentile}"  # "P50.0", as MLflow names it


@dataclass(frozen=True, slots=True)
class DataPoint:
    dimensions: dict[str, str]
    values: dict[str, float]


def _percentile(ordered: list[float], p: float) -> float:
    """Linear interpolation between the closest ranks, as PERCENTILE_CONT computes it."""
    position = (len(ordered) - 1) * p / 100
    low, high = math.floor(position), math.ceil(position)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


def query(
    conn: Connection,
    *,
    experiment_ids: Sequence[int],
    comparisons: Sequence[Comparison],
    metric_name: str,
    aggregations: Sequence[Aggregation],
    dimensions: Sequence[str],
    bucket: tuple[int, int, int] | None,  # (interval seconds, start ms, end ms)
    limit: int,
) -> list[DataPoint]:
    """The metric per group of the given dimensions (and time bucket), groups in ascending order."""
    if metric_name not in _METRICS:
        raise InvalidParameter(
            f"Unsupported metric '{metric_name}' for the TRACES view; use one of {sorted(_METRICS)}"
        )
    value = _METRICS[metric_name]
    for d in dimensions:
        if d not in _DIMENSIONS:
            raise InvalidParameter(
                f"Unsupported dimension '{d}' for the TRACES view; use one of {sorted(_DIMENSIONS)}"
            )
    groups: list[tuple[str, Any]] = [(d, _DIMENSIONS[d]) for d in dimensions]
    conditions = trace_search.where(conn.dialect.name, experiment_ids, comparisons)
    if bucket is not None:
        interval_ms = bucket[0] * 1000
        conditions += [_t.timestamp_ms >= bucket[1], _t.timestamp_ms <= bucket[2]]
        # Integer division on every backend: subtract the remainder rather than rely on `/` semantics.
        groups.insert(0, (TIME_BUCKET, _t.timestamp_ms - (_t.timestamp_ms % interval_ms)))
    labelled = [expr.label(f"g{i}") for i, (_, expr) in enumerate(groups)]
    sql_aggs = [a for a in aggregations if a.kind != "PERCENTILE"]
    percentiles = [a for a in aggregations if a.kind == "PERCENTILE"]
    for a in sql_aggs:
        if a.kind not in _SQL_AGGREGATES:
            raise InvalidParameter(f"Unsupported aggregation '{a.kind}'")
        if a.kind != "COUNT" and value is None:
            raise InvalidParameter(f"Aggregation {a.kind} does not apply to metric '{metric_name}'")
    if percentiles and value is None:
        raise InvalidParameter(f"Percentiles do not apply to metric '{metric_name}'")
    columns = [
        (_SQL_AGGREGATES[a.kind]() if value is None else _SQL_AGGREGATES[a.kind](value)).label(f"a{i}")
        for i, a in enumerate(sql_aggs)
    ]
    stmt = sa.select(*labelled, *columns).select_from(traces).where(*conditions)
    if labelled:
        stmt = stmt.group_by(*labelled).order_by(*labelled)
    points: list[DataPoint] = []
    for row in conn.execute(stmt.limit(limit)):
        if any(row[i] is None for i in range(len(groups))):
            continue  # a trace without a name has no place in a by-name chart
        dims = {name: _dimension(name, row[i]) for i, (name, _) in enumerate(groups)}
        values = {
            a.label: float(row[len(groups) + i])
            for i, a in enumerate(sql_aggs)
            if row[len(groups) + i] is not None
        }
        points.append(DataPoint(dims, values))
    if percentiles and points:
        _add_percentiles(conn, points, groups, conditions, value, percentiles)
    return [p for p in points if p.values]


def _dimension(name: str, value: Any) -> str:
    """A group's value as text; a time bucket as its start in ISO 8601 (UTC)."""
    if name == TIME_BUCKET:
        return datetime.fromtimestamp(int(value) / 1000, UTC).isoformat()
    return str(value)


def _add_percentiles(
    conn: Connection,
    points: list[DataPoint],
    groups: list[tuple[str, Any]],
    conditions: list[Any],
    value: Any,
    percentiles: Sequence[Aggregation],
) -> None:
    """Percentiles per group, from each group's values read in order (no portable SQL aggregate)."""
    by_group = {tuple(p.dimensions[name] for name, _ in groups): p for p in points}
    names = [name for name, _ in groups]
    stmt = (
        sa.select(*(expr for _, expr in groups), value)
        .select_from(traces)
        .where(*conditions, value.is_not(None))
    )
    stmt = stmt.order_by(*(expr for _, expr in groups), value)
    current: tuple[str, ...] | None = None
    collected: list[float] = []

    def flush() -> None:
        point = by_group.get(current) if current is not None else None
        if point is not None and collected:
            for a in percentiles:
                assert a.percentile is not None
                point.values[a.label] = _percentile(collected, a.percentile)

    for row in conn.execute(stmt):
        if any(v is None for v in row[: len(groups)]):
            continue
        key = tuple(_dimension(n, v) for n, v in zip(names, row[: len(groups)], strict=True))
        if key != current:
            flush()
            current, collected = key, []
        collected.append(float(row[len(groups)]))
    flush()
