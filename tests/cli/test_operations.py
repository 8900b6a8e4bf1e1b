"""Operations: readiness, request ids in JSON logs, Prometheus metrics, allowed hosts, CORS, SIGTERM."""

from __future__ import annotations

import http.client
import json
import signal
import threading
import time
from pathlib import Path

import requests
from harness.plugin import ServerFactory


def _sqlite(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'ops.db'}"


def test_ready_reports_database_and_artifacts(tmp_path: Path, server_factory: ServerFactory) -> None:
    srv = server_factory(_sqlite(tmp_path))
    got = requests.get(f"{srv.url}/ready", timeout=10)
    assert got.status_code == 200
    assert got.json() == {"status": "ready", "checks": {"database": "ok", "artifacts": "ok"}}


def test_request_ids_in_headers_and_json_logs(tmp_path: Path, server_factory: ServerFactory) -> None:
    srv = server_factory(_sqlite(tmp_path), extra_args=["--log-format", "json"])
    mine = requests.get(
        srv.api("experiments/get"), params={"experiment_id": "0"}, headers={"X-Request-ID": "trace-42"}
    )
    assert mine.headers["X-Request-ID"] == "trace-42"
    fresh = requests.get(srv.api("experiments/get"), params={"experiment_id": "0"}, timeout=10)
    generated = fresh.headers["X-Request-ID"]
    assert len(generated) == 32 and generated != "trace-42"
    junk = requests.get(f"{srv.url}/health", headers={"X-Request-ID": "bad id\twith spaces"}, timeout=10)
    assert junk.headers["X-Request-ID"] != "bad id\twith spaces"
    lines = []
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        lines = [json.loads(line) for line in srv.log_path.read_text().splitlines() if line.startswith("{")]
        if any(line.get("request_id") == generated for line in lines):
            break
        time.sleep(0.1)
    access = [line for line in lines if line.get("logger") == "tracklight.access"]
    ours = [line for line in access if line.get("request_id") == "trace-42"]
    assert ours and ours[0]["status"] == 200 and ours[0]["path"].endswith("experiments/get")
    assert ours[0]["duration_ms"] >= 0 and ours[0]["level"] == "INFO"
    assert any(line.get("request_id") == generated for line in access)


def test_prometheus_metrics(tmp_path: Path, server_factory: ServerFactory) -> None:
    srv = server_factory(_sqlite(tmp_path))
    run = requests.post(srv.api("runs/create"), json={"experiment_id": "0"}, timeout=10).json()["run"]["info"]
    batch = [
        {"key": "loss", "value": i / 10, "timestamp": 1_700_000_000_000 + i, "step": i} for i in range(25)
    ]
    assert requests.post(srv.api("runs/log-batch"), json={"run_id": run["run_id"], "metrics": batch}).ok
    assert (
        requests.get(srv.api("experiments/get"), params={"experiment_id": "nope"}, timeout=10).status_code
        == 400
    )
    text = requests.get(f"{srv.url}/metrics", timeout=10).text
    assert 'route="/api/2.0/mlflow/runs/log-batch",status="200"' in text
    assert 'route="/api/2.0/mlflow/experiments/get",status="400"' in text
    assert "tracklight_metric_points_ingested_total 25.0" in text
    assert "tracklight_db_pool_size" in text and "tracklight_db_connections_in_use" in text


def test_allowed_hosts(tmp_path: Path, server_factory: ServerFactory) -> None:
    default = server_factory(_sqlite(tmp_path))
    api = default.api("experiments/get")
    params = {"experiment_id": "0"}
    assert requests.get(api, params=params, headers={"Host": "localhost:5000"}, timeout=10).ok
    assert requests.get(api, params=params, headers={"Host": "10.1.2.3"}, timeout=10).ok
    denied = requests.get(api, params=params, headers={"Host": "tracking.example.com"}, timeout=10)
    assert denied.status_code == 403 and denied.json()["error_code"] == "PERMISSION_DENIED"
    # Load balancer health checks use whatever Host they like.
    assert requests.get(f"{default.url}/health", headers={"Host": "tracking.example.com"}, timeout=10).ok

    configured = server_factory(
        f"sqlite:///{tmp_path / 'hosts.db'}",
        extra_args=["--allowed-hosts", "tracking.example.com,*.corp.net"],
    )
    api = configured.api("experiments/get")
    for host, ok in [("tracking.example.com", True), ("ml.corp.net:443", True), ("evil.com", False)]:
        assert requests.get(api, params=params, headers={"Host": host}, timeout=10).ok is ok, host


def test_host_check_exempts_only_the_exact_probe_paths(tmp_path: Path, server_factory: ServerFactory) -> None:
    """/health and /ready (under the static prefix) answer any Host; a path that merely ends that way does not."""
    srv = server_factory(_sqlite(tmp_path), static_prefix="/pfx")
    evil = {"Host": "tracking.example.com"}
    assert requests.get(f"{srv.base_url}/pfx/health", headers=evil, timeout=10).status_code == 200
    assert requests.get(f"{srv.base_url}/pfx/ready", headers=evil, timeout=10).status_code == 200
    artifacts = f"{srv.base_url}/pfx/api/2.0/mlflow-artifacts/artifacts/0/r/artifacts"
    local = {"Host": "localhost"}
    put = requests.put(f"{artifacts}/health", data=b"secret", headers=local, timeout=10)
    assert put.status_code == 200, put.text
    for path in [
        f"{artifacts}/health",
        f"{artifacts}/ready",
        f"{srv.base_url}/pfx/get-artifact/health",
        f"{srv.base_url}/pfx/api/2.0/mlflow/health",
        # Outside the prefix these are not the probes either.
        f"{srv.base_url}/health",
        f"{srv.base_url}/ready",
        f"{srv.base_url}/pfx/health/",
    ]:
        got = requests.get(path, headers=evil, timeout=10)
        assert got.status_code == 403, (path, got.status_code, got.text)
        assert got.json()["error_code"] == "PERMISSION_DENIED"
    # The same artifact is served to an allowed Host: the 403 above was the Host check, nothing else.
    assert requests.get(f"{artifacts}/health", headers=local, timeout=10).content == b"secret"


def test_cors(tmp_path: Path, server_factory: ServerFactory) -> None:
    closed = server_factory(_sqlite(tmp_path))
    got = requests.get(f"{closed.url}/health", headers={"Origin": "https://ui.example.com"}, timeout=10)
    assert "access-control-allow-origin" not in got.headers
    open_ = server_factory(
        f"sqlite:///{tmp_path / 'cors.db'}", extra_args=["--cors-allowed-origins", "https://ui.example.com"]
    )
    preflight = requests.options(
        open_.api("runs/search"),
        headers={"Origin": "https://ui.example.com", "Access-Control-Request-Method": "POST"},
        timeout=10,
    )
    assert preflight.status_code == 200
    assert preflight.headers["access-control-allow-origin"] == "https://ui.example.com"
    other = requests.get(f"{open_.url}/health", headers={"Origin": "https://evil.example"}, timeout=10)
    assert "access-control-allow-origin" not in other.headers


def test_sigterm_lets_an_in_flight_upload_finish(tmp_path: Path, server_factory: ServerFactory) -> None:
    srv = server_factory(_sqlite(tmp_path), artifacts_dir=tmp_path / "artifacts")
    assert srv.proc is not None
    block, blocks = b"z" * (256 * 1024), 40
    signalled = threading.Event()

    def body():
        for i in range(blocks):
            if i == 5:
                srv.proc.send_signal(signal.SIGTERM)  # mid-upload
                signalled.set()
            time.sleep(0.05)
            yield block

    conn = http.client.HTTPConnection("127.0.0.1", srv.port, timeout=60)
    path = "/api/2.0/mlflow-artifacts/artifacts/0/r/artifacts/late.bin"
    conn.request("PUT", path, body=body(), headers={"Content-Length": str(len(block) * blocks)})
    answer = conn.getresponse()
    assert signalled.is_set()
    assert answer.status == 200
    conn.close()
    assert (tmp_path / "artifacts" / "0" / "r" / "artifacts" / "late.bin").stat().st_size == len(
        block
    ) * blocks
    assert srv.proc.wait(timeout=30) in (0, -signal.SIGTERM)
