"""The workloads, driven over plain HTTP with JSON bodies as the MLflow wire protocol defines them."""

from __future__ import annotations

import json
import math
import random
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from client import ApiError, Client, RawClient, raw_post

API = "/api/2.0/mlflow"
ABORT = threading.Event()  # set on Ctrl-C so worker threads stop at their next request
MAX_ERRORS = 50  # a phase stops after this many failed requests


def now_ms() -> int:
    return int(time.time() * 1000)


def percentile(values: list[float], q: float) -> float | None:
    """Nearest-rank percentile (q in 0..1); None for no data."""
    if not values:
        return None
    ordered = sorted(values)
    return ordered[max(0, math.ceil(q * len(ordered)) - 1)]


@dataclass
class PhaseStats:
    """What a threaded phase did: successes, failures and per-request latencies."""

    done: int = 0
    requests: int = 0
    errors: int = 0
    first_error: str = ""
    latencies: list[float] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def ok(self, units: int, latency: float) -> None:
        with self.lock:
            self.done += units
            self.requests += 1
            self.latencies.append(latency)

    def fail(self, exc: Exception) -> None:
        with self.lock:
            self.errors += 1
            self.first_error = self.first_error or str(exc)[:300]

    def as_dict(self) -> dict[str, Any]:
        p50 = percentile(self.latencies, 0.5)
        return {
            "requests": self.requests,
            "errors": self.errors,
            "first_error": self.first_error,
            "request_p50_ms": None if p50 is None else round(p50 * 1000, 2),
        }


def run_threads(
    work: list[list[Callable[[Any], int]]],
    port: int,
    deadline: float,
    stats: PhaseStats,
    connect: Callable[[int], Client | RawClient] = Client,
) -> float:
    """Run each list of jobs on its own thread and connection (`connect(port)`) until done or past the
    deadline; returns wall s."""

    def worker(jobs: list[Callable[[Any], int]]) -> None:
        client = connect(port)
        try:
            for job in jobs:
                if ABORT.is_set() or time.monotonic() >= deadline or stats.errors >= MAX_ERRORS:
                    return
                t0 = time.perf_counter()
                try:
                    units = job(client)
                except (ApiError, OSError) as exc:
                    stats.fail(exc)
                    client.close()
                    continue
                stats.ok(units, time.perf_counter() - t0)
        finally:
            client.close()

    threads = [threading.Thread(target=worker, args=(jobs,), daemon=True) for jobs in work if jobs]
    t0 = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        while t.is_alive():
            t.join(timeout=0.5)
    return time.perf_counter() - t0


def create_experiment(port: int, name: str) -> str:
    client = Client(port)
    try:
        return str(client.post(f"{API}/experiments/create", {"name": name})["experiment_id"])
    finally:
        client.close()


def create_runs(
    port: int, exp_id: str, first: int, count: int, threads: int, time_cap: float, with_metrics: bool
) -> tuple[list[str], dict[str, Any]]:
    """Create runs `first..first+count-1`, each with 3 params, 2 tags and (optionally) metrics m0, m1.

    Param `p` alternates 'x'/'y', so the search filter matches about a quarter of the runs.
    """
    ids: dict[int, str] = {}
    rng = random.Random(first)
    values = {i: (rng.random(), rng.random()) for i in range(first, first + count)}

    def job(i: int) -> Callable[[Client], int]:
        def run(client: Client) -> int:
            ts = now_ms()
            created = client.post(
                f"{API}/runs/create",
                {
                    "experiment_id": exp_id,
                    "run_name": f"run-{i}",
                    "start_time": ts,
                    "tags": [{"key": "kind", "value": "metrics" if not with_metrics else "filler"}],
                },
            )
            run_id = created["run"]["info"]["run_id"]
            batch: dict[str, Any] = {
                "run_id": run_id,
                "params": [
                    {"key": "p", "value": "x" if i % 2 == 0 else "y"},
                    {"key": "lr", "value": str(0.001 * (1 + i % 10))},
                    {"key": "layers", "value": str(2 + i % 5)},
                ],
                "tags": [{"key": "team", "value": f"team-{i % 7}"}],
            }
            if with_metrics:
                m0, m1 = values[i]
                batch["metrics"] = [
                    {"key": "m0", "value": m0, "timestamp": ts, "step": 0},
                    {"key": "m1", "value": m1, "timestamp": ts, "step": 0},
                ]
            client.post(f"{API}/runs/log-batch", batch)
            ids[i] = run_id
            return 1

        return run

    work: list[list[Callable[[Client], int]]] = [[] for _ in range(threads)]
    for i in range(first, first + count):
        work[i % threads].append(job(i))
    stats = PhaseStats()
    wall = run_threads(work, port, time.monotonic() + time_cap, stats)
    info = {"created": len(ids), "seconds": round(wall, 2), **stats.as_dict()}
    return [ids[i] for i in sorted(ids)], info


def create_runs_throughput(
    port: int, exp_id: str, count: int, threads: int, time_cap: float
) -> dict[str, Any]:
    """`count` runs/create calls (one run each, as the client's start_run sends) spread over `threads`.

    The rate is runs acknowledged ÷ wall time; bodies are built before the clock starts.
    """
    ts = now_ms()
    tags = [
        {"key": "mlflow.user", "value": "bench"},
        {"key": "mlflow.source.name", "value": "bench/run.py"},
        {"key": "mlflow.source.type", "value": "LOCAL"},
    ]
    work: list[list[Callable[[RawClient], int]]] = [[] for _ in range(threads)]
    for i in range(count):
        body = json.dumps(
            {
                "experiment_id": exp_id,
                "user_id": "bench",
                "start_time": ts + i,
                "tags": [*tags, {"key": "mlflow.runName", "value": f"create-{i}"}],
                "run_name": f"create-{i}",
            }
        ).encode()
        work[i % threads].append(_create_run_job(raw_post(port, f"{API}/runs/create", body)))
    stats = PhaseStats()
    # The lean client: with http.client the driver, not the server, set the pace from eight threads.
    wall = run_threads(work, port, time.monotonic() + time_cap, stats, connect=RawClient)
    return {
        "runs": stats.done,
        "planned_runs": count,
        "threads": threads,
        "seconds": round(wall, 3),
        "capped": stats.done < count,
        "runs_per_s": round(stats.done / wall, 1) if wall > 0 and stats.done else None,
        **stats.as_dict(),
    }


def _create_run_job(request: bytes) -> Callable[[RawClient], int]:
    def job(client: RawClient) -> int:
        client.post(request)
        return 1

    return job


def _metric_body(run_id: str, key_names: list[str], steps: range, rng: random.Random, ts0: int) -> bytes:
    """A log-batch body of len(key_names) * len(steps) metrics, built as text (fast, valid JSON)."""
    parts = [
        f'{{"key":"{k}","value":{rng.random()!r},"timestamp":{ts0 + s},"step":{s}}}'
        for s in steps
        for k in key_names
    ]
    return f'{{"run_id":"{run_id}","metrics":[{",".join(parts)}]}}'.encode()


def _log_batch_job(body: bytes, points: int) -> Callable[[Client], int]:
    def job(client: Client) -> int:
        client.post(f"{API}/runs/log-batch", body)
        return points

    return job


def ingest(
    port: int, run_ids: list[str], keys: int, steps: int, batch: int, threads: int, time_cap: float
) -> dict[str, Any]:
    """log-batch `keys` x `steps` points into every run, `batch` points a request, runs spread over threads.

    Bodies are built before the clock starts, so the client spends its CPU only on sending.
    """
    key_names = [f"m{k}" for k in range(keys)]
    steps_per_req = max(1, batch // keys)
    ts0 = now_ms()
    work: list[list[Callable[[Client], int]]] = [[] for _ in range(threads)]
    for r, run_id in enumerate(run_ids):
        rng = random.Random(r)
        for s0 in range(0, steps, steps_per_req):
            rng_steps = range(s0, min(steps, s0 + steps_per_req))
            body = _metric_body(run_id, key_names, rng_steps, rng, ts0)
            n = len(rng_steps) * keys
            work[r % threads].append(_log_batch_job(body, n))
    stats = PhaseStats()
    wall = run_threads(work, port, time.monotonic() + time_cap, stats)
    planned = len(run_ids) * keys * steps
    return {
        "points": stats.done,
        "planned_points": planned,
        "seconds": round(wall, 3),
        "capped": stats.done < planned,
        **stats.as_dict(),
    }


def log_series(
    port: int, run_id: str, key: str, points: int, batch: int, threads: int, time_cap: float
) -> dict[str, Any]:
    """One long series (e.g. 100k steps of one key) in `batch`-point log-batch requests."""
    rng = random.Random(7)
    ts0 = now_ms()
    work: list[list[Callable[[Client], int]]] = [[] for _ in range(threads)]
    for i, s0 in enumerate(range(0, points, batch)):
        rng_steps = range(s0, min(points, s0 + batch))
        body = _metric_body(run_id, [key], rng_steps, rng, ts0)
        work[i % threads].append(_log_batch_job(body, len(rng_steps)))
    stats = PhaseStats()
    wall = run_threads(work, port, time.monotonic() + time_cap, stats)
    return {"points": stats.done, "planned_points": points, "seconds": round(wall, 2), **stats.as_dict()}


def log_metric_latency(port: int, run_id: str, calls: int, time_cap: float) -> dict[str, Any]:
    """Sequential runs/log-metric calls, one value each, as the client sends them (run_id and run_uuid)."""
    client = Client(port)
    lat: list[float] = []
    errors = 0
    first_error = ""
    deadline = time.monotonic() + time_cap
    ts0 = now_ms()
    try:
        for i in range(calls):
            if ABORT.is_set() or time.monotonic() >= deadline or errors >= MAX_ERRORS:
                break
            body = json.dumps(
                {
                    "run_id": run_id,
                    "run_uuid": run_id,
                    "key": "lat",
                    "value": i * 0.5,
                    "timestamp": ts0 + i,
                    "step": i,
                }
            ).encode()
            t0 = time.perf_counter()
            try:
                client.post(f"{API}/runs/log-metric", body)
            except (ApiError, OSError) as exc:
                errors += 1
                first_error = first_error or str(exc)[:300]
                client.close()
                continue
            lat.append(time.perf_counter() - t0)
    finally:
        client.close()
    return {
        "calls": len(lat),
        "errors": errors,
        "first_error": first_error,
        "p50_ms": _ms(percentile(lat, 0.5)),
        "p99_ms": _ms(percentile(lat, 0.99)),
    }


def _ms(seconds: float | None) -> float | None:
    return None if seconds is None else round(seconds * 1000, 3)


def timed_reps(
    fn: Callable[[Client], Any], port: int, reps: int, time_cap: float, warmup: int = 1
) -> dict[str, Any]:
    """Call fn warmup+reps times on one connection (stopping at the time cap); p50 of the timed calls."""
    client = Client(port, timeout=max(120.0, time_cap))
    times: list[float] = []
    last: Any = None
    deadline = time.monotonic() + time_cap
    try:
        for i in range(warmup + reps):
            if ABORT.is_set() or (i > warmup and time.monotonic() >= deadline):
                break
            t0 = time.perf_counter()
            last = fn(client)
            if i >= warmup:
                times.append(time.perf_counter() - t0)
    finally:
        client.close()
    return {
        "reps": len(times),
        "p50_ms": _ms(percentile(times, 0.5)),
        "max_ms": _ms(max(times, default=None)),
        "last": last,
    }


def search_filtered(exp_id: str) -> Callable[[Client], int]:
    body = json.dumps(
        {
            "experiment_ids": [exp_id],
            "filter": "metrics.m0 > 0.5 and params.p = 'x'",
            "order_by": ["metrics.m0 DESC"],
            "max_results": 100,
        }
    ).encode()

    def call(client: Client) -> int:
        return len(client.post(f"{API}/runs/search", body).get("runs", []))

    return call


def list_all_runs(exp_id: str, max_pages: int = 200) -> Callable[[Client], dict[str, int]]:
    def call(client: Client) -> dict[str, int]:
        token: str | None = None
        runs = pages = 0
        while pages < max_pages:
            req: dict[str, Any] = {"experiment_ids": [exp_id], "max_results": 1000}
            if token:
                req["page_token"] = token
            resp = client.post(f"{API}/runs/search", req)
            pages += 1
            runs += len(resp.get("runs", []))
            token = resp.get("next_page_token")
            if not token:
                break
        return {"runs": runs, "pages": pages}

    return call


def get_history(run_id: str, key: str, max_pages: int = 100) -> Callable[[Client], dict[str, int]]:
    def call(client: Client) -> dict[str, int]:
        token: str | None = None
        points = pages = 0
        while pages < max_pages:
            params = {"run_id": run_id, "run_uuid": run_id, "metric_key": key, "max_results": 25000}
            if token:
                params["page_token"] = token
            resp = client.get(f"{API}/metrics/get-history", params)
            pages += 1
            points += len(resp.get("metrics", []))
            token = resp.get("next_page_token")
            if not token:
                break
        return {"points": points, "pages": pages}

    return call


def count_history(port: int, run_id: str, key: str) -> int | None:
    """Points the server returns for one metric (None on error): checks the ingest really landed."""
    client = Client(port)
    try:
        return get_history(run_id, key)(client)["points"]
    except (ApiError, OSError):
        return None
    finally:
        client.close()


def bulk_interval(run_ids: list[str], key: str, max_results: int = 320) -> Callable[[Client], int]:
    params = [("run_ids", r) for r in run_ids] + [("metric_key", key), ("max_results", str(max_results))]

    def call(client: Client) -> int:
        return len(client.get(f"{API}/metrics/get-history-bulk-interval", params).get("metrics", []))

    return call
