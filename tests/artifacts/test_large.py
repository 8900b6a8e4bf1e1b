"""A 5 GiB file up and down through the proxy, sha256 intact, with the server's memory flat throughout."""

from __future__ import annotations

import hashlib
import http.client
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from artifacts.conftest import ArtifactServer

GIB = 1 << 30
_BLOCK = 1 << 20
# The bound is generous against allocator noise, and far below what buffering even 1 GiB would cost.
MAX_RSS_GROWTH = 100 << 20


def _blocks(total: int) -> Iterator[bytes]:
    """Deterministic, incompressible-enough data generated on the fly (no 5 GiB file on the test's disk)."""
    seed = hashlib.sha256(b"tracklight").digest()
    for i in range(total // _BLOCK):
        block = hashlib.sha256(seed + i.to_bytes(8, "big")).digest()
        yield block * (_BLOCK // len(block))


def _rss(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    raise RuntimeError("no VmRSS")


class PeakRss:
    """Samples a process's RSS every 100 ms in the background."""

    def __init__(self, pid: int) -> None:
        self.pid = pid
        self.start = _rss(pid)
        self.peak = self.start
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)
        self._thread.start()

    def _sample(self) -> None:
        while not self._stop.wait(0.1):
            self.peak = max(self.peak, _rss(self.pid))

    def growth(self) -> int:
        self._stop.set()
        self._thread.join()
        return self.peak - self.start


@pytest.mark.slow
def test_five_gib_through_the_proxy(artifact_server: ArtifactServer) -> None:
    if artifact_server.kind != "local":
        pytest.skip("5 GiB runs against local disk; the emulators keep objects in memory")
    total = 5 * GIB
    parts = urlsplit(artifact_server.url)
    path = f"/api/2.0/mlflow-artifacts/artifacts/large/{time.time_ns()}/huge.bin"
    assert artifact_server.server.proc is not None
    rss = PeakRss(artifact_server.server.proc.pid)

    sent = hashlib.sha256()

    def body() -> Iterator[bytes]:
        for block in _blocks(total):
            sent.update(block)
            yield block

    conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=300)
    conn.request("PUT", path, body=body(), headers={"Content-Length": str(total)})
    answer = conn.getresponse()
    assert answer.status == 200, answer.read()[:300]
    answer.read()

    received = hashlib.sha256()
    size = 0
    conn.request("GET", path)
    answer = conn.getresponse()
    assert answer.status == 200
    assert int(answer.headers["Content-Length"]) == total
    while chunk := answer.read(4 * _BLOCK):
        received.update(chunk)
        size += len(chunk)
    conn.close()
    growth = rss.growth()
    assert size == total
    assert received.hexdigest() == sent.hexdigest()
    assert growth < MAX_RSS_GROWTH, f"server RSS grew by {growth >> 20} MiB during a 5 GiB round trip"
    artifact_server.root.joinpath(path.split("/artifacts/", 1)[1]).unlink()
