"""MlflowRest against a small stand-in HTTP server: throttling and passing 5xx are retried, credentials are
sent as the stock client sends them, and a refusal is one readable error."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from tracklight.move.mlflow_rest import MlflowRest, MlflowServerError


class _Scripted(BaseHTTPRequestHandler):
    """Answers each request with the next (status, body) of the server's script; records the requests."""

    def do_GET(self) -> None:  # noqa: N802 - the name http.server calls
        server = self.server
        server.seen.append((self.path, self.headers.get("Authorization")))  # type: ignore[attr-defined]
        status, body = server.script.pop(0)  # type: ignore[attr-defined]
        data = json.dumps(body).encode()
        self.send_response(status)
        if status == 429:
            self.send_header("Retry-After", "0")
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def scripted() -> Iterator[ThreadingHTTPServer]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Scripted)
    server.script = []  # type: ignore[attr-defined]
    server.seen = []  # type: ignore[attr-defined]
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()


def _url(server: ThreadingHTTPServer) -> str:
    return f"http://127.0.0.1:{server.server_address[1]}"


def test_throttling_and_server_errors_are_retried(scripted: ThreadingHTTPServer) -> None:
    scripted.script += [(429, {}), (503, {"error_code": "TEMPORARILY_UNAVAILABLE"}), (200, {"ok": 1})]
    rest = MlflowRest(_url(scripted))
    assert rest.get("api/2.0/mlflow/experiments/get", experiment_id="1") == {"ok": 1}
    assert len(scripted.seen) == 3


def test_a_refusal_is_not_retried_and_reads_as_mlflow_said_it(scripted: ThreadingHTTPServer) -> None:
    scripted.script += [(404, {"error_code": "RESOURCE_DOES_NOT_EXIST", "message": "No run 'x'"})]
    rest = MlflowRest(_url(scripted))
    with pytest.raises(MlflowServerError) as caught:
        rest.get("api/2.0/mlflow/runs/get", run_id="x")
    assert caught.value.status == 404
    assert caught.value.code == "RESOURCE_DOES_NOT_EXIST"
    assert "answered 404: No run 'x'" in str(caught.value)
    assert len(scripted.seen) == 1


def test_credentials_are_read_as_the_stock_client_reads_them(
    scripted: ThreadingHTTPServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    scripted.script += [(200, {}), (200, {})]
    monkeypatch.setenv("MLFLOW_TRACKING_USERNAME", "ana")
    monkeypatch.setenv("MLFLOW_TRACKING_PASSWORD", "secret")
    MlflowRest(_url(scripted)).get("a")
    monkeypatch.setenv("MLFLOW_TRACKING_TOKEN", "tok-1")  # a token wins over a user and password
    MlflowRest(_url(scripted)).get("b")
    assert [auth for _, auth in scripted.seen] == ["Basic YW5hOnNlY3JldA==", "Bearer tok-1"]


def test_pages_follow_the_token_until_there_is_none(scripted: ThreadingHTTPServer) -> None:
    scripted.script += [
        (200, {"runs": [1, 2], "next_page_token": "t1"}),
        (200, {"runs": [3], "next_page_token": "t2"}),
        (200, {}),
    ]
    pages = list(MlflowRest(_url(scripted)).pages("GET", "api/x", "runs", max_results=2))
    assert pages == [[1, 2], [3]]
    assert "page_token=t2" in scripted.seen[2][0]
