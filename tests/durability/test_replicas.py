"""Two server processes on one database: concurrent logging, param races and creation races stay consistent."""

from __future__ import annotations

import random
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import pytest
import requests
from harness.databases import BackendURI, selected_backends

from durability._support import Api, error_code, ok

REPLICA_BACKENDS = [b for b in ("mariadb", "postgresql") if b in selected_backends()]
replica_backends = pytest.mark.parametrize("backend", REPLICA_BACKENDS, indirect=True)

RUNS = 3
KEYS = ("loss", "acc", "shared/x", "lr")
STEPS = 60
METRIC_THREADS = 6
PARAM_ROUNDS = 12  # conflicting-param races per run
RACERS = 4  # requests per race, alternating between the two servers
SAME_KEYS = 4
BASE_TS = 1_700_000_000_000

Point = tuple[int, int, float]  # (step, timestamp, value)


def expected_points(run: int, key: str) -> set[Point]:
    """The distinct points of one series: one per step, plus later and same-(step, timestamp) variants."""
    k = KEYS.index(key)
    points: set[Point] = set()
    for step in range(STEPS):
        ts = BASE_TS + step * 10
        base = (run * 100 + k * 10) + step * 0.25 - (7.5 if step % 5 == 0 else 0.0)
        points.add((step, ts, base))
        if step % 7 == 0:  # a later point at the same step: it is the latest of that step
            points.add((step, ts + 5, base - 1.0))
        if step % 11 == 0:  # same step and timestamp, another value: the larger value is the latest
            points.add((step, ts, base + 0.125))
    return points


def plan_batches(runs: list[str], rng: random.Random) -> list[list[tuple[str, dict[str, Any]]]]:
    """Per metric thread, its log-batch bodies: every point at least once, ~40% sent twice, steps shuffled."""
    per_thread: list[list[tuple[str, dict[str, Any]]]] = [[] for _ in range(METRIC_THREADS)]
    for r, run_id in enumerate(runs):
        entries: list[tuple[int, dict[str, Any]]] = []
        for key in KEYS:
            for step, ts, value in expected_points(r, key):
                point = {"key": key, "value": value, "timestamp": ts, "step": step}
                owners = {rng.randrange(METRIC_THREADS)}
                if rng.random() < 0.4:  # the same point again, from another thread (and maybe server)
                    owners.add(rng.randrange(METRIC_THREADS))
                    if len(owners) == 1:
                        entries.append((next(iter(owners)), point))  # twice in the same thread
                entries.extend((owner, point) for owner in owners)
        rng.shuffle(entries)
        for t in range(METRIC_THREADS):
            mine = [p for owner, p in entries if owner == t]
            i = 0
            while i < len(mine):
                size = rng.randint(5, 60)
                per_thread[t].append((run_id, {"run_id": run_id, "metrics": mine[i : i + size]}))
                i += size
    for batches in per_thread:
        rng.shuffle(batches)
    return per_thread


@dataclass
class Call:
    server: int
    what: str
    status: int
    code: str | None
    body: str


class Recorder:
    """Thread-safe log of every answer; any 5xx or transport error is a failure."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.calls: list[Call] = []

    def send(self, api: Api, server: int, what: str, fn: Callable[[], requests.Response]) -> Call:
        try:
            resp = fn()
            call = Call(server, what, resp.status_code, error_code(resp), resp.text[:300])
        except requests.RequestException as exc:
            call = Call(server, what, -1, None, repr(exc)[:300])
        with self.lock:
            self.calls.append(call)
        return call

    def failures(self) -> list[Call]:
        return [c for c in self.calls if c.status < 0 or c.status >= 500]


def metric_worker(apis: list[Api], t: int, batches: list[tuple[str, dict[str, Any]]], rec: Recorder) -> None:
    rng = random.Random(t)
    for n, (_, body) in enumerate(batches):
        server = (t + n) % 2
        call = rec.send(
            apis[server],
            server,
            f"log-batch {len(body['metrics'])}",
            lambda server=server, body=body: apis[server].post("runs/log-batch", body),
        )
        if call.status != 200:
            continue
        if rng.random() < 0.2:  # a client retry of the whole batch, through the other replica
            other = 1 - server
            rec.send(
                apis[other],
                other,
                "log-batch retry",
                lambda other=other, body=body: apis[other].post("runs/log-batch", body),
            )


def param_racer(
    apis: list[Api],
    racer: int,
    runs: list[str],
    barrier: threading.Barrier,
    rec: Recorder,
    outcomes: dict[tuple[str, str], list[tuple[str, Call]]],
) -> None:
    server = racer % 2
    api = apis[server]
    for rnd in range(PARAM_ROUNDS):
        for run_id in runs:
            key = f"race.{rnd}"
            value = f"r{racer}-{uuid.uuid4().hex[:6]}"
            try:
                barrier.wait(30)
            except threading.BrokenBarrierError:
                return
            body = {"run_id": run_id, "key": key, "value": value}
            first = rec.send(
                api, server, f"log-parameter {key}", lambda body=body: api.post("runs/log-parameter", body)
            )
            again = rec.send(
                api,
                server,
                f"log-parameter {key} again",
                lambda body=body: api.post("runs/log-parameter", body),
            )
            # Re-logging the same value, always through the other replica.
            other = 1 - server
            same = {"run_id": run_id, "key": f"same.{rnd % SAME_KEYS}", "value": f"same-{rnd % SAME_KEYS}"}
            same_call = rec.send(
                apis[other],
                other,
                "log-parameter same",
                lambda same=same, other=other: apis[other].post("runs/log-parameter", same),
            )
            with rec.lock:
                outcomes.setdefault((run_id, key), []).extend([(value, first), (value, again)])
                outcomes.setdefault((run_id, same["key"]), []).append((same["value"], same_call))


def latest_of(points: set[Point]) -> Point:
    return max(points)


@pytest.mark.slow
@replica_backends
def test_two_replicas_log_to_the_same_runs(backend: BackendURI, server_factory: Any) -> None:
    servers = [server_factory(backend, name="replica-a"), server_factory(backend, name="replica-b")]
    apis = [Api(s.url) for s in servers]
    experiment_id = apis[0].create_experiment()
    runs = [apis[i % 2].create_run(experiment_id, f"replica-{i}") for i in range(RUNS)]

    rng = random.Random(20240611)
    plan = plan_batches(runs, rng)
    rec = Recorder()
    outcomes: dict[tuple[str, str], list[tuple[str, Call]]] = {}
    barrier = threading.Barrier(RACERS)
    started = time.monotonic()
    with ThreadPoolExecutor(max_workers=METRIC_THREADS + RACERS) as pool:
        futures = [
            pool.submit(metric_worker, [Api(s.url) for s in servers], t, plan[t], rec)
            for t in range(METRIC_THREADS)
        ]
        futures += [
            pool.submit(param_racer, [Api(s.url) for s in servers], r, runs, barrier, rec, outcomes)
            for r in range(RACERS)
        ]
        for f in futures:
            f.result(timeout=50)
    elapsed = time.monotonic() - started

    failures = rec.failures()
    assert not failures, (
        f"{len(failures)} 5xx or transport errors out of {len(rec.calls)} calls:\n"
        + "\n".join(f"  server {c.server} {c.what}: {c.status} {c.body}" for c in failures[:15])
    )
    bad_batches = [c for c in rec.calls if c.what.startswith("log-batch") and c.status != 200]
    assert not bad_batches, "log-batch calls that did not get 200:\n" + "\n".join(
        f"  server {c.server} {c.what}: {c.status} {c.body}" for c in bad_batches[:15]
    )
    assert sum(len(b) for b in plan) >= 30 and elapsed < 50

    # Metrics: the exact set of points per series, read through both replicas with small pages.
    problems: list[str] = []
    for r, run_id in enumerate(runs):
        for s_i, api in enumerate(apis):
            latest = {m["key"]: m for m in api.get_run(run_id)["data"].get("metrics", [])}
            assert set(latest) == set(KEYS), f"run {r} via server {s_i}: latest metrics for {sorted(latest)}"
            for key in KEYS:
                want = expected_points(r, key)
                got = [
                    (p["step"], p["timestamp"], p["value"]) for p in api.history(run_id, key, page_size=17)
                ]
                counts = Counter(got)
                dupes = [p for p, n in counts.items() if n > 1]
                missing = want - set(got)
                extra = set(got) - want
                if dupes or missing or extra:
                    problems.append(
                        f"run {r} {key} via server {s_i}: {len(got)} points, {len(want)} expected; "
                        f"duplicated {sorted(dupes)[:5]}, missing {sorted(missing)[:5]}, unexpected {sorted(extra)[:5]}"
                    )
                step, ts, value = latest_of(want)
                m = latest[key]
                if (m["step"], m["timestamp"], m["value"]) != (step, ts, value):
                    problems.append(
                        f"run {r} {key} via server {s_i}: latest is {m}, expected step={step} ts={ts} value={value}"
                    )
    assert not problems, "\n".join(problems[:20])

    # Params: one value wins each race; everyone else was told 400 INVALID_PARAMETER_VALUE.
    assert len([k for k in outcomes if k[1].startswith("race.")]) == RUNS * PARAM_ROUNDS
    stored = {
        run_id: {p["key"]: p["value"] for p in apis[1].get_run(run_id)["data"].get("params", [])}
        for run_id in runs
    }
    stored_a = {
        run_id: {p["key"]: p["value"] for p in apis[0].get_run(run_id)["data"].get("params", [])}
        for run_id in runs
    }
    assert stored == stored_a, "the two replicas disagree on the stored params"
    for (run_id, key), tries in sorted(outcomes.items()):
        winner = stored[run_id].get(key)
        assert winner is not None, f"{key} on run {run_id}: no value stored after {len(tries)} attempts"
        for value, call in tries:
            if value == winner:
                assert call.status == 200, (
                    f"{key}={value} is the stored value but got {call.status}: {call.body}"
                )
            else:
                assert (call.status, call.code) == (400, "INVALID_PARAMETER_VALUE"), (
                    f"{key}={value} lost to {winner!r} but got {call.status} {call.code}: {call.body}"
                )
        won = {value for value, call in tries if call.status == 200}
        assert won == {winner}, f"{key}: values acknowledged {won}, stored {winner!r}"
    expected_keys = {f"race.{i}" for i in range(PARAM_ROUNDS)} | {f"same.{i}" for i in range(SAME_KEYS)}
    for run_id in runs:
        assert set(stored[run_id]) == expected_keys, f"run {run_id}: params {sorted(stored[run_id])}"


def race(apis: list[Api], n: int, fn: Callable[[Api, int], requests.Response]) -> list[requests.Response]:
    """Send n requests at once (released by a barrier), alternating between the replicas."""
    barrier = threading.Barrier(n)

    def one(i: int) -> requests.Response:
        api = Api(apis[i % 2].base_url)
        barrier.wait(30)
        return fn(api, i)

    with ThreadPoolExecutor(max_workers=n) as pool:
        return list(pool.map(one, range(n), timeout=60))


def describe(resps: list[requests.Response]) -> str:
    return "; ".join(f"{r.status_code} {r.text[:160]}" for r in resps)


@pytest.mark.slow
@replica_backends
def test_two_replicas_race_to_create_the_same_experiment(backend: BackendURI, server_factory: Any) -> None:
    servers = [server_factory(backend, name="replica-a"), server_factory(backend, name="replica-b")]
    apis = [Api(s.url) for s in servers]
    for rnd in range(8):
        name = f"race-{rnd}-{uuid.uuid4().hex[:8]}"
        resps = race(apis, 6, lambda api, i, name=name: api.post("experiments/create", {"name": name}))
        assert all(r.status_code < 500 for r in resps), describe(resps)
        winners = [r for r in resps if r.status_code == 200]
        assert len(winners) == 1, (
            f"round {rnd}: {len(winners)} creations of {name!r} succeeded: {describe(resps)}"
        )
        for r in resps:
            if r.status_code != 200:
                assert (r.status_code, error_code(r)) == (400, "RESOURCE_ALREADY_EXISTS"), describe(resps)
        winner_id = winners[0].json()["experiment_id"]
        for api in apis:
            got = ok(api.get("experiments/get-by-name", {"experiment_name": name}))["experiment"]
            assert got["experiment_id"] == winner_id


@pytest.mark.slow
@replica_backends
def test_two_replicas_create_distinct_experiments_and_runs_at_once(
    backend: BackendURI, server_factory: Any
) -> None:
    servers = [server_factory(backend, name="replica-a"), server_factory(backend, name="replica-b")]
    apis = [Api(s.url) for s in servers]
    problems: list[str] = []
    ids: set[str] = set()
    for rnd in range(6):
        names = [f"distinct-{rnd}-{i}-{uuid.uuid4().hex[:6]}" for i in range(6)]
        resps = race(apis, 6, lambda api, i, names=names: api.post("experiments/create", {"name": names[i]}))
        for name, r in zip(names, resps, strict=True):
            if r.status_code != 200:
                problems.append(f"experiments/create {name!r}: {r.status_code} {r.text[:200]}")
            else:
                eid = r.json()["experiment_id"]
                if eid in ids:
                    problems.append(f"experiment id {eid} handed out twice")
                ids.add(eid)
    assert not problems, (
        f"{len(problems)} of 36 concurrent creations of distinct experiments failed:\n"
        + "\n".join(problems[:10])
    )

    experiment_id = apis[0].create_experiment()
    run_ids: list[str] = []
    for _ in range(4):
        resps = race(
            apis,
            8,
            lambda api, i: api.post("runs/create", {"experiment_id": experiment_id, "run_name": "same-name"}),
        )
        assert all(r.status_code == 200 for r in resps), describe(resps)
        run_ids += [r.json()["run"]["info"]["run_id"] for r in resps]
    assert len(set(run_ids)) == len(run_ids) == 32
    for api in apis:
        found: set[str] = set()
        token: str | None = None
        for _ in range(10):
            body: dict[str, Any] = {"experiment_ids": [experiment_id], "max_results": 7}
            if token:
                body["page_token"] = token
            page = ok(api.post("runs/search", body))
            found |= {r["info"]["run_id"] for r in page.get("runs", [])}
            token = page.get("next_page_token")
            if not token:
                break
        assert found == set(run_ids), (
            f"runs/search via {api.base_url} found {len(found)} of {len(run_ids)} runs"
        )
