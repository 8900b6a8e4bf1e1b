"""Traces side by side: OTLP span ingest and search_traces over 100,000 traces, tracklight against mlflow.

Both servers are up at once on fresh databases of the same kind and take turns (ingest rounds and
search repetitions interleaved, the order flipped every round), so load from elsewhere on the shared
machine falls on each alike. Run it with `.venv/bin/python` (it builds the OTLP payloads with
opentelemetry-proto); see bench/README.md.

    .venv/bin/python bench/traces.py --backend sqlite
    .venv/bin/python bench/traces.py --backend postgresql --search-traces 20000 --rounds 2
"""

from __future__ import annotations

import argparse
import atexit
import http.client
import json
import os
import random
import shutil
import signal
import socket
import statistics
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.proto.common.v1.common_pb2 import KeyValue
from opentelemetry.proto.trace.v1.trace_pb2 import Span, Status

sys.path.insert(0, str(Path(__file__).resolve().parent))

import report  # noqa: E402
import workload  # noqa: E402
from backends import Database, create_database  # noqa: E402
from procfs import loadavg, machine_info, tree_cpu_seconds  # noqa: E402
from run import ensure_peer_venv, server_version, settle, wait_quiet  # noqa: E402
from servers import ROOT, SPECS, ServerProcess, free_port, run_prepare, stop_all_started  # noqa: E402

BENCH = Path(__file__).resolve().parent
RESULTS = BENCH / "results"
OTLP_PATH = "/v1/traces"
SEARCH_PATH = "/api/3.0/mlflow/traces/search"
EXPERIMENT_HEADER = "x-mlflow-experiment-id"
PAGE = 100  # the client's default page size (SEARCH_TRACES_DEFAULT_MAX_RESULTS)
SPAN_TYPES = ("LLM", "RETRIEVER", "TOOL", "CHAT_MODEL", "PARSER", "EMBEDDING")
WORDS = [
    "the",
    "model",
    "answers",
    "questions",
    "about",
    "invoices",
    "shipping",
    "refunds",
    "and",
    "the",
    "customer",
    "account",
    "history",
    "using",
    "retrieved",
    "passages",
    "from",
    "the",
    "knowledge",
    "base",
    "with",
    "citations",
    "and",
    "a",
    "short",
    "summary",
    "at",
    "the",
    "end",
]

SEARCHES: dict[str, dict[str, Any]] = {
    # The client's call with no filter and no order: the server's default order (newest first).
    "plain": {},
    "status": {"filter": "trace.status = 'ERROR'", "order_by": ["timestamp_ms DESC"]},
    "tag": {"filter": "tag.env = 'prod'", "order_by": ["timestamp_ms DESC"]},
}

MEASURES = (
    report.Measure(
        "spans_per_s", "OTLP ingest, spans/s (median of rounds)", 0, (report.Target("mlflow", ">=", 5.0),)
    ),
    report.Measure(
        "cpu_per_1k_spans", "server+DB CPU s per 1000 spans", 3, (report.Target("mlflow", "<=", 0.2),)
    ),
    report.Measure(
        "search_plain_ms",
        "search_traces p50, ms (no filter, 100 a page)",
        1,
        (report.Target("mlflow", "<=", 0.2),),
    ),
    report.Measure(
        "search_status_ms",
        "search_traces p50, ms (status = ERROR, by time)",
        1,
        (report.Target("mlflow", "<=", 0.2),),
    ),
    report.Measure(
        "search_tag_ms",
        "search_traces p50, ms (tag.env = 'prod', by time)",
        1,
        (report.Target("mlflow", "<=", 0.2),),
    ),
    report.Measure("search_plain_cpu_ms", "server+DB CPU ms per search (no filter)", 2),
    report.Measure("search_status_cpu_ms", "server+DB CPU ms per search (status)", 2),
    report.Measure("search_tag_cpu_ms", "server+DB CPU ms per search (tag)", 2),
    report.Measure("seed_traces_per_s", "seeding the search experiment, traces/s (OTLP)", 0),
)


def log(msg: str) -> None:
    print(f"[{datetime.now():%H:%M:%S}] {msg}", file=sys.stderr, flush=True)


# -- payloads ------------------------------------------------------------------------------------


def _kv(key: str, value: Any) -> KeyValue:
    # MLflow's client writes every span attribute as a JSON-encoded string.
    kv = KeyValue(key=key)
    kv.value.string_value = json.dumps(value)
    return kv


def _text(rng: random.Random, n_bytes: int) -> str:
    out: list[str] = []
    size = 0
    while size < n_bytes:
        w = rng.choice(WORDS)
        out.append(w)
        size += len(w) + 1
    return " ".join(out)


def _trace_spans(
    rng: random.Random, n_spans: int, start_ns: int, io_bytes: int, error: bool, tags: dict[str, str]
) -> list[Span]:
    """One trace as the 3.x client exports it: a root span and children, inputs/outputs as attributes."""
    trace_id = rng.randbytes(16)
    request_id = "tr-" + trace_id.hex()
    duration = rng.randint(200, 5000) * 1_000_000
    spans: list[Span] = []
    for i in range(n_spans):
        span = Span(trace_id=trace_id, span_id=rng.randbytes(8), kind=Span.SPAN_KIND_INTERNAL)
        if i == 0:
            span.name, span_type = "agent", "CHAIN"
            span.start_time_unix_nano, span.end_time_unix_nano = start_ns, start_ns + duration
        else:
            parent = spans[rng.randrange(len(spans))]
            span.parent_span_id = parent.span_id
            span_type = rng.choice(SPAN_TYPES)
            span.name = f"{span_type.lower()}_{i}"
            lo, hi = parent.start_time_unix_nano, parent.end_time_unix_nano
            s = rng.randint(lo, hi - 1)
            span.start_time_unix_nano, span.end_time_unix_nano = s, rng.randint(s + 1, hi)
        span.status.code = Status.STATUS_CODE_ERROR if (error and i == 0) else Status.STATUS_CODE_OK
        attrs = [
            _kv("mlflow.traceRequestId", request_id),
            _kv("mlflow.spanType", span_type),
            _kv("mlflow.spanFunctionName", span.name),
            _kv(
                "mlflow.spanInputs",
                {"messages": [{"role": "user", "content": _text(rng, io_bytes // 2)}], "temperature": 0.2},
            ),
            _kv(
                "mlflow.spanOutputs",
                {"choices": [{"message": {"role": "assistant", "content": _text(rng, io_bytes // 2)}}]},
            ),
        ]
        if i == 0:
            # The client puts a trace's own tags on its root span as they are (not JSON-encoded).
            attrs += [
                KeyValue(key=f"mlflow.traceTag.{k}", value={"string_value": v}) for k, v in tags.items()
            ]
        span.attributes.extend(attrs)
        spans.append(span)
    return spans


def export_body(traces: list[list[Span]]) -> bytes:
    request = ExportTraceServiceRequest()
    rs = request.resource_spans.add()
    rs.resource.attributes.append(_kv("service.name", "bench"))
    scope = rs.scope_spans.add()
    scope.scope.name = "mlflow.tracing"
    for spans in traces:
        scope.spans.extend(spans)
    return request.SerializeToString()


def ingest_payloads(
    seed: int, n_traces: int, spans_range: tuple[int, int], io_bytes: int
) -> list[tuple[bytes, int]]:
    """One export request per trace, as the client sends them: (body, span count)."""
    rng = random.Random(seed)
    t0 = time.time_ns()
    out = []
    for i in range(n_traces):
        n = rng.randint(*spans_range)
        spans = _trace_spans(rng, n, t0 + i * 1_000_000_000, io_bytes, rng.random() < 0.05, {})
        out.append((export_body([spans]), n))
    return out


def seed_payloads(seed: int, n_traces: int, per_request: int) -> list[tuple[bytes, int]]:
    """The search experiment's traces: 2 spans each, every 20th an error, every 10th tagged env=prod."""
    rng = random.Random(seed)
    t0 = time.time_ns() - n_traces * 1_000_000_000
    out = []
    for first in range(0, n_traces, per_request):
        batch = []
        for i in range(first, min(n_traces, first + per_request)):
            tags = {"env": "prod" if i % 10 == 0 else "dev"}
            batch.append(_trace_spans(rng, 2, t0 + i * 1_000_000_000, 200, i % 20 == 7, tags))
        out.append((export_body(batch), len(batch)))
    return out


# -- driving -------------------------------------------------------------------------------------


class Conn:
    """One keep-alive connection to a server on 127.0.0.1."""

    def __init__(self, port: int, timeout: float = 300.0) -> None:
        self.port, self.timeout = port, timeout
        self._c: http.client.HTTPConnection | None = None

    def send(self, method: str, path: str, body: bytes, headers: dict[str, str]) -> tuple[int, bytes]:
        for attempt in (0, 1):
            if self._c is None:
                self._c = http.client.HTTPConnection("127.0.0.1", self.port, timeout=self.timeout)
                self._c.connect()
                self._c.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            try:
                self._c.request(method, path, body=body, headers=headers)
                resp = self._c.getresponse()
                data = resp.read()
                if resp.will_close:
                    self.close()
                return resp.status, data
            except (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError):
                self.close()
                if attempt:
                    raise
        raise AssertionError("unreachable")

    def close(self) -> None:
        if self._c is not None:
            self._c.close()
            self._c = None


def send_all(
    port: int, exp: str, payloads: list[tuple[bytes, int]], senders: int, cap_s: float
) -> dict[str, Any]:
    """POST every payload to /v1/traces from `senders` threads; units acknowledged and the wall time."""
    headers = {"Content-Type": "application/x-protobuf", EXPERIMENT_HEADER: exp}
    lock = threading.Lock()
    state = {"next": 0, "units": 0, "requests": 0, "errors": 0, "first_error": ""}
    deadline = time.monotonic() + cap_s

    def worker() -> None:
        conn = Conn(port)
        try:
            while time.monotonic() < deadline and not workload.ABORT.is_set():
                with lock:
                    i = state["next"]
                    state["next"] += 1
                if i >= len(payloads):
                    return
                body, units = payloads[i]
                try:
                    status, data = conn.send("POST", OTLP_PATH, body, headers)
                except OSError as exc:
                    status, data = 0, str(exc).encode()
                    conn.close()
                with lock:
                    if status == 200:
                        state["units"] += units
                        state["requests"] += 1
                    else:
                        state["errors"] += 1
                        state["first_error"] = state["first_error"] or f"{status}: {data[:200]!r}"
        finally:
            conn.close()

    threads = [threading.Thread(target=worker, daemon=True) for _ in range(senders)]
    t0 = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    wall = time.perf_counter() - t0
    return {**state, "seconds": wall, "capped": state["requests"] + state["errors"] < len(payloads)}


def search_body(exp: str, kind: str) -> bytes:
    body: dict[str, Any] = {
        "locations": [{"type": "MLFLOW_EXPERIMENT", "mlflow_experiment": {"experiment_id": exp}}],
        "max_results": PAGE,
        **SEARCHES[kind],
    }
    return json.dumps(body).encode()


def search_once(conn: Conn, body: bytes) -> tuple[float, int]:
    t0 = time.perf_counter()
    status, data = conn.send("POST", SEARCH_PATH, body, {"Content-Type": "application/json"})
    took = time.perf_counter() - t0
    if status != 200:
        raise RuntimeError(f"search -> {status}: {data[:300]!r}")
    return took, len(json.loads(data).get("traces", []))


# -- the servers -----------------------------------------------------------------------------------


@dataclass
class Subject:
    """One server under test, on its own fresh database."""

    name: str  # as reported
    db: Database
    workdir: Path
    spec_name: str = ""  # which server (SPECS): the name, unless this is the baseline tracklight
    extra_env: dict[str, str] = field(default_factory=dict)
    server: ServerProcess | None = None
    port: int = 0
    idle_rate: float = 0.0
    ingest_exp: str = ""
    search_exp: str = ""
    figures: dict[str, float | None] = field(default_factory=dict)
    details: dict[str, Any] = field(default_factory=dict)

    def start(self) -> None:
        spec = SPECS[self.spec_name or self.name]
        self.port = free_port()
        uri = self.db.uri_for(spec.name)
        artifacts = self.workdir / "artifacts"
        artifacts.mkdir(parents=True, exist_ok=True)
        prep = spec.prepare(uri, self.db.kind)
        if prep:
            env = {**spec.env, **self.extra_env}
            run_prepare(prep, self.workdir, self.workdir / "server.log", env=env)
        argv = spec.command(uri, artifacts, self.port)
        self.details["command"] = " ".join(argv)
        log_path = self.workdir / "server.log"
        self.server = ServerProcess(spec, argv, self.workdir, log_path, extra_env=self.extra_env)
        self.server.start()
        self.details["start_s"] = round(self.server.wait_healthy(self.port), 2)
        self.server.remember_tree()

    @property
    def pid(self) -> int:
        assert self.server is not None
        return self.server.pid

    def cpu(self) -> float:
        """The server's tree plus its database's processes (PostgreSQL, MariaDB; SQLite is in-process)."""
        return tree_cpu_seconds(self.pid) + self.db.cpu_seconds()


def measure_idle(s: Subject) -> None:
    settle(s.pid, 0.0, max_wait=40.0, min_wait=3.0)
    c0, t0 = tree_cpu_seconds(s.pid), time.monotonic()
    time.sleep(3.0)
    s.idle_rate = (tree_cpu_seconds(s.pid) - c0) / (time.monotonic() - t0)
    s.details["idle_cpu_share_of_one_cpu"] = round(s.idle_rate, 3)


def ingest_round(s: Subject, payloads: list[tuple[bytes, int]], senders: int, cap_s: float) -> dict[str, Any]:
    settle(s.pid, s.idle_rate, max_wait=20.0)
    c0 = s.cpu()
    res = send_all(s.port, s.ingest_exp, payloads, senders, cap_s)
    res["settle_s"] = round(settle(s.pid, s.idle_rate), 2)  # deferred work still counts
    # Idle background work (mlflow's job runners) over the settle is not the ingest's.
    res["cpu_s"] = s.cpu() - c0 - s.idle_rate * res["settle_s"]
    return res


def seed(s: Subject, payloads: list[tuple[bytes, int]], senders: int, cap_s: float) -> dict[str, Any]:
    res = send_all(s.port, s.search_exp, payloads, senders, cap_s)
    res["traces_per_s"] = res["units"] / res["seconds"]
    return res


def run(args: argparse.Namespace) -> dict[str, Any]:
    names = [n.strip() for n in args.servers.split(",") if n.strip()]
    workroot = Path(tempfile.mkdtemp(prefix=f"tracklight-traces-{args.backend}-"))
    log(f"work directory {workroot}")
    subjects: list[Subject] = []
    out: dict[str, Any] = {"backend": args.backend, "args": vars(args), "machine": machine_info()}
    try:
        for name in names:
            (workroot / name).mkdir()
            s = Subject(name, create_database(args.backend, name, workroot / name), workroot / name)
            s.details["version"] = server_version(name)
            s.details["database"] = s.db.uri_for(name)
            subjects.append(s)
        if args.baseline_src:
            (workroot / "baseline").mkdir()
            db = create_database(args.backend, "baseline", workroot / "baseline")
            env = {"PYTHONPATH": str(Path(args.baseline_src).resolve())}
            s = Subject("baseline", db, workroot / "baseline", spec_name="tracklight", extra_env=env)
            s.details["version"] = f"tracklight from {env['PYTHONPATH']}"
            subjects.append(s)
        searched = [s for s in subjects if s.name != "baseline" or args.search_baseline]
        out["machine_busy_before"] = wait_quiet(args.wait_quiet)
        for s in subjects:
            log(f"{s.name}: starting")
            s.start()
            s.ingest_exp = workload.create_experiment(s.port, "traces-ingest")
            s.search_exp = workload.create_experiment(s.port, "traces-search")
        for s in subjects:
            measure_idle(s)

        # 1. ingest rounds, interleaved, each round's traces new to both servers
        log(
            f"building {args.rounds} x {args.ingest_traces} traces of {args.min_spans}-{args.max_spans} spans"
        )
        rounds = [
            ingest_payloads(1000 + r, args.ingest_traces, (args.min_spans, args.max_spans), args.io_bytes)
            for r in range(args.rounds)
        ]
        for s in subjects:  # warm-up: a few traces, untimed
            send_all(s.port, s.ingest_exp, ingest_payloads(7, 5, (10, 20), args.io_bytes), 1, 60)
        per: dict[str, list[dict[str, Any]]] = {s.name: [] for s in subjects}
        for r, payloads in enumerate(rounds):
            order = subjects if r % 2 == 0 else subjects[::-1]
            for s in order:
                cap = args.mlflow_cap if s.name == "mlflow" else args.cap
                res = ingest_round(s, payloads, args.senders, cap)
                res["spans_per_s"] = res["units"] / res["seconds"]
                res["cpu_per_1k"] = res["cpu_s"] / max(res["units"], 1) * 1000
                per[s.name].append(res)
                log(
                    f"{s.name}: round {r + 1}: {res['units']:,} spans in {res['seconds']:.1f} s = "
                    f"{res['spans_per_s']:,.0f}/s, CPU {res['cpu_per_1k']:.3f} s/1k spans, errors {res['errors']}"
                )
        for s in subjects:
            s.details["ingest_rounds"] = per[s.name]
            s.figures["spans_per_s"] = statistics.median(x["spans_per_s"] for x in per[s.name])
            s.figures["cpu_per_1k_spans"] = statistics.median(x["cpu_per_1k"] for x in per[s.name])

        # 2. the search experiment: args.search_traces traces over OTLP, in big batches
        log(f"building {args.search_traces:,} traces for the search experiment")
        seeds = seed_payloads(99, args.search_traces, args.seed_batch)
        for s in searched:
            log(f"{s.name}: seeding {args.search_traces:,} traces")
            res = seed(s, seeds, args.seed_senders, args.seed_cap)
            s.details["seed"] = {k: v for k, v in res.items()}
            s.figures["seed_traces_per_s"] = res["traces_per_s"]
            log(
                f"{s.name}: seeded {res['units']:,} traces in {res['seconds']:.0f} s, errors {res['errors']} {res['first_error']}"
            )
            settle(s.pid, s.idle_rate, max_wait=60.0)
        for s in searched:
            s.details["analyzed"] = s.db.refresh_statistics()
            s.db.flush()
        # The seeding's write-back (and whatever else started meanwhile) done before the clock starts.
        out["machine_busy_before_search"] = wait_quiet(args.wait_quiet)

        # 3. searches, interleaved per repetition
        conns = {s.name: Conn(s.port) for s in searched}
        for kind in SEARCHES:
            bodies = {s.name: search_body(s.search_exp, kind) for s in searched}
            times: dict[str, list[float]] = {s.name: [] for s in searched}
            hits: dict[str, int] = {}
            for s in searched:
                search_once(conns[s.name], bodies[s.name])  # warm-up
            # Server CPU over the repetitions, less what each tree spends idle over the same time.
            cpu0 = {s.name: s.cpu() for s in searched}
            wall0 = time.monotonic()
            for rep in range(args.search_reps):
                for s in searched if rep % 2 == 0 else searched[::-1]:
                    took, n = search_once(conns[s.name], bodies[s.name])
                    times[s.name].append(took)
                    hits[s.name] = n
            wall = time.monotonic() - wall0
            for s in searched:
                cpu = s.cpu() - cpu0[s.name] - s.idle_rate * wall
                s.figures[f"search_{kind}_cpu_ms"] = max(cpu, 0.0) / args.search_reps * 1000
                s.figures[f"search_{kind}_ms"] = statistics.median(times[s.name]) * 1000
                s.details[f"search_{kind}"] = {
                    "hits": hits[s.name],
                    "p50_ms": round(statistics.median(times[s.name]) * 1000, 2),
                    "max_ms": round(max(times[s.name]) * 1000, 2),
                }
            log(
                f"search {kind}: "
                + ", ".join(
                    f"{n} {s.figures[f'search_{kind}_ms']:.1f} ms" for n, s in ((s.name, s) for s in searched)
                )
            )
        for c in conns.values():
            c.close()
        out["loadavg_after"] = loadavg()
    finally:
        for s in subjects:
            if s.server is not None:
                s.server.stop()
        for s in subjects:
            try:
                if not args.keep:
                    s.db.drop()
            except Exception as exc:  # noqa: BLE001 - report, keep cleaning up
                log(f"{s.name}: could not drop the database: {exc}")
        if not args.keep:
            shutil.rmtree(workroot, ignore_errors=True)
    out["servers"] = {s.name: {"figures": s.figures, "details": s.details} for s in subjects}
    return out


def _on_signal(signum: int, _frame: Any) -> None:
    raise KeyboardInterrupt(f"signal {signum}")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--backend", choices=["sqlite", "postgresql", "mysql"], default="sqlite")
    ap.add_argument("--servers", default="tracklight,mlflow")
    ap.add_argument("--rounds", type=int, default=5, help="ingest rounds per server, interleaved")
    ap.add_argument("--ingest-traces", type=int, default=200, help="traces per ingest round")
    ap.add_argument("--min-spans", type=int, default=10)
    ap.add_argument("--max-spans", type=int, default=50)
    ap.add_argument("--io-bytes", type=int, default=400, help="bytes of inputs+outputs text per span")
    ap.add_argument("--senders", type=int, default=4, help="concurrent OTLP senders")
    ap.add_argument("--cap", type=float, default=120.0, help="time cap of a tracklight ingest round, s")
    ap.add_argument("--mlflow-cap", type=float, default=90.0, help="time cap of an mlflow ingest round, s")
    ap.add_argument("--search-traces", type=int, default=100_000)
    ap.add_argument("--seed-batch", type=int, default=200, help="traces per seeding request")
    ap.add_argument("--seed-senders", type=int, default=2)
    ap.add_argument("--seed-cap", type=float, default=3600.0)
    ap.add_argument("--search-reps", type=int, default=40)
    ap.add_argument(
        "--baseline-src",
        metavar="DIR",
        help="also run the ingest rounds on a tracklight from another source tree (`git archive <commit> src`)",
    )
    ap.add_argument(
        "--search-baseline",
        action="store_true",
        help="seed and search the baseline too (its search figures beside this checkout's)",
    )
    ap.add_argument("--keep", action="store_true", help="keep the databases and the work directory")
    ap.add_argument("--wait-quiet", type=float, default=60.0, metavar="S")
    args = ap.parse_args(argv)
    names = [n.strip() for n in args.servers.split(",") if n.strip()]
    if unknown := [n for n in names if n not in ("tracklight", "mlflow")]:
        ap.error(f"unknown servers: {unknown}")

    for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, _on_signal)
    atexit.register(stop_all_started)
    ensure_peer_venv(names)
    started = datetime.now(UTC)
    try:
        doc = run(args)
    except KeyboardInterrupt:
        workload.ABORT.set()
        stop_all_started()
        return 130
    doc["started"] = started.isoformat(timespec="seconds")
    doc["elapsed_s"] = round((datetime.now(UTC) - started).total_seconds(), 1)
    if args.baseline_src:
        names.append("baseline")
    figures = {n: doc["servers"].get(n, {}).get("figures", {}) for n in names}
    table = report.rows(names, figures, MEASURES, backend=args.backend)
    doc["table"] = [{k: v for k, v in row.items() if k != "cells"} for row in table]
    RESULTS.mkdir(parents=True, exist_ok=True)
    path = RESULTS / f"{started:%Y%m%dT%H%M%SZ}-traces-{args.backend}.json"
    path.write_text(json.dumps(doc, indent=2, default=str))

    print(f"\n### traces, {args.backend}, {started:%Y-%m-%d %H:%M} UTC\n")
    print(report.markdown_table(names, table, peers=("mlflow",) if "mlflow" in names else ()))
    print()
    for n in names:
        d = doc["servers"][n]["details"]
        seeded = d.get("seed", {})
        print(
            f"- **{n}** {d.get('version', '')}: `{d.get('command', '?')}`; seeded {seeded.get('units')} traces "
            f"in {seeded.get('seconds', 0):.0f} s; hits plain/status/tag "
            f"{[d.get(f'search_{k}', {}).get('hits') for k in SEARCHES]}"
        )
    print(f"\nResults: {path.relative_to(ROOT)} ({doc['elapsed_s']:.0f} s in all)")
    return 0


if __name__ == "__main__":
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    sys.exit(main())
