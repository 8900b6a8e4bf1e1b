"""Dataset inputs through the stock client: log_input/log_inputs, run.inputs, and `datasets.*` search filters."""

from __future__ import annotations

import json
from types import ModuleType

import pandas as pd
import pytest
from harness.api import assert_error, post, raises_code
from harness.plugin import Tracking
from mlflow.entities import Dataset, DatasetInput, InputTag


def _entity(name: str, digest: str, **extra: str) -> Dataset:
    return Dataset(
        name=name,
        digest=digest,
        source_type="local",
        source=json.dumps({"uri": f"/data/{name}"}),
        schema=extra.get("schema"),
        profile=extra.get("profile"),
    )


def test_log_input_fluent(mlflow: ModuleType, tracking: Tracking) -> None:
    df = pd.DataFrame({"x": [1.0, 2.0, 3.0], "y": [0, 1, 0]})
    dataset = mlflow.data.from_pandas(df, name="tiny-train", targets="y")
    with mlflow.start_run() as run:
        mlflow.log_input(dataset, context="training")
    inputs = tracking.client.get_run(run.info.run_id).inputs.dataset_inputs
    assert len(inputs) == 1
    got = inputs[0]
    assert got.dataset.name == "tiny-train"
    assert got.dataset.digest == dataset.digest
    sent = dataset.to_dict()
    assert got.dataset.source_type == sent["source_type"]
    assert json.loads(got.dataset.source) == json.loads(sent["source"])
    assert json.loads(got.dataset.profile) == json.loads(sent["profile"])
    assert json.loads(got.dataset.schema) == json.loads(sent["schema"])
    assert {t.key: t.value for t in got.tags} == {"mlflow.data.context": "training"}


def test_log_inputs_entities_and_search(tracking: Tracking) -> None:
    exp_id = tracking.client.create_experiment(tracking.new_name())
    r_train = tracking.client.create_run(exp_id).info.run_id
    r_eval = tracking.client.create_run(exp_id).info.run_id
    r_none = tracking.client.create_run(exp_id).info.run_id
    train = _entity("iris", "abc123", profile='{"num_rows": 150}', schema='{"cols": ["a"]}')
    evals = _entity("iris-eval", "def456")
    tracking.client.log_inputs(
        r_train,
        [DatasetInput(train, tags=[InputTag("mlflow.data.context", "training"), InputTag("owner", "ann")])],
    )
    tracking.client.log_inputs(
        r_eval,
        [
            DatasetInput(evals, tags=[InputTag("mlflow.data.context", "eval")]),
            DatasetInput(train, tags=[InputTag("mlflow.data.context", "eval")]),
        ],
    )

    inputs = tracking.client.get_run(r_train).inputs.dataset_inputs
    assert [(i.dataset.name, i.dataset.digest, i.dataset.profile, i.dataset.schema) for i in inputs] == [
        ("iris", "abc123", '{"num_rows": 150}', '{"cols": ["a"]}')
    ]
    assert {t.key: t.value for t in inputs[0].tags} == {"mlflow.data.context": "training", "owner": "ann"}
    eval_inputs = tracking.client.get_run(r_eval).inputs.dataset_inputs
    assert sorted(i.dataset.name for i in eval_inputs) == ["iris", "iris-eval"]
    assert tracking.client.get_run(r_none).inputs.dataset_inputs == []

    def search(filter_string: str) -> set[str]:
        return {r.info.run_id for r in tracking.client.search_runs([exp_id], filter_string=filter_string)}

    assert search("datasets.name = 'iris'") == {r_train, r_eval}
    assert search("datasets.name = 'iris-eval'") == {r_eval}
    assert search("dataset.name LIKE 'iris-%'") == {r_eval}
    assert search("datasets.name IN ('iris-eval', 'nope')") == {r_eval}
    assert search("datasets.digest = 'abc123'") == {r_train, r_eval}
    assert search("datasets.context = 'training'") == {r_train}
    assert search("datasets.context = 'eval'") == {r_eval}
    assert search("datasets.name = 'iris' AND datasets.context = 'training'") == {r_train}
    assert search("datasets.name = 'nothing'") == set()


def test_same_dataset_twice_is_one_input(tracking: Tracking) -> None:
    run_id = tracking.client.create_run(tracking.client.create_experiment(tracking.new_name())).info.run_id
    ds = DatasetInput(_entity("dup", "d1"), tags=[InputTag("mlflow.data.context", "training")])
    tracking.client.log_inputs(run_id, [ds])
    tracking.client.log_inputs(run_id, [ds])
    inputs = tracking.client.get_run(run_id).inputs.dataset_inputs
    assert [(i.dataset.name, i.dataset.digest) for i in inputs] == [("dup", "d1")]


def test_dataset_shared_between_experiments(tracking: Tracking) -> None:
    ds = DatasetInput(_entity("shared", "s1"), tags=[])
    runs = []
    for _ in range(2):
        run_id = tracking.client.create_run(
            tracking.client.create_experiment(tracking.new_name())
        ).info.run_id
        tracking.client.log_inputs(run_id, [ds])
        runs.append(run_id)
    for run_id in runs:
        assert [i.dataset.name for i in tracking.client.get_run(run_id).inputs.dataset_inputs] == ["shared"]


def test_log_inputs_to_deleted_run(tracking: Tracking) -> None:
    run_id = tracking.client.create_run(tracking.client.create_experiment(tracking.new_name())).info.run_id
    tracking.client.delete_run(run_id)
    raises_code(
        lambda: tracking.client.log_inputs(run_id, [DatasetInput(_entity("x", "x1"), tags=[])]),
        "INVALID_PARAMETER_VALUE",
    )


@pytest.mark.reference_differs  # stock mlflow accepts a dataset without its required digest
def test_log_inputs_missing_digest(tracking: Tracking) -> None:
    run_id = tracking.client.create_run(tracking.client.create_experiment(tracking.new_name())).info.run_id
    no_digest = {
        "run_id": run_id,
        "datasets": [{"dataset": {"name": "n", "source_type": "local", "source": "{}"}}],
    }
    assert_error(post(tracking.api("runs/log-inputs"), no_digest), 400, "INVALID_PARAMETER_VALUE")
    assert tracking.client.get_run(run_id).inputs.dataset_inputs == []


@pytest.mark.parametrize(
    "dataset",
    [
        pytest.param({"name": "n" * 501, "digest": "d"}, id="name-501"),
        pytest.param({"name": "n", "digest": "d" * 37}, id="digest-37"),
    ],
)
def test_log_inputs_validation(tracking: Tracking, dataset: dict[str, str]) -> None:
    run_id = tracking.client.create_run(tracking.client.create_experiment(tracking.new_name())).info.run_id
    body = {"run_id": run_id, "datasets": [{"dataset": {**dataset, "source_type": "local", "source": "{}"}}]}
    assert_error(post(tracking.api("runs/log-inputs"), body), 400, "INVALID_PARAMETER_VALUE")
    assert tracking.client.get_run(run_id).inputs.dataset_inputs == []
