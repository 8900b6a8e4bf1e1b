"""Helpers for the durability tests: a small raw-HTTP client, paged metric history and a killable TCP proxy."""

from __future__ import annotations

import contextlib
import selectors
import socket
import threading
import time
import uuid
from typing import Any

import requests

# Every request the durability tests send is bounded by this (connect, read) timeout.
HTTP_TIMEOUT: tuple[float, float] = (5.0, 30.0)


class Api:
    """Raw JSON calls to one server's /api/2.0/mlflow/ endpoints over a private requests.Session."""

    def __init__(self, base_url: str, timeout: tuple[float, float] = HTTP_TIMEOUT) -> None:
        self.base_url = base_url.rstrip("/")
        self.timeout = timeout
        self.session = requests.Session()

    def url(self, path: str) -> str:
        return f"{self.base_url}/api/2.0/mlflow/{path}"

    def post(self, path: str, body: dict[str, Any]) -> requests.Response:
        return self.session.post(self.url(path), json=body, timeout=self.timeout)

    def get(self, path: str, params: dict[str, Any]) -> requests.Response:
        return self.session.get(self.url(path), params=params, timeout=self.timeout)

    def close(self) -> None:
        self.session.close()

    # -- calls that must succeed ---------------------------------------------------------------------
    def create_experiment(self, name: str | None = None) -> str:
        resp = self.post("experiments/create", {"name": name or f"durability-{uuid.uuid4().hex[:10]}"})
        return str(ok(resp)["experiment_id"])

    def create_run(self, experiment_id: str, run_name: str | None = None) -> str:
        body: dict[str, Any] = {"experiment_id": experiment_id, "start_time": int(time.time() * 1000)}
        if run_name:
            body["run_name"] = run_name
        return str(ok(self.post("runs/create", body))["run"]["info"]["run_id"])

    def get_run(self, run_id: str) -> dict[str, Any]:
        return ok(self.get("runs/get", {"run_id": run_id}))["run"]

    def history(
        self, run_id: str, key: str, page_size: int = 25000, max_pages: int = 1000
    ) -> list[dict[str, Any]]:
        """Every point of one metric, following next_page_token (bounded, and a token must not repeat)."""
        points: list[dict[str, Any]] = []
        token: str | None = None
        seen_tokens: set[str] = set()
        for _ in range(max_pages):
            params: dict[str, Any] = {"run_id": run_id, "metric_key": key, "max_results": page_size}
            if token:
                params["page_token"] = token
            body = ok(self.get("metrics/get-history", params))
            page = body.get("metrics", [])
            assert len(page) <= page_size, (
                f"history page of {len(page)} points exceeds max_results={page_size}"
            )
            points.extend(page)
            token = body.get("next_page_token")
            if not token:
                return points
            assert token not in seen_tokens, f"metric history for {key} returned the same page token twice"
            seen_tokens.add(token)
        raise AssertionError(f"metric history for {run_id}/{key} did not end within {max_pages} pages")


def ok(resp: requests.Response) -> dict[str, Any]:
    """Assert an HTTP 200 with a JSON object body and return the body."""
    assert resp.status_code == 200, (
        f"{resp.request.method} {resp.url} -> {resp.status_code}: {resp.text[:500]}"
    )
    body = resp.json()
    assert isinstance(body, dict), f"{resp.request.method} {resp.url}: body is not a JSON object: {body!r}"
    return body


def error_code(resp: requests.Response) -> str | None:
    """The error_code of a JSON error body, or None when the body is not a JSON object."""
    try:
        body = resp.json()
    except ValueError:
        return None
    return body.get("error_code") if isinstance(body, dict) else None


def swap_port(uri: str, port: int) -> str:
    """The same backend store URI with the database host's port replaced (to route it through a proxy)."""
    from sqlalchemy.engine import make_url

    return make_url(uri).set(port=port).render_as_string(hide_password=False)


class TcpProxy:
    """Forwards 127.0.0.1:<port> to an upstream TCP address; stop() drops the listener and every live connection.

    stop() then start() simulates a database outage and its end without touching the shared database service:
    while stopped, connections to the port are refused and connections open at the time of stop() are reset.
    freeze() simulates a database that stops answering without closing anything (a hung host, a dropped route):
    connections stay open and new ones are accepted, but every byte sent either way is silently discarded.
    """

    def __init__(self, upstream: tuple[str, int], port: int, host: str = "127.0.0.1") -> None:
        self.upstream = upstream
        self.host = host
        self.port = port
        self._lock = threading.Lock()
        self._listener: socket.socket | None = None
        self._conns: set[socket.socket] = set()
        self._threads: list[threading.Thread] = []
        self._frozen = threading.Event()
        self.accepted = 0

    @property
    def listening(self) -> bool:
        return self._listener is not None

    def start(self) -> None:
        listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        deadline = time.monotonic() + 10
        while True:
            try:
                listener.bind((self.host, self.port))
                break
            except OSError:
                if time.monotonic() > deadline:
                    listener.close()
                    raise
                time.sleep(0.1)
        listener.listen(128)
        listener.settimeout(0.2)
        with self._lock:
            self._listener = listener
        thread = threading.Thread(
            target=self._accept_loop, args=(listener,), name="proxy-accept", daemon=True
        )
        thread.start()
        self._threads.append(thread)

    def freeze(self) -> None:
        """From now on discard all traffic in both directions; stop() or thaw() ends it."""
        self._frozen.set()

    def thaw(self) -> None:
        """End a freeze: reset the connections whose bytes were discarded and forward new ones normally."""
        self.stop()
        self.start()

    def stop(self) -> None:
        """Close the listening socket and reset every live connection (both the client and the upstream side)."""
        with self._lock:
            listener, self._listener = self._listener, None
            conns, self._conns = self._conns, set()
        if listener is not None:
            listener.close()
        for sock in conns:
            _hard_close(sock)
        self._frozen.clear()
        for thread in self._threads:
            thread.join(5)
        self._threads = [t for t in self._threads if t.is_alive()]

    def _accept_loop(self, listener: socket.socket) -> None:
        while True:
            with self._lock:
                if self._listener is not listener:
                    return
            try:
                client, _ = listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            try:
                upstream = socket.create_connection(self.upstream, timeout=5)
            except OSError:
                _hard_close(client)
                continue
            with self._lock:
                if self._listener is not listener:  # stopped while we were connecting
                    _hard_close(client)
                    _hard_close(upstream)
                    return
                self._conns.update((client, upstream))
                self.accepted += 1
            thread = threading.Thread(
                target=self._pump, args=(client, upstream), name="proxy-pump", daemon=True
            )
            thread.start()

    def _pump(self, a: socket.socket, b: socket.socket) -> None:
        peer = {a: b, b: a}
        sel = selectors.DefaultSelector()
        try:
            for sock in (a, b):
                sock.setblocking(False)
                sel.register(sock, selectors.EVENT_READ)
            while True:
                with self._lock:
                    if a not in self._conns:
                        return
                for key, _ in sel.select(timeout=0.2):
                    src: socket.socket = key.fileobj  # type: ignore[assignment]
                    data = src.recv(65536)
                    if not data:
                        return
                    if self._frozen.is_set():
                        continue
                    peer[src].setblocking(True)
                    peer[src].sendall(data)
                    peer[src].setblocking(False)
        except (OSError, ValueError):
            return
        finally:
            sel.close()
            with self._lock:
                self._conns.discard(a)
                self._conns.discard(b)
            _hard_close(a)
            _hard_close(b)


def _hard_close(sock: socket.socket) -> None:
    """Close with RST (SO_LINGER 0), as a crashed peer or a dropped route looks to the other side."""
    with contextlib.suppress(OSError):
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
    with contextlib.suppress(OSError):
        sock.shutdown(socket.SHUT_RDWR)
    with contextlib.suppress(OSError):
        sock.close()
