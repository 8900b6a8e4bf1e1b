"""Database outage behind a TCP proxy: the server answers 503 + Retry-After quickly and recovers without a restart."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import requests
from harness.databases import MARIADB_HOST, MARIADB_PORT, PG_HOST, PG_PORT, BackendURI, selected_backends
from harness.server import db_upgrade, free_port

from durability._support import Api, TcpProxy, error_code, ok, swap_port

OUTAGE_BACKENDS = [b for b in ("postgresql", "mariadb") if b in selected_backends()]
UPSTREAM = {"postgresql": (PG_HOST, PG_PORT), "mariadb": (MARIADB_HOST, MARIADB_PORT)}
MAX_ANSWER_S = 15.0  # an outage must be reported, not waited out
# A database that stops answering is given up on after this long (the server's default is 30 s).
QUERY_TIMEOUT_S = "5"
RECOVERY_S = 25.0
POINTS = 50


@pytest.fixture
def proxied(backend: BackendURI, server_factory: Any) -> Iterator[tuple[TcpProxy, Any]]:
    """A migrated database and a server that reaches it only through a TcpProxy the test can cut."""
    db_upgrade(backend)
    proxy = TcpProxy(UPSTREAM[backend.backend], free_port())
    proxy.start()
    try:
        server = server_factory(
            swap_port(backend, proxy.port),
            upgrade=False,
            name=f"behind-proxy-{backend.backend}",
            env={"TRACKLIGHT_DB_QUERY_TIMEOUT": QUERY_TIMEOUT_S},
        )
        yield proxy, server
    finally:
        proxy.stop()


def batch(run_id: str, n: int) -> dict[str, Any]:
    return {
        "run_id": run_id,
        "metrics": [
            {"key": f"b{n}", "value": n + step / 100, "timestamp": 1_700_000_000_000 + step, "step": step}
            for step in range(POINTS)
        ],
        "params": [{"key": f"p{n}", "value": f"v{n}"}],
        "tags": [{"key": f"t{n}", "value": f"tag{n}"}],
    }


def timed(fn: Callable[[], requests.Response]) -> tuple[requests.Response | Exception, float]:
    started = time.monotonic()
    try:
        result: requests.Response | Exception = fn()
    except requests.RequestException as exc:
        result = exc
    return result, time.monotonic() - started


def assert_unavailable(what: str, result: requests.Response | Exception, elapsed: float) -> None:
    assert not isinstance(result, Exception), (
        f"{what} during the outage: no answer after {elapsed:.1f}s: {result!r}"
    )
    assert elapsed < MAX_ANSWER_S, f"{what} during the outage took {elapsed:.1f}s (limit {MAX_ANSWER_S}s)"
    assert result.status_code == 503, f"{what} during the outage: {result.status_code} {result.text[:300]}"
    assert error_code(result) == "TEMPORARILY_UNAVAILABLE", f"{what}: body {result.text[:300]}"
    retry_after = result.headers.get("Retry-After", "")
    assert retry_after.isdigit() and int(retry_after) > 0, f"{what}: Retry-After header is {retry_after!r}"


def batch_state(api: Api, run_data: dict[str, Any], run_id: str, n: int) -> str:
    """'full', 'absent' or a description of a partial write of batch n."""
    points = api.history(run_id, f"b{n}")
    params = {p["key"]: p["value"] for p in run_data.get("params", []) if p["key"] == f"p{n}"}
    tags = {t["key"]: t["value"] for t in run_data.get("tags", []) if t["key"] == f"t{n}"}
    if not points and not params and not tags:
        return "absent"
    if sorted(p["step"] for p in points) == list(range(POINTS)) and params == {f"p{n}": f"v{n}"} and tags:
        return "full"
    return f"partial: {len(points)} points, params {params}, tags {tags}"


@pytest.mark.slow
@pytest.mark.parametrize("backend", OUTAGE_BACKENDS, indirect=True)
def test_outage_answers_503_with_retry_after_and_recovers_by_itself(proxied: tuple[TcpProxy, Any]) -> None:
    proxy, server = proxied
    api = Api(server.url, timeout=(5.0, MAX_ANSWER_S + 10))
    experiment_id = api.create_experiment()
    run_id = api.create_run(experiment_id)
    ok(api.post("runs/log-batch", batch(run_id, 0)))
    assert proxy.accepted > 0, "the server did not go through the proxy"

    proxy.stop()
    calls: list[tuple[str, Callable[[], requests.Response]]] = [
        ("runs/get", lambda: api.get("runs/get", {"run_id": run_id})),
        ("runs/log-batch", lambda: api.post("runs/log-batch", batch(run_id, 1))),
        (
            "runs/log-parameter",
            lambda: api.post("runs/log-parameter", {"run_id": run_id, "key": "k", "value": "v"}),
        ),
        ("experiments/create", lambda: api.post("experiments/create", {"name": f"outage-{time.time_ns()}"})),
        ("runs/search", lambda: api.post("runs/search", {"experiment_ids": [experiment_id]})),
        (
            "metrics/get-history",
            lambda: api.get("metrics/get-history", {"run_id": run_id, "metric_key": "b0"}),
        ),
    ]
    for round_ in range(2):  # the first round meets pooled connections that died, the second fresh attempts
        for what, fn in calls:
            result, elapsed = timed(fn)
            assert_unavailable(f"{what} (round {round_})", result, elapsed)

    proxy.start()
    deadline = time.monotonic() + RECOVERY_S
    answers: list[int] = []
    while True:
        result, elapsed = timed(lambda: api.get("runs/get", {"run_id": run_id}))
        assert not isinstance(result, Exception), (
            f"no answer during recovery after {elapsed:.1f}s: {result!r}"
        )
        answers.append(result.status_code)
        if result.status_code == 200:
            break
        assert result.status_code == 503, f"during recovery: {result.status_code} {result.text[:300]}"
        assert time.monotonic() < deadline, (
            f"no 200 within {RECOVERY_S}s of the database coming back: {answers}"
        )
        time.sleep(0.5)
    assert server.running, "the server process died during the outage"

    ok(api.post("runs/log-batch", batch(run_id, 2)))
    ok(api.post("experiments/create", {"name": f"after-outage-{time.time_ns()}"}))
    data = api.get_run(run_id)["data"]
    states = {n: batch_state(api, data, run_id, n) for n in range(3)}
    assert states == {0: "full", 1: "absent", 2: "full"}, states


@pytest.mark.slow
@pytest.mark.parametrize("backend", OUTAGE_BACKENDS, indirect=True)
def test_outage_under_write_traffic_never_500s_or_hangs(proxied: tuple[TcpProxy, Any]) -> None:
    proxy, server = proxied
    setup = Api(server.url)
    experiment_id = setup.create_experiment()
    run_id = setup.create_run(experiment_id)

    lock = threading.Lock()
    counter = iter(range(1_000_000))
    answers: dict[int, tuple[int | str, float, str]] = {}  # batch -> (status or error, seconds, phase)
    phase = ["before"]
    stop = threading.Event()

    def writer() -> None:
        api = Api(server.url, timeout=(5.0, MAX_ANSWER_S + 10))
        while not stop.is_set():
            with lock:
                n = next(counter)
                current = phase[0]
            result, elapsed = timed(lambda n=n: api.post("runs/log-batch", batch(run_id, n)))
            status: int | str = result.status_code if isinstance(result, requests.Response) else repr(result)
            with lock:
                answers[n] = (status, elapsed, current)
            if status != 200:
                time.sleep(0.1)

    threads = [threading.Thread(target=writer, name=f"outage-writer-{i}") for i in range(4)]
    for t in threads:
        t.start()
    try:
        time.sleep(1.5)
        with lock:
            phase[0] = "outage"
        proxy.stop()
        time.sleep(3.0)
        with lock:
            phase[0] = "recovery"
        proxy.start()
        time.sleep(6.0)
    finally:
        stop.set()
        for t in threads:
            t.join(MAX_ANSWER_S + 15)
    assert not any(t.is_alive() for t in threads), "writers still blocked long after the test ended"

    bad = {n: a for n, a in answers.items() if a[0] not in (200, 503) or a[1] >= MAX_ANSWER_S}
    assert not bad, "answers other than a prompt 200 or 503:\n" + "\n".join(
        f"  batch {n}: {a[0]} after {a[1]:.1f}s ({a[2]})" for n, a in sorted(bad.items())[:15]
    )
    by_phase = {p: [a[0] for a in answers.values() if a[2] == p] for p in ("before", "outage", "recovery")}
    assert 200 in by_phase["before"], f"no successful write before the outage: {by_phase['before'][:10]}"
    assert 503 in by_phase["outage"], f"no 503 during the outage: {by_phase['outage'][:20]}"
    assert 200 in by_phase["recovery"], (
        f"no successful write in the {6.0}s after the database came back: {by_phase['recovery'][-20:]}"
    )
    last = [answers[n][0] for n in sorted(answers)[-4:]]
    assert last == [200] * len(last), f"the last writes after recovery were not all 200: {last}"

    data = setup.get_run(run_id)["data"]
    problems = []
    for n, (status, _, _) in sorted(answers.items()):
        state = batch_state(setup, data, run_id, n)
        if status == 200 and state != "full":
            problems.append(f"batch {n} acknowledged but {state}")
        elif state.startswith("partial"):
            problems.append(f"batch {n} ({status}) {state}")
    assert not problems, "\n".join(problems[:20])


@pytest.mark.slow
@pytest.mark.parametrize("backend", OUTAGE_BACKENDS, indirect=True)
def test_database_that_stops_answering_gives_503_within_15s(proxied: tuple[TcpProxy, Any]) -> None:
    """A hung database (connections open, nothing comes back) must be reported as 503, not waited on forever."""
    proxy, server = proxied
    api = Api(server.url, timeout=(5.0, MAX_ANSWER_S + 10))
    experiment_id = api.create_experiment()
    run_id = api.create_run(experiment_id)
    ok(api.post("runs/log-batch", batch(run_id, 0)))  # leaves a pooled connection behind

    proxy.freeze()
    results: dict[str, tuple[requests.Response | Exception, float]] = {}

    def call(what: str, fn: Callable[[], requests.Response]) -> None:
        results[what] = timed(fn)

    client = [Api(server.url, timeout=(5.0, MAX_ANSWER_S + 10)) for _ in range(3)]
    threads = [
        threading.Thread(
            target=call, args=("runs/get", lambda: client[0].get("runs/get", {"run_id": run_id}))
        ),
        threading.Thread(
            target=call, args=("runs/log-batch", lambda: client[1].post("runs/log-batch", batch(run_id, 1)))
        ),
        threading.Thread(
            target=call,
            args=("runs/search", lambda: client[2].post("runs/search", {"experiment_ids": [experiment_id]})),
        ),
    ]
    try:
        for t in threads:
            t.start()
        for t in threads:
            t.join(MAX_ANSWER_S + 15)
    finally:
        proxy.thaw()  # resets the frozen connections, which also frees any server thread stuck on them
    for what in ("runs/get", "runs/log-batch", "runs/search"):
        assert what in results, f"{what}: the client thread never finished"
        assert_unavailable(what, *results[what])

    deadline = time.monotonic() + RECOVERY_S
    while True:
        result, elapsed = timed(lambda: api.get("runs/get", {"run_id": run_id}))
        if isinstance(result, requests.Response) and result.status_code == 200:
            break
        assert time.monotonic() < deadline, (
            f"no 200 within {RECOVERY_S}s after the database answered again: {result!r}"
        )
        time.sleep(0.5)
    ok(api.post("runs/log-batch", batch(run_id, 2)))
    data = api.get_run(run_id)["data"]
    assert batch_state(api, data, run_id, 0) == "full"
    assert batch_state(api, data, run_id, 2) == "full"
    assert not batch_state(api, data, run_id, 1).startswith("partial")


@pytest.mark.parametrize("backend", OUTAGE_BACKENDS, indirect=True)
def test_readiness_follows_the_database(proxied: tuple[TcpProxy, Any]) -> None:
    """/ready says 503 while the database is cut off, and 200 again after; /health (liveness) stays 200."""
    proxy, server = proxied
    assert requests.get(f"{server.url}/ready", timeout=10).json()["checks"]["database"] == "ok"
    proxy.stop()
    try:
        result, elapsed = timed(lambda: requests.get(f"{server.url}/ready", timeout=MAX_ANSWER_S + 5))
        assert not isinstance(result, Exception) and elapsed < MAX_ANSWER_S
        assert result.status_code == 503
        assert result.json()["checks"]["database"] != "ok"
        assert requests.get(f"{server.url}/health", timeout=10).status_code == 200
    finally:
        proxy.start()
    deadline = time.monotonic() + RECOVERY_S
    while requests.get(f"{server.url}/ready", timeout=10).status_code != 200:
        assert time.monotonic() < deadline, "not ready again after the database came back"
        time.sleep(0.5)
