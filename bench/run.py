"""Side-by-side benchmark of tracklight, mlflow and fasttrackml (fml) on the same backend; see bench/README.md."""

from __future__ import annotations

import argparse
import atexit
import json
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import report  # noqa: E402
import workload  # noqa: E402
from backends import Database, create_database  # noqa: E402
from procfs import busy_fraction, loadavg, machine_busy_seconds, machine_info, tree_cpu_seconds, tree_memory  # noqa: E402
from servers import (  # noqa: E402
    BEFORE,
    FML_BIN,
    MLFLOW_BIN,
    PEER_VENV,
    QUIET_ENV,
    ROOT,
    SPECS,
    TRACKLIGHT_BIN,
    ServerProcess,
    ServerSpec,
    baseline_spec,
    free_port,
    run_prepare,
    stop_all_started,
)

BENCH = Path(__file__).resolve().parent
RESULTS = BENCH / "results"
MB = 1024 * 1024


@dataclass
class Config:
    """Sizes and time caps; --quick shrinks the ingest to 20 runs and the repetition counts."""

    backend: str
    servers: list[str]
    quick: bool
    analyze: bool = True  # refresh planner statistics before the reads (PostgreSQL), for every server
    ingest_runs: int = 100
    keys: int = 10
    steps: int = 1000
    batch: int = 1000
    threads: int = 4
    ingest_cap_s: float = 300.0
    mlflow_ingest_cap_s: float = 60.0
    series_points: int = 100_000
    series_cap_s: float = 120.0
    latency_calls: int = 500
    latency_cap_s: float = 60.0
    total_runs: int = 2000
    runs_cap_s: float = 300.0
    starts: int = 3
    search_reps: int = 20
    listing_reps: int = 5
    client_listing_reps: int = 9  # the client's own full GC passes land in some listings and not others
    create_runs: int = 1900  # runs/create throughput: this many runs into a fresh experiment per thread count
    create_threads: tuple[int, ...] = (1, 8)
    create_cap_s: float = 120.0
    mlflow_create_cap_s: float = 60.0
    history_reps: int = 5
    bulk_reps: int = 20
    read_cap_s: float = 60.0
    wait_quiet_s: float = 90.0

    @classmethod
    def make(cls, backend: str, servers: list[str], quick: bool) -> Config:
        cfg = cls(backend=backend, servers=servers, quick=quick)
        if quick:
            cfg.ingest_runs = 20
            cfg.ingest_cap_s = 120.0
            cfg.mlflow_ingest_cap_s = 30.0
            cfg.runs_cap_s = 180.0
            cfg.search_reps, cfg.listing_reps, cfg.history_reps, cfg.bulk_reps = 10, 3, 3, 10
            cfg.client_listing_reps = 5
            cfg.create_cap_s, cfg.mlflow_create_cap_s = 60.0, 30.0
            cfg.read_cap_s = 30.0
        return cfg


def log(msg: str) -> None:
    print(f"[{datetime.now():%H:%M:%S}] {msg}", file=sys.stderr, flush=True)


def ensure_peer_venv(servers: list[str]) -> None:
    """Create or update .venv-bench (mlflow, fasttrackml, DB drivers from PyPI) when the peer list changed."""
    if not {"mlflow", "fml"} & set(servers):
        return
    reqs = BENCH / "requirements-peers.txt"
    stamp = PEER_VENV / ".bench-requirements"
    wanted = reqs.read_text()
    have_bins = MLFLOW_BIN.exists() and FML_BIN.exists()
    if have_bins and stamp.exists() and stamp.read_text() == wanted:
        return
    log(f"installing the peers into {PEER_VENV} from {reqs.name} ...")
    if not (PEER_VENV / "bin" / "python").exists():
        subprocess.run([sys.executable, "-m", "venv", str(PEER_VENV)], check=True, timeout=300)
    pip = [str(PEER_VENV / "bin" / "python"), "-m", "pip", "install", "--quiet"]
    subprocess.run([*pip, "--upgrade", "pip"], check=True, timeout=600)
    subprocess.run([*pip, "-r", str(reqs)], check=True, timeout=1800)
    stamp.write_text(wanted)


def _out(argv: list[str]) -> str:
    try:
        return subprocess.run(argv, capture_output=True, text=True, timeout=60).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return "unknown"


def server_version(name: str) -> str:
    meta = "import importlib.metadata as m, sys; print(m.version(sys.argv[1]))"
    if name == "tracklight":
        rev = _out(["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"])
        dirty = (
            " + uncommitted changes" if _out(["git", "-C", str(ROOT), "status", "--porcelain", "src"]) else ""
        )
        return f"{_out([str(TRACKLIGHT_BIN.parent / 'python'), '-c', meta, 'tracklight'])} (git {rev}{dirty}, {ROOT / 'src'})"
    if name == BEFORE:
        return f"from {SPECS[BEFORE].env['PYTHONPATH']}"
    if name == "mlflow":
        return _out([str(PEER_VENV / "bin" / "python"), "-c", meta, "mlflow"])
    return _out([str(FML_BIN), "--version"])


class RssSampler(threading.Thread):
    """Samples the RSS of a process tree every `interval` s and keeps the peak."""

    def __init__(self, root: int, interval: float = 0.2) -> None:
        super().__init__(daemon=True)
        self.root, self.interval = root, interval
        self.peak_rss = self.peak_pss = 0
        self._stop_evt = threading.Event()

    def run(self) -> None:
        while not self._stop_evt.wait(self.interval):
            rss, pss, _ = tree_memory(self.root)
            self.peak_rss, self.peak_pss = max(self.peak_rss, rss), max(self.peak_pss, pss)

    def finish(self) -> None:
        self._stop_evt.set()
        self.join(timeout=5)


def _show_cmd(argv: list[str]) -> str:
    return " ".join(argv)


class ServerBench:
    """Everything measured for one server on one fresh database."""

    def __init__(self, spec: ServerSpec, cfg: Config, workroot: Path) -> None:
        self.spec, self.cfg = spec, cfg
        self.workdir = workroot / spec.name
        self.artifacts = self.workdir / "artifacts"
        self.artifacts.mkdir(parents=True, exist_ok=True)
        self.log_path = self.workdir / "server.log"
        self.figures: dict[str, float | None] = {}
        self.details: dict[str, Any] = {"version": server_version(spec.name)}
        self.server: ServerProcess | None = None
        self.port = 0
        self.idle_cpu_rate = 0.0

    # -- process handling -------------------------------------------------------------------------
    def _start(self, db: Database) -> float:
        self.port = free_port()
        argv = self.spec.command(db.uri_for(self.spec.name), self.artifacts, self.port)
        self.details["command"] = _show_cmd(argv)
        self.server = ServerProcess(self.spec, argv, self.workdir, self.log_path)
        self.server.start()
        took = self.server.wait_healthy(self.port)
        self.server.remember_tree()
        return took

    def _stop(self) -> None:
        if self.server is not None:
            self.server.stop()
            self.server = None

    # -- the run ----------------------------------------------------------------------------------
    def run(self) -> None:
        cfg, name = self.cfg, self.spec.name
        db = create_database(cfg.backend, name, self.workdir)
        try:
            self.details["database"] = db.uri_for(name)
            self.details["env_added"] = QUIET_ENV
            self.details["machine_busy_before"] = wait_quiet(cfg.wait_quiet_s)
            self.details["loadavg_before"] = loadavg()
            prep = self.spec.prepare(db.uri_for(name), cfg.backend)
            if prep:
                self.details["prepare_command"] = _show_cmd(prep)
                t0 = time.monotonic()
                run_prepare(prep, self.workdir, self.log_path, env=self.spec.env)
                self.details["prepare_s"] = round(time.monotonic() - t0, 2)
            log(f"{name}: first start on an empty database")
            self.details["first_start_s"] = round(self._start(db), 3)
            self._stop()
            baseline = db.size_bytes()
            self.details["baseline_db_bytes"] = baseline

            starts = []
            for i in range(cfg.starts):
                starts.append(self._start(db))
                log(f"{name}: start {i + 1}/{cfg.starts}: {starts[-1]:.3f} s")
                if i < cfg.starts - 1:
                    self._stop()
            self.details["starts_s"] = [round(s, 3) for s in starts]
            self.figures["start_s"] = statistics.median(starts)

            assert self.server is not None
            # Idle means idle: let lazily starting workers finish (mlflow answers /health from its first worker).
            self.details["idle_settle_s"] = round(
                settle(self.server.pid, 0.0, max_wait=30.0, min_wait=3.0), 2
            )
            mem = []
            for _ in range(3):
                mem.append(tree_memory(self.server.pid))
                time.sleep(0.3)
            self.figures["idle_rss_mb"] = statistics.median(m[0] for m in mem) / MB
            self.details["idle_pss_mb"] = round(statistics.median(m[1] for m in mem) / MB, 1)
            self.details["idle_processes"] = mem[-1][2]
            c0, t0 = tree_cpu_seconds(self.server.pid), time.monotonic()
            time.sleep(3.0)
            self.idle_cpu_rate = (tree_cpu_seconds(self.server.pid) - c0) / (time.monotonic() - t0)
            self.details["idle_cpu_share_of_one_cpu"] = round(self.idle_cpu_rate, 3)

            points = self._workloads(db)

            self._stop()
            final = db.size_bytes()
            self.details["final_db_bytes"] = final
            self.details["metric_points_stored"] = points
            if points:
                self.figures["bytes_per_point"] = (final - baseline) / points

            # runs/create last, on a restarted server, so its runs do not count in the store size.
            self._start(db)
            assert self.server is not None
            settle(self.server.pid, self.idle_cpu_rate, max_wait=30.0, min_wait=1.0)
            self._create_throughput()
        finally:
            self._stop()
            try:
                db.drop()
            except Exception as exc:  # noqa: BLE001 - report, keep cleaning up
                log(f"{name}: could not drop the database: {exc}")

    def _workloads(self, db: Database) -> int:
        cfg, name, port = self.cfg, self.spec.name, self.port
        assert self.server is not None
        pid = self.server.pid
        exp = workload.create_experiment(port, f"bench-{int(time.time())}")

        # Runs for the ingest, plus one for the long series; params and tags logged here, untimed.
        log(f"{name}: creating {cfg.ingest_runs + 1} runs for the ingest")
        ingest_ids, info = workload.create_runs(
            port, exp, 0, cfg.ingest_runs + 1, cfg.threads, cfg.runs_cap_s, False
        )
        self.details["ingest_runs_create"] = info
        if len(ingest_ids) < 2:
            raise RuntimeError(f"could not create runs: {info}")
        series_run, ingest_ids = ingest_ids[-1], ingest_ids[:-1]

        # 3. ingest
        cap = cfg.mlflow_ingest_cap_s if name == "mlflow" else cfg.ingest_cap_s
        log(f"{name}: ingest {len(ingest_ids)} runs × {cfg.keys} keys × {cfg.steps} steps (cap {cap:.0f} s)")
        sampler = RssSampler(pid)
        sampler.start()
        cpu0, db0, client0 = tree_cpu_seconds(pid), db.cpu_seconds(), time.process_time()
        busy0 = machine_busy_seconds()
        ing = workload.ingest(port, ingest_ids, cfg.keys, cfg.steps, cfg.batch, cfg.threads, cap)
        client1 = time.process_time()
        ing["settle_s"] = round(
            settle(pid, self.idle_cpu_rate), 2
        )  # work a server deferred past its last response still counts
        cpu1, db1 = tree_cpu_seconds(pid), db.cpu_seconds()
        busy1 = machine_busy_seconds()
        sampler.finish()
        ing["verify_points"] = workload.count_history(port, ingest_ids[0], f"m{cfg.keys - 1}")
        server_cpu, db_cpu, client_cpu = cpu1 - cpu0, db1 - db0, client1 - client0
        other = max(0.0, (busy1 - busy0) - server_cpu - db_cpu - client_cpu)
        ing.update(
            server_cpu_s=round(server_cpu, 2),
            db_cpu_s=round(db_cpu, 2),
            client_cpu_s=round(client_cpu, 2),
            other_cpu_share=round(other / (max(ing["seconds"], 1e-9) * (os.cpu_count() or 1)), 3),
            peak_pss_mb=round(sampler.peak_pss / MB, 1),
        )
        self.details["ingest"] = ing
        points = ing["points"]
        if points:
            self.figures["ingest_pps"] = points / ing["seconds"]
            self.figures["cpu_per_1k"] = (server_cpu + db_cpu) / points * 1000
        self.figures["loaded_rss_mb"] = sampler.peak_rss / MB
        log(f"{name}: ingest {points:,} points in {ing['seconds']:.1f} s, errors {ing['errors']}")

        # The 100k-point series for get-history.
        log(f"{name}: logging the {cfg.series_points:,}-point series")
        series = workload.log_series(
            port, series_run, "long", cfg.series_points, cfg.batch, cfg.threads, cfg.series_cap_s
        )
        self.details["series"] = series
        points += series["points"]

        # 4. single log-metric latency
        log(f"{name}: {cfg.latency_calls} sequential log-metric calls")
        lat = workload.log_metric_latency(port, ingest_ids[0], cfg.latency_calls, cfg.latency_cap_s)
        self.details["log_metric"] = lat
        self.figures["log_metric_p50_ms"] = lat["p50_ms"]
        self.figures["log_metric_p99_ms"] = lat["p99_ms"]
        points += lat["calls"]

        # 5. fill the experiment up to total_runs runs (each with params, tags and metrics m0, m1)
        have = len(ingest_ids) + 1
        more = max(0, cfg.total_runs - have)
        log(f"{name}: creating {more} more runs (to {cfg.total_runs})")
        filler, info = workload.create_runs(port, exp, have, more, cfg.threads, cfg.runs_cap_s, True)
        self.details["filler_runs_create"] = info
        points += 2 * len(filler)
        self.details["runs_in_experiment"] = have + len(filler)
        self.server.remember_tree()

        # 5a. on the tables as written; 5b. (PostgreSQL) again after ANALYZE, as autovacuum would leave them
        log(f"{name}: filtered search (tables as written)")
        res = workload.timed_reps(workload.search_filtered(exp), port, cfg.search_reps, cfg.read_cap_s)
        self.details["search"] = res
        self.figures["search_p50_ms"] = res["p50_ms"]
        self.details["analyzed"] = self.cfg.analyze and db.refresh_statistics()
        if self.details["analyzed"]:
            log(f"{name}: ANALYZE (what autovacuum would have done by now; --no-analyze skips it)")
            log(f"{name}: filtered search (after ANALYZE)")
            res = workload.timed_reps(workload.search_filtered(exp), port, cfg.search_reps, cfg.read_cap_s)
            self.details["search_analyzed"] = res
            self.figures["search_analyzed_p50_ms"] = res["p50_ms"]

        # 6. full listing, over HTTP and through the stock client
        log(f"{name}: full listing")
        res = workload.timed_reps(workload.list_all_runs(exp), port, cfg.listing_reps, cfg.read_cap_s * 2)
        self.details["listing"] = res
        self.figures["listing_p50_ms"] = res["p50_ms"]
        log(f"{name}: full listing through the stock client")
        res = client_listing(port, exp, cfg.client_listing_reps, cfg.read_cap_s * 2)
        self.details["client_listing"] = res
        self.figures["client_listing_p50_ms"] = res.get("p50_ms")

        # 7. get-history of the long series
        log(f"{name}: get-history")
        res = workload.timed_reps(
            workload.get_history(series_run, "long"), port, cfg.history_reps, cfg.read_cap_s
        )
        self.details["history"] = res
        self.figures["history_p50_ms"] = res["p50_ms"]

        # 8. get-history-bulk-interval
        if self.spec.has_bulk_interval:
            log(f"{name}: get-history-bulk-interval")
            res = workload.timed_reps(
                workload.bulk_interval(ingest_ids[:10], "m0"), port, cfg.bulk_reps, cfg.read_cap_s
            )
            self.details["bulk_interval"] = res
            self.figures["bulk_p50_ms"] = res["p50_ms"]
        else:
            self.details["bulk_interval"] = "n/a: no such endpoint"
        self.details["loadavg_after"] = loadavg()
        return points

    def _create_throughput(self) -> None:
        """runs/create from 1 and from 8 client threads, each into a fresh experiment."""
        cfg, name = self.cfg, self.spec.name
        cap = cfg.mlflow_create_cap_s if name == "mlflow" else cfg.create_cap_s
        for threads in cfg.create_threads:
            exp = workload.create_experiment(self.port, f"create-{threads}t-{int(time.time())}")
            log(f"{name}: runs/create × {cfg.create_runs} from {threads} thread(s) (cap {cap:.0f} s)")
            res = workload.create_runs_throughput(self.port, exp, cfg.create_runs, threads, cap)
            self.details[f"create_{threads}t"] = res
            self.figures[f"create_{threads}t_rps"] = res["runs_per_s"]


def client_listing(port: int, exp_id: str, reps: int, cap: float) -> dict[str, Any]:
    """The full listing through the stock MLflow client, in a subprocess with .venv's python."""
    python = TRACKLIGHT_BIN.parent / "python"
    argv = [
        str(python),
        str(BENCH / "client_listing.py"),
        "--url",
        f"http://127.0.0.1:{port}",
        "--experiment",
        exp_id,
        "--reps",
        str(reps),
        "--cap",
        str(cap),
    ]
    env = {k: v for k, v in os.environ.items() if not k.startswith("MLFLOW_")}
    try:
        done = subprocess.run(
            argv, env={**env, **QUIET_ENV}, capture_output=True, text=True, timeout=cap + 180, check=False
        )
    except subprocess.TimeoutExpired:
        return {"error": "timed out"}
    lines = done.stdout.strip().splitlines()
    if done.returncode != 0 or not lines:
        return {"error": f"exit {done.returncode}: {done.stderr.strip()[-300:]}"}
    return dict(json.loads(lines[-1]))


def settle(pid: int, idle_rate: float, max_wait: float = 10.0, min_wait: float = 0.0) -> float:
    """Wait until the server tree is back near its idle CPU rate (+5% of a CPU), at most max_wait s."""
    t0 = time.monotonic()
    time.sleep(min_wait)
    last = tree_cpu_seconds(pid)
    while time.monotonic() - t0 < max_wait:
        time.sleep(0.25)
        now = tree_cpu_seconds(pid)
        if now - last < 0.25 * (idle_rate + 0.05):
            break
        last = now
    return time.monotonic() - t0


def wait_quiet(max_wait: float, threshold: float = 0.25) -> float:
    """Wait (at most max_wait s) until other work uses under `threshold` of the CPUs; returns the last share."""
    deadline = time.monotonic() + max_wait
    share = busy_fraction(2.0)
    while share >= threshold and time.monotonic() < deadline:
        log(f"machine {share:.0%} busy with other work; waiting for it to calm down")
        share = busy_fraction(5.0)
    return round(share, 3)


def bench_one(spec: ServerSpec, cfg: Config, workroot: Path) -> dict[str, Any]:
    b = ServerBench(spec, cfg, workroot)
    error = None
    try:
        b.run()
    except KeyboardInterrupt:
        raise
    except Exception as exc:  # noqa: BLE001 - one server failing must not lose the others' figures
        error = f"{type(exc).__name__}: {exc}"
        log(f"{spec.name}: FAILED: {error}")
    return {"figures": b.figures, "details": b.details, "error": error}


def _on_signal(signum: int, _frame: Any) -> None:
    raise KeyboardInterrupt(f"signal {signum}")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--backend", choices=["sqlite", "postgresql", "mysql"], default="sqlite")
    ap.add_argument(
        "--servers", default="tracklight,mlflow,fml", help="comma-separated: tracklight,mlflow,fml"
    )
    ap.add_argument("--quick", action="store_true", help="20 ingest runs instead of 100, fewer repetitions")
    ap.add_argument("--keep", action="store_true", help="keep the work directory (databases, server logs)")
    ap.add_argument(
        "--no-analyze",
        action="store_true",
        help="PostgreSQL: read from never-analyzed tables instead of running ANALYZE after the writes",
    )
    ap.add_argument(
        "--baseline-src",
        type=Path,
        metavar="DIR",
        help="also run tracklight from this source directory (the `src` of `git archive <commit> src | tar -x`),"
        " as 'tracklight-before', right after tracklight, with a ratio column against it",
    )
    ap.add_argument(
        "--wait-quiet",
        type=float,
        default=90.0,
        metavar="S",
        help="before each server, wait up to S seconds for other work to leave the CPUs (default 90)",
    )
    args = ap.parse_args(argv)

    servers = [s.strip() for s in args.servers.split(",") if s.strip()]
    unknown = [s for s in servers if s not in SPECS]
    if unknown:
        ap.error(f"unknown servers: {unknown}")
    skipped = [s for s in servers if args.backend not in SPECS[s].backends]
    for s in skipped:
        log(f"{s} does not support {args.backend}: skipped")
    servers = [s for s in servers if s not in skipped]
    if args.baseline_src is not None:
        SPECS[BEFORE] = baseline_spec(args.baseline_src.resolve())
        servers.insert(servers.index("tracklight") + 1 if "tracklight" in servers else 0, BEFORE)
    cfg = Config.make(args.backend, servers, args.quick)
    cfg.wait_quiet_s = args.wait_quiet
    cfg.analyze = not args.no_analyze

    # SIGINT too: a shell without job control starts background commands with SIGINT ignored.
    for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, _on_signal)
    atexit.register(stop_all_started)
    ensure_peer_venv(servers)

    started = datetime.now(UTC)
    machine = machine_info()
    workroot = Path(tempfile.mkdtemp(prefix=f"tracklight-bench-{args.backend}-"))
    log(f"work directory {workroot}; machine {machine}")
    results: dict[str, Any] = {}
    try:
        for name in servers:
            results[name] = bench_one(SPECS[name], cfg, workroot)
    except KeyboardInterrupt:
        workload.ABORT.set()
        log("interrupted: stopping servers and dropping databases")
        stop_all_started()
        return 130
    finally:
        stop_all_started()
        if not args.keep:
            shutil.rmtree(workroot, ignore_errors=True)

    columns = [*servers, *(s for s in ("tracklight", "mlflow", "fml") if s not in servers and s in skipped)]
    figures = {s: results.get(s, {}).get("figures", {}) for s in columns}
    table = report.rows(columns, figures, backend=args.backend)
    elapsed = (datetime.now(UTC) - started).total_seconds()
    doc = {
        "started": started.isoformat(timespec="seconds"),
        "elapsed_s": round(elapsed, 1),
        "backend": args.backend,
        "quick": args.quick,
        "machine": machine,
        "config": asdict(cfg),
        "servers": results,
        "table": [{k: v for k, v in row.items() if k != "cells"} for row in table],
    }
    RESULTS.mkdir(parents=True, exist_ok=True)
    out = RESULTS / f"{started:%Y%m%dT%H%M%SZ}-{args.backend}.json"
    out.write_text(json.dumps(doc, indent=2, default=str))

    print(f"\n### {args.backend}{' (quick)' if args.quick else ''}, {started:%Y-%m-%d %H:%M} UTC\n")
    print(
        f"Machine: {machine['nproc']} CPUs ({machine['cpu_model']}), {machine['ram_gib']} GiB RAM, "
        f"kernel {machine['kernel']}, load average at start {machine['loadavg_at_start']}\n"
    )
    print(
        report.markdown_table(
            columns, table, peers=("fml", "mlflow", *([BEFORE] if BEFORE in columns else []))
        )
    )
    print()
    for name in columns:
        r = results.get(name)
        if r is None:
            print(f"- **{name}**: not run ({args.backend} not supported)")
            continue
        d = r["details"]
        line = f"- **{name}** {d.get('version', '')}: `{d.get('command', '?')}`"
        if "prepare_command" in d:
            line += f" after `{d['prepare_command']}`"
        if r["error"]:
            line += f" — **error**: {r['error']}"
        print(line)
        notes = _notes(d)
        if notes:
            print(f"  - {notes}")
    print(f"\nDB CPU: {_cpu_note(args.backend)} Results: {out.relative_to(ROOT)} ({elapsed:.0f} s in all)")
    return 0


def _cpu_note(backend: str) -> str:
    return {
        "sqlite": "SQLite runs inside each server process, so its CPU is counted in the server's.",
        "postgresql": "all `postgres` processes (other sessions using this PostgreSQL add noise).",
        "mysql": "the mariadbd process.",
    }[backend]


def _notes(d: dict[str, Any]) -> str:
    parts = []
    ing = d.get("ingest") or {}
    if ing:
        parts.append(
            f"ingest {ing['points']:,}/{ing['planned_points']:,} points in {ing['seconds']:.1f} s"
            f"{' (time cap)' if ing.get('capped') else ''}, server CPU {ing['server_cpu_s']} s, DB CPU {ing['db_cpu_s']} s, "
            f"client CPU {ing['client_cpu_s']} s, settle {ing['settle_s']} s, "
            f"first run's m9 history {ing['verify_points']} points, other processes {ing['other_cpu_share']:.0%} of the CPUs"
        )
    for key in ("ingest", "series", "filler_runs_create", "ingest_runs_create", "create_1t", "create_8t"):
        sec = d.get(key) or {}
        if isinstance(sec, dict) and sec.get("errors"):
            parts.append(f"{key}: {sec['errors']} errors, first: {sec['first_error']}")
    if d.get("machine_busy_before"):
        parts.append(f"machine {d['machine_busy_before']:.0%} busy before start")
    if "idle_processes" in d:
        parts.append(
            f"{d['idle_processes']} processes, idle PSS {d['idle_pss_mb']} MB, "
            f"idle CPU {d.get('idle_cpu_share_of_one_cpu', 0):.0%} of one CPU"
        )
    if "first_start_s" in d:
        parts.append(f"first start on empty DB {d['first_start_s']} s")
    if "runs_in_experiment" in d:
        parts.append(f"{d['runs_in_experiment']} runs")
    for key, what in (("search", "search hits"), ("history", "history"), ("listing", "listing")):
        sec = d.get(key)
        if isinstance(sec, dict) and sec.get("last") is not None:
            parts.append(f"{what}: {sec['last']}")
    cl = d.get("client_listing") or {}
    if cl.get("error"):
        parts.append(f"client listing failed: {cl['error']}")
    elif cl:
        parts.append(f"client listing ({cl.get('client')}): {cl.get('runs')} runs in {cl.get('pages')} pages")
    for threads in (1, 8):
        sec = d.get(f"create_{threads}t") or {}
        if sec.get("capped"):
            parts.append(f"runs/create {threads}t: time cap, {sec['runs']}/{sec['planned_runs']} runs")
    return "; ".join(parts)


if __name__ == "__main__":
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    sys.exit(main())
