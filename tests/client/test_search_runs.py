"""search_runs through the stock client: filters over metrics/params/tags/attributes, ordering with NaN and gaps, errors."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from types import ModuleType

import pytest
from harness.api import assert_error, post, raises_code
from harness.plugin import Tracking
from harness.server import ServerProcess
from mlflow import MlflowClient
from mlflow.entities import Metric, Param, RunTag


@dataclass
class Corpus:
    experiment_id: str
    ids: dict[str, str]  # r1..r5 -> run_id
    names: dict[str, str]  # run_id -> r1..r5

    def labels(self, runs: list) -> list[str]:  # type: ignore[type-arg]
        return [self.names[r.info.run_id] for r in runs]


@pytest.fixture(scope="module")
def corpus(tracking_server: ServerProcess) -> Iterator[Corpus]:
    """Five runs with a known mix of metrics (incl. NaN and missing), params, tags, statuses and start times."""
    client = MlflowClient(tracking_uri=tracking_server.url)
    exp_id = client.create_experiment(f"search-corpus-{uuid.uuid4().hex[:8]}")
    spec = {
        "r1": (
            {"acc": 0.9, "loss": 0.1},
            {"alpha": "0.1", "model": "cnn"},
            {"team": "alpha", "env": "prod", "rank": "c"},
            "FINISHED",
            "run-a",
        ),
        "r2": (
            {"acc": 0.5, "loss": 0.5},
            {"alpha": "0.2", "model": "rnn"},
            {"team": "beta", "rank": "a"},
            "FINISHED",
            "run-b",
        ),
        "r3": ({"acc": float("nan")}, {"alpha": "0.1"}, {"team": "Alpha", "rank": "b"}, "RUNNING", "run-c"),
        "r4": ({"acc": 0.7}, {}, {}, "FAILED", "Run-D"),
        "r5": ({}, {"alpha": "0.3"}, {"team": "gamma", "rank": "d"}, "FINISHED", "run-e"),
    }
    ids: dict[str, str] = {}
    for index, (label, (metrics, params, tags, status, name)) in enumerate(spec.items()):
        extra = {"mlflow.user": "tester"} if label == "r1" else {}
        run = client.create_run(exp_id, start_time=(index + 1) * 1000, run_name=name, tags=extra)
        run_id = run.info.run_id
        client.log_batch(
            run_id,
            metrics=[Metric(k, v, 1, 0) for k, v in metrics.items()],
            params=[Param(k, v) for k, v in params.items()],
            tags=[RunTag(k, v) for k, v in tags.items()],
        )
        if status != "RUNNING":
            client.set_terminated(run_id, status=status, end_time=(index + 1) * 1000 + 500)
        ids[label] = run_id
    yield Corpus(exp_id, ids, {v: k for k, v in ids.items()})


def _search(
    tracking: Tracking, corpus: Corpus, filter_string: str = "", order_by: list[str] | None = None
) -> list[str]:
    runs = tracking.client.search_runs([corpus.experiment_id], filter_string=filter_string, order_by=order_by)
    return corpus.labels(runs)


@pytest.mark.parametrize(
    "filter_string,expected",
    [
        ("", {"r1", "r2", "r3", "r4", "r5"}),
        ("metrics.acc > 0.6", {"r1", "r4"}),
        ("metrics.acc >= 0.5 and params.alpha = '0.1'", {"r1"}),
        ("metrics.acc >= 0.5 AND metrics.acc <= 0.7", {"r2", "r4"}),
        ("metrics.acc < 0.6", {"r2"}),
        ("metrics.acc = 0.5", {"r2"}),
        ("metrics.acc != 0.5", {"r1", "r3", "r4"}),
        ("metric.loss < 1", {"r1", "r2"}),
        ("params.alpha = '0.1'", {"r1", "r3"}),
        ('params.alpha = "0.1"', {"r1", "r3"}),
        ("params.alpha != '0.1'", {"r2", "r5"}),
        ("params.model LIKE 'c%'", {"r1"}),
        ("param.model ILIKE 'R%'", {"r2"}),
        ("params.alpha IS NULL", {"r4"}),
        ("params.alpha IS NOT NULL", {"r1", "r2", "r3", "r5"}),
        ("tags.team = 'alpha'", {"r1"}),
        ("tags.team LIKE 'alpha%'", {"r1"}),
        ("tags.team LIKE '%lpha'", {"r1", "r3"}),
        ("tags.team ILIKE 'ALPHA'", {"r1", "r3"}),
        ("tags.team != 'beta'", {"r1", "r3", "r5"}),
        ("tags.team IS NULL", {"r4"}),
        ("tag.env = 'prod' and metrics.acc > 0.1", {"r1"}),
        ("tags.`mlflow.runName` = 'run-b'", {"r2"}),
        ("tags.\"mlflow.runName\" = 'run-c'", {"r3"}),
        ("attributes.status = 'FINISHED'", {"r1", "r2", "r5"}),
        ("attributes.status != 'FINISHED'", {"r3", "r4"}),
        ("status = 'finished'", set()),
        ("attributes.run_name = 'run-a'", {"r1"}),
        ("run_name LIKE 'run-%'", {"r1", "r2", "r3", "r5"}),
        ("attributes.run_name ILIKE 'run-%'", {"r1", "r2", "r3", "r4", "r5"}),
        ("attributes.start_time > 2500", {"r3", "r4", "r5"}),
        ("attributes.start_time <= 2000", {"r1", "r2"}),
        ("attributes.created >= 4000", {"r4", "r5"}),
        ("attributes.end_time < 2600", {"r1", "r2"}),
        ("attributes.user_id = 'tester'", {"r1"}),
        (
            "metrics.acc > 0.6 and params.alpha = '0.1' and tags.team = 'alpha' and attributes.status = 'FINISHED'",
            {"r1"},
        ),
        ("metrics.nothing > 0", set()),
        ("params.nothing = 'x'", set()),
    ],
)
def test_filters(tracking: Tracking, corpus: Corpus, filter_string: str, expected: set[str]) -> None:
    assert set(_search(tracking, corpus, filter_string)) == expected


def test_filter_run_id_in(tracking: Tracking, corpus: Corpus) -> None:
    r1, r2 = corpus.ids["r1"], corpus.ids["r2"]
    assert set(_search(tracking, corpus, f"attributes.run_id IN ('{r1}', '{r2}')")) == {"r1", "r2"}
    assert set(_search(tracking, corpus, f"attributes.run_id NOT IN ('{r1}')")) == {"r2", "r3", "r4", "r5"}
    assert _search(tracking, corpus, f"attributes.run_id = '{r2}'") == ["r2"]


@pytest.mark.parametrize(
    "order_by,expected",
    [
        (None, ["r5", "r4", "r3", "r2", "r1"]),  # default: start_time DESC
        (["attributes.start_time ASC"], ["r1", "r2", "r3", "r4", "r5"]),
        (["start_time DESC"], ["r5", "r4", "r3", "r2", "r1"]),
        (["metrics.acc DESC"], ["r1", "r4", "r2", "r3", "r5"]),  # values, then NaN, then missing
        (["metrics.acc ASC"], ["r2", "r4", "r1", "r3", "r5"]),  # values, then NaN, then missing
        (["metrics.acc"], ["r2", "r4", "r1", "r3", "r5"]),
        (["metrics.acc desc"], ["r1", "r4", "r2", "r3", "r5"]),
        (["params.alpha ASC"], ["r3", "r1", "r2", "r5", "r4"]),  # ties by start_time DESC; missing last
        (["params.alpha DESC"], ["r5", "r2", "r3", "r1", "r4"]),
        (["tags.rank ASC"], ["r2", "r3", "r1", "r5", "r4"]),
        (["tags.rank DESC"], ["r5", "r1", "r3", "r2", "r4"]),
        (["attributes.status ASC", "attributes.start_time ASC"], ["r4", "r1", "r2", "r5", "r3"]),
        (["metrics.loss ASC", "attributes.start_time ASC"], ["r1", "r2", "r3", "r4", "r5"]),
    ],
)
def test_order_by(
    tracking: Tracking, corpus: Corpus, order_by: list[str] | None, expected: list[str]
) -> None:
    assert _search(tracking, corpus, "", order_by) == expected


def test_order_with_filter_and_small_pages(tracking: Tracking, corpus: Corpus) -> None:
    labels: list[str] = []
    token = None
    for _ in range(10):
        page = tracking.client.search_runs(
            [corpus.experiment_id],
            filter_string="params.alpha IS NOT NULL",
            order_by=["params.alpha DESC"],
            max_results=2,
            page_token=token,
        )
        labels.extend(corpus.labels(page))
        token = page.token
        if not token:
            break
    assert labels == ["r5", "r2", "r3", "r1"]


def test_fluent_search_runs_dataframe(mlflow: ModuleType, corpus: Corpus) -> None:
    df = mlflow.search_runs(
        experiment_ids=[corpus.experiment_id], filter_string="metrics.acc > 0", order_by=["metrics.acc DESC"]
    )
    assert list(df["run_id"]) == [corpus.ids["r1"], corpus.ids["r4"], corpus.ids["r2"]]
    assert list(df["metrics.acc"]) == [0.9, 0.7, 0.5]
    assert df.loc[0, "params.model"] == "cnn"
    assert df.loc[0, "tags.team"] == "alpha"
    listed = mlflow.search_runs(
        experiment_ids=[corpus.experiment_id], filter_string="tags.team = 'beta'", output_format="list"
    )
    assert [r.info.run_id for r in listed] == [corpus.ids["r2"]]


def test_search_by_experiment_name(mlflow: ModuleType, tracking: Tracking, corpus: Corpus) -> None:
    name = tracking.client.get_experiment(corpus.experiment_id).name
    listed = mlflow.search_runs(experiment_names=[name], output_format="list")
    assert {r.info.run_id for r in listed} == set(corpus.ids.values())


def test_search_across_experiments(tracking: Tracking, corpus: Corpus) -> None:
    other = tracking.client.create_experiment(tracking.new_name())
    extra = tracking.client.create_run(other, start_time=6000).info.run_id
    runs = tracking.client.search_runs([corpus.experiment_id, other], order_by=["attributes.start_time DESC"])
    assert [r.info.run_id for r in runs] == [extra] + [corpus.ids[k] for k in ["r5", "r4", "r3", "r2", "r1"]]


@pytest.mark.parametrize(
    "filter_string",
    [
        "metrics.acc >>> 1",
        "metrics.acc > 0.5 OR metrics.acc < 0.1",
        "params.alpha = 0.1",
        "params.alpha = abc",
        "metrics.acc > 'high'",
        "foo.bar = 'x'",
        "metrics.acc IS NULL",
        "attributes.status IN ('FINISHED')",
        "attributes.start_time > 'yesterday'",
        "attributes.experiment_id = '0'",
        "(metrics.acc > 1)",
        "metrics.",
        "tags.team = 'unterminated",
    ],
)
def test_malformed_filter(tracking: Tracking, corpus: Corpus, filter_string: str) -> None:
    raises_code(
        lambda: tracking.client.search_runs([corpus.experiment_id], filter_string=filter_string),
        "INVALID_PARAMETER_VALUE",
    )
    resp = post(
        tracking.api("runs/search"), {"experiment_ids": [corpus.experiment_id], "filter": filter_string}
    )
    assert_error(resp, 400, "INVALID_PARAMETER_VALUE")


@pytest.mark.parametrize(
    "order_by",
    [
        ["foo.bar DESC"],
        ["metrics.acc DESCENDING"],
        ["dataset.name ASC"],
        ["attributes.nonexistent ASC"],
        ["metrics.acc ASC extra"],
        pytest.param(["metrics.acc ASC", "metrics.acc DESC"], marks=pytest.mark.reference_differs),
        pytest.param(["start_time", "attributes.start_time DESC"], marks=pytest.mark.reference_differs),
    ],
)
def test_malformed_order_by(tracking: Tracking, corpus: Corpus, order_by: list[str]) -> None:
    resp = post(
        tracking.api("runs/search"),
        {"experiment_ids": [corpus.experiment_id], "order_by": order_by, "max_results": 10},
    )
    assert_error(resp, 400, "INVALID_PARAMETER_VALUE")


def test_search_limits_and_tokens(tracking: Tracking, corpus: Corpus) -> None:
    body = {"experiment_ids": [corpus.experiment_id]}
    assert_error(
        post(tracking.api("runs/search"), {**body, "max_results": 60000}), 400, "INVALID_PARAMETER_VALUE"
    )
    assert_error(
        post(tracking.api("runs/search"), {**body, "page_token": "garbage!!"}), 400, "INVALID_PARAMETER_VALUE"
    )
    assert_error(
        post(tracking.api("runs/search"), {**body, "max_results": -1}), 400, "INVALID_PARAMETER_VALUE"
    )


def test_search_unknown_experiment_is_empty_or_404(tracking: Tracking) -> None:
    resp = post(tracking.api("runs/search"), {"experiment_ids": ["987654321"]})
    if resp.status_code == 200:
        assert resp.json() == {}
    else:
        assert_error(resp, 404, "RESOURCE_DOES_NOT_EXIST")
