"""The filtered runs/search alone, side by side, before and after ANALYZE (bench/run.py's measure 5).

Each server gets a fresh database loaded as bench/run.py loads it (runs with 10 metrics x 1000
steps, the 100,000-point series, the log-metric calls, filler runs up to 2000 with params, tags and
m0/m1), one server at a time. Then all servers are up at once and take turns in blocks of requests,
so load from elsewhere on the machine falls on each alike; on PostgreSQL the tables have never been
analyzed for the first round, and a second round follows an ANALYZE.

    python bench/search_fresh.py --backend postgresql --servers tracklight,fml
    python bench/search_fresh.py --backend postgresql --keep          # keep the loaded databases
    python bench/search_fresh.py --backend postgresql --reuse tracklight=DB,fml=DB

--reuse (PostgreSQL) starts each server on a copy (CREATE DATABASE ... TEMPLATE) of a database kept
by --keep, so the copy is as unanalyzed as the original and a run takes seconds instead of minutes.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import workload  # noqa: E402
from backends import Database, PostgresDb, SqliteDb, _psql, create_database  # noqa: E402
from client import Client  # noqa: E402
from servers import SPECS, ServerProcess, free_port, run_prepare, stop_all_started  # noqa: E402

KEYS, STEPS, BATCH, THREADS = 10, 1000, 1000, 4


def log(msg: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


class CopiedPostgresDb(PostgresDb):
    """A fresh PostgreSQL database copied from a loaded one (never analyzed if the original wasn't)."""

    def __init__(self, server: str, template: str) -> None:  # noqa: D107 - no super(): it creates empty
        self.name = f"tlbench_{server}_{os.getpid()}_{int(time.time())}"
        _psql(f"DROP DATABASE IF EXISTS {self.name} WITH (FORCE)")
        _psql(f"CREATE DATABASE {self.name} TEMPLATE {template}")


@dataclass
class Subject:
    name: str
    db: Database
    workdir: Path
    server: ServerProcess | None = None
    port: int = 0
    experiment: str = ""
    times: dict[str, list[float]] = field(default_factory=dict)
    hits: int | None = None

    def start(self) -> None:
        spec = SPECS[self.name]
        self.port = free_port()
        argv = spec.command(self.db.uri_for(self.name), self.workdir / "artifacts", self.port)
        self.server = ServerProcess(spec, argv, self.workdir, self.workdir / "server.log")
        self.server.start()
        self.server.wait_healthy(self.port)

    def stop(self) -> None:
        if self.server is not None:
            self.server.stop()
            self.server = None


def load(s: Subject, ingest_runs: int, total_runs: int) -> None:
    """The data bench/run.py writes before its filtered search, in the same order."""
    port = s.port
    s.experiment = workload.create_experiment(port, f"bench-{int(time.time())}")
    ids, _ = workload.create_runs(port, s.experiment, 0, ingest_runs + 1, THREADS, 600, False)
    series_run, ids = ids[-1], ids[:-1]
    ing = workload.ingest(port, ids, KEYS, STEPS, BATCH, THREADS, 900)
    workload.log_series(port, series_run, "long", 100_000, BATCH, THREADS, 300)
    workload.log_metric_latency(port, ids[0], 500, 120)
    more = max(0, total_runs - ingest_runs - 1)
    workload.create_runs(port, s.experiment, ingest_runs + 1, more, THREADS, 600, True)
    log(f"{s.name}: loaded experiment {s.experiment} ({ing['points']:,} ingest points)")


def experiment_of(port: int) -> str:
    client = Client(port)
    try:
        found = client.post(f"{workload.API}/experiments/search", {"max_results": 100})
    finally:
        client.close()
    names = [e for e in found["experiments"] if e["name"].startswith("bench-")]
    return str(names[0]["experiment_id"])


def measure(subjects: list[Subject], label: str, rounds: int, block: int) -> None:
    """`rounds` turns per server of `block` timed searches each, after one untimed warm-up."""
    clients = {s.name: Client(s.port) for s in subjects}
    calls = {s.name: workload.search_filtered(s.experiment) for s in subjects}
    try:
        for s in subjects:
            s.times[label] = []
            s.hits = calls[s.name](clients[s.name])
        for _ in range(rounds):
            for s in subjects:
                for _ in range(block):
                    t0 = time.perf_counter()
                    calls[s.name](clients[s.name])
                    s.times[label].append((time.perf_counter() - t0) * 1000)
    finally:
        for c in clients.values():
            c.close()


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--backend", default="postgresql", choices=("sqlite", "postgresql", "mysql"))
    ap.add_argument("--servers", default="tracklight,fml")
    ap.add_argument("--ingest-runs", type=int, default=100)
    ap.add_argument("--total-runs", type=int, default=2000)
    ap.add_argument("--rounds", type=int, default=10, help="turns per server (each a block of requests)")
    ap.add_argument("--block", type=int, default=5, help="requests per turn")
    ap.add_argument(
        "--keep", action="store_true", help="keep a copy of the loaded databases (PostgreSQL, SQLite)"
    )
    ap.add_argument("--reuse", default="", help="server=database,... kept by --keep (PostgreSQL)")
    ap.add_argument("--no-analyze", action="store_true", help="skip the round after ANALYZE")
    args = ap.parse_args()

    names = [n.strip() for n in args.servers.split(",") if n.strip()]
    reuse = dict(item.split("=", 1) for item in args.reuse.split(",") if item)
    workroot = Path(tempfile.mkdtemp(prefix="tl-search-fresh-"))
    subjects: list[Subject] = []
    kept: dict[str, str] = {}
    try:
        for name in names:
            workdir = workroot / name
            (workdir / "artifacts").mkdir(parents=True)
            if name in reuse:
                db: Database = CopiedPostgresDb(name, reuse[name])
            else:
                db = create_database(args.backend, name, workdir)
            s = Subject(name, db, workdir)
            subjects.append(s)
            prep = SPECS[name].prepare(db.uri_for(name), args.backend)
            if prep:
                run_prepare(prep, workdir, workdir / "server.log")
            s.start()
            if name in reuse:
                s.experiment = experiment_of(s.port)
            else:
                load(s, args.ingest_runs, args.total_runs)
                if args.keep and isinstance(db, (PostgresDb, SqliteDb)):
                    # A copy now, before any read could be followed by an ANALYZE.
                    s.stop()
                    if isinstance(db, PostgresDb):
                        kept[name] = f"{db.name}_kept"
                        _psql(f"CREATE DATABASE {kept[name]} TEMPLATE {db.name}")
                    else:
                        kept[name] = str(Path(tempfile.gettempdir()) / f"{name}-{os.getpid()}-kept.db")
                        for suffix in ("", "-wal"):
                            if Path(f"{db.path}{suffix}").exists():
                                shutil.copyfile(f"{db.path}{suffix}", f"{kept[name]}{suffix}")
                    s.start()
        measure(subjects, "fresh", args.rounds, args.block)
        if args.backend == "postgresql" and not args.no_analyze:
            for s in subjects:
                s.db.refresh_statistics()
            measure(subjects, "analyzed", args.rounds, args.block)
    finally:
        for s in subjects:
            s.stop()
            s.db.drop()
        stop_all_started()
        shutil.rmtree(workroot, ignore_errors=True)

    result: dict[str, dict[str, float]] = {}
    for s in subjects:
        result[s.name] = {label: statistics.median(t) for label, t in s.times.items()}
        result[s.name]["hits"] = s.hits or 0
    print(json.dumps({"backend": args.backend, "p50_ms": result, "kept": kept}, indent=1))
    base = "fml" if "fml" in result else ("mlflow" if "mlflow" in result else None)
    if base and "tracklight" in result:
        for label in subjects[0].times:
            ratio = result["tracklight"][label] / result[base][label]
            print(
                f"{label:9s} tracklight {result['tracklight'][label]:7.2f} ms   {base} "
                f"{result[base][label]:7.2f} ms   ratio {ratio:.2f}"
            )
    return 0


if __name__ == "__main__":
    sys.exit(main())
