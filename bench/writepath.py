"""The write path a hyper-parameter sweep waits on, tracklight beside fml: runs/create throughput and
log-metric latency, with server CPU per unit of work; see bench/README.md ("Write path").

    python bench/writepath.py --backend sqlite
    python bench/writepath.py --backend postgresql --repeat 5 --runs 1900

Both servers run at once, each on its own fresh database, and take turns phase by phase (the order
alternates every repeat), so load from elsewhere on the shared machine falls on both alike. Every
figure is the median over the repeats.
"""

from __future__ import annotations

import argparse
import atexit
import json
import os
import shutil
import signal
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from backends import Database, create_database  # noqa: E402
from client import ApiError, Client, RawClient, raw_post  # noqa: E402
from procfs import busy_fraction, loadavg, tree_cpu_seconds  # noqa: E402
from servers import ROOT, SPECS, ServerProcess, free_port, run_prepare, stop_all_started  # noqa: E402
from workload import API, percentile  # noqa: E402

RESULTS = Path(__file__).resolve().parent / "results"


def log(msg: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


def create_body(exp_id: str, i: int) -> bytes:
    """What the stock client's mlflow.start_run(run_name=...) sends (its context tags included)."""
    name = f"trial-{i}"
    return json.dumps(
        {
            "experiment_id": exp_id,
            "user_id": "bench",
            "start_time": int(time.time() * 1000),
            "run_name": name,
            "tags": [
                {"key": "mlflow.user", "value": "bench"},
                {"key": "mlflow.source.name", "value": "sweep.py"},
                {"key": "mlflow.source.type", "value": "LOCAL"},
                {"key": "mlflow.runName", "value": name},
            ],
        }
    ).encode()


class Target:
    """One running server on its own database; `label` names it in the table ("tracklight-before"
    is tracklight run from --baseline-src)."""

    def __init__(self, label: str, backend: str, workroot: Path, source: Path | None) -> None:
        self.name = label
        kind = "tracklight" if label.startswith("tracklight") else label
        spec = SPECS[kind]
        self.workdir = workroot / label
        (self.workdir / "artifacts").mkdir(parents=True, exist_ok=True)
        self.db: Database = create_database(backend, label.replace("-", "_"), self.workdir)
        uri = self.db.uri_for(kind)
        log_path = self.workdir / "server.log"
        if source is not None:
            # That source's code, whatever .venv has installed: for `db upgrade` and the server.
            os.environ["PYTHONPATH"] = str(source)
        prep = spec.prepare(uri, backend)
        if prep:
            run_prepare(prep, self.workdir, log_path)
        self.port = free_port()
        argv = spec.command(uri, self.workdir / "artifacts", self.port)
        self.server = ServerProcess(spec, argv, self.workdir, log_path)
        self.server.extra_env = {"PYTHONPATH": str(source)} if source is not None else {}
        self.server.start()
        self.server.wait_healthy(self.port)
        self.server.remember_tree()
        self.argv = argv
        self.source = source

    def cpu(self) -> tuple[float, float]:
        """(server tree CPU s, database CPU s outside it)."""
        return tree_cpu_seconds(self.server.pid), self.db.cpu_seconds()

    def stop(self) -> None:
        self.server.stop()
        try:
            self.db.drop()
        except Exception as exc:  # noqa: BLE001 - report, keep cleaning up
            log(f"{self.name}: could not drop the database: {exc}")


def new_experiment(port: int) -> str:
    client = Client(port)
    try:
        name = f"sweep-{time.time_ns()}"
        return str(client.post(f"{API}/experiments/create", {"name": name})["experiment_id"])
    finally:
        client.close()


def create_runs(target: Target, runs: int, threads: int) -> dict[str, Any]:
    """`runs` runs/create calls from `threads` keep-alive connections into a fresh experiment."""
    exp = new_experiment(target.port)
    requests = [raw_post(target.port, f"{API}/runs/create", create_body(exp, i)) for i in range(runs)]
    lanes = [requests[t::threads] for t in range(threads)]
    acked: list[str] = []
    errors: list[str] = []
    lock = threading.Lock()
    start = threading.Barrier(threads + 1)

    def lane(mine: list[bytes]) -> None:
        client = RawClient(target.port)  # lean, so that the driver does not set the pace
        got: list[str] = []
        try:
            start.wait()
            for request in mine:
                try:
                    got.append(json.loads(client.post(request))["run"]["info"]["run_id"])
                except (ApiError, OSError) as exc:
                    with lock:
                        errors.append(str(exc)[:200])
                    client.close()
        finally:
            client.close()
            with lock:
                acked.extend(got)

    workers = [threading.Thread(target=lane, args=(m,), daemon=True) for m in lanes]
    for w in workers:
        w.start()
    cpu0, db0 = target.cpu()
    start.wait()
    t0 = time.perf_counter()
    for w in workers:
        w.join()
    wall = time.perf_counter() - t0
    cpu1, db1 = target.cpu()
    return {
        "runs": len(acked),
        "errors": len(errors),
        "first_error": errors[0] if errors else "",
        "seconds": wall,
        "runs_per_s": len(acked) / wall,
        "server_cpu_ms_per_run": (cpu1 - cpu0) / max(1, len(acked)) * 1000,
        "db_cpu_ms_per_run": (db1 - db0) / max(1, len(acked)) * 1000,
    }


def log_metrics(target: Target, calls: int) -> dict[str, Any]:
    """`calls` sequential runs/log-metric calls into a fresh run, each timed."""
    exp = new_experiment(target.port)
    client = Client(target.port)
    try:
        run_id = client.post(f"{API}/runs/create", create_body(exp, 0))["run"]["info"]["run_id"]
        ts0 = int(time.time() * 1000)
        bodies = [
            json.dumps(
                {
                    "run_id": run_id,
                    "run_uuid": run_id,
                    "key": "loss",
                    "value": 1 / (i + 1),
                    "timestamp": ts0 + i,
                    "step": i,
                }
            ).encode()
            for i in range(calls + 20)
        ]
        for body in bodies[:20]:  # warm-up: the series' first point, pooled connections
            client.post(f"{API}/runs/log-metric", body)
        lat: list[float] = []
        cpu0, db0 = target.cpu()
        for body in bodies[20:]:
            t0 = time.perf_counter()
            client.post(f"{API}/runs/log-metric", body)
            lat.append(time.perf_counter() - t0)
        cpu1, db1 = target.cpu()
    finally:
        client.close()
    return {
        "calls": len(lat),
        "p50_ms": (percentile(lat, 0.5) or 0) * 1000,
        "p99_ms": (percentile(lat, 0.99) or 0) * 1000,
        "server_cpu_ms_per_metric": (cpu1 - cpu0) / max(1, len(lat)) * 1000,
        "db_cpu_ms_per_metric": (db1 - db0) / max(1, len(lat)) * 1000,
    }


def median(samples: list[dict[str, Any]], key: str) -> float:
    return statistics.median(s[key] for s in samples)


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--backend", choices=("sqlite", "postgresql"), default="sqlite")
    parser.add_argument("--servers", default="tracklight,fml", help="comma list of tracklight and fml")
    parser.add_argument("--runs", type=int, default=1900, help="runs created per phase (default 1900)")
    parser.add_argument("--threads", default="1,8", help="client threads per create phase (default 1,8)")
    parser.add_argument("--metrics", type=int, default=500, help="log-metric calls per phase (default 500)")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--warmup", type=int, default=400, help="untimed runs created first (default 400)")
    parser.add_argument("--keep", action="store_true", help="keep the work directory (databases, logs)")
    parser.add_argument(
        "--tracklight-src",
        type=Path,
        default=ROOT / "src",
        help="the tracklight package's source directory to run (default: this checkout's src)",
    )
    parser.add_argument(
        "--baseline-src",
        type=Path,
        help="also run tracklight from this source directory, as 'tracklight-before', interleaved with the "
        "others (e.g. an older commit: `git archive <commit> src | tar -x -C /tmp/base`, then /tmp/base/src)",
    )
    args = parser.parse_args()
    names = [n.strip() for n in args.servers.split(",") if n.strip()]
    sources: dict[str, Path | None] = {
        n: (args.tracklight_src.resolve() if n == "tracklight" else None) for n in names
    }
    if args.baseline_src is not None:
        names.append("tracklight-before")
        sources["tracklight-before"] = args.baseline_src.resolve()
    thread_counts = [int(t) for t in args.threads.split(",")]

    workroot = Path(tempfile.mkdtemp(prefix="tl-writepath-"))
    atexit.register(stop_all_started)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(1))
    targets: list[Target] = []
    samples: dict[tuple[str, str], list[dict[str, Any]]] = {}
    try:
        for name in names:
            targets.append(Target(name, args.backend, workroot, sources[name]))
            log(f"{name} up on port {targets[-1].port}: {' '.join(targets[-1].argv)}")
        # Untimed: a fresh SQLite file's WAL grows (a costlier sync) until its first checkpoint, pools
        # fill, caches warm; the repeats then measure the steady state.
        for t in targets:
            create_runs(t, args.warmup, 4)
            log_metrics(t, 50)
        log(f"machine busy {busy_fraction(1.0):.0%}, load {loadavg()}")
        for rep in range(args.repeat):
            order = targets if rep % 2 == 0 else targets[::-1]
            for threads in thread_counts:
                for t in order:
                    r = create_runs(t, args.runs, threads)
                    samples.setdefault((t.name, f"create{threads}"), []).append(r)
                    log(
                        f"rep {rep + 1} {t.name} create x{threads}: {r['runs_per_s']:.0f} runs/s, "
                        f"{r['server_cpu_ms_per_run']:.2f} ms CPU/run, db {r['db_cpu_ms_per_run']:.2f}, "
                        f"errors {r['errors']} {r['first_error']}"
                    )
            for t in order:
                m = log_metrics(t, args.metrics)
                samples.setdefault((t.name, "metric"), []).append(m)
                log(
                    f"rep {rep + 1} {t.name} log-metric: p50 {m['p50_ms']:.3f} ms, p99 {m['p99_ms']:.3f} ms, "
                    f"{m['server_cpu_ms_per_metric']:.3f} ms CPU/metric, db {m['db_cpu_ms_per_metric']:.3f}"
                )
        log(f"machine load at the end {loadavg()}")
    finally:
        for t in targets:
            t.stop()
        if args.keep:
            log(f"kept {workroot}")
        else:
            shutil.rmtree(workroot, ignore_errors=True)

    rows: list[tuple[str, str, dict[str, float]]] = []
    for threads in thread_counts:
        key = f"create{threads}"
        rows.append((f"runs/create, {threads} thread(s), runs/s", "runs_per_s", {}))
        rows.append((f"  server CPU ms per run ({threads} thr)", "server_cpu_ms_per_run", {}))
        rows.append((f"  DB CPU ms per run ({threads} thr)", "db_cpu_ms_per_run", {}))
        for _label, field, cells in rows[-3:]:
            for n in names:
                cells[n] = median(samples[(n, key)], field)
    for label, field in (
        ("log-metric p50, ms", "p50_ms"),
        ("log-metric p99, ms", "p99_ms"),
        ("  server CPU ms per metric", "server_cpu_ms_per_metric"),
        ("  DB CPU ms per metric", "db_cpu_ms_per_metric"),
    ):
        rows.append((label, field, {n: median(samples[(n, "metric")], field) for n in names}))

    print(
        f"\nwrite path, {args.backend}, medians of {args.repeat} repeats ({args.runs} runs a phase, {args.metrics} metrics)\n"
    )
    peer = "fml" if "fml" in names else None
    ours = [n for n in names if n != "fml"]
    ratio_names = [f"{n}/fml" for n in ours] if peer else []
    print(f"| {'measure':<42} | " + " | ".join(f"{n:>17}" for n in names + ratio_names) + " |")
    print("|" + "-" * 44 + "|" + "|".join("-" * 19 for _ in names + ratio_names) + "|")
    for label, _field, cells in rows:
        values = [cells[n] for n in names]
        if peer:
            base = cells[peer]
            values += [cells[n] / base if base else float("nan") for n in ours]
        print(f"| {label:<42} | " + " | ".join(f"{v:>17.3f}" for v in values) + " |")
    RESULTS.mkdir(exist_ok=True)
    out = RESULTS / f"{time.strftime('%Y%m%dT%H%M%SZ', time.gmtime())}-writepath-{args.backend}.json"
    out.write_text(
        json.dumps(
            {
                "args": {k: str(v) for k, v in vars(args).items()},
                "commands": {t.name: " ".join(t.argv) for t in targets},
                "sources": {n: str(src) for n, src in sources.items()},
                "samples": {f"{n}/{phase}": v for (n, phase), v in samples.items()},
                "medians": {label: cells for label, _f, cells in rows},
            },
            indent=1,
        )
    )
    log(f"wrote {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
