"""OTLP/JSON spans as an exporter sends them to a server's /v1/traces: hex ids, nanosecond times as strings."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import requests

Span = dict[str, Any]


def otlp_span(
    trace_hex: str,
    span_id: str,
    parent: str | None,
    name: str,
    start_ns: int,
    end_ns: int,
    *,
    status: int = 1,
    attributes: list[dict[str, Any]] | None = None,
) -> Span:
    """One span (status 1: OK, 2: ERROR); `parent` None for a root, which then has no parentSpanId."""
    span: Span = {
        "traceId": trace_hex,
        "spanId": span_id,
        "name": name,
        "startTimeUnixNano": str(start_ns),
        "endTimeUnixNano": str(end_ns),
        "status": {"code": status},
        "attributes": attributes or [],
    }
    if parent is not None:
        span["parentSpanId"] = parent
    return span


def span_tree(
    trace_hex: str,
    count: int,
    *,
    parent: Callable[[int], int],
    child_name: str,
    attributes: Callable[[int], list[dict[str, Any]]],
) -> list[Span]:
    """`count` spans of one trace, OK: span 0 the root, named "root"; span i (ids 1, 2, ... in hex) named
    `child_name`-i, under span parent(i) (an earlier one). Each starts after and ends before every earlier
    span, so that it lies within its parent whichever that is."""
    start = time.time_ns()
    ids = [f"{i + 1:016x}" for i in range(count)]
    return [
        otlp_span(
            trace_hex,
            span_id,
            None if i == 0 else ids[parent(i)],
            "root" if i == 0 else f"{child_name}-{i}",
            start + i * 1000,
            start + 10_000_000 + (count - i) * 1000,
            attributes=attributes(i),
        )
        for i, span_id in enumerate(ids)
    ]


def export(
    url: str,
    experiment_id: str,
    spans: list[Span],
    *,
    headers: dict[str, str] | None = None,
    timeout: float = 120,
) -> requests.Response:
    """One OTLP/JSON export of `spans` to the server at `url`, into the experiment."""
    return requests.post(
        url + "/v1/traces",
        json={"resourceSpans": [{"scopeSpans": [{"spans": spans}]}]},
        headers={"x-mlflow-experiment-id": experiment_id, **(headers or {})},
        timeout=timeout,
    )
