"""Benchmark `tracklight import-mlflow --from-server` against the SQL import of the same MLflow store.

One SQLite MLflow store of N runs and M points is built (as bench/import_mlflow.py builds it), a stock
`mlflow server` (.venv, one worker) serves it, and the two imports run interleaved, each into a fresh
SQLite target, under `nice`: the SQL import reads a copy of the database, the REST one asks the server. Reported
per import: wall time, points per second, the importer's CPU per point and the MLflow server's CPU.

    .venv/bin/python bench/import_mlflow_server.py --runs 100 --points 500000 --rounds 2
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import socket
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

from backends import create_database
from import_mlflow import build_source
from procfs import machine_info, tree_cpu_seconds

ROOT = Path(__file__).resolve().parents[1]
TRACKLIGHT = ROOT / ".venv" / "bin" / "tracklight"
MLFLOW_SERVER = ROOT / ".venv" / "bin" / "mlflow"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _start_mlflow(store: str, artifacts: Path, log: Path) -> tuple[subprocess.Popen, str]:
    port = _free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MLFLOW_", "TRACKLIGHT_"))}
    env["MLFLOW_SERVER_ENABLE_JOB_EXECUTION"] = "false"
    proc = subprocess.Popen(
        [str(MLFLOW_SERVER), "server", "--workers", "1", "--backend-store-uri", store]
        + ["--artifacts-destination", str(artifacts), "--host", "127.0.0.1", "--port", str(port)],
        stdout=log.open("w"),
        stderr=subprocess.STDOUT,
        env=env,
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 600  # MLflow 3 takes a while to start on a busy machine
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(f"{url}/health", timeout=2) as answer:
                if answer.status == 200:
                    return proc, url
        except OSError:
            time.sleep(0.5)
    proc.kill()
    raise RuntimeError(f"mlflow server did not start:\n{log.read_text()[-3000:]}")


def _import(args: list[str], log: Path, server_pid: int) -> dict[str, float]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MLFLOW_", "TRACKLIGHT_"))}
    server_cpu = tree_cpu_seconds(server_pid)
    started = time.monotonic()
    with log.open("w") as out:
        proc = subprocess.Popen(
            ["nice", "-n", "5", str(TRACKLIGHT), "import-mlflow", *args], stdout=out, stderr=out, env=env
        )
        _, status, usage = os.wait4(proc.pid, 0)
    wall = time.monotonic() - started
    if os.waitstatus_to_exitcode(status) != 0:
        raise RuntimeError(f"import failed; see {log}:\n{log.read_text()[-3000:]}")
    return {
        "wall_s": wall,
        "cpu_s": usage.ru_utime + usage.ru_stime,
        "server_cpu_s": tree_cpu_seconds(server_pid) - server_cpu,
    }


def _points_in(path: Path) -> int:
    with sqlite3.connect(path) as conn:
        return conn.execute("SELECT COUNT(*) FROM metrics").fetchone()[0]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=100)
    parser.add_argument("--points", type=int, default=500_000)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args()
    rows: dict[str, list[dict[str, float]]] = {"sql": [], "rest": []}
    with tempfile.TemporaryDirectory(prefix="tl-import-server-bench-") as tmp:
        work = Path(tmp)
        source = create_database("sqlite", "mlsrc", work)
        built = build_source(source, args.runs, args.points)
        print(f"source of {args.runs} runs, {args.points:,} points built in {built:.0f} s", flush=True)
        # runs/search names a run's metric keys from latest_metrics, which that builder leaves empty.
        with sqlite3.connect(source.path) as conn:  # type: ignore[attr-defined]
            conn.execute(
                "INSERT INTO latest_metrics (key, value, timestamp, step, is_nan, run_uuid) "
                "SELECT key, 0, 0, 0, 0, run_uuid FROM metrics GROUP BY run_uuid, key"
            )
        # The SQL import reads a copy: the running server's connections must not make it wait on locks.
        copy = work / "mlsrc-copy.db"
        shutil.copyfile(source.path, copy)  # type: ignore[attr-defined]
        server, url = _start_mlflow(
            source.uri_for("tracklight"), work / "mlflow-artifacts", work / "mlflow.log"
        )
        try:
            for n in range(args.rounds):
                for kind in ("sql", "rest"):
                    target = f"sqlite:///{work / f'{kind}{n}.db'}"
                    what = (
                        [f"sqlite:///{copy}"]
                        if kind == "sql"
                        else ["--from-server", url, "--artifacts-destination", str(work / f"art{n}")]
                    )
                    result = _import(
                        [*what, "--backend-store-uri", target], work / f"{kind}{n}.log", server.pid
                    )
                    result["points_copied"] = _points_in(work / f"{kind}{n}.db")
                    if result["points_copied"] != args.points:
                        raise RuntimeError(f"{kind} import copied {result['points_copied']} points")
                    rows[kind].append(result)
                    print(kind, json.dumps({k: round(v, 2) for k, v in result.items()}), flush=True)
        finally:
            server.terminate()
            server.wait(timeout=30)
    summary = {}
    for kind, results in rows.items():
        wall = statistics.median(r["wall_s"] for r in results)
        summary[kind] = {
            "median_wall_s": round(wall, 2),
            "points_per_s": round(args.points / wall),
            "importer_cpu_us_per_point": round(
                statistics.median(r["cpu_s"] for r in results) / args.points * 1e6, 2
            ),
            "mlflow_server_cpu_s": round(statistics.median(r["server_cpu_s"] for r in results), 2),
        }
    summary["rest_over_sql_wall"] = round(
        summary["rest"]["median_wall_s"] / summary["sql"]["median_wall_s"], 2
    )
    report = {"machine": machine_info(), "runs": args.runs, "points": args.points, "summary": summary}
    if args.out:
        args.out.write_text(json.dumps(report, indent=1))
    print(json.dumps(summary, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
