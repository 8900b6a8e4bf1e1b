"""Params through the stock client: immutability, truncation of long values, batch limits and key validation."""

from __future__ import annotations

from types import ModuleType

from harness.api import assert_error, ok, post, raises_code
from harness.plugin import Tracking
from mlflow.entities import Param, RunTag


def _run_id(tracking: Tracking) -> str:
    return tracking.client.create_run(tracking.client.create_experiment(tracking.new_name())).info.run_id


def test_log_params_fluent(mlflow: ModuleType, tracking: Tracking) -> None:
    with mlflow.start_run() as run:
        mlflow.log_param("alpha", 0.5)
        mlflow.log_params({"layers": 3, "activation": "relu", "dropout": None, "flag": True})
    params = tracking.client.get_run(run.info.run_id).data.params
    assert params == {"alpha": "0.5", "layers": "3", "activation": "relu", "dropout": "None", "flag": "True"}


def test_relog_same_value_is_ok(tracking: Tracking) -> None:
    run_id = _run_id(tracking)
    tracking.client.log_param(run_id, "p", "1")
    tracking.client.log_param(run_id, "p", "1")
    tracking.client.log_batch(run_id, params=[Param("p", "1")])
    ok(post(tracking.api("runs/log-parameter"), {"run_id": run_id, "key": "p", "value": "1"}))
    assert tracking.client.get_run(run_id).data.params == {"p": "1"}


def test_relog_different_value_rejected(tracking: Tracking) -> None:
    run_id = _run_id(tracking)
    tracking.client.log_param(run_id, "p", "1")
    raises_code(lambda: tracking.client.log_param(run_id, "p", "2"), "INVALID_PARAMETER_VALUE")
    raises_code(
        lambda: tracking.client.log_batch(run_id, params=[Param("p", "3")]), "INVALID_PARAMETER_VALUE"
    )
    resp = post(tracking.api("runs/log-parameter"), {"run_id": run_id, "key": "p", "value": "4"})
    assert_error(resp, 400, "INVALID_PARAMETER_VALUE")
    assert tracking.client.get_run(run_id).data.params == {"p": "1"}


def test_failed_batch_is_atomic(tracking: Tracking) -> None:
    run_id = _run_id(tracking)
    tracking.client.log_param(run_id, "p", "1")
    body = {
        "run_id": run_id,
        "params": [{"key": "q", "value": "new"}, {"key": "p", "value": "changed"}],
        "metrics": [{"key": "m", "value": 1.0, "timestamp": 1, "step": 0}],
        "tags": [{"key": "t", "value": "x"}],
    }
    assert_error(post(tracking.api("runs/log-batch"), body), 400, "INVALID_PARAMETER_VALUE")
    data = tracking.client.get_run(run_id).data
    assert data.params == {"p": "1"}
    assert data.metrics == {}
    assert "t" not in data.tags


def test_long_param_value_truncated_to_6000(tracking: Tracking) -> None:
    run_id = _run_id(tracking)
    value = "".join(chr(ord("a") + i % 26) for i in range(7000))
    ok(post(tracking.api("runs/log-parameter"), {"run_id": run_id, "key": "raw", "value": value}))
    tracking.client.log_param(run_id, "client", value)
    tracking.client.log_batch(run_id, params=[Param("batch", value)], tags=[RunTag("batch_tag", value * 2)])
    data = tracking.client.get_run(run_id).data
    assert data.params["raw"] == value[:6000]
    assert data.params["client"] == value[:6000]
    assert data.params["batch"] == value[:6000]
    assert data.tags["batch_tag"] == (value * 2)[:8000]


def test_param_of_exactly_6000_chars_kept(tracking: Tracking) -> None:
    run_id = _run_id(tracking)
    value = "z" * 6000
    tracking.client.log_param(run_id, "exact", value)
    assert tracking.client.get_run(run_id).data.params["exact"] == value


def test_unicode_param_value(tracking: Tracking) -> None:
    run_id = _run_id(tracking)
    value = "ünïcødé ✓ 参数 🚀"
    tracking.client.log_param(run_id, "u", value)
    assert tracking.client.get_run(run_id).data.params["u"] == value


def test_batch_param_limits(tracking: Tracking) -> None:
    run_id = _run_id(tracking)
    hundred = [{"key": f"p{i}", "value": str(i)} for i in range(100)]
    ok(post(tracking.api("runs/log-batch"), {"run_id": run_id, "params": hundred}))
    assert len(tracking.client.get_run(run_id).data.params) == 100
    too_many = [{"key": f"q{i}", "value": str(i)} for i in range(101)]
    assert_error(
        post(tracking.api("runs/log-batch"), {"run_id": run_id, "params": too_many}),
        400,
        "INVALID_PARAMETER_VALUE",
    )
    assert len(tracking.client.get_run(run_id).data.params) == 100


def test_duplicate_param_keys_in_one_batch_rejected(tracking: Tracking) -> None:
    run_id = _run_id(tracking)
    dup = [{"key": "d", "value": "1"}, {"key": "d", "value": "1"}]
    assert_error(
        post(tracking.api("runs/log-batch"), {"run_id": run_id, "params": dup}),
        400,
        "INVALID_PARAMETER_VALUE",
    )
    assert tracking.client.get_run(run_id).data.params == {}


def test_client_splits_large_param_batches(tracking: Tracking) -> None:
    run_id = _run_id(tracking)
    tracking.client.log_batch(run_id, params=[Param(f"k{i:03d}", str(i)) for i in range(250)])
    params = tracking.client.get_run(run_id).data.params
    assert params == {f"k{i:03d}": str(i) for i in range(250)}


def test_invalid_param_keys_rejected(tracking: Tracking) -> None:
    run_id = _run_id(tracking)
    for key in ["bad key!", "../escape", "/abs", "x" * 251, ""]:
        resp = post(tracking.api("runs/log-parameter"), {"run_id": run_id, "key": key, "value": "1"})
        assert_error(resp, 400, "INVALID_PARAMETER_VALUE")
    assert tracking.client.get_run(run_id).data.params == {}


def test_param_key_with_allowed_punctuation(tracking: Tracking) -> None:
    run_id = _run_id(tracking)
    key = "a-b_c.d e/f:g"
    tracking.client.log_param(run_id, key, "v")
    assert tracking.client.get_run(run_id).data.params == {key: "v"}
