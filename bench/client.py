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


class RawClient:
    """One keep-alive connection sending requests built in advance (`raw_post`), reading only the
    status and the body. For throughput phases: http.client's request and response objects cost the
    driver ~0.3 ms of CPU a call, and from eight threads in one process (one GIL) the driver itself
    topped out near 1,850 calls/s against a server that answers at once; this one costs ~0.05 ms."""

    def __init__(self, port: int, timeout: float = 120.0) -> None:
        self.port = port
        self.timeout = timeout
        self._sock: socket.socket | None = None
        self._buffer = b""

    def close(self) -> None:
        if self._sock is not None:
            self._sock.close()
            self._sock = None
        self._buffer = b""

    def post(self, request: bytes) -> bytes:
        """Send one request made by raw_post; its body if the answer is 200, else ApiError."""
        for attempt in (0, 1):
            if self._sock is None:
                self._sock = socket.create_connection((HOST, self.port), timeout=self.timeout)
                self._sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            try:
                self._sock.sendall(request)
                status, body, closes = self._response()
            except (ConnectionResetError, BrokenPipeError, ConnectionAbortedError):
                self.close()
                if attempt:
                    raise
                continue
            if closes:
                self.close()
            if status != 200:
                raise ApiError("POST", request.split(b" ", 2)[1].decode(), status, body)
            return body
        raise AssertionError("unreachable")

    def _response(self) -> tuple[int, bytes, bool]:
        end = self._fill_until(b"\r\n\r\n")
        head, self._buffer = self._buffer[:end].lower(), self._buffer[end + 4 :]
        status = int(head[9:12])
        fields = dict(line.split(b":", 1) for line in head.split(b"\r\n")[1:] if b":" in line)
        closes = fields.get(b"connection", b"").strip() == b"close"
        if fields.get(b"transfer-encoding", b"").strip() == b"chunked":
            body = b""
            while True:
                end = self._fill_until(b"\r\n")
                size = int(self._buffer[:end].split(b";")[0], 16)
                self._buffer = self._buffer[end + 2 :]
                self._fill(size + 2)
                body, self._buffer = body + self._buffer[:size], self._buffer[size + 2 :]
                if size == 0:
                    return status, body, closes
        length = int(fields.get(b"content-length", b"0"))
        self._fill(length)
        body, self._buffer = self._buffer[:length], self._buffer[length:]
        return status, body, closes

    def _fill_until(self, marker: bytes) -> int:
        while (end := self._buffer.find(marker)) < 0:
            self._read()
        return end

    def _fill(self, size: int) -> None:
        while len(self._buffer) < size:
            self._read()

    def _read(self) -> None:
        assert self._sock is not None
        chunk = self._sock.recv(65536)
        if not chunk:
            raise ConnectionResetError("the server closed the connection")
        self._buffer += chunk


def raw_post(port: int, path: str, body: bytes) -> bytes:
    """A POST of a JSON body to 127.0.0.1:port, as bytes for RawClient.post."""
    head = f"POST {path} HTTP/1.1\r\nHost: {HOST}:{port}\r\nContent-Type: application/json\r\n"
    return f"{head}Content-Length: {len(body)}\r\n\r\n".encode() + body


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
