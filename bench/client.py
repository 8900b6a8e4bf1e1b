"""A minimal keep-alive HTTP/JSON client (stdlib only) so the driving side costs the same for every server."""

from __future__ import annotations

import http.client
import json
import socket
import time
from typing import Any
from urllib.parse import urlencode

HOST = "127.0.0.1"  # the benchmark never talks to anything else
_RETRYABLE = (
    http.client.RemoteDisconnected,
    ConnectionResetError,
    BrokenPipeError,
    http.client.CannotSendRequest,
)


class ApiError(RuntimeError):
    """A non-200 answer from the server under test."""

    def __init__(self, method: str, path: str, status: int, body: bytes) -> None:
        super().__init__(f"{method} {path} -> {status}: {body[:300]!r}")
        self.status = status


class Client:
    """One persistent HTTP/1.1 connection to 127.0.0.1:port; not thread-safe (one per thread)."""

    def __init__(self, port: int, timeout: float = 120.0) -> None:
        self.port = port
        self.timeout = timeout
        self._conn: http.client.HTTPConnection | None = None

    def _connection(self) -> http.client.HTTPConnection:
        if self._conn is None:
            self._conn = http.client.HTTPConnection(HOST, self.port, timeout=self.timeout)
            self._conn.connect()
            self._conn.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        return self._conn

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None

    def request(self, method: str, path: str, body: bytes | None = None) -> tuple[int, bytes]:
        """Send one request; reconnect once if the server closed an idle keep-alive connection."""
        headers = {"Content-Type": "application/json"} if body is not None else {}
        for attempt in (0, 1):
            conn = self._connection()
            try:
                conn.request(method, path, body=body, headers=headers)
                resp = conn.getresponse()
                data = resp.read()
                if resp.will_close:
                    self.close()
                return resp.status, data
            except _RETRYABLE:
                self.close()
                if attempt:
                    raise
        raise AssertionError("unreachable")

    def post(self, path: str, payload: dict[str, Any] | bytes) -> dict[str, Any]:
        body = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
        status, data = self.request("POST", path, body)
        if status != 200:
            raise ApiError("POST", path, status, data)
        return json.loads(data) if data.strip() else {}

    def get(self, path: str, params: list[tuple[str, str]] | dict[str, Any] | None = None) -> dict[str, Any]:
        full = f"{path}?{urlencode(params)}" if params else path
        status, data = self.request("GET", full)
        if status != 200:
            raise ApiError("GET", path, status, data)
        return json.loads(data) if data.strip() else {}


def wait_http_200(port: int, path: str, deadline: float, alive: Any) -> bool:
    """Poll GET path every 20 ms until 200 (True), the deadline passes or alive() is False (False)."""
    while time.monotonic() < deadline:
        if not alive():
            return False
        conn = http.client.HTTPConnection(HOST, port, timeout=2)
        try:
            conn.request("GET", path)
            resp = conn.getresponse()
            resp.read()
            if resp.status == 200:
                return True
        except (OSError, http.client.HTTPException):
            pass
        finally:
            conn.close()
        time.sleep(0.02)
    return False
