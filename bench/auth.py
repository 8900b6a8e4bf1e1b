"""What authentication costs on the hot path: log-metric p50 without auth, with Basic and with a token,
side by side with MLflow's basic-auth app (stdlib-only driver, servers one after another).

    python bench/auth.py [--requests 2000] [--backend-store-uri URI]   # SQLite files by default

Prints one Markdown table; the target is Basic and token within 10% of the same server without auth.
"""

from __future__ import annotations

import argparse
import base64
import http.client
import json
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TRACKLIGHT = ROOT / ".venv" / "bin" / "tracklight"
MLFLOW = Path(os.environ.get("BENCH_MLFLOW", "/tmp/peers/venv/bin/mlflow"))
ADMIN_PASSWORD = "bench-admin-password"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Server:
    def __init__(self, argv: list[str], env: dict[str, str], cwd: Path, port: int) -> None:
        self.port = port
        self.log = open(cwd / f"server-{port}.log", "wb")  # noqa: SIM115 - closed in stop()
        self.proc = subprocess.Popen(
            argv,
            env={**os.environ, "MLFLOW_DISABLE_TELEMETRY": "true", "DO_NOT_TRACK": "true", **env},
            cwd=cwd,
            stdout=self.log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        deadline = time.monotonic() + 180
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"server exited: {' '.join(argv)} (log {self.log.name})")
            try:
                conn = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
                conn.request("GET", "/health")
                if conn.getresponse().status == 200:
                    return
            except OSError:
                pass
            time.sleep(0.1)
        raise RuntimeError("server did not become healthy")

    def stop(self) -> None:
        try:
            os.killpg(self.proc.pid, signal.SIGTERM)
            self.proc.wait(30)
        except (ProcessLookupError, subprocess.TimeoutExpired):
            os.killpg(self.proc.pid, signal.SIGKILL)
        self.log.close()


class Http:
    """One keep-alive connection that sends the same Authorization header on every request."""

    def __init__(self, port: int, authorization: str | None) -> None:
        self.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        self.headers = {"Content-Type": "application/json"}
        if authorization:
            self.headers["Authorization"] = authorization

    def call(self, method: str, path: str, payload: dict | None = None) -> dict:
        body = json.dumps(payload).encode() if payload is not None else None
        self.conn.request(method, path, body=body, headers=self.headers)
        response = self.conn.getresponse()
        data = response.read()
        if response.status != 200:
            raise RuntimeError(f"{method} {path} -> {response.status}: {data[:200]!r}")
        return json.loads(data) if data else {}


def basic(username: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{username}:{password}".encode()).decode()


def log_metric_p50(port: int, authorization: str | None, n: int) -> tuple[float, float]:
    """(p50, p95) in ms of runs/log-metric on a fresh run, after a warm-up."""
    client = Http(port, authorization)
    name = f"bench-{time.time_ns()}"
    eid = client.call("POST", "/api/2.0/mlflow/experiments/create", {"name": name})["experiment_id"]
    run_id = client.call("POST", "/api/2.0/mlflow/runs/create", {"experiment_id": eid, "start_time": 0})[
        "run"
    ]["info"]["run_id"]
    times = []
    for i in range(n + 200):
        payload = {"run_id": run_id, "key": "loss", "value": 1.0 / (i + 1), "timestamp": i, "step": i}
        start = time.perf_counter()
        client.call("POST", "/api/2.0/mlflow/runs/log-metric", payload)
        if i >= 200:
            times.append((time.perf_counter() - start) * 1000)
    times.sort()
    return statistics.median(times), times[int(len(times) * 0.95)]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--rounds", type=int, default=3, help="alternate the tracklight modes this often")
    parser.add_argument("--skip-mlflow", action="store_true")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="tl-authbench-"))
    rows: dict[str, list[float]] = {}
    p95s: dict[str, list[float]] = {}

    def record(label: str, figures: tuple[float, float]) -> None:
        rows.setdefault(label, []).append(figures[0])
        p95s.setdefault(label, []).append(figures[1])
        print(f"{label}: p50 {figures[0]:.3f} ms, p95 {figures[1]:.3f} ms", file=sys.stderr)

    # tracklight: one server without auth, one with; the token is made with the CLI.
    plain_db, auth_db = work / "plain.db", work / "auth.db"
    env = {"TRACKLIGHT_ADMIN_PASSWORD": ADMIN_PASSWORD, "TRACKLIGHT_LOG_FORMAT": "json"}
    for rnd in range(args.rounds):
        port = free_port()
        server = Server(
            [
                str(TRACKLIGHT),
                "server",
                "--backend-store-uri",
                f"sqlite:///{plain_db}",
                "--port",
                str(port),
                "--artifacts-destination",
                str(work / "a"),
            ],
            env,
            work,
            port,
        )
        try:
            record("tracklight, no auth", log_metric_p50(port, None, args.requests))
        finally:
            server.stop()
        port = free_port()
        server = Server(
            [
                str(TRACKLIGHT),
                "server",
                "--auth",
                "--backend-store-uri",
                f"sqlite:///{auth_db}",
                "--port",
                str(port),
                "--artifacts-destination",
                str(work / "a"),
            ],
            env,
            work,
            port,
        )
        try:
            if rnd == 0:
                made = subprocess.run(
                    [
                        str(TRACKLIGHT),
                        "tokens",
                        "create",
                        "admin",
                        "--backend-store-uri",
                        f"sqlite:///{auth_db}",
                    ],
                    capture_output=True,
                    text=True,
                    check=True,
                    env={**os.environ, **env},
                )
                token = made.stdout.strip()
            record("tracklight, Basic", log_metric_p50(port, basic("admin", ADMIN_PASSWORD), args.requests))
            record("tracklight, token", log_metric_p50(port, f"Bearer {token}", args.requests))
        finally:
            server.stop()
    if not args.skip_mlflow and MLFLOW.exists():
        for app, label in ((None, "mlflow, no auth"), ("basic-auth", "mlflow basic-auth, Basic")):
            port = free_port()
            argv = [
                str(MLFLOW),
                "server",
                "--backend-store-uri",
                f"sqlite:///{work / (label[:6] + str(bool(app)))}.db",
                "--artifacts-destination",
                str(work / "ma"),
                "--host",
                "127.0.0.1",
                "--port",
                str(port),
            ]
            if app:
                argv += ["--app-name", app]
            server = Server(
                argv,
                {"MLFLOW_AUTH_ADMIN_PASSWORD": ADMIN_PASSWORD, "MLFLOW_FLASK_SERVER_SECRET_KEY": "bench"},
                work,
                port,
            )
            try:
                record(
                    label,
                    log_metric_p50(port, basic("admin", ADMIN_PASSWORD) if app else None, args.requests),
                )
            finally:
                server.stop()

    base = statistics.median(rows["tracklight, no auth"])
    print(f"\nlog-metric, SQLite, {args.requests} sequential requests per measure, median of rounds\n")
    print("| server | p50 ms | p95 ms | vs tracklight no auth |")
    print("|---|---|---|---|")
    for label, values in rows.items():
        p50 = statistics.median(values)
        p95 = statistics.median(p95s[label])
        print(f"| {label} | {p50:.3f} | {p95:.3f} | {p50 / base:.2f}x |")
    verdicts = [rows[k] for k in ("tracklight, Basic", "tracklight, token")]
    ok = all(statistics.median(v) <= base * 1.10 for v in verdicts)
    print(f"\ntarget (Basic and token within 10% of no auth): {'PASS' if ok else 'FAIL'}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
