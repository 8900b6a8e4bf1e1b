"""Async logging (batches arrive out of order): everything the client queued must be on the server afterwards."""

from __future__ import annotations

import math
from types import ModuleType

import pytest
from harness.plugin import Tracking


def _check_everything_arrived(tracking: Tracking, run_id: str, steps: int) -> None:
    run = tracking.client.get_run(run_id)
    assert run.info.status == "FINISHED"
    assert run.data.params == {f"p{i}": str(i) for i in range(20)}
    assert run.data.tags["async"] == "yes"
    assert run.data.metrics["loss"] == 1.0 / steps
    assert math.isnan(run.data.metrics["nan"])
    history = sorted((m.step, m.value) for m in tracking.client.get_metric_history(run_id, "loss"))
    assert history == [(s, 1.0 / (s + 1)) for s in range(steps)]
    acc = tracking.client.get_metric_history(run_id, "acc")
    assert sorted(m.step for m in acc) == list(range(steps))


def _log_lots(mlflow: ModuleType, steps: int) -> str:
    with mlflow.start_run() as run:
        for i in range(20):
            mlflow.log_param(f"p{i}", i)
        mlflow.set_tag("async", "yes")
        for step in range(steps):
            mlflow.log_metric("loss", 1.0 / (step + 1), step=step)
            mlflow.log_metrics({"acc": step / steps}, step=step)
        mlflow.log_metric("nan", float("nan"))
    return run.info.run_id


def test_async_logging_via_env(
    mlflow: ModuleType, tracking: Tracking, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MLFLOW_ENABLE_ASYNC_LOGGING", "true")
    run_id = _log_lots(mlflow, 25)
    mlflow.flush_async_logging()
    _check_everything_arrived(tracking, run_id, 25)


def test_async_logging_via_config(mlflow: ModuleType, tracking: Tracking) -> None:
    mlflow.config.enable_async_logging(True)
    try:
        run_id = _log_lots(mlflow, 20)
    finally:
        mlflow.config.enable_async_logging(False)
    mlflow.flush_async_logging()
    _check_everything_arrived(tracking, run_id, 20)


def test_explicit_synchronous_false(mlflow: ModuleType, tracking: Tracking) -> None:
    with mlflow.start_run() as run:
        ops = [mlflow.log_metric("m", float(i), step=i, synchronous=False) for i in range(30)]
        ops.append(mlflow.log_param("alpha", "0.5", synchronous=False))
        ops.append(mlflow.set_tag("t", "v", synchronous=False))
        for op in ops:
            op.wait()
    data = tracking.client.get_run(run.info.run_id).data
    assert data.params == {"alpha": "0.5"}
    assert data.tags["t"] == "v"
    assert sorted(m.step for m in tracking.client.get_metric_history(run.info.run_id, "m")) == list(range(30))
