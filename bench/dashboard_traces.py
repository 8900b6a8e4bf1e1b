"""The dashboard's traces view at size: an experiment of 100,000 traces and one trace of 10,000 spans.

A fresh tracklight server (SQLite by default, or --uri for an empty PostgreSQL/MySQL database) gets
--traces small traces, each a root span with two children (inputs and outputs on each), one in ten
failed: written straight into its tables with tracklight's own schema (--seed direct, the default; OTLP
ingestion makes some 100 traces a second here, too slow for 100,000) or sent over OTLP/JSON (--seed otlp).
Then one trace of --spans spans over OTLP, as the 3.x client sends them, each span under span
(i - 1) // 3 (a tree about nine levels deep). Then the pages are fetched
with plain HTTP (server time plus transfer, no browser) --repeat times; medians are printed as JSON.

    PYTHONPATH=$PWD/src .venv/bin/python bench/dashboard_traces.py [--traces 100000] [--spans 10000]
"""

from __future__ import annotations

import argparse
import atexit
import json
import os
import re
import statistics
import sys
import tempfile
import time
from html import unescape
from pathlib import Path
from typing import Any

import requests

sys.path.insert(0, str(Path(__file__).resolve().parent))

from servers import SPECS, ServerProcess, free_port, run_prepare, stop_all_started  # noqa: E402

BATCH = 3000  # spans per OTLP export
BASE_MS = 1_700_000_000_000


def log(msg: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


def _span(
    trace_hex: str, span_id: str, parent: str | None, name: str, start_ns: int, end_ns: int, i: int, ok: bool
) -> dict[str, Any]:
    span: dict[str, Any] = {
        "traceId": trace_hex,
        "spanId": span_id,
        "name": name,
        "startTimeUnixNano": str(start_ns),
        "endTimeUnixNano": str(end_ns),
        "status": {"code": 1 if ok else 2},
        "attributes": [
            {
                "key": "mlflow.spanInputs",
                "value": {"stringValue": json.dumps({"question": f"q{i}", "pad": "x" * 200})},
            },
            {"key": "mlflow.spanOutputs", "value": {"stringValue": json.dumps({"answer": f"a{i}"})}},
        ],
    }
    if parent is not None:
        span["parentSpanId"] = parent
    return span


def _export(session: requests.Session, url: str, experiment_id: str, spans: list[dict[str, Any]]) -> None:
    body = {"resourceSpans": [{"scopeSpans": [{"spans": spans}]}]}
    got = session.post(
        url + "/v1/traces", json=body, headers={"x-mlflow-experiment-id": experiment_id}, timeout=600
    )
    got.raise_for_status()


def seed_small_traces(session: requests.Session, url: str, experiment_id: str, count: int) -> None:
    """`count` traces of three spans, one a second apart (so the newest-first order is meaningful)."""
    pending: list[dict[str, Any]] = []
    for i in range(count):
        trace_hex = f"{i + 1:032x}"
        start = (BASE_MS + i * 1000) * 1_000_000
        ok = i % 10 != 0
        pending.append(
            _span(
                trace_hex, f"{3 * i + 1:016x}", None, "chat", start, start + (5 + i % 50) * 1_000_000, i, ok
            )
        )
        for c in (2, 3):
            child_start = start + c * 1_000_000
            pending.append(
                _span(
                    trace_hex,
                    f"{3 * i + c:016x}",
                    f"{3 * i + 1:016x}",
                    f"step-{c}",
                    child_start,
                    child_start + 1_000_000,
                    i,
                    True,
                )
            )
        if len(pending) >= BATCH:
            _export(session, url, experiment_id, pending)
            pending = []
        if i and i % 10_000 == 0:
            log(f"  {i} traces sent")
    if pending:
        _export(session, url, experiment_id, pending)


def seed_wide_trace(session: requests.Session, url: str, experiment_id: str, count: int) -> str:
    trace_hex = os.urandom(16).hex()
    start = (BASE_MS + 10_000_000_000) * 1_000_000
    ids = [f"{i + 1:016x}" for i in range(count)]
    spans = [
        _span(
            trace_hex,
            ids[i],
            None if i == 0 else ids[(i - 1) // 3],
            "root" if i == 0 else f"step-{i}",
            start + i * 1000,
            start + 10_000_000 + (count - i) * 1000,
            i,
            True,
        )
        for i in range(count)
    ]
    for first in range(0, count, BATCH):
        _export(session, url, experiment_id, spans[first : first + BATCH])
    return "tr-" + trace_hex


def seed_direct(uri: str, experiment_id: str, count: int) -> None:
    """The small traces as rows of tracklight's tables (what OTLP ingestion would store), in bulk."""
    import sqlalchemy as sa

    from tracklight.store.engine import normalize_uri
    from tracklight.store.schema import spans, trace_tags, traces

    engine = sa.create_engine(normalize_uri(uri))
    chunk = 5000
    try:
        for first in range(0, count, chunk):
            rows, tags, span_rows = [], [], []
            for i in range(first, min(first + chunk, count)):
                trace_id = f"tr-{i + 1:032x}"
                start_ms, duration = BASE_MS + i * 1000, 5 + i % 50
                ok = i % 10 != 0
                inputs, outputs = (
                    json.dumps({"question": f"q{i}", "pad": "x" * 200}),
                    json.dumps({"answer": f"a{i}"}),
                )
                rows.append(
                    {
                        "id": trace_id,
                        "experiment_id": int(experiment_id),
                        "timestamp_ms": start_ms,
                        "execution_time_ms": duration,
                        "state": "OK" if ok else "ERROR",
                        "client_request_id": None,
                        "request_preview": inputs,
                        "response_preview": outputs,
                    }
                )
                tags += [
                    {"trace_id": trace_id, "key": "mlflow.traceName", "value": "chat"},
                    {"trace_id": trace_id, "key": "mlflow.trace.spansLocation", "value": "TRACKING_STORE"},
                ]
                for c in (1, 2, 3):
                    start_ns = (start_ms + (c - 1)) * 1_000_000
                    end_ns = start_ns + (duration if c == 1 else 1) * 1_000_000
                    span_id = f"{3 * i + c:016x}"
                    parent = None if c == 1 else f"{3 * i + 1:016x}"
                    name = "chat" if c == 1 else f"step-{c}"
                    status = "OK" if ok or c > 1 else "ERROR"
                    content = {
                        "span_id": span_id,
                        "parent_span_id": parent,
                        "name": name,
                        "start_time_unix_nano": start_ns,
                        "end_time_unix_nano": end_ns,
                        "events": [],
                        "status": {"code": f"STATUS_CODE_{status}", "message": ""},
                        "attributes": {
                            "mlflow.spanInputs": json.dumps(inputs),
                            "mlflow.spanOutputs": json.dumps(outputs),
                        },
                    }
                    span_rows.append(
                        {
                            "trace_id": trace_id,
                            "span_id": span_id,
                            "parent_span_id": parent,
                            "name": name,
                            "type": None,
                            "status": status,
                            "start_time_unix_nano": start_ns,
                            "end_time_unix_nano": end_ns,
                            "content": json.dumps(content),
                        }
                    )
            with engine.begin() as conn:
                conn.execute(sa.insert(traces), rows)
                conn.execute(sa.insert(trace_tags), tags)
                conn.execute(sa.insert(spans), span_rows)
            if first and first % 20_000 == 0:
                log(f"  {first} traces written")
        # As a database that has lived with these rows would have: planner statistics for them.
        with engine.begin() as conn:
            if engine.dialect.name == "mysql":
                conn.execute(sa.text("ANALYZE TABLE traces, trace_tags, spans"))
            else:
                conn.execute(sa.text("ANALYZE"))
    finally:
        engine.dispose()


def timed(
    session: requests.Session, url: str, repeat: int, headers: dict[str, str] | None = None
) -> dict[str, Any]:
    """Median and worst milliseconds of `repeat` GETs (after one warm-up), and the body's size."""
    first = session.get(url, headers=headers, timeout=600)
    assert first.status_code == 200, (url, first.status_code, first.text[:300])
    samples = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        r = session.get(url, headers=headers, timeout=600)
        samples.append((time.perf_counter() - t0) * 1000)
        assert r.status_code == 200
    return {
        "median_ms": round(statistics.median(samples), 1),
        "max_ms": round(max(samples), 1),
        "kb": round(len(first.content) / 1024, 1),
    }


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--traces", type=int, default=100_000)
    ap.add_argument("--spans", type=int, default=10_000, help="spans of the one wide trace")
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--deep-pages", type=int, default=20, help="list pages followed by their next links")
    ap.add_argument(
        "--seed", choices=("direct", "otlp"), default="direct", help="how the small traces arrive"
    )
    ap.add_argument("--uri", default="", help="an empty database to use instead of a fresh SQLite file")
    args = ap.parse_args(argv)
    atexit.register(stop_all_started)
    work = Path(tempfile.mkdtemp(prefix="bench-traces-"))
    uri = args.uri or f"sqlite:///{work / 'store.db'}"
    spec = SPECS["tracklight"]
    backend = uri.split(":", 1)[0].split("+", 1)[0]
    if (prepare := spec.prepare(uri, backend)) is not None:
        run_prepare(prepare, work, work / "prepare.log")
    port = free_port()
    server = ServerProcess(spec, spec.command(uri, work / "artifacts", port), work, work / "server.log")
    server.start()
    out: dict[str, Any] = {
        "uri": uri.split("@")[-1],
        "traces": args.traces,
        "spans": args.spans,
        "seed": args.seed,
    }
    try:
        server.wait_healthy(port)
        url = f"http://127.0.0.1:{port}"
        session = requests.Session()
        created = session.post(
            url + "/api/2.0/mlflow/experiments/create", json={"name": "traces-bench"}, timeout=60
        )
        experiment_id = created.json()["experiment_id"]
        t0 = time.perf_counter()
        log(f"seeding {args.traces} traces")
        if args.seed == "direct":
            seed_direct(uri, experiment_id, args.traces)
        else:
            seed_small_traces(session, url, experiment_id, args.traces)
        out["seed_small_s"] = round(time.perf_counter() - t0, 1)
        t0 = time.perf_counter()
        wide = seed_wide_trace(session, url, experiment_id, args.spans)
        out["seed_wide_s"] = round(time.perf_counter() - t0, 1)
        log("measuring")
        base = f"{url}/experiments/{experiment_id}/traces"
        pages: dict[str, Any] = {
            "list_first_page": timed(session, base, args.repeat),
            "list_250_per_page": timed(session, base + "?size=250", args.repeat),
            "search_status_error": timed(session, base + "?filter=status+%3D+%27ERROR%27", args.repeat),
            "sort_execution_time": timed(session, base + "?sort=execution_time_ms", args.repeat),
            "sort_name": timed(session, base + "?sort=name&dir=asc", args.repeat),
            "search_tag": timed(session, base + "?filter=tag.mlflow.traceName+%3D+%27chat%27", args.repeat),
            "search_span_name": timed(session, base + "?filter=span.name+%3D+%27step-3%27", args.repeat),
            "wide_trace_page": timed(session, f"{base}/{wide}", args.repeat),
            "wide_trace_last_rows": timed(
                session, f"{base}/{wide}?spans={args.spans - args.spans % 1000}", args.repeat
            ),
            "span_fragment": timed(
                session, f"{base}/{wide}/spans/{args.spans:016x}", args.repeat, {"HX-Request": "true"}
            ),
            "small_trace_page": timed(session, f"{base}/tr-{args.traces:032x}", args.repeat),
        }
        # Deep paging: follow the next links, each page timed once.
        path, deep = base, []
        for _ in range(args.deep_pages):
            t0 = time.perf_counter()
            r = session.get(path, timeout=600)
            deep.append((time.perf_counter() - t0) * 1000)
            found = re.search(r'href="([^"]+)" rel="next"', r.text)
            if not found:
                break
            path = url + unescape(found.group(1))
        pages["list_next_pages"] = {
            "pages": len(deep),
            "median_ms": round(statistics.median(deep), 1),
            "max_ms": round(max(deep), 1),
        }
        out["pages"] = pages
    finally:
        server.stop()
    print(json.dumps(out, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
