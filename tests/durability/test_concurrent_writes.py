"""Many clients writing at once to one server, as a hyper-parameter sweep does: every acknowledged
write is stored exactly as sent, a rejected one leaves nothing behind (on SQLite, writes that arrive
together share one COMMIT, so this is where a failing write could take others down with it), and a
kill -9 in the middle loses no acknowledged run."""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from typing import Any

import pytest
import requests
from harness.databases import BackendURI

from durability._support import Api, ok

WAIT_S = 60.0  # bounds on waiting, never timing assertions
CREATORS = 16
RUNS_EACH = 15


def run_body(experiment_id: str, name: str) -> dict[str, Any]:
    return {
        "experiment_id": experiment_id,
        "run_name": name,
        "start_time": int(time.time() * 1000),
        "tags": [
            {"key": "mlflow.user", "value": "sweeper"},
            {"key": "mlflow.source.name", "value": "sweep.py"},
            {"key": "trial", "value": name},
        ],
    }


def all_runs(api: Api, experiment_id: str) -> dict[str, dict[str, Any]]:
    """Every run of the experiment by id, following next_page_token."""
    found: dict[str, dict[str, Any]] = {}
    token = None
    for _ in range(100):
        body: dict[str, Any] = {"experiment_ids": [experiment_id], "max_results": 1000}
        if token:
            body["page_token"] = token
        page = ok(api.post("runs/search", body))
        for run in page.get("runs", []):
            found[run["info"]["run_id"]] = run
        token = page.get("next_page_token")
        if not token:
            return found
    raise AssertionError("runs/search did not end within 100 pages")


def complete(run: dict[str, Any], name: str) -> bool:
    """The run carries its name and every tag it was created with."""
    tags = {t["key"]: t["value"] for t in run.get("data", {}).get("tags", [])}
    return (
        run["info"]["run_name"] == name
        and run["info"]["lifecycle_stage"] == "active"
        and tags.get("mlflow.runName") == name
        and tags.get("mlflow.user") == "sweeper"
        and tags.get("mlflow.source.name") == "sweep.py"
        and tags.get("trial") == name
    )


def test_runs_created_by_many_clients_at_once_are_all_acknowledged_and_stored(
    backend: BackendURI, server_factory: Any
) -> None:
    server = server_factory(backend, timeout=60)
    experiment_id = Api(server.url).create_experiment()
    acked: dict[str, str] = {}  # run id -> name
    failures: list[str] = []
    lock = threading.Lock()
    start = threading.Barrier(CREATORS, timeout=WAIT_S)

    def creator(c: int) -> None:
        api = Api(server.url)
        try:
            start.wait()
            for i in range(RUNS_EACH):
                name = f"trial-{c}-{i}"
                resp = api.post("runs/create", run_body(experiment_id, name))
                with lock:
                    if resp.status_code != 200:
                        failures.append(f"{name}: HTTP {resp.status_code} {resp.text[:200]}")
                        continue
                    run = resp.json()["run"]
                    if not complete(run, name):
                        failures.append(f"{name}: the answer does not describe the run asked for: {run}")
                    acked[run["info"]["run_id"]] = name
        finally:
            api.close()

    threads = [threading.Thread(target=creator, args=(c,)) for c in range(CREATORS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(WAIT_S)
    assert not any(t.is_alive() for t in threads), "creators still running"
    assert not failures, "\n".join(failures[:10])
    assert len(acked) == CREATORS * RUNS_EACH
    assert sorted(acked.values()) == sorted(
        f"trial-{c}-{i}" for c in range(CREATORS) for i in range(RUNS_EACH)
    )

    stored = all_runs(Api(server.url), experiment_id)
    assert set(stored) == set(acked)
    wrong = [name for run_id, name in acked.items() if not complete(stored[run_id], name)]
    assert not wrong, f"runs stored differently from how they were created: {wrong[:10]}"


@dataclass
class Outcome:
    """What one concurrent log-batch was meant to do and what the server answered."""

    i: int
    kind: str  # "good", "param-conflict" or "missing-model"
    status: int = 0
    body: str = ""
    done: threading.Event = field(default_factory=threading.Event)


def batch_for(run_id: str, outcome: Outcome) -> dict[str, Any]:
    """Every batch writes a param, a tag and a metric of its own; the bad ones then fail: a conflicting
    value for the shared param (found after the batch's own params went in), or a metric naming a
    logged model that does not exist (found after its params, tags and metrics went in)."""
    i = outcome.i
    metric: dict[str, Any] = {"key": f"m{i}", "value": i + 0.5, "timestamp": 1_700_000_000_000 + i, "step": i}
    params = [{"key": f"own{i}", "value": f"v{i}"}, {"key": "shared", "value": "first"}]
    if outcome.kind == "param-conflict":
        params[1]["value"] = f"other{i}"
    if outcome.kind == "missing-model":
        metric["model_id"] = f"m-does-not-exist-{i}"
    return {
        "run_id": run_id,
        "params": params,
        "tags": [{"key": f"t{i}", "value": f"tag{i}"}],
        "metrics": [metric],
    }


def test_a_rejected_write_among_concurrent_ones_leaves_nothing_and_takes_no_other_down(
    backend: BackendURI, server_factory: Any
) -> None:
    server = server_factory(backend, timeout=60)
    api = Api(server.url)
    run_id = api.create_run(api.create_experiment())
    ok(api.post("runs/log-parameter", {"run_id": run_id, "key": "shared", "value": "first"}))

    kinds = ("good", "param-conflict", "good", "missing-model")
    rounds, per_round = 4, 16
    outcomes: list[Outcome] = []
    for r in range(rounds):
        batch = [Outcome(r * per_round + j, kinds[j % len(kinds)]) for j in range(per_round)]
        outcomes += batch
        start = threading.Barrier(per_round, timeout=WAIT_S)

        def send(outcome: Outcome, start: threading.Barrier = start) -> None:
            client = Api(server.url)
            try:
                start.wait()
                resp = client.post("runs/log-batch", batch_for(run_id, outcome))
                outcome.status, outcome.body = resp.status_code, resp.text[:300]
            except requests.RequestException as exc:
                outcome.body = repr(exc)
            finally:
                outcome.done.set()
                client.close()

        threads = [threading.Thread(target=send, args=(o,)) for o in batch]
        for t in threads:
            t.start()
        for t in threads:
            t.join(WAIT_S)
        assert all(o.done.is_set() for o in batch), "a client never got an answer"

    expected_status = {"good": 200, "param-conflict": 400, "missing-model": 404}
    wrong_status = [o for o in outcomes if o.status != expected_status[o.kind]]
    assert not wrong_status, [(o.i, o.kind, o.status, o.body) for o in wrong_status[:5]]

    data = api.get_run(run_id)["data"]
    params = {p["key"]: p["value"] for p in data.get("params", [])}
    tags = {t["key"]: t["value"] for t in data.get("tags", [])}
    metrics = {m["key"]: m["value"] for m in data.get("metrics", [])}
    assert params.get("shared") == "first"
    problems = []
    for o in outcomes:
        mine = (params.get(f"own{o.i}"), tags.get(f"t{o.i}"), metrics.get(f"m{o.i}"))
        if o.kind == "good" and mine != (f"v{o.i}", f"tag{o.i}", o.i + 0.5):
            problems.append(f"batch {o.i} (acknowledged) stored as {mine}")
        if o.kind != "good" and mine != (None, None, None):
            problems.append(f"batch {o.i} ({o.kind}, rejected) left {mine} behind")
    assert not problems, "\n".join(problems[:20])


@pytest.mark.slow
def test_kill_9_while_many_clients_create_runs_loses_no_acknowledged_run(
    backend: BackendURI, server_factory: Any
) -> None:
    server = server_factory(backend, timeout=60)
    experiment_id = Api(server.url).create_experiment()
    acked: dict[str, str] = {}
    sent: list[str] = []
    bad_status: list[str] = []
    lock = threading.Lock()
    killed = threading.Event()
    deadline = time.monotonic() + WAIT_S

    def creator(c: int) -> None:
        api = Api(server.url, timeout=(5.0, 20.0))
        try:
            i = 0
            while not killed.is_set() and time.monotonic() < deadline:
                name = f"trial-{c}-{i}"
                i += 1
                with lock:
                    sent.append(name)
                try:
                    resp = api.post("runs/create", run_body(experiment_id, name))
                except requests.RequestException:
                    return  # the server is gone
                with lock:
                    if resp.status_code == 200:
                        acked[resp.json()["run"]["info"]["run_id"]] = name
                    elif not killed.is_set():
                        bad_status.append(f"{name}: HTTP {resp.status_code} {resp.text[:200]}")
        finally:
            api.close()

    threads = [threading.Thread(target=creator, args=(c,)) for c in range(CREATORS)]
    for t in threads:
        t.start()
    # Kill once a good number of runs are in, with requests still in flight.
    while time.monotonic() < deadline:
        with lock:
            if len(acked) >= 200:
                break
        time.sleep(0.01)
    killed.set()
    server.kill()
    for t in threads:
        t.join(WAIT_S)
    assert not any(t.is_alive() for t in threads), "creators still running long after the kill"
    assert not bad_status, "\n".join(bad_status[:10])
    assert len(acked) >= 200, f"only {len(acked)} runs acknowledged before the deadline"
    names_sent = set(sent)
    assert len(names_sent) > len(acked), "no request was in flight at the kill"

    server.start(timeout=60)  # same database, same port
    stored = all_runs(Api(server.url), experiment_id)
    missing = [f"{run_id} ({name})" for run_id, name in acked.items() if run_id not in stored]
    assert not missing, f"{len(missing)} acknowledged runs lost: {missing[:10]}"
    problems = []
    for run_id, run in stored.items():
        name = run["info"]["run_name"]
        if name not in names_sent:
            problems.append(f"{run_id}: a run nobody created ({name})")
        elif not complete(run, name):
            problems.append(f"{run_id}: half-written: {run}")
        elif run_id in acked and acked[run_id] != name:
            problems.append(f"{run_id}: acknowledged as {acked[run_id]}, stored as {name}")
    assert not problems, "\n".join(problems[:10])
