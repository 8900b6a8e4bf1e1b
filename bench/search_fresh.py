"""The filtered runs/search alone, side by side, before and after ANALYZE (bench/run.py's measure 5).

Each server gets a fresh database loaded as bench/run.py loads it (runs with 10 metrics x 1000
steps, the 100,000-point series, the log-metric calls, filler runs up to 2000 with params, tags and
m0/m1), one server at a time. Then all servers are up at once and take turns in blocks of requests,
so load from elsewhere on the machine falls on each alike; on PostgreSQL the tables have never been
analyzed for the first round, and a second round follows an ANALYZE.

    python bench/search_fresh.py --backend postgresql --servers tracklight,fml
    python bench/search_fresh.py --backend postgresql --baseline-src /tmp/base/src   # before/after
    python bench/search_fresh.py --backend postgresql --keep          # keep the loaded databases
    python bench/search_fresh.py --backend postgresql --reuse tracklight=DB,fml=DB

--baseline-src adds a second Tracklight, "baseline", run from another source tree (for instance
`git archive <commit> src | tar -x -C /tmp/base`) on a copy of Tracklight's loaded database.
--reuse starts each server on a copy of a database kept by --keep (PostgreSQL: CREATE DATABASE ...
TEMPLATE, so the copy is as unanalyzed as the original; SQLite: the file), so a run takes seconds
instead of minutes.
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

    def __init__(self, server: str, template: str) -> None:
        # Not PostgresDb.__init__, which creates the database empty.
        self.name = f"tlbench_{server}_{os.getpid()}_{int(time.time())}"
        _psql(f"DROP DATABASE IF EXISTS {self.name} WITH (FORCE)")
        _psql(f"CREATE DATABASE {self.name} TEMPLATE {template}")


class CopiedSqliteDb(SqliteDb):
    """A SQLite file copied from a loaded one."""

    def __init__(self, workdir: Path, server: str, source: Path) -> None:
        super().__init__(workdir, server)
        copy_sqlite(source, self.path)


def copy_sqlite(source: Path, target: Path) -> None:
    for suffix in ("", "-wal"):
        if Path(f"{source}{suffix}").exists():
            shutil.copyfile(f"{source}{suffix}", f"{target}{suffix}")


@dataclass
class Subject:
    name: str  # as reported
    server_name: str  # which server (SPECS)
    db: Database
    workdir: Path
    extra_env: dict[str, str] = field(default_factory=dict)
    server: ServerProcess | None = None
    port: int = 0
    experiment: str = ""
    times: dict[str, list[float]] = field(default_factory=dict)
    hits: int | None = None

    def start(self) -> None:
        spec = SPECS[self.server_name]
        self.port = free_port()
        argv = spec.command(self.db.uri_for(self.server_name), self.workdir / "artifacts", self.port)
        self.server = ServerProcess(
            spec, argv, self.workdir, self.workdir / "server.log", extra_env=self.extra_env
        )
        self.server.start()
        self.server.wait_healthy(self.port)

    def prepare(self, backend: str) -> None:
        prep = SPECS[self.server_name].prepare(self.db.uri_for(self.server_name), backend)
        if prep:
            run_prepare(prep, self.workdir, self.workdir / "server.log")

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


def _subject(
    name: str,
    server_name: str,
    workroot: Path,
    backend: str,
    reuse: str | None,
    copy_of: Database | None = None,
) -> Subject:
    workdir = workroot / name
    (workdir / "artifacts").mkdir(parents=True)
    db: Database
    if isinstance(copy_of, PostgresDb):
        db = CopiedPostgresDb(name, copy_of.name)
    elif isinstance(copy_of, SqliteDb):
        db = CopiedSqliteDb(workdir, server_name, copy_of.path)
    elif copy_of is not None:
        raise SystemExit(f"--baseline-src needs PostgreSQL or SQLite, not {backend}")
    elif reuse and backend == "postgresql":
        db = CopiedPostgresDb(name, reuse)
    elif reuse and backend == "sqlite":
        db = CopiedSqliteDb(workdir, server_name, Path(reuse))
    elif reuse:
        raise SystemExit(f"--reuse needs PostgreSQL or SQLite, not {backend}")
    else:
        db = create_database(backend, server_name, workdir)
    return Subject(name, server_name, db, workdir)


def _keep(db: Database, name: str) -> str:
    """A copy of the loaded database that outlives this run (for --reuse)."""
    if isinstance(db, PostgresDb):
        kept = f"{db.name}_kept"
        _psql(f"CREATE DATABASE {kept} TEMPLATE {db.name}")
        return kept
    assert isinstance(db, SqliteDb)
    kept_path = Path(tempfile.gettempdir()) / f"{name}-{os.getpid()}-kept.db"
    copy_sqlite(db.path, kept_path)
    return str(kept_path)


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
    ap.add_argument("--reuse", default="", help="server=database (or SQLite file),... kept by --keep")
    ap.add_argument("--no-analyze", action="store_true", help="skip the round after ANALYZE")
    ap.add_argument("--baseline-src", default="", help="also run Tracklight from this src directory")
    args = ap.parse_args()

    names = [n.strip() for n in args.servers.split(",") if n.strip()]
    reuse = dict(item.split("=", 1) for item in args.reuse.split(",") if item)
    workroot = Path(tempfile.mkdtemp(prefix="tl-search-fresh-"))
    subjects: list[Subject] = []
    kept: dict[str, str] = {}
    try:
        for name in names:
            s = _subject(name, name, workroot, args.backend, reuse.get(name))
            subjects.append(s)
            s.prepare(args.backend)
            s.start()
            if name in reuse:
                s.experiment = experiment_of(s.port)
                continue
            load(s, args.ingest_runs, args.total_runs)
            if args.keep and isinstance(s.db, (PostgresDb, SqliteDb)):
                s.stop()  # a copy now, before any read could be followed by an ANALYZE
                kept[name] = _keep(s.db, name)
                s.start()
        if args.baseline_src and "tracklight" in names:
            own = next(s for s in subjects if s.name == "tracklight")
            own.stop()  # PostgreSQL copies only a database nobody is connected to
            base = _subject("baseline", "tracklight", workroot, args.backend, None, copy_of=own.db)
            base.extra_env = {"PYTHONPATH": str(Path(args.baseline_src).resolve())}
            subjects.insert(subjects.index(own), base)
            own.start()
            base.start()
            base.experiment = own.experiment
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
    for s in subjects:
        if base is None or s.name == base:
            continue
        for label, p50 in result[s.name].items():
            if label != "hits":
                ratio = p50 / result[base][label]
                print(
                    f"{label:9s} {s.name:10s} {p50:7.2f} ms   {base} {result[base][label]:7.2f} ms   ratio {ratio:.2f}"
                )
    return 0


if __name__ == "__main__":
    sys.exit(main())
