"""Runs through the stock client: lifecycle, nesting, resuming, names, delete/restore, tags and writes to deleted runs."""

from __future__ import annotations

import time
from types import ModuleType

import pytest
from harness.api import assert_error, get, ok, post, raises_code
from harness.plugin import Tracking
from mlflow.entities import RunStatus, ViewType


def _now_ms() -> int:
    return int(time.time() * 1000)


def test_start_and_end_run(mlflow: ModuleType, tracking: Tracking) -> None:
    before = _now_ms() - 2000
    with mlflow.start_run(run_name="first-run") as run:
        run_id = run.info.run_id
        live = tracking.client.get_run(run_id)
        assert live.info.status == "RUNNING"
        assert live.info.run_name == "first-run"
        assert live.info.end_time is None or live.info.end_time == 0
        assert live.info.experiment_id == tracking.experiment_id
    done = tracking.client.get_run(run_id)
    assert done.info.status == "FINISHED"
    assert done.info.lifecycle_stage == "active"
    assert before <= done.info.start_time <= done.info.end_time <= _now_ms() + 2000
    assert done.data.tags["mlflow.runName"] == "first-run"
    assert done.info.user_id  # the fluent client sends the OS user
    assert done.info.artifact_uri.startswith("mlflow-artifacts:")
    assert done.info.artifact_uri.rstrip("/").endswith(f"{tracking.experiment_id}/{run_id}/artifacts")


def test_end_run_with_status(mlflow: ModuleType, tracking: Tracking) -> None:
    run = mlflow.start_run()
    mlflow.end_run(status="FAILED")
    assert tracking.client.get_run(run.info.run_id).info.status == "FAILED"
    run = mlflow.start_run()
    mlflow.end_run(status="KILLED")
    assert tracking.client.get_run(run.info.run_id).info.status == "KILLED"


def test_exception_in_run_marks_failed(mlflow: ModuleType, tracking: Tracking) -> None:
    run_id = None
    with pytest.raises(ZeroDivisionError), mlflow.start_run() as run:
        run_id = run.info.run_id
        _ = 1 / 0
    assert tracking.client.get_run(run_id).info.status == "FAILED"


def test_client_create_run_fields(tracking: Tracking) -> None:
    exp_id = tracking.client.create_experiment(tracking.new_name())
    run = tracking.client.create_run(exp_id, start_time=1_600_000_000_123, tags={"a": "1"}, run_name="named")
    fetched = tracking.client.get_run(run.info.run_id)
    assert fetched.info.start_time == 1_600_000_000_123
    assert fetched.info.run_name == "named"
    assert fetched.data.tags["a"] == "1"
    assert fetched.data.tags["mlflow.runName"] == "named"
    assert fetched.info.status == "RUNNING"
    assert len(fetched.info.run_id) >= 16
    tracking.client.set_terminated(run.info.run_id, status="FINISHED", end_time=1_600_000_009_999)
    done = tracking.client.get_run(run.info.run_id)
    assert done.info.status == "FINISHED"
    assert done.info.end_time == 1_600_000_009_999


def test_run_name_generated_when_absent(tracking: Tracking) -> None:
    exp_id = tracking.client.create_experiment(tracking.new_name())
    names = set()
    for _ in range(3):
        run = tracking.client.create_run(exp_id)
        fetched = tracking.client.get_run(run.info.run_id)
        assert fetched.info.run_name, "server must generate a run name"
        assert fetched.data.tags.get("mlflow.runName") == fetched.info.run_name
        names.add(fetched.info.run_name)
    assert len(names) == 3


def test_raw_create_run_without_name(tracking: Tracking) -> None:
    exp_id = tracking.client.create_experiment(tracking.new_name())
    run = ok(post(tracking.api("runs/create"), {"experiment_id": exp_id}))["run"]
    assert run["info"]["run_name"]
    assert {"key": "mlflow.runName", "value": run["info"]["run_name"]} in run["data"]["tags"]
    assert run["info"]["run_id"] == run["info"]["run_uuid"]
    assert run["info"]["lifecycle_stage"] == "active"


def test_run_name_from_tag(tracking: Tracking) -> None:
    exp_id = tracking.client.create_experiment(tracking.new_name())
    run = ok(
        post(
            tracking.api("runs/create"),
            {"experiment_id": exp_id, "tags": [{"key": "mlflow.runName", "value": "from-tag"}]},
        )
    )["run"]
    assert run["info"]["run_name"] == "from-tag"


def test_rename_run_keeps_tag_in_sync(tracking: Tracking) -> None:
    exp_id = tracking.client.create_experiment(tracking.new_name())
    run = tracking.client.create_run(exp_id, run_name="before")
    tracking.client.update_run(run.info.run_id, name="after")
    fetched = tracking.client.get_run(run.info.run_id)
    assert fetched.info.run_name == "after"
    assert fetched.data.tags["mlflow.runName"] == "after"
    tracking.client.set_tag(run.info.run_id, "mlflow.runName", "via-tag")
    fetched = tracking.client.get_run(run.info.run_id)
    assert fetched.info.run_name == "via-tag"


def test_nested_runs(mlflow: ModuleType, tracking: Tracking) -> None:
    with mlflow.start_run(run_name="parent") as parent:
        with mlflow.start_run(run_name="child", nested=True) as child:
            assert mlflow.active_run().info.run_id == child.info.run_id
            with mlflow.start_run(run_name="grandchild", nested=True) as grandchild:
                pass
        assert mlflow.active_run().info.run_id == parent.info.run_id
    child_run = tracking.client.get_run(child.info.run_id)
    assert child_run.data.tags["mlflow.parentRunId"] == parent.info.run_id
    assert (
        tracking.client.get_run(grandchild.info.run_id).data.tags["mlflow.parentRunId"] == child.info.run_id
    )
    assert "mlflow.parentRunId" not in tracking.client.get_run(parent.info.run_id).data.tags
    found = tracking.client.search_runs(
        [tracking.experiment_id], filter_string=f"tags.mlflow.parentRunId = '{parent.info.run_id}'"
    )
    assert [r.info.run_id for r in found] == [child.info.run_id]
    for run_id in (parent.info.run_id, child.info.run_id, grandchild.info.run_id):
        assert tracking.client.get_run(run_id).info.status == "FINISHED"


def test_resume_finished_run(mlflow: ModuleType, tracking: Tracking) -> None:
    with mlflow.start_run() as run:
        mlflow.log_metric("loss", 1.0, step=0)
    run_id = run.info.run_id
    first_end = tracking.client.get_run(run_id).info.end_time
    with mlflow.start_run(run_id=run_id) as resumed:
        assert resumed.info.run_id == run_id
        assert tracking.client.get_run(run_id).info.status == "RUNNING"
        mlflow.log_metric("loss", 0.5, step=1)
    final = tracking.client.get_run(run_id)
    assert final.info.status == "FINISHED"
    assert final.info.end_time >= first_end
    assert [
        m.value for m in sorted(tracking.client.get_metric_history(run_id, "loss"), key=lambda m: m.step)
    ] == [
        1.0,
        0.5,
    ]
    assert final.data.metrics["loss"] == 0.5


def test_resume_unknown_run(mlflow: ModuleType) -> None:
    raises_code(lambda: mlflow.start_run(run_id="0" * 32), "RESOURCE_DOES_NOT_EXIST")


def test_update_status_back_to_running(tracking: Tracking) -> None:
    run = tracking.client.create_run(tracking.client.create_experiment(tracking.new_name()))
    tracking.client.set_terminated(run.info.run_id, "FINISHED")
    tracking.client.update_run(run.info.run_id, status=RunStatus.to_string(RunStatus.RUNNING))
    assert tracking.client.get_run(run.info.run_id).info.status == "RUNNING"


def test_delete_and_restore_run(tracking: Tracking) -> None:
    exp_id = tracking.client.create_experiment(tracking.new_name())
    keep = tracking.client.create_run(exp_id)
    gone = tracking.client.create_run(exp_id)
    tracking.client.delete_run(gone.info.run_id)
    assert tracking.client.get_run(gone.info.run_id).info.lifecycle_stage == "deleted"
    active = {r.info.run_id for r in tracking.client.search_runs([exp_id])}
    assert active == {keep.info.run_id}
    deleted = {
        r.info.run_id for r in tracking.client.search_runs([exp_id], run_view_type=ViewType.DELETED_ONLY)
    }
    assert deleted == {gone.info.run_id}
    every = {r.info.run_id for r in tracking.client.search_runs([exp_id], run_view_type=ViewType.ALL)}
    assert every == {keep.info.run_id, gone.info.run_id}

    tracking.client.restore_run(gone.info.run_id)
    assert tracking.client.get_run(gone.info.run_id).info.lifecycle_stage == "active"
    assert {r.info.run_id for r in tracking.client.search_runs([exp_id])} == {
        keep.info.run_id,
        gone.info.run_id,
    }


def test_delete_unknown_run(tracking: Tracking) -> None:
    raises_code(lambda: tracking.client.delete_run("f" * 32), "RESOURCE_DOES_NOT_EXIST")
    raises_code(lambda: tracking.client.restore_run("f" * 32), "RESOURCE_DOES_NOT_EXIST")


def test_get_unknown_run(tracking: Tracking) -> None:
    raises_code(lambda: tracking.client.get_run("0" * 32), "RESOURCE_DOES_NOT_EXIST")
    assert_error(get(tracking.api("runs/get"), {"run_id": "0" * 32}), 404, "RESOURCE_DOES_NOT_EXIST")
    assert_error(
        post(tracking.api("runs/log-metric"), {"run_id": "0" * 32, "key": "m", "value": 1, "timestamp": 1}),
        404,
        "RESOURCE_DOES_NOT_EXIST",
    )


def test_create_run_in_unknown_experiment(tracking: Tracking) -> None:
    resp = post(tracking.api("runs/create"), {"experiment_id": "987654321"})
    assert_error(resp, 404, "RESOURCE_DOES_NOT_EXIST")


def test_set_and_delete_tags(tracking: Tracking) -> None:
    run = tracking.client.create_run(tracking.client.create_experiment(tracking.new_name()))
    run_id = run.info.run_id
    tracking.client.set_tag(run_id, "color", "red")
    tracking.client.set_tag(run_id, "color", "blue")  # tags are mutable
    tracking.client.set_tag(run_id, "empty", "")
    tracking.client.set_tag(run_id, "with space/and:colon", "ok")
    tags = tracking.client.get_run(run_id).data.tags
    assert tags["color"] == "blue"
    assert tags["empty"] == ""
    assert tags["with space/and:colon"] == "ok"
    tracking.client.delete_tag(run_id, "color")
    assert "color" not in tracking.client.get_run(run_id).data.tags


def test_delete_missing_tag(tracking: Tracking) -> None:
    run_id = tracking.client.create_run(tracking.client.create_experiment(tracking.new_name())).info.run_id
    raises_code(lambda: tracking.client.delete_tag(run_id, "never-set"), "RESOURCE_DOES_NOT_EXIST")
    resp = post(tracking.api("runs/delete-tag"), {"run_id": run_id, "key": "never-set"})
    assert_error(resp, 404, "RESOURCE_DOES_NOT_EXIST")


def test_long_tag_value_truncated_to_8000(tracking: Tracking) -> None:
    run = tracking.client.create_run(tracking.client.create_experiment(tracking.new_name()))
    value = "".join(chr(ord("a") + i % 26) for i in range(9000))
    ok(post(tracking.api("runs/set-tag"), {"run_id": run.info.run_id, "key": "long", "value": value}))
    assert tracking.client.get_run(run.info.run_id).data.tags["long"] == value[:8000]
    tracking.client.set_tag(run.info.run_id, "long2", value)
    assert tracking.client.get_run(run.info.run_id).data.tags["long2"] == value[:8000]


def test_writes_to_deleted_run_rejected(tracking: Tracking) -> None:
    run = tracking.client.create_run(tracking.client.create_experiment(tracking.new_name()))
    run_id = run.info.run_id
    tracking.client.log_param(run_id, "before", "1")
    tracking.client.delete_run(run_id)

    raises_code(lambda: tracking.client.log_metric(run_id, "m", 1.0), "INVALID_PARAMETER_VALUE")
    raises_code(lambda: tracking.client.log_param(run_id, "p", "1"), "INVALID_PARAMETER_VALUE")
    raises_code(lambda: tracking.client.set_tag(run_id, "t", "1"), "INVALID_PARAMETER_VALUE")
    raises_code(lambda: tracking.client.set_terminated(run_id, "FINISHED"), "INVALID_PARAMETER_VALUE")

    api = tracking.api
    for path, body in [
        ("runs/log-metric", {"key": "m", "value": 1.0, "timestamp": 1, "step": 0}),
        ("runs/log-parameter", {"key": "p", "value": "1"}),
        ("runs/set-tag", {"key": "t", "value": "1"}),
        ("runs/delete-tag", {"key": "t"}),
        ("runs/update", {"status": "FINISHED", "end_time": 5}),
        ("runs/log-batch", {"metrics": [{"key": "m", "value": 1.0, "timestamp": 1, "step": 0}]}),
    ]:
        assert_error(post(api(path), {"run_id": run_id, **body}), 400, "INVALID_PARAMETER_VALUE")
    data = tracking.client.get_run(run_id).data
    assert data.metrics == {} and data.params == {"before": "1"} and "t" not in data.tags


def test_user_id_from_client(tracking: Tracking) -> None:
    exp_id = tracking.client.create_experiment(tracking.new_name())
    run = ok(post(tracking.api("runs/create"), {"experiment_id": exp_id, "user_id": "alice"}))["run"]
    assert tracking.client.get_run(run["info"]["run_id"]).info.user_id == "alice"
