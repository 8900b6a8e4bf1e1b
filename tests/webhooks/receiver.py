"""A webhook receiver on 127.0.0.1 for the tests: records every POST, answers as scripted, and verifies
signatures the way a receiver written for MLflow's webhooks does (written here from the documented
scheme, not from the server's code)."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass(frozen=True)
class Received:
    path: str
    headers: dict[str, str]  # lower-case names
    body: bytes

    @property
    def json(self) -> Any:
        return json.loads(self.body)

    @property
    def delivery_id(self) -> str:
        return self.headers["x-mlflow-delivery-id"]


def signature_is_valid(secret: str, received: Received, max_age_s: float = 300) -> bool:
    """What an MLflow webhook receiver checks: `v1,<base64 HMAC-SHA256(secret, "<delivery id>.<timestamp>.<raw
    body>")>` in X-MLflow-Signature, compared in constant time, and a timestamp no older than max_age_s."""
    header = received.headers.get("x-mlflow-signature", "")
    if not header.startswith("v1,"):
        return False
    timestamp = received.headers["x-mlflow-timestamp"]
    if abs(time.time() - int(timestamp)) > max_age_s:
        return False
    signed = f"{received.delivery_id}.{timestamp}.{received.body.decode()}".encode()
    expected = base64.b64encode(hmac.new(secret.encode(), signed, hashlib.sha256).digest()).decode()
    return hmac.compare_digest(expected, header[3:])


class Receiver:
    """A threaded HTTP server; `answer(received, index)` gives each POST's status (200 by default)."""

    def __init__(self, answer: Callable[[Received, int], int] | None = None) -> None:
        self.received: list[Received] = []
        self._answer = answer or (lambda _r, _i: 200)
        self._lock = threading.Lock()
        self._changed = threading.Condition(self._lock)
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - http.server's naming
                length = int(self.headers.get("Content-Length", "0"))
                got = Received(
                    self.path, {k.lower(): v for k, v in self.headers.items()}, self.rfile.read(length)
                )
                with outer._changed:
                    index = len(outer.received)
                    outer.received.append(got)
                    outer._changed.notify_all()
                status = outer._answer(got, index)
                body = b"ok" if status < 400 else b"try again"
                self.send_response(status)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *_args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> Receiver:
        self._thread.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()

    def wait_for(self, count: int, timeout_s: float = 60.0) -> list[Received]:
        """Every POST so far, once there are at least `count` (or the timeout passed)."""
        deadline = time.monotonic() + timeout_s
        with self._changed:
            while len(self.received) < count:
                left = deadline - time.monotonic()
                if left <= 0:
                    break
                self._changed.wait(left)
            return list(self.received)
