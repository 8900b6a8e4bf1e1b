"""The client's Run entities from a runs/search listing hold exactly what was logged, field by field."""

from __future__ import annotations

import math
from typing import Any

from harness.api import is_mlflow3, ok, post, same_float
from harness.plugin import Tracking
from mlflow.entities import Dataset, DatasetInput, InputTag, Metric, Param, RunTag

START = 1_700_000_000_000


def _listing(tracking: Tracking, exp_id: str, page_size: int) -> list[Any]:
    """Every run of the experiment through the client's search_runs paging, as a caller does."""
    found: list[Any] = []
    token = None
    while True:
        page = tracking.client.search_runs([exp_id], max_results=page_size, page_token=token)
        found += page
        token = page.token
        if not token:
            return found


def _create(tracking: Tracking, exp_id: str, body: dict[str, Any]) -> str:
    run = ok(post(tracking.api("runs/create"), {"experiment_id": exp_id, **body}))["run"]
    return str(run["info"]["run_id"])


def _seed(tracking: Tracking, exp_id: str) -> dict[str, dict[str, Any]]:
    """Three runs: bare (no user, nothing logged), full (everything a run can carry), model-only."""
    client = tracking.client
    model_id = ok(post(tracking.api("logged-models"), {"experiment_id": exp_id}))["model"]["info"]["model_id"]
    expected: dict[str, dict[str, Any]] = {}

    bare = _create(tracking, exp_id, {"run_name": "bare", "start_time": START})
    expected[bare] = {
        "user_id": "",
        "run_name": "bare",
        "status": "RUNNING",
        "start_time": START,
        "end_time": None,
        "metrics": {},
        "params": {},
        "tags": {"mlflow.runName": "bare"},
        "datasets": [],
        "model_inputs": [],
        "model_outputs": [],
    }

    full = _create(
        tracking,
        exp_id,
        {
            "run_name": "full",
            "user_id": "alice",
            "start_time": START + 1,
            "tags": [{"key": "k", "value": "v"}],
        },
    )
    client.log_batch(
        full,
        metrics=[
            Metric("half", 0.5, START + 2, 3),
            Metric("tiny", 1e-300, START + 3, 0),
            Metric("nan", math.nan, START + 4, 2**40),
            Metric("neg", -2.25, START + 5, -1),
        ],
        params=[Param("lr", "0.001"), Param("unicode", "héllo ✓"), Param("empty", "")],
        tags=[RunTag("team", "a"), RunTag("note", "")],
    )
    dataset = Dataset("ds", "d1", "local", '{"uri": "/d"}', schema='{"a": 1}', profile='{"rows": 2}')
    client.log_inputs(full, [DatasetInput(dataset, tags=[InputTag("mlflow.data.context", "train")])])
    ok(post(tracking.api("runs/outputs"), {"run_id": full, "models": [{"model_id": model_id, "step": 7}]}))
    client.set_terminated(full, "FINISHED", end_time=START + 9)
    expected[full] = {
        "user_id": "alice",
        "run_name": "full",
        "status": "FINISHED",
        "start_time": START + 1,
        "end_time": START + 9,
        "metrics": {"half": 0.5, "tiny": 1e-300, "nan": math.nan, "neg": -2.25},
        "params": {"lr": "0.001", "unicode": "héllo ✓", "empty": ""},
        "tags": {"mlflow.runName": "full", "k": "v", "team": "a", "note": ""},
        "datasets": [
            (
                "ds",
                "d1",
                "local",
                '{"uri": "/d"}',
                '{"a": 1}',
                '{"rows": 2}',
                {"mlflow.data.context": "train"},
            )
        ],
        "model_inputs": [],
        "model_outputs": [(model_id, 7)],
    }

    modelled = _create(tracking, exp_id, {"run_name": "modelled", "user_id": "bob", "start_time": START + 2})
    ok(post(tracking.api("runs/log-inputs"), {"run_id": modelled, "models": [{"model_id": model_id}]}))
    expected[modelled] = {
        "user_id": "bob",
        "run_name": "modelled",
        "status": "RUNNING",
        "start_time": START + 2,
        "end_time": None,
        "metrics": {},
        "params": {},
        "tags": {"mlflow.runName": "modelled"},
        "datasets": [],
        "model_inputs": [model_id],
        "model_outputs": [],
    }
    return expected


def _ordered(value: Any) -> Any:
    """`value` with every mapping's keys sorted, recursively."""
    if isinstance(value, dict):
        return {k: _ordered(value[k]) for k in sorted(value)}
    if isinstance(value, list):
        return [_ordered(v) for v in value]
    return value


def _check(run: Any, exp_id: str, want: dict[str, Any], artifact_uri: str) -> None:
    info, data = run.info, run.data
    assert (info.run_name, info.user_id, info.status) == (want["run_name"], want["user_id"], want["status"])
    assert (info.start_time, info.end_time) == (want["start_time"], want["end_time"])
    assert (info.experiment_id, info.lifecycle_stage, info.artifact_uri) == (exp_id, "active", artifact_uri)
    assert set(data.metrics) == set(want["metrics"])
    for key, value in want["metrics"].items():
        assert same_float(data.metrics[key], value), (key, data.metrics[key], value)
    assert data.params == want["params"]
    assert data.tags == want["tags"]
    datasets = [
        (
            d.dataset.name,
            d.dataset.digest,
            d.dataset.source_type,
            d.dataset.source,
            d.dataset.schema,
            d.dataset.profile,
            {t.key: t.value for t in d.tags},
        )
        for d in run.inputs.dataset_inputs
    ]
    assert datasets == want["datasets"]
    if is_mlflow3():  # 2.x entities have no model inputs or outputs
        assert [m.model_id for m in run.inputs.model_inputs] == want["model_inputs"]
        assert [(m.model_id, m.step) for m in run.outputs.model_outputs] == want["model_outputs"]


def test_listed_runs_match_what_was_logged(tracking: Tracking) -> None:
    exp_id = tracking.client.create_experiment(tracking.new_name())
    expected = _seed(tracking, exp_id)
    for page_size in (1000, 1):
        listed = _listing(tracking, exp_id, page_size)
        assert sorted(r.info.run_id for r in listed) == sorted(expected)
        for run in listed:
            fetched = tracking.client.get_run(run.info.run_id)
            _check(run, exp_id, expected[run.info.run_id], fetched.info.artifact_uri)
            # The listing and get-run build the same entity (repr, so NaN equals NaN; tags, params and
            # metrics are maps, whose order neither MLflow nor we promise).
            assert repr(_ordered(run.to_dictionary())) == repr(_ordered(fetched.to_dictionary()))


def test_listing_omits_what_the_client_would_default_anyway(tracking: Tracking) -> None:
    """An empty user and empty inputs are not sent: the client parses every field of every listed run."""
    exp_id = tracking.client.create_experiment(tracking.new_name())
    expected = _seed(tracking, exp_id)
    page = ok(post(tracking.api("runs/search"), {"experiment_ids": [exp_id], "max_results": 1000}))
    by_name = {r["info"]["run_name"]: r for r in page["runs"]}
    assert len(by_name) == len(expected)
    assert "user_id" not in by_name["bare"]["info"] and "inputs" not in by_name["bare"]
    assert by_name["full"]["info"]["user_id"] == "alice"
    assert by_name["full"]["inputs"]["dataset_inputs"][0]["dataset"]["name"] == "ds"
    assert by_name["modelled"]["inputs"] == {"model_inputs": [{"model_id": _model_input(expected)}]}
    # And the client still reads the bare run's defaults as it would from a field sent empty.
    bare = tracking.client.search_runs([exp_id], filter_string="attributes.run_name = 'bare'")[0]
    assert bare.info.user_id == "" and bare.inputs.dataset_inputs == []


def _model_input(expected: dict[str, dict[str, Any]]) -> str:
    return next(w["model_inputs"][0] for w in expected.values() if w["model_inputs"])
