"""The data both dashboards are measured on, loaded over plain HTTP the same way into any server."""

from __future__ import annotations

import json
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

from client import ApiError, Client

API = "/api/2.0/mlflow"
BASE_MS = 1_767_225_600_000  # 2026-01-01T00:00:00Z: runs start one second apart from here
BIG_KEY = "loss"
RUN_METRICS = ("accuracy", "loss", "f1")
RUN_STEPS = 5  # steps per metric on every run of the big experiment


@dataclass
class Seeded:
    """What was loaded: the ids each product's pages are opened with."""

    runs_experiment_id: str = ""
    newest_run_id: str = ""
    newest_run_name: str = ""
    compare_run_ids: list[str] = field(default_factory=list)  # the newest runs, newest first
    metric_experiment_id: str = ""
    metric_run_id: str = ""
    metric_run_name: str = ""
    seconds: dict[str, float] = field(default_factory=dict)


def post(c: Client, path: str, body: dict[str, object] | bytes) -> dict[str, object]:
    """POST, retrying a busy server: mlflow on SQLite answers 503 "database is locked" when several
    of its workers write at once, and the seeding's speed is not what is measured."""
    for attempt in range(12):
        try:
            return c.post(path, body)
        except ApiError as exc:
            if exc.status not in (429, 503) or attempt == 11:
                raise
            time.sleep(min(5.0, 0.1 * 2**attempt))
    raise AssertionError("unreachable")


def run_name(i: int) -> str:
    return f"run-{i:05d}"


def _create_run(c: Client, experiment_id: str, name: str, start: int, tags: dict[str, str]) -> str:
    body = {
        "experiment_id": experiment_id,
        "run_name": name,
        "start_time": start,
        "tags": [{"key": k, "value": v} for k, v in tags.items()],
    }
    return str(post(c, f"{API}/runs/create", body)["run"]["info"]["run_id"])  # type: ignore[index]


def _run_batch(i: int) -> dict[str, list[dict[str, object]]]:
    """A few params, metrics (RUN_STEPS steps each) and tags, all derived from the run's index."""
    ts = BASE_MS + i * 1000
    return {
        "params": [
            {"key": "lr", "value": str([0.1, 0.01, 0.001, 0.0001][i % 4])},
            {"key": "optimizer", "value": ["sgd", "adam", "adamw"][i % 3]},
            {"key": "batch_size", "value": str(32 << (i % 4))},
            {"key": "seed", "value": str(i)},
        ],
        "metrics": [
            {
                "key": k,
                "value": ((i * 7919 + j * 104729 + s * 31) % 1000) / 1000.0,
                "timestamp": ts + s,
                "step": s,
            }
            for j, k in enumerate(RUN_METRICS)
            for s in range(RUN_STEPS)
        ],
        "tags": [
            {"key": "team", "value": ["vision", "nlp", "speech"][i % 3]},
            {"key": "sweep", "value": f"sweep-{i // 100}"},
        ],
    }


def seed_runs(port: int, experiment_id: str, runs: int, threads: int) -> list[tuple[int, str]]:
    """`runs` runs (runs/create then one log-batch each) from `threads` threads; (index, run id) pairs."""
    out: list[tuple[int, str]] = []
    lock = threading.Lock()

    def work(part: int) -> None:
        c = Client(port)
        try:
            for i in range(part, runs, threads):
                run_id = _create_run(c, experiment_id, run_name(i), BASE_MS + i * 1000, {})
                post(c, f"{API}/runs/log-batch", json.dumps({"run_id": run_id, **_run_batch(i)}).encode())
                with lock:
                    out.append((i, run_id))
        finally:
            c.close()

    with ThreadPoolExecutor(threads) as pool:
        for f in [pool.submit(work, t) for t in range(threads)]:
            f.result()
    return sorted(out)


def seed_big_metric(port: int, experiment_id: str, points: int, threads: int) -> str:
    """One run with a `points`-point metric: log-batch of 1000 points, steps split among threads."""
    c = Client(port)
    run_id = _create_run(c, experiment_id, "big-metric", BASE_MS, {})
    c.close()
    chunks = list(range(0, points, 1000))

    def work(part: int) -> None:
        cl = Client(port)
        try:
            for start in chunks[part::threads]:
                stop = min(points, start + 1000)
                metrics = [
                    {
                        "key": BIG_KEY,
                        "value": 1.0 / (1 + s / 1000) + (s % 97) / 9700,
                        "timestamp": BASE_MS + s,
                        "step": s,
                    }
                    for s in range(start, stop)
                ]
                post(cl, f"{API}/runs/log-batch", json.dumps({"run_id": run_id, "metrics": metrics}).encode())
        finally:
            cl.close()

    with ThreadPoolExecutor(threads) as pool:
        for f in [pool.submit(work, t) for t in range(threads)]:
            f.result()
    return run_id


def seed(port: int, runs: int, points: int, compare: int, threads: int = 4) -> Seeded:
    """Two experiments: `runs` small runs, and one run with a `points`-point metric."""
    out = Seeded()
    c = Client(port)
    out.runs_experiment_id = str(c.post(f"{API}/experiments/create", {"name": "bench-runs"})["experiment_id"])
    out.metric_experiment_id = str(
        c.post(f"{API}/experiments/create", {"name": "bench-metric"})["experiment_id"]
    )
    c.close()
    t0 = time.monotonic()
    ids = seed_runs(port, out.runs_experiment_id, runs, threads)
    out.seconds["runs"] = round(time.monotonic() - t0, 1)
    out.newest_run_id = ids[-1][1]
    out.newest_run_name = run_name(ids[-1][0])
    out.compare_run_ids = [run_id for _, run_id in reversed(ids[-compare:])]
    t0 = time.monotonic()
    out.metric_run_id = seed_big_metric(port, out.metric_experiment_id, points, threads)
    out.metric_run_name = "big-metric"
    out.seconds["big_metric"] = round(time.monotonic() - t0, 1)
    return out
