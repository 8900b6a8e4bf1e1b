"""`mlflow.genai.evaluate` end to end through the stock 3.x client: a predict function traced per row,
code scorers whose feedback lands on each trace, expectations from the data, the run's metrics, and the
same from an evaluation dataset kept on the server. The 2.22 client has no mlflow.genai: skipped there."""

from __future__ import annotations

from types import ModuleType
from typing import Any

import pytest
from harness.api import is_mlflow3
from harness.plugin import Tracking

pytestmark = pytest.mark.skipif(not is_mlflow3(), reason="mlflow.genai.evaluate is an MLflow 3 client API")

DATA = [
    {"inputs": {"question": "why"}, "expectations": {"answer": "WHY"}},
    {"inputs": {"question": "how"}, "expectations": {"answer": "no"}},
    {"inputs": {"question": "when"}, "expectations": {"answer": "WHEN"}},
]


def _scorers(mlflow: ModuleType) -> list[Any]:
    from mlflow.genai.scorers import scorer

    @scorer
    def exact(outputs: str, expectations: dict[str, str]) -> bool:
        return outputs == expectations["answer"]

    @scorer
    def length(outputs: str) -> int:
        return len(outputs)

    return [exact, length]


def _predict(question: str) -> str:
    return question.upper()


def _judged(mlflow: ModuleType, run_id: str) -> list[dict[str, Any]]:
    traces = mlflow.search_traces(run_id=run_id, return_type="list")
    return [{a.name: a.value for a in t.info.assessments} for t in traces]


def test_evaluate_a_predict_function_with_code_scorers(mlflow: ModuleType, tracking: Tracking) -> None:
    result = mlflow.genai.evaluate(data=DATA, predict_fn=_predict, scorers=_scorers(mlflow))
    assert result.metrics["exact/mean"] == pytest.approx(2 / 3)
    assert result.metrics["length/mean"] == pytest.approx(10 / 3)

    run = tracking.client.get_run(result.run_id)
    assert run.info.experiment_id == tracking.experiment_id and run.info.status == "FINISHED"
    assert run.data.metrics["exact/mean"] == pytest.approx(2 / 3)

    judged = sorted(_judged(mlflow, result.run_id), key=lambda a: a["answer"])
    assert judged == [
        {"answer": "WHEN", "exact": True, "length": 4},
        {"answer": "WHY", "exact": True, "length": 3},
        {"answer": "no", "exact": False, "length": 3},
    ]
    # The scorers' feedback is searchable on the server, as MLflow's evaluation UI filters it.
    failed = mlflow.search_traces(
        locations=[tracking.experiment_id], filter_string="feedback.exact = 'false'", return_type="list"
    )
    assert [t.info.assessments[0].trace_id for t in failed] == [t.info.trace_id for t in failed]
    assert len(failed) == 1


def test_evaluate_an_evaluation_dataset_kept_on_the_server(mlflow: ModuleType, tracking: Tracking) -> None:
    from mlflow.genai import datasets

    dataset = datasets.create_dataset(name=tracking.new_name("ds"), experiment_id=[tracking.experiment_id])
    dataset.merge_records(DATA)
    again = datasets.get_dataset(dataset_id=dataset.dataset_id)
    assert len(again.to_df()) == 3

    result = mlflow.genai.evaluate(data=again, predict_fn=_predict, scorers=_scorers(mlflow)[:1])
    assert result.metrics["exact/mean"] == pytest.approx(2 / 3)
    assert sorted(a["exact"] for a in _judged(mlflow, result.run_id)) == [False, True, True]
