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
# The peers' venv that bench/run.py keeps (its requirements carry Flask-WTF, which basic-auth needs).
MLFLOW = Path(os.environ.get("BENCH_MLFLOW", str(ROOT / ".venv-bench" / "bin" / "mlflow")))
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


class MetricLogger:
    """A fresh experiment and run on one server, and runs/log-metric calls timed one by one."""

    def __init__(self, port: int, authorization: str | None) -> None:
        self.client = Http(port, authorization)
        name = f"bench-{time.time_ns()}"
        eid = self.client.call("POST", "/api/2.0/mlflow/experiments/create", {"name": name})["experiment_id"]
        run = self.client.call("POST", "/api/2.0/mlflow/runs/create", {"experiment_id": eid, "start_time": 0})
        self.run_id = run["run"]["info"]["run_id"]
        self.step = 0
        self.times: list[float] = []
        self.batch(200, keep=False)  # warm-up: connections, caches, the one argon2 check

    def batch(self, n: int, keep: bool = True) -> None:
        for _ in range(n):
            self.step += 1
            payload = {
                "run_id": self.run_id,
                "key": "loss",
                "value": 1.0 / self.step,
                "timestamp": self.step,
                "step": self.step,
            }
            start = time.perf_counter()
            self.client.call("POST", "/api/2.0/mlflow/runs/log-metric", payload)
            if keep:
                self.times.append((time.perf_counter() - start) * 1000)

    def figures(self) -> tuple[float, float]:
        times = sorted(self.times)
        return statistics.median(times), times[int(len(times) * 0.95)]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--skip-mlflow", action="store_true")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="tl-authbench-"))
    rows: dict[str, list[float]] = {}
    p95s: dict[str, list[float]] = {}

    def record(label: str, figures: tuple[float, float]) -> None:
        rows.setdefault(label, []).append(figures[0])
        p95s.setdefault(label, []).append(figures[1])
        print(f"{label}: p50 {figures[0]:.3f} ms, p95 {figures[1]:.3f} ms", file=sys.stderr)

    # tracklight: a server without auth and one with, both up; the modes take turns in short blocks so
    # that whatever else the machine does falls on all of them alike.
    env = {"TRACKLIGHT_ADMIN_PASSWORD": ADMIN_PASSWORD, "TRACKLIGHT_LOG_FORMAT": "json"}
    servers = []
    try:
        ports = []
        for flags, db in (([], "plain.db"), (["--auth"], "auth.db")):
            port = free_port()
            argv = [
                str(TRACKLIGHT),
                "server",
                *flags,
                "--backend-store-uri",
                f"sqlite:///{work / db}",
                "--port",
                str(port),
                "--artifacts-destination",
                str(work / "a"),
            ]
            servers.append(Server(argv, env, work, port))
            ports.append(port)
        made = subprocess.run(
            [
                str(TRACKLIGHT),
                "tokens",
                "create",
                "admin",
                "--backend-store-uri",
                f"sqlite:///{work / 'auth.db'}",
            ],
            capture_output=True,
            text=True,
            check=True,
            env={**os.environ, **env},
        )
        loggers = {
            "tracklight, no auth": MetricLogger(ports[0], None),
            "tracklight, Basic": MetricLogger(ports[1], basic("admin", ADMIN_PASSWORD)),
            "tracklight, token": MetricLogger(ports[1], f"Bearer {made.stdout.strip()}"),
        }
        block = 100
        for _ in range(max(1, args.requests // block)):
            for logger in loggers.values():
                logger.batch(block)
        for label, logger in loggers.items():
            record(label, logger.figures())
    finally:
        for server in servers:
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
                logger = MetricLogger(port, basic("admin", ADMIN_PASSWORD) if app else None)
                logger.batch(args.requests)
                record(label, logger.figures())
            finally:
                server.stop()

    base = rows["tracklight, no auth"][0]
    print(
        f"\nlog-metric on SQLite, {args.requests} sequential requests per row (tracklight's modes interleaved)\n"
    )
    print("| server | p50 ms | p95 ms | vs tracklight no auth |")
    print("|---|---|---|---|")
    for label, values in rows.items():
        p50, p95 = values[0], p95s[label][0]
        print(f"| {label} | {p50:.3f} | {p95:.3f} | {p50 / base:.2f}x |")
    verdicts = [rows[k] for k in ("tracklight, Basic", "tracklight, token")]
    ok = all(v[0] <= base * 1.10 for v in verdicts)
    print(f"\ntarget (Basic and token within 10% of no auth): {'PASS' if ok else 'FAIL'}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
