"""Prometheus metrics: request latency by route, database pool use, metric points ingested."""

from __future__ import annotations

from collections.abc import Iterator

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector
from starlette.responses import Response

from tracklight.store.engine import Database

# One registry per process, kept apart from the library's default (which adds process and GC metrics
# we would then have to serve from every worker anyway).
REGISTRY = CollectorRegistry(auto_describe=True)

REQUEST_SECONDS = Histogram(
    "tracklight_request_seconds",
    "Time from request start to the last byte of the response, by route template.",
    ["method", "route", "status"],
    registry=REGISTRY,
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300),
)
POINTS_INGESTED = Counter(
    "tracklight_metric_points_ingested",
    "Metric points accepted by log-metric and log-batch.",
    registry=REGISTRY,
)
ARTIFACT_BYTES = Counter(
    "tracklight_artifact_bytes",
    "Artifact bytes streamed through the proxy.",
    ["direction"],
    registry=REGISTRY,
)


class PoolCollector(Collector):
    """Reads the SQLAlchemy pool at scrape time: connections checked out, idle, and the configured size."""

    def __init__(self, db: Database) -> None:
        self.db = db

    def collect(self) -> Iterator[GaugeMetricFamily]:
        pool = self.db.engine.pool
        checked_out = getattr(pool, "checkedout", lambda: 0)()
        idle = getattr(pool, "checkedin", lambda: 0)()
        size = getattr(pool, "size", lambda: 0)()
        yield GaugeMetricFamily(
            "tracklight_db_connections_in_use", "Database connections serving a request now.", checked_out
        )
        yield GaugeMetricFamily(
            "tracklight_db_connections_idle", "Pooled database connections idle now.", idle
        )
        yield GaugeMetricFamily("tracklight_db_pool_size", "Configured database pool size.", size)


_watched: list[PoolCollector] = []


def watch_pool(db: Database) -> None:
    """Report `db`'s pool from now on (an app built again in the same process replaces the old one)."""
    for old in _watched:
        REGISTRY.unregister(old)
    _watched[:] = [PoolCollector(db)]
    REGISTRY.register(_watched[0])


def metrics_response() -> Response:
    return Response(generate_latest(REGISTRY), media_type=CONTENT_TYPE_LATEST)
