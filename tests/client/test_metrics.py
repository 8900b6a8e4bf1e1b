"""Metrics through the stock client: steps, timestamps, NaN/inf, batches and limits, de-duplication, history paging."""

from __future__ import annotations

import math
import time
from concurrent.futures import ThreadPoolExecutor
from types import ModuleType

import pytest
from harness.api import MAX_DOUBLE, assert_error, get, ok, post, raises_code
from harness.plugin import Tracking
from mlflow.entities import Metric


def _run_id(tracking: Tracking) -> str:
    return tracking.client.create_run(tracking.client.create_experiment(tracking.new_name())).info.run_id


def _history(tracking: Tracking, run_id: str, key: str) -> list[tuple[int, int, float]]:
    """(step, timestamp, value) of every point, sorted (the API does not promise an order)."""
    return sorted((m.step, m.timestamp, m.value) for m in tracking.client.get_metric_history(run_id, key))


def test_steps_and_timestamps(mlflow: ModuleType, tracking: Tracking) -> None:
    with mlflow.start_run() as run:
        for step in range(5):
            mlflow.log_metric("loss", 1.0 / (step + 1), step=step, timestamp=1_700_000_000_000 + step * 10)
        mlflow.log_metrics({"acc": 0.9, "f1": 0.8}, step=7)
    hist = _history(tracking, run.info.run_id, "loss")
    assert hist == [(s, 1_700_000_000_000 + s * 10, 1.0 / (s + 1)) for s in range(5)]
    data = tracking.client.get_run(run.info.run_id).data
    assert data.metrics == {"loss": 0.2, "acc": 0.9, "f1": 0.8}
    acc = tracking.client.get_metric_history(run.info.run_id, "acc")
    assert [(m.key, m.step, m.value) for m in acc] == [("acc", 7, 0.9)]


def test_default_step_and_timestamp(mlflow: ModuleType, tracking: Tracking) -> None:
    before = int(time.time() * 1000) - 2000
    with mlflow.start_run() as run:
        mlflow.log_metric("m", 3.0)
    (point,) = tracking.client.get_metric_history(run.info.run_id, "m")
    assert point.step == 0
    assert before <= point.timestamp <= int(time.time() * 1000) + 2000


def test_latest_value_is_max_step_then_timestamp(tracking: Tracking) -> None:
    run_id = _run_id(tracking)
    tracking.client.log_batch(
        run_id,
        metrics=[
            Metric("m", 5.0, 100, 2),
            Metric("m", 9.0, 50, 3),  # highest step wins even with an older timestamp
            Metric("m", 1.0, 10, 1),
            Metric("n", 1.0, 100, 0),
            Metric("n", 2.0, 200, 0),  # same step: latest timestamp wins
            Metric("n", 0.5, 150, 0),
        ],
    )
    assert tracking.client.get_run(run_id).data.metrics == {"m": 9.0, "n": 2.0}
    tracking.client.log_metric(
        run_id, "m", -1.0, timestamp=1, step=1
    )  # an old point does not change "latest"
    assert tracking.client.get_run(run_id).data.metrics["m"] == 9.0


def test_negative_and_huge_values_and_steps(tracking: Tracking) -> None:
    run_id = _run_id(tracking)
    tracking.client.log_metric(run_id, "v", -123.456, timestamp=5, step=-3)
    tracking.client.log_metric(run_id, "v", 1e300, timestamp=6, step=2**40)
    tracking.client.log_metric(run_id, "v", 1e-300, timestamp=7, step=2**40 + 1)
    assert _history(tracking, run_id, "v") == [(-3, 5, -123.456), (2**40, 6, 1e300), (2**40 + 1, 7, 1e-300)]


def test_nan_and_infinities(mlflow: ModuleType, tracking: Tracking) -> None:
    with mlflow.start_run() as run:
        mlflow.log_metric("nan", float("nan"))
        mlflow.log_metric("pinf", float("inf"))
        mlflow.log_metric("ninf", float("-inf"))
        mlflow.log_metrics({"batch_nan": float("nan"), "batch_inf": float("inf")})
    metrics = tracking.client.get_run(run.info.run_id).data.metrics
    assert math.isnan(metrics["nan"])
    assert math.isnan(metrics["batch_nan"])
    assert metrics["pinf"] == MAX_DOUBLE
    assert metrics["batch_inf"] == MAX_DOUBLE
    assert metrics["ninf"] == -MAX_DOUBLE
    (nan_point,) = tracking.client.get_metric_history(run.info.run_id, "nan")
    assert math.isnan(nan_point.value)
    (inf_point,) = tracking.client.get_metric_history(run.info.run_id, "pinf")
    assert inf_point.value == MAX_DOUBLE


def test_nan_on_the_wire(tracking: Tracking) -> None:
    run_id = _run_id(tracking)
    for value in ("NaN", "Infinity", "-Infinity"):
        body = {"run_id": run_id, "key": f"w{value}", "value": value, "timestamp": 1, "step": 0}
        ok(post(tracking.api("runs/log-metric"), body))
    run = ok(get(tracking.api("runs/get"), {"run_id": run_id}))["run"]
    values = {m["key"]: m["value"] for m in run["data"]["metrics"]}
    assert values["wNaN"] == "NaN"
    assert values["wInfinity"] == MAX_DOUBLE
    assert values["w-Infinity"] == -MAX_DOUBLE


def test_log_batch_mixed(tracking: Tracking) -> None:
    run_id = _run_id(tracking)
    metrics = [Metric(f"k{i % 7}", float(i), 1000 + i, i) for i in range(700)]
    tracking.client.log_batch(run_id, metrics=metrics)
    for k in range(7):
        hist = _history(tracking, run_id, f"k{k}")
        assert [s for s, _, _ in hist] == list(range(k, 700, 7))
        assert all(v == float(s) for s, _, v in hist)


def test_log_batch_limits(tracking: Tracking) -> None:
    run_id = _run_id(tracking)
    thousand = [{"key": "m", "value": float(i), "timestamp": 1, "step": i} for i in range(1000)]
    ok(post(tracking.api("runs/log-batch"), {"run_id": run_id, "metrics": thousand}))
    too_many = [{"key": "x", "value": float(i), "timestamp": 1, "step": i} for i in range(1001)]
    assert_error(
        post(tracking.api("runs/log-batch"), {"run_id": run_id, "metrics": too_many}),
        400,
        "INVALID_PARAMETER_VALUE",
    )
    mixed = {
        "run_id": run_id,
        "metrics": [{"key": "y", "value": 1.0, "timestamp": 1, "step": i} for i in range(950)],
        "params": [{"key": f"p{i}", "value": "v"} for i in range(51)],
    }
    assert_error(post(tracking.api("runs/log-batch"), mixed), 400, "INVALID_PARAMETER_VALUE")
    tags = [{"key": f"t{i}", "value": "v"} for i in range(101)]
    assert_error(
        post(tracking.api("runs/log-batch"), {"run_id": run_id, "tags": tags}), 400, "INVALID_PARAMETER_VALUE"
    )
    assert len(tracking.client.get_metric_history(run_id, "m")) == 1000
    assert tracking.client.get_metric_history(run_id, "x") == []
    assert tracking.client.get_metric_history(run_id, "y") == []


def test_client_splits_big_batches(tracking: Tracking) -> None:
    run_id = _run_id(tracking)
    tracking.client.log_batch(run_id, metrics=[Metric("big", float(i), 1, i) for i in range(2500)])
    assert len(tracking.client.get_metric_history(run_id, "big")) == 2500


def test_duplicate_points_deduplicated(tracking: Tracking) -> None:
    run_id = _run_id(tracking)
    point = Metric("d", 1.5, 1_700_000_000_000, 4)
    tracking.client.log_batch(run_id, metrics=[point, point, point])
    tracking.client.log_metric(run_id, "d", 1.5, timestamp=1_700_000_000_000, step=4)
    tracking.client.log_batch(run_id, metrics=[point])
    body = {"run_id": run_id, "key": "d", "value": 1.5, "timestamp": 1_700_000_000_000, "step": 4}
    ok(post(tracking.api("runs/log-metric"), body))
    assert _history(tracking, run_id, "d") == [(4, 1_700_000_000_000, 1.5)]
    # A different value at the same step and timestamp is a different point.
    tracking.client.log_metric(run_id, "d", 2.5, timestamp=1_700_000_000_000, step=4)
    assert _history(tracking, run_id, "d") == [(4, 1_700_000_000_000, 1.5), (4, 1_700_000_000_000, 2.5)]
    nan = Metric("dn", float("nan"), 5, 0)
    tracking.client.log_batch(run_id, metrics=[nan, nan])
    tracking.client.log_batch(run_id, metrics=[nan])
    assert len(tracking.client.get_metric_history(run_id, "dn")) == 1


def test_metric_history_paging_over_25000_points(tracking: Tracking) -> None:
    run_id = _run_id(tracking)
    total = 25_600
    chunks = [
        [
            {"key": "long", "value": float(i), "timestamp": 1_000_000 + i, "step": i}
            for i in range(lo, min(lo + 1000, total))
        ]
        for lo in range(0, total, 1000)
    ]
    url = tracking.api("runs/log-batch")
    with ThreadPoolExecutor(max_workers=4) as pool:
        for resp in pool.map(lambda ms: post(url, {"run_id": run_id, "metrics": ms}), chunks):
            ok(resp)

    history = tracking.client.get_metric_history(run_id, "long")
    steps = sorted(m.step for m in history)
    assert len(history) == total
    assert steps == list(range(total))
    assert all(m.value == float(m.step) and m.timestamp == 1_000_000 + m.step for m in history)

    first = ok(
        get(
            tracking.api("metrics/get-history"),
            {"run_id": run_id, "metric_key": "long", "max_results": 25000},
        )
    )
    assert len(first["metrics"]) == 25000
    assert first.get("next_page_token")
    second = ok(
        get(
            tracking.api("metrics/get-history"),
            {
                "run_id": run_id,
                "metric_key": "long",
                "max_results": 25000,
                "page_token": first["next_page_token"],
            },
        )
    )
    assert len(second["metrics"]) == total - 25000
    assert not second.get("next_page_token")
    both = {m["step"] for m in first["metrics"]} | {m["step"] for m in second["metrics"]}
    assert both == set(range(total))


def test_history_small_pages(tracking: Tracking) -> None:
    run_id = _run_id(tracking)
    tracking.client.log_batch(run_id, metrics=[Metric("p", float(i), 10 + i, i) for i in range(25)])
    seen: list[int] = []
    token = None
    for _ in range(10):
        params = {"run_id": run_id, "metric_key": "p", "max_results": 10}
        if token:
            params["page_token"] = token
        page = ok(get(tracking.api("metrics/get-history"), params))
        seen.extend(m["step"] for m in page.get("metrics", []))
        token = page.get("next_page_token")
        if not token:
            break
    assert sorted(seen) == list(range(25))
    assert len(seen) == 25


@pytest.mark.reference_differs  # stock mlflow reads any base64 offset token
def test_history_rejects_foreign_and_garbage_page_tokens(tracking: Tracking) -> None:
    run_id = _run_id(tracking)
    tracking.client.log_batch(run_id, metrics=[Metric("p", float(i), 10 + i, i) for i in range(5)])
    url = tracking.api("metrics/get-history")
    search_page = ok(post(tracking.api("runs/search"), {"experiment_ids": ["0"], "max_results": 1}))
    foreign = search_page.get("next_page_token")
    tokens = ["garbage!", "eyJvZmZzZXQiOiAyfQ=="] + ([foreign] if foreign else [])
    for token in tokens:
        resp = get(url, {"run_id": run_id, "metric_key": "p", "max_results": 2, "page_token": token})
        assert_error(resp, 400, "INVALID_PARAMETER_VALUE")


def test_history_of_missing_key_is_empty(tracking: Tracking) -> None:
    run_id = _run_id(tracking)
    assert tracking.client.get_metric_history(run_id, "never") == []
    assert ok(get(tracking.api("metrics/get-history"), {"run_id": run_id, "metric_key": "never"})) == {}


@pytest.mark.reference_differs  # stock mlflow answers 200 {} for a run that does not exist
def test_history_of_unknown_run(tracking: Tracking) -> None:
    raises_code(lambda: tracking.client.get_metric_history("0" * 32, "m"), "RESOURCE_DOES_NOT_EXIST")
    resp = get(tracking.api("metrics/get-history"), {"run_id": "0" * 32, "metric_key": "m"})
    assert_error(resp, 404, "RESOURCE_DOES_NOT_EXIST")


def test_invalid_metric_keys_rejected(tracking: Tracking) -> None:
    run_id = _run_id(tracking)
    for key in ["bad key!", "../up", "x" * 251]:
        body = {"run_id": run_id, "key": key, "value": 1.0, "timestamp": 1, "step": 0}
        assert_error(post(tracking.api("runs/log-metric"), body), 400, "INVALID_PARAMETER_VALUE")
    assert tracking.client.get_run(run_id).data.metrics == {}


def test_metrics_visible_across_many_keys(tracking: Tracking) -> None:
    run_id = _run_id(tracking)
    tracking.client.log_batch(run_id, metrics=[Metric(f"key_{i:03d}", i / 10, 1, 0) for i in range(300)])
    metrics = tracking.client.get_run(run_id).data.metrics
    assert metrics == {f"key_{i:03d}": i / 10 for i in range(300)}
