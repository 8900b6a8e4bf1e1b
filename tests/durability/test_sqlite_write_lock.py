"""A write on SQLite while another process holds the database's write lock (a second server process on
the same file, a backup, an admin's shell): the server waits for the lock on a worker thread, never on
the event loop, so every other request is still answered meanwhile, and the write is stored once the
lock is free. (A lone short write may run on the event loop itself; it must then give way, not wait.)"""

from __future__ import annotations

import sqlite3
import threading
import time
from typing import Any

import pytest
import requests
from harness.databases import BackendURI

from durability._support import Api, ok

WAIT_S = 60.0  # bounds on waiting, never timing assertions
ARRIVE_S = 1.0  # time for the pending write to reach the server and start waiting for the lock
PROBES = 5


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
def test_a_write_waiting_for_another_process_lock_holds_up_no_other_request(
    backend: BackendURI, server_factory: Any
) -> None:
    server = server_factory(backend, timeout=60)
    api = Api(server.url)
    experiment_id = api.create_experiment()
    assert backend.path is not None
    holder = sqlite3.connect(backend.path, isolation_level=None, timeout=WAIT_S)
    outcome: dict[str, requests.Response] = {}

    def create() -> None:
        # Nothing else is in flight: the server may try this one on its event loop first.
        outcome["created"] = Api(server.url, timeout=(5.0, WAIT_S)).post(
            "runs/create", {"experiment_id": experiment_id, "run_name": "waited", "start_time": 1}
        )

    try:
        holder.execute("BEGIN IMMEDIATE")
        writer = threading.Thread(target=create)
        writer.start()
        time.sleep(ARRIVE_S)
        for _ in range(PROBES):
            # Each answer comes while the write still waits (it cannot finish before the lock is let go).
            assert requests.get(f"{server.url}/health", timeout=5).status_code == 200
            ok(api.get("experiments/get", {"experiment_id": experiment_id}))
        assert writer.is_alive(), outcome
        holder.execute("ROLLBACK")
        writer.join(WAIT_S)
        assert not writer.is_alive()
    finally:
        holder.close()
    run = ok(outcome["created"])["run"]
    assert api.get_run(run["info"]["run_id"])["info"]["run_name"] == "waited"
