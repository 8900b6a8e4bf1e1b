"""kill -9 a server under log-batch load: every acknowledged batch survives in full and no batch is half-written."""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from typing import Any

import pytest
import requests
from harness.databases import BackendURI

from durability._support import Api

WRITERS = 4
RUNS = 2  # writers share runs, so batches to one run also race each other
POINTS = 200
PARAMS = 3
TRAFFIC_S = 2.5
WRITER_BUDGET_S = 30.0


def value_of(batch: int, step: int) -> float:
    return batch * 1000.0 + step + 0.5


def batch_body(run_id: str, batch: int, ts: int) -> dict[str, Any]:
    """Batch `batch`: metric b<batch> at steps 0..199, params p<batch>.<i> = v<batch>.<i>, tag t<batch>."""
    return {
        "run_id": run_id,
        "metrics": [
            {"key": f"b{batch}", "value": value_of(batch, step), "timestamp": ts + step, "step": step}
            for step in range(POINTS)
        ],
        "params": [{"key": f"p{batch}.{i}", "value": f"v{batch}.{i}"} for i in range(PARAMS)],
        "tags": [{"key": f"t{batch}", "value": f"tag{batch}"}],
    }


@dataclass
class Ledger:
    """What the writers sent: per batch its run, and whether the server acknowledged it with a 200."""

    lock: threading.Lock = field(default_factory=threading.Lock)
    next_batch: int = 0
    run_of: dict[int, str] = field(default_factory=dict)
    acked: set[int] = field(default_factory=set)
    failed: dict[int, str] = field(default_factory=dict)  # batch -> what the client saw instead of a 200
    bad_status: list[str] = field(default_factory=list)  # non-200 answers received before the kill
    ts: dict[int, int] = field(default_factory=dict)

    def claim(self, run_id: str) -> int:
        with self.lock:
            batch = self.next_batch
            self.next_batch += 1
            self.run_of[batch] = run_id
            self.ts[batch] = int(time.time() * 1000)
            return batch


def writer(url: str, run_id: str, ledger: Ledger, killed: threading.Event, deadline: float) -> None:
    api = Api(url, timeout=(5.0, 20.0))
    try:
        while time.monotonic() < deadline:
            batch = ledger.claim(run_id)
            try:
                resp = api.post("runs/log-batch", batch_body(run_id, batch, ledger.ts[batch]))
            except requests.RequestException as exc:
                with ledger.lock:
                    ledger.failed[batch] = type(exc).__name__
                if killed.is_set():
                    return
                time.sleep(0.05)
                continue
            if resp.status_code == 200:
                with ledger.lock:
                    ledger.acked.add(batch)
            else:
                with ledger.lock:
                    ledger.failed[batch] = f"HTTP {resp.status_code}"
                    if not killed.is_set():
                        ledger.bad_status.append(f"batch {batch}: HTTP {resp.status_code} {resp.text[:300]}")
            if killed.is_set():
                return
    finally:
        api.close()


@pytest.mark.slow
def test_kill_9_mid_traffic_keeps_acknowledged_batches_whole(
    backend: BackendURI, server_factory: Any
) -> None:
    server = server_factory(backend, timeout=60)
    api = Api(server.url)
    experiment_id = api.create_experiment()
    runs = [api.create_run(experiment_id, f"crash-{i}") for i in range(RUNS)]

    ledger = Ledger()
    killed = threading.Event()
    deadline = time.monotonic() + WRITER_BUDGET_S
    threads = [
        threading.Thread(
            target=writer, args=(server.url, runs[i % RUNS], ledger, killed, deadline), name=f"writer-{i}"
        )
        for i in range(WRITERS)
    ]
    for t in threads:
        t.start()
    time.sleep(TRAFFIC_S)
    with ledger.lock:
        acked_before_kill = len(ledger.acked)
    killed.set()
    server.kill()  # SIGKILL to the whole process group
    for t in threads:
        t.join(WRITER_BUDGET_S)
    assert not any(t.is_alive() for t in threads), "writer threads still running long after the kill"

    assert not ledger.bad_status, "non-200 answers under normal load before the kill:\n" + "\n".join(
        ledger.bad_status[:10]
    )
    assert acked_before_kill >= WRITERS, (
        f"only {acked_before_kill} batches acknowledged in {TRAFFIC_S}s of traffic"
    )
    unacked = [b for b in ledger.run_of if b not in ledger.acked]
    assert unacked, "no request was in flight when the server was killed; the test did not crash mid-traffic"

    server.start(timeout=60)  # same database, same port
    api = Api(server.url)
    problems: list[str] = []
    present: set[int] = set()
    run_data = {run_id: api.get_run(run_id)["data"] for run_id in runs}
    for batch, run_id in sorted(ledger.run_of.items()):
        data = run_data[run_id]
        points = api.history(run_id, f"b{batch}")
        steps = sorted(p["step"] for p in points)
        params = {p["key"]: p["value"] for p in data.get("params", []) if p["key"].startswith(f"p{batch}.")}
        tags = {t["key"]: t["value"] for t in data.get("tags", []) if t["key"] == f"t{batch}"}
        latest = [m for m in data.get("metrics", []) if m["key"] == f"b{batch}"]
        full = (
            steps == list(range(POINTS))
            and all(p["value"] == value_of(batch, p["step"]) for p in points)
            and all(p["timestamp"] == ledger.ts[batch] + p["step"] for p in points)
            and params == {f"p{batch}.{i}": f"v{batch}.{i}" for i in range(PARAMS)}
            and tags == {f"t{batch}": f"tag{batch}"}
            and len(latest) == 1
            and latest[0]["step"] == POINTS - 1
            and latest[0]["value"] == value_of(batch, POINTS - 1)
        )
        empty = not points and not params and not tags and not latest
        state = "acked" if batch in ledger.acked else f"unacked ({ledger.failed.get(batch, 'no answer')})"
        if full:
            present.add(batch)
        elif empty:
            if batch in ledger.acked:
                problems.append(
                    f"batch {batch} [{state}]: acknowledged but entirely missing after the restart"
                )
        else:
            problems.append(
                f"batch {batch} [{state}]: half-written: {len(points)}/{POINTS} points "
                f"(steps {steps[:3]}..{steps[-3:]}), params {sorted(params)}, tags {sorted(tags)}, latest {latest}"
            )
    # Nothing the writers did not send may appear either.
    for run_id, data in run_data.items():
        sent = {f"b{b}" for b, r in ledger.run_of.items() if r == run_id}
        extra = {m["key"] for m in data.get("metrics", [])} - sent
        if extra:
            problems.append(f"run {run_id}: metrics nobody sent: {sorted(extra)[:10]}")
    assert not problems, (
        f"{len(problems)} problems after kill -9 ({len(ledger.acked)} acked, {len(unacked)} unacked, "
        f"{len(present)} present):\n" + "\n".join(problems[:20])
    )
    # The restarted server takes writes again.
    next_batch = ledger.claim(runs[0])
    resp = api.post("runs/log-batch", batch_body(runs[0], next_batch, ledger.ts[next_batch]))
    assert resp.status_code == 200, resp.text[:500]
    assert len(api.history(runs[0], f"b{next_batch}")) == POINTS
