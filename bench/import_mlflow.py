"""Benchmark `tracklight import-mlflow`: points per second and peak memory, on SQLite and PostgreSQL.

An MLflow store of N runs and M metric points is built quickly: `mlflow db upgrade` (.venv-bench) creates
MLflow's schema, then the rows go straight into MLflow's tables (executemany on SQLite, COPY on
PostgreSQL). The import then runs as its own process under `nice`, and os.wait4 reports its CPU time
and peak RSS. Two sizes are imported, the small one first, so peak RSS can be compared across a 10x
larger store; a second import of the big one measures the "nothing new" pass.

    .venv/bin/python bench/import_mlflow.py --backends sqlite,postgresql --runs 1000 --points 10000000
    .venv/bin/python bench/import_mlflow.py --tracklight-src /tmp/base/src   # an older tree, for before/after
"""

from __future__ import annotations

import argparse
import io
import json
import os
import sqlite3
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

from backends import Database, PostgresDb, create_database
from procfs import machine_info

ROOT = Path(__file__).resolve().parents[1]
TRACKLIGHT = ROOT / ".venv" / "bin" / "tracklight"
MLFLOW = ROOT / ".venv-bench" / "bin" / "mlflow"
SRC = ROOT / "src"  # the tracklight tree that imports (--tracklight-src)
KEYS = 10  # metric keys per run
PARAMS = 5  # params per run


def _mlflow_uri(db: Database) -> str:
    uri = db.uri_for("tracklight")
    return "postgresql+psycopg2://" + uri[len("postgresql://") :] if uri.startswith("postgresql://") else uri


def _run_rows(runs: int, experiment_id: int, now: int) -> list[tuple]:
    rows = []
    for i in range(runs):
        run_id = uuid.UUID(int=i + 1).hex
        rows.append(
            (
                run_id,
                f"run-{i}",
                "LOCAL",
                "bench.py",
                "",
                "bench",
                "FINISHED",
                now + i,
                now + i + 60_000,
                "",
                "active",
                f"mlflow-artifacts:/{experiment_id}/{run_id}/artifacts",
                experiment_id,
            )
        )
    return rows


def _points(run_ids: list[str], per_run: int, now: int):  # noqa: ANN202 - a generator of tuples
    """Run after run, each one's keys and steps in order: the layout runs logged one after another leave."""
    steps = per_run // KEYS
    for run_id in run_ids:
        for k in range(KEYS):
            key = f"metric_{k}"
            for step in range(steps):
                nan = step % 1000 == 999
                yield (key, 0.0 if nan else step * 0.001 + k, now + step, run_id, step, nan)


_RUNS_SQL = (
    "INSERT INTO runs (run_uuid, name, source_type, source_name, entry_point_name, user_id, status, "
    "start_time, end_time, source_version, lifecycle_stage, artifact_uri, experiment_id) "
    "VALUES ({})".format(",".join(["{p}"] * 13))
)


def build_source(db: Database, runs: int, points: int) -> float:
    """MLflow's schema by `mlflow db upgrade`, then the rows written directly; returns seconds taken."""
    started = time.monotonic()
    subprocess.run([str(MLFLOW), "db", "upgrade", _mlflow_uri(db)], check=True, capture_output=True)
    now = 1_700_000_000_000
    run_rows = _run_rows(runs, 1, now)
    run_ids = [r[0] for r in run_rows]
    experiment = (1, "bench", "mlflow-artifacts:/1", "active", now, now)
    params = [(f"param_{p}", str(p), r) for r in run_ids for p in range(PARAMS)]
    tags = [(t, v, r) for r in run_ids for t, v in (("mlflow.runName", r[:8]), ("mlflow.user", "bench"))]
    if isinstance(db, PostgresDb):
        import psycopg2

        conn = psycopg2.connect(db.uri_for("tracklight"))
        with conn, conn.cursor() as cur:
            cur.execute(
                "INSERT INTO experiments (experiment_id, name, artifact_location, lifecycle_stage, "
                "creation_time, last_update_time) VALUES (%s,%s,%s,%s,%s,%s)",
                experiment,
            )
            cur.executemany(_RUNS_SQL.format(p="%s"), run_rows)
            cur.executemany("INSERT INTO params (key, value, run_uuid) VALUES (%s,%s,%s)", params)
            cur.executemany("INSERT INTO tags (key, value, run_uuid) VALUES (%s,%s,%s)", tags)
            buffer = io.StringIO()
            for n, (key, value, ts, run_id, step, nan) in enumerate(_points(run_ids, points // runs, now), 1):
                buffer.write(f"{key}\t{value!r}\t{ts}\t{run_id}\t{step}\t{'t' if nan else 'f'}\n")
                if n % 200_000 == 0:
                    buffer.seek(0)
                    cur.copy_expert(
                        "COPY metrics (key, value, timestamp, run_uuid, step, is_nan) FROM STDIN", buffer
                    )
                    buffer = io.StringIO()
            buffer.seek(0)
            cur.copy_expert("COPY metrics (key, value, timestamp, run_uuid, step, is_nan) FROM STDIN", buffer)
            cur.execute("ANALYZE")
        conn.close()
    else:
        conn = sqlite3.connect(db.path)  # type: ignore[attr-defined]
        conn.execute("PRAGMA synchronous=OFF")
        conn.execute("PRAGMA cache_size=-500000")
        # MLflow's primary key starts with the metric key, so a run-major load writes it at random: a
        # cache that holds it keeps that in memory, and the run index is built once, after the load.
        conn.execute("DROP INDEX index_metrics_run_uuid")
        with conn:
            conn.execute(
                "INSERT INTO experiments (experiment_id, name, artifact_location, lifecycle_stage, "
                "creation_time, last_update_time) VALUES (?,?,?,?,?,?)",
                experiment,
            )
            conn.executemany(_RUNS_SQL.format(p="?"), run_rows)
            conn.executemany("INSERT INTO params (key, value, run_uuid) VALUES (?,?,?)", params)
            conn.executemany("INSERT INTO tags (key, value, run_uuid) VALUES (?,?,?)", tags)
            conn.executemany(
                "INSERT INTO metrics (key, value, timestamp, run_uuid, step, is_nan) VALUES (?,?,?,?,?,?)",
                _points(run_ids, points // runs, now),
            )
        conn.execute("CREATE INDEX index_metrics_run_uuid ON metrics (run_uuid)")
        conn.close()
    return time.monotonic() - started


def _peak_rss_kb(pid: int) -> int:
    """VmHWM: the peak resident set of the process since it exec'd (fork-time pages not counted)."""
    try:
        with open(f"/proc/{pid}/status") as fh:
            for line in fh:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


def run_import(source: str, target: str, log: Path) -> dict[str, float]:
    """One `tracklight import-mlflow` process, niced: wall time, its CPU time and peak RSS.

    Peak RSS is VmHWM polled every 0.1 s (rusage's maxrss would count the pages this benchmark's own
    process held when it forked the import)."""
    env = {**os.environ, "PYTHONPATH": str(SRC)}
    started = time.monotonic()
    peak = 0
    with open(log, "w") as out:
        proc = subprocess.Popen(
            [str(TRACKLIGHT), "import-mlflow", source, "--backend-store-uri", target],
            stdout=out,
            stderr=subprocess.STDOUT,
            env=env,
            preexec_fn=lambda: os.nice(5),  # noqa: PLW1509 - the import alone is niced
        )
        while True:
            peak = max(peak, _peak_rss_kb(proc.pid))
            pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
            if pid:
                break
            time.sleep(0.1)
    proc.returncode = os.waitstatus_to_exitcode(status)
    wall = time.monotonic() - started
    if proc.returncode != 0:
        raise RuntimeError(f"import failed ({proc.returncode}); see {log}:\n{log.read_text()[-3000:]}")
    return {"wall_s": wall, "cpu_s": usage.ru_utime + usage.ru_stime, "peak_rss_mb": peak / 1024}


def bench_backend(
    kind: str, runs: int, sizes: list[int], workdir: Path, prebuilt: dict[int, Path]
) -> list[dict]:
    results = []
    for points in sizes:
        source = create_database(kind, f"mlsrc{points}", workdir)
        target = create_database(kind, f"tldst{points}", workdir)
        try:
            if kind == "sqlite" and points in prebuilt:
                source.path = prebuilt[points]  # type: ignore[attr-defined]
                source.drop = lambda: None  # type: ignore[method-assign] # not ours to delete
                print(f"[{kind}] source of {points:,} points: {prebuilt[points]}", flush=True)
            else:
                built = build_source(source, runs, points)
                print(f"[{kind}] source of {runs} runs, {points:,} points built in {built:.0f} s", flush=True)
            db_cpu = target.cpu_seconds()
            first = run_import(
                source.uri_for("tracklight"), target.uri_for("tracklight"), workdir / f"{kind}-{points}.log"
            )
            db_cpu = target.cpu_seconds() - db_cpu
            again = run_import(
                source.uri_for("tracklight"),
                target.uri_for("tracklight"),
                workdir / f"{kind}-{points}-again.log",
            )
            row = {
                "backend": kind,
                "runs": runs,
                "points": points,
                "import_wall_s": round(first["wall_s"], 1),
                "points_per_s": round(points / first["wall_s"]),
                "import_cpu_us_per_point": round(first["cpu_s"] / points * 1e6, 2),
                "db_cpu_s": round(db_cpu, 1),
                "peak_rss_mb": round(first["peak_rss_mb"], 1),
                "second_run_wall_s": round(again["wall_s"], 1),
                "second_run_peak_rss_mb": round(again["peak_rss_mb"], 1),
            }
            print(json.dumps(row), flush=True)
            results.append(row)
        finally:
            source.drop()
            target.drop()
    return results


def main() -> int:
    global SRC  # noqa: PLW0603 - one setting for the whole run
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backends", default="sqlite,postgresql")
    parser.add_argument("--runs", type=int, default=1000)
    parser.add_argument(
        "--points", type=int, default=10_000_000, help="the big store; a 10x smaller one runs first"
    )
    parser.add_argument("--out", type=Path, default=None, help="write the results as JSON here")
    parser.add_argument(
        "--sqlite-source",
        type=Path,
        default=None,
        help="an SQLite MLflow store built by an earlier run for the big size (building 10M points takes minutes)",
    )
    parser.add_argument(
        "--tracklight-src",
        type=Path,
        default=SRC,
        help="the tracklight source tree to import with (e.g. an older commit's: git archive C src | tar -x)",
    )
    args = parser.parse_args()
    SRC = args.tracklight_src.resolve()
    sizes = [args.points // 10, args.points]
    results = []
    with tempfile.TemporaryDirectory(prefix="tl-import-bench-") as tmp:
        for kind in args.backends.split(","):
            prebuilt = {args.points: args.sqlite_source} if args.sqlite_source else {}
            results += bench_backend(kind, args.runs, sizes, Path(tmp), prebuilt)
    report = {"machine": machine_info(), "results": results}
    if args.out:
        args.out.write_text(json.dumps(report, indent=1))
    print(json.dumps(results, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
