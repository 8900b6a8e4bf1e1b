"""`--h2c`: Hypercorn serves HTTP/2 by prior knowledge (Cloud Run's "HTTP/2 end to end") and HTTP/1.1 on one port."""

from __future__ import annotations

import hashlib
import os
import signal
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import h2.config
import h2.connection
import h2.events
import httpx
import requests
from harness.plugin import ServerFactory

# Over Cloud Run's 32 MiB cap on HTTP/1 request bodies, which HTTP/2 end to end does not have.
BIG = 40 * 1024 * 1024
ARTIFACTS = "/api/2.0/mlflow-artifacts/artifacts/0/r/artifacts"


def _sqlite(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'h2c.db'}"


def _h2() -> httpx.Client:
    """An HTTP/2-only client: over http:// that means prior knowledge, no Upgrade dance."""
    return httpx.Client(http1=False, http2=True, timeout=60)


def _chunks(data: bytes, size: int = 64 * 1024) -> Iterator[bytes]:
    """The body in small pieces: httpx slices a bytes body frame by frame, copying the rest each time."""
    view = memoryview(data)
    for start in range(0, len(data), size):
        yield bytes(view[start : start + size])


def test_http2_prior_knowledge_and_http1_on_one_port(tmp_path: Path, server_factory: ServerFactory) -> None:
    srv = server_factory(_sqlite(tmp_path), artifacts_dir=tmp_path / "artifacts", extra_args=["--h2c"])
    with _h2() as h2:
        health = h2.get(f"{srv.url}/health")
        assert health.http_version == "HTTP/2" and health.status_code == 200 and health.text == "OK"
        assert "server" not in health.headers and len(health.headers["x-request-id"]) == 32

        created = h2.post(srv.api("experiments/create"), json={"name": "over-h2c"})
        assert created.http_version == "HTTP/2" and created.status_code == 200, created.text
        experiment_id = created.json()["experiment_id"]

        data = os.urandom(1024 * 1024) * (BIG // (1024 * 1024))
        put = h2.put(
            f"{srv.url}{ARTIFACTS}/big.bin", content=_chunks(data), headers={"Content-Length": str(len(data))}
        )
        assert put.http_version == "HTTP/2" and put.status_code == 200, put.text
        got = h2.get(f"{srv.url}{ARTIFACTS}/big.bin")
        assert got.http_version == "HTTP/2" and got.status_code == 200
        assert len(got.content) == BIG
        assert hashlib.sha256(got.content).hexdigest() == hashlib.sha256(data).hexdigest()
    assert (tmp_path / "artifacts" / "0" / "r" / "artifacts" / "big.bin").stat().st_size == BIG

    # Health checks and curl keep speaking HTTP/1.1 to the same port.
    assert requests.get(f"{srv.url}/health", timeout=10).text == "OK"
    fetched = requests.get(srv.api("experiments/get"), params={"experiment_id": experiment_id}, timeout=10)
    assert fetched.ok and fetched.json()["experiment"]["name"] == "over-h2c"
    small = requests.put(f"{srv.url}{ARTIFACTS}/small.txt", data=b"hello", timeout=10)
    assert small.ok
    assert requests.get(f"{srv.url}{ARTIFACTS}/small.txt", timeout=10).content == b"hello"


def test_static_prefix_and_env_switch(tmp_path: Path, server_factory: ServerFactory) -> None:
    srv = server_factory(_sqlite(tmp_path), static_prefix="/mlflow", env={"TRACKLIGHT_H2C": "true"})
    with _h2() as h2:
        assert h2.get(f"{srv.url}/health").http_version == "HTTP/2"
        assert h2.get(f"{srv.base_url}/health").status_code == 404
    assert "hypercorn" in srv.log_text().lower()


def test_workers(tmp_path: Path, server_factory: ServerFactory) -> None:
    srv = server_factory(_sqlite(tmp_path), workers=2, extra_args=["--h2c"])
    with _h2() as h2:
        for _ in range(4):
            assert h2.get(srv.api("experiments/get"), params={"experiment_id": "0"}).status_code == 200
    assert requests.get(f"{srv.url}/health", timeout=10).ok
    assert srv.stop() in (0, -signal.SIGTERM)


def test_our_json_log_lines_and_no_server_access_log(tmp_path: Path, server_factory: ServerFactory) -> None:
    srv = server_factory(_sqlite(tmp_path), extra_args=["--h2c", "--log-format", "json"])
    with _h2() as h2:
        h2.get(f"{srv.url}/health", headers={"X-Request-ID": "h2c-trace"})
    deadline = time.monotonic() + 5
    while "h2c-trace" not in srv.log_text() and time.monotonic() < deadline:
        time.sleep(0.1)
    lines = [line for line in srv.log_text().splitlines() if line and not line.startswith("===")]
    assert lines and all(line.startswith("{") for line in lines), lines
    assert sum("h2c-trace" in line for line in lines) == 1  # the Edge's access line, no second one


def _raw_h2_put(port: int, path: str, chunks: Iterator[bytes], length: int) -> dict[str, Any]:
    """PUT over HTTP/2 with the h2 state machine itself, reading to the end of the connection.

    httpx gives up on a stream whose complete response arrived in the same read as the server's GOAWAY (it
    checks for the GOAWAY before its buffered events), which is exactly what a graceful shutdown sends; this
    client, like Cloud Run's front end, takes the response first.
    """
    sock = socket.create_connection(("127.0.0.1", port), timeout=60)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)  # small frames waiting on WINDOW_UPDATEs
    conn = h2.connection.H2Connection(h2.config.H2Configuration(client_side=True))
    got: dict[str, Any] = {"status": None, "body": b"", "ended": False, "goaway": None}

    def pump(block: bool) -> bool:
        sock.setblocking(block)
        try:
            data = sock.recv(1 << 16)
        except BlockingIOError:
            return True
        finally:
            sock.setblocking(True)
        if not data:
            return False
        for event in conn.receive_data(data):
            if isinstance(event, h2.events.ResponseReceived):
                got["status"] = int(dict(event.headers)[b":status"])
            elif isinstance(event, h2.events.DataReceived):
                got["body"] += event.data
                conn.acknowledge_received_data(event.flow_controlled_length, event.stream_id)
            elif isinstance(event, h2.events.StreamEnded):
                got["ended"] = True
            elif isinstance(event, h2.events.ConnectionTerminated):
                got["goaway"] = event
        sock.sendall(conn.data_to_send())
        return True

    with sock:
        conn.initiate_connection()
        stream = conn.get_next_available_stream_id()
        headers = [
            (":method", "PUT"),
            (":scheme", "http"),
            (":authority", f"127.0.0.1:{port}"),
            (":path", path),
            ("content-length", str(length)),
        ]
        conn.send_headers(stream, headers)
        sock.sendall(conn.data_to_send())
        for chunk in chunks:
            view = memoryview(chunk)
            while view:
                pump(block=False)
                room = min(conn.local_flow_control_window(stream), conn.max_outbound_frame_size)
                if room <= 0:
                    assert pump(block=True), "connection closed during the upload"
                    continue
                conn.send_data(stream, view[:room].tobytes())
                sock.sendall(conn.data_to_send())
                view = view[room:]
        conn.end_stream(stream)
        sock.sendall(conn.data_to_send())
        while pump(block=True):
            pass
    return got


def test_sigterm_lets_an_in_flight_http2_upload_finish(tmp_path: Path, server_factory: ServerFactory) -> None:
    srv = server_factory(_sqlite(tmp_path), artifacts_dir=tmp_path / "artifacts", extra_args=["--h2c"])
    assert srv.proc is not None
    block, blocks = b"z" * (256 * 1024), 40
    signalled = threading.Event()

    def body() -> Iterator[bytes]:
        for i in range(blocks):
            if i == 5:
                srv.proc.send_signal(signal.SIGTERM)  # mid-upload
                signalled.set()
            time.sleep(0.05)
            yield block

    answer = _raw_h2_put(srv.port, f"{ARTIFACTS}/late.bin", body(), len(block) * blocks)
    assert signalled.is_set()
    assert answer["status"] == 200 and answer["ended"], answer
    # Then the server says goodbye properly: a GOAWAY that covers our stream, with no error.
    goaway = answer["goaway"]
    assert goaway is not None and goaway.error_code == 0 and goaway.last_stream_id >= 1
    assert (tmp_path / "artifacts" / "0" / "r" / "artifacts" / "late.bin").stat().st_size == len(
        block
    ) * blocks
    assert srv.proc.wait(timeout=30) in (0, -signal.SIGTERM)
