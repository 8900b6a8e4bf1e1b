"""GraphQL as MLflow's web UI sends it: runs with their experiment and model versions, experiments,
run searches, model-version searches, artifact listings, dataset summaries, sampled history, errors in
MLflow's shape, and the bounds that keep a hostile query cheap."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest
import requests
from harness.api import TIMEOUT, assert_error, get, is_mlflow3, ok, post
from harness.plugin import Tracking
from mlflow.entities import Dataset, DatasetInput, InputTag

RUN_FIELDS = """
  info { runId runUuid runName experimentId userId status startTime endTime artifactUri lifecycleStage }
  data { metrics { key value timestamp step } params { key value } tags { key value } }
  inputs {
    datasetInputs { tags { key value } dataset { name digest sourceType source schema profile } }
    modelInputs { modelId }
  }
  outputs { modelOutputs { modelId step } }
  experiment { experimentId name artifactLocation lifecycleStage lastUpdateTime creationTime tags { key value } }
  modelVersions { name version status source runId currentStage tags { key value } aliases userId }
"""


def graphql(tracking: Tracking, query: str, path: str = "/graphql", **extra: Any) -> dict[str, Any]:
    body = ok(post(tracking.url + path, {"query": query, **extra}))
    assert set(body) == {"data", "errors"}, body
    return body


def _setup_run(tracking: Tracking, tmp_path: Path) -> tuple[str, str, str]:
    """A run with metrics (one NaN), params, tags, two dataset inputs and two model versions."""
    exp = tracking.client.create_experiment(tracking.new_name(), tags={"team": "ml"})
    run_id = tracking.client.create_run(exp, run_name="graphql-run", tags={"t1": "v1"}).info.run_id
    tracking.client.log_metric(run_id, "loss", 0.5, timestamp=10, step=1)
    tracking.client.log_metric(run_id, "loss", 0.25, timestamp=20, step=2)
    tracking.client.log_metric(run_id, "bad", float("nan"), timestamp=30, step=3)
    tracking.client.log_param(run_id, "alpha", "0.1")
    tracking.client.log_inputs(
        run_id,
        [
            DatasetInput(
                Dataset("train", "abc", "local", "/d/train", schema='{"a": 1}', profile='{"rows": 3}'),
                tags=[InputTag("mlflow.data.context", "training")],
            ),
            DatasetInput(Dataset("eval", "def", "local", "/d/eval"), tags=[]),
        ],
    )
    name = tracking.new_name("model")
    tracking.client.create_registered_model(name)
    for _ in range(2):
        tracking.client.create_model_version(name, f"runs:/{run_id}/model", run_id, tags={"k": "v"})
    tracking.client.set_registered_model_alias(name, "champion", "2")
    return exp, run_id, name


def test_get_run_answers_with_its_experiment_and_model_versions(tracking: Tracking, tmp_path: Path) -> None:
    exp, run_id, name = _setup_run(tracking, tmp_path)
    query = f'query Run @component(name: "Test") {{ mlflowGetRun(input: {{runId: "{run_id}"}}) {{ run {{ {RUN_FIELDS} }} apiError {{ code }} }} }}'
    body = graphql(tracking, query, operationName="Run")
    assert body["errors"] is None
    run = body["data"]["mlflowGetRun"]["run"]
    assert body["data"]["mlflowGetRun"]["apiError"] is None
    rest = tracking.client.get_run(run_id)

    info = run["info"]
    assert info["runId"] == info["runUuid"] == run_id
    assert info["runName"] == "graphql-run" and info["experimentId"] == exp
    assert info["status"] == "RUNNING" and info["lifecycleStage"] == "active"
    assert info["startTime"] == str(rest.info.start_time) and info["endTime"] == "0"  # longs are strings
    assert info["artifactUri"] == rest.info.artifact_uri

    metrics = {m["key"]: m for m in run["data"]["metrics"]}
    assert metrics["loss"] == {"key": "loss", "value": 0.25, "timestamp": "20", "step": "2"}
    assert metrics["bad"] == {
        "key": "bad",
        "value": None,
        "timestamp": "30",
        "step": "3",
    }  # NaN reads as null
    assert run["data"]["params"] == [{"key": "alpha", "value": "0.1"}]
    assert {t["key"]: t["value"] for t in run["data"]["tags"]} == rest.data.tags

    inputs = sorted(run["inputs"]["datasetInputs"], key=lambda d: d["dataset"]["name"])
    assert inputs == [
        {
            "tags": [],
            "dataset": {
                "name": "eval",
                "digest": "def",
                "sourceType": "local",
                "source": "/d/eval",
                "schema": "",
                "profile": "",
            },
        },
        {
            "tags": [{"key": "mlflow.data.context", "value": "training"}],
            "dataset": {
                "name": "train",
                "digest": "abc",
                "sourceType": "local",
                "source": "/d/train",
                "schema": '{"a": 1}',
                "profile": '{"rows": 3}',
            },
        },
    ]
    assert run["inputs"]["modelInputs"] == [] and run["outputs"] == {
        "modelOutputs": []
    }  # unset reads as empty

    experiment = tracking.client.get_experiment(exp)
    assert run["experiment"] == {
        "experimentId": exp,
        "name": experiment.name,
        "artifactLocation": experiment.artifact_location,
        "lifecycleStage": "active",
        "lastUpdateTime": str(experiment.last_update_time),
        "creationTime": str(experiment.creation_time),
        "tags": [{"key": "team", "value": "ml"}],
    }
    versions = sorted(run["modelVersions"], key=lambda v: v["version"])
    assert [(v["name"], v["version"], v["status"], v["runId"]) for v in versions] == [
        (name, "1", "READY", run_id),
        (name, "2", "READY", run_id),
    ]
    assert versions[0]["aliases"] == [] and versions[1]["aliases"] == ["champion"]
    assert versions[0]["tags"] == [{"key": "k", "value": "v"}] and versions[0]["currentStage"] == "None"
    assert versions[0]["source"] == f"runs:/{run_id}/model"


def test_get_run_errors_as_mlflow_shapes_them(tracking: Tracking) -> None:
    missing = "0" * 32
    body = graphql(
        tracking, f'{{ mlflowGetRun(input: {{runId: "{missing}"}}) {{ run {{ info {{ runId }} }} }} }}'
    )
    assert body == {"data": {"mlflowGetRun": None}, "errors": [f"Run with id={missing} not found"]}
    body = graphql(tracking, "{ mlflowGetRun(input: {}) { run { info { runId } } } }")
    assert body["data"] == {"mlflowGetRun": None} and "run_id" in body["errors"][0]
    body = graphql(tracking, "{ mlflowGetRun(input: {runId: 5}) { run { info { runId } } } }")
    assert body["data"] is None and "String cannot represent" in body["errors"][0]
    body = graphql(tracking, "{ mlflowNope { x } }")
    assert body["data"] is None and "Cannot query field 'mlflowNope'" in body["errors"][0]
    body = graphql(tracking, "{ mlflowGetRun(")
    assert body["data"] is None and body["errors"][0].startswith("Syntax Error")


def test_experiments_and_variables(tracking: Tracking) -> None:
    exp = tracking.client.create_experiment(tracking.new_name(), tags={"a": "b"})
    query = (
        "query Exp($input: MlflowGetExperimentInput!) { mlflowGetExperiment(input: $input) "
        "{ experiment { experimentId name tags { key value } effectiveTraceArchivalRetention workspace } "
        "apiError { code message } } }"
    )
    body = graphql(tracking, query, variables={"input": {"experimentId": exp}}, operationName="Exp")
    assert body["errors"] is None
    got = body["data"]["mlflowGetExperiment"]
    assert got["apiError"] is None
    assert got["experiment"]["experimentId"] == exp and got["experiment"]["tags"] == [
        {"key": "a", "value": "b"}
    ]
    assert got["experiment"]["effectiveTraceArchivalRetention"] in ("", None)
    # Unknown and malformed ids: null data for the field, the REST message as the error.
    body = graphql(tracking, query, variables={"input": {"experimentId": "987654321"}})
    assert body == {
        "data": {"mlflowGetExperiment": None},
        "errors": ["No Experiment with id=987654321 exists"],
    }
    body = graphql(tracking, query, variables={"input": {"experimentId": "abc"}})
    assert body["data"] == {"mlflowGetExperiment": None} and "abc" in body["errors"][0]
    # A variable of the wrong shape is refused before anything runs.
    body = graphql(tracking, query, variables={"input": {"experimentId": ["x"]}})
    assert body["data"] is None and body["errors"]
    # The same endpoint over GET, and at the API paths.
    params = {"query": query, "variables": f'{{"input": {{"experimentId": "{exp}"}}}}'}
    answer = ok(get(f"{tracking.url}/graphql", params))
    assert answer["data"]["mlflowGetExperiment"]["experiment"]["experimentId"] == exp
    for path in ["/ajax-api/2.0/mlflow/graphql", "/api/2.0/mlflow/graphql"]:
        answer = graphql(tracking, query, path, variables={"input": {"experimentId": exp}})
        assert answer["data"]["mlflowGetExperiment"]["experiment"]["experimentId"] == exp


@pytest.mark.parametrize("kind", ["query", "mutation"])
def test_search_runs_pages_and_links(tracking: Tracking, kind: str) -> None:
    exp = tracking.client.create_experiment(tracking.new_name())
    run_ids = []
    for i in range(5):
        run_id = tracking.client.create_run(exp, start_time=1000 + i).info.run_id
        tracking.client.log_metric(run_id, "acc", i / 10, step=0)
        run_ids.append(run_id)
    name = tracking.new_name("model")
    tracking.client.create_registered_model(name)
    for run_id in run_ids[1:4]:
        tracking.client.create_model_version(name, f"runs:/{run_id}/model", run_id)
    tracking.client.delete_run(run_ids[0])

    fields = (
        "runs { info { runId } experiment { experimentId } modelVersions { version runId } } nextPageToken"
    )
    search = f'{kind} {{ mlflowSearchRuns(input: {{experimentIds: ["{exp}"], filter: "metrics.acc >= 0.2", orderBy: ["metrics.acc DESC"], maxResults: 2}}) {{ {fields} }} }}'
    body = graphql(tracking, search)
    assert body["errors"] is None
    page = body["data"]["mlflowSearchRuns"]
    assert [r["info"]["runId"] for r in page["runs"]] == [run_ids[4], run_ids[3]]
    assert all(r["experiment"] == {"experimentId": exp} for r in page["runs"])
    assert page["runs"][0]["modelVersions"] == []
    assert page["runs"][1]["modelVersions"] == [{"version": "3", "runId": run_ids[3]}]
    assert page["nextPageToken"]
    rest = tracking.client.search_runs(
        [exp], "metrics.acc >= 0.2", order_by=["metrics.acc DESC"], max_results=2
    )
    assert page["nextPageToken"] == rest.token

    everything = (
        f'{kind} {{ mlflowSearchRuns(input: {{experimentIds: ["{exp}"], runViewType: ALL}}) {{ {fields} }} }}'
    )
    page = graphql(tracking, everything)["data"]["mlflowSearchRuns"]
    by_run = {r["info"]["runId"]: [v["version"] for v in r["modelVersions"]] for r in page["runs"]}
    assert by_run == {run_ids[0]: [], run_ids[1]: ["1"], run_ids[2]: ["2"], run_ids[3]: ["3"], run_ids[4]: []}
    assert page["nextPageToken"] == ""
    bad = f'{kind} {{ mlflowSearchRuns(input: {{experimentIds: ["{exp}"], filter: "nonsense ~ 1"}}) {{ runs {{ info {{ runId }} }} }} }}'
    body = graphql(tracking, bad)
    assert body["data"] == {"mlflowSearchRuns": None} and len(body["errors"]) == 1


def test_search_model_versions(tracking: Tracking) -> None:
    exp = tracking.client.create_experiment(tracking.new_name())
    run_id = tracking.client.create_run(exp).info.run_id
    name = tracking.new_name("model")
    tracking.client.create_registered_model(name)
    for _ in range(3):
        tracking.client.create_model_version(name, f"runs:/{run_id}/model", run_id)
    query = f"""{{ mlflowSearchModelVersions(input: {{filter: "name = '{name}'", orderBy: ["version_number ASC"], maxResults: "2"}}) {{
        modelVersions {{ name version creationTimestamp runLink modelParams {{ name }} deploymentJobState {{ jobId jobState }} }}
        nextPageToken apiError {{ code }} }} }}"""
    body = graphql(tracking, query)
    assert body["errors"] is None
    page = body["data"]["mlflowSearchModelVersions"]
    assert [v["version"] for v in page["modelVersions"]] == ["1", "2"]
    first = page["modelVersions"][0]
    assert first["creationTimestamp"].isdigit() and first["runLink"] == "" and first["modelParams"] == []
    assert first["deploymentJobState"] == {"jobId": "", "jobState": None}
    assert page["nextPageToken"] and page["apiError"] is None
    body = graphql(
        tracking, '{ mlflowSearchModelVersions(input: {filter: "bogus bogus"}) { modelVersions { name } } }'
    )
    assert body["data"] == {"mlflowSearchModelVersions": None} and body["errors"]


def test_list_artifacts(tracking: Tracking, tmp_path: Path) -> None:
    exp = tracking.client.create_experiment(tracking.new_name())
    run_id = tracking.client.create_run(exp).info.run_id
    (tmp_path / "a.txt").write_text("hello world")
    tracking.client.log_artifact(run_id, str(tmp_path / "a.txt"))
    tracking.client.log_artifact(run_id, str(tmp_path / "a.txt"), "dir")
    query = '{{ files: mlflowListArtifacts(input: {{runId: "{}", path: "{}"}}) {{ rootUri files {{ path isDir fileSize }} }} }}'
    body = graphql(tracking, query.format(run_id, ""))
    assert body["errors"] is None
    assert sorted(body["data"]["files"]["files"], key=lambda f: f["path"]) == [
        {"path": "a.txt", "isDir": False, "fileSize": "11"},
        {"path": "dir", "isDir": True, "fileSize": "0"},
    ]
    assert body["data"]["files"]["rootUri"] == tracking.client.get_run(run_id).info.artifact_uri
    assert graphql(tracking, query.format(run_id, "dir"))["data"]["files"]["files"] == [
        {"path": "dir/a.txt", "isDir": False, "fileSize": "11"}
    ]
    body = graphql(tracking, query.format(run_id, "../.."))
    assert body["data"] == {"files": None} and body["errors"][0].startswith("Invalid path")


def test_search_datasets_and_sampled_history(tracking: Tracking) -> None:
    exp = tracking.client.create_experiment(tracking.new_name())
    run_id = tracking.client.create_run(exp).info.run_id
    tracking.client.log_inputs(
        run_id,
        [
            DatasetInput(Dataset("d1", "1", "local", "s"), tags=[]),
            DatasetInput(Dataset("d2", "2", "local", "s"), tags=[InputTag("mlflow.data.context", "eval")]),
        ],
    )
    for step in range(10):
        tracking.client.log_metric(run_id, "m", float(step), timestamp=100 + step, step=step)
    body = graphql(
        tracking,
        f'mutation {{ mlflowSearchDatasets(input: {{experimentIds: ["{exp}"]}}) {{ datasetSummaries {{ experimentId name digest context }} }} }}',
    )
    assert sorted(body["data"]["mlflowSearchDatasets"]["datasetSummaries"], key=lambda s: s["name"]) == [
        {"experimentId": exp, "name": "d1", "digest": "1", "context": ""},
        {"experimentId": exp, "name": "d2", "digest": "2", "context": "eval"},
    ]
    body = graphql(
        tracking,
        "mutation { mlflowSearchDatasets(input: {experimentIds: []}) { datasetSummaries { name } } }",
    )
    assert (
        body["data"] == {"mlflowSearchDatasets": None} and "at least one experiment_id" in body["errors"][0]
    )
    # mlflowSearchDatasets is a mutation only, as in MLflow.
    body = graphql(
        tracking, "{ mlflowSearchDatasets(input: {experimentIds: []}) { datasetSummaries { name } } }"
    )
    assert body["data"] is None

    query = f'{{ mlflowGetMetricHistoryBulkInterval(input: {{runIds: ["{run_id}"], metricKey: "m", maxResults: 4}}) {{ metrics {{ key value step timestamp runId }} }} }}'
    metrics = graphql(tracking, query)["data"]["mlflowGetMetricHistoryBulkInterval"]["metrics"]
    rest = ok(
        get(
            tracking.ajax("metrics/get-history-bulk-interval"),
            {"run_ids": run_id, "metric_key": "m", "max_results": 4},
        )
    )
    assert [(m["step"], m["value"]) for m in metrics] == [
        (str(m["step"]), m["value"]) for m in rest["metrics"]
    ]
    assert metrics[0] == {"key": "m", "value": 0.0, "step": "0", "timestamp": "100", "runId": run_id}


def test_test_fields_echo(tracking: Tracking) -> None:
    assert graphql(tracking, 'query { test(inputString: "abc") { output } }') == {
        "data": {"test": {"output": "abc"}},
        "errors": None,
    }
    body = graphql(tracking, 'mutation M { testMutation(inputString: "x") { output } }', operationName="M")
    assert body == {"data": {"testMutation": {"output": "x"}}, "errors": None}
    body = graphql(
        tracking,
        'query A { test(inputString: "a") { output } } query B { test(inputString: "b") { output } }',
    )
    assert body["data"] is None and "operation name" in body["errors"][0]


# -- bounds ------------------------------------------------------------------------------------------------


def _refused(tracking: Tracking, query: str, words: str) -> None:
    started = time.monotonic()
    body = graphql(tracking, query)
    assert time.monotonic() - started < 10, "a refused query must be cheap"
    assert body["data"] is None and len(body["errors"]) == 1 and words in body["errors"][0], body


def test_query_bounds(tracking: Tracking) -> None:
    experiment = 'mlflowGetExperiment(input: {experimentId: "0"})'
    roots = " ".join(f'k{i}: test(inputString: "x") {{ output }}' for i in range(11))
    _refused(tracking, f"{{ {roots} }}", "at most 10 root fields")
    aliases = " ".join(f"n{i}: name" for i in range(11))
    _refused(tracking, f"{{ {experiment} {{ experiment {{ {aliases} }} }} }}", "at most 10 aliases")
    deep = "name"
    for _ in range(9):
        deep = f"tags {{ {deep} }}"
    _refused(tracking, f"{{ {experiment} {{ experiment {{ {deep} }} }} }}", "maximum depth of 10")
    wide = " ".join(f"f{i} {{ name }}" for i in range(1001))
    _refused(
        tracking, f"{{ {experiment} {{ experiment {{ {wide} }} }} }}", "maximum total selections of 1000"
    )
    # Fragments count where they are spread: ten spreads of a 200-field fragment are 2000 selections.
    fragment = "fragment F on MlflowExperiment { " + " ".join(["name"] * 200) + " }"
    spreads = " ".join(f"e{i}: experiment {{ ...F }}" for i in range(10))
    _refused(tracking, f"{{ {experiment} {{ {spreads} }} }} {fragment}", "maximum total selections of 1000")
    # A fragment that spreads itself ends at the depth bound instead of looping.
    cyclic = "fragment C on MlflowExperiment { tags { key } ...C } fragment D on MlflowRunExtension { experiment { ...C } data { ...D } }"
    _refused(
        tracking,
        f'{{ mlflowGetRun(input: {{runId: "x"}}) {{ run {{ ...D }} }} }} {cyclic}',
        "maximum depth of 10",
    )
    _refused(tracking, "{ " + "test " * 10_001 + "}", "tokens")

    # At the bounds, a query runs.
    at_bounds = " ".join(f'k{i}: test(inputString: "x") {{ output }}' for i in range(10))
    assert graphql(tracking, f"{{ {at_bounds} }}")["errors"] is None


def test_malformed_requests_are_400(tracking: Tracking) -> None:
    url = tracking.url + "/graphql"
    assert_error(post(url, {}), 400, "INVALID_PARAMETER_VALUE")
    assert_error(post(url, {"query": ""}), 400, "INVALID_PARAMETER_VALUE")
    assert_error(post(url, {"query": 5}), 400, "INVALID_PARAMETER_VALUE")
    assert_error(
        post(url, {"query": "{ test { output } }", "variables": [1]}), 400, "INVALID_PARAMETER_VALUE"
    )
    assert_error(
        post(url, {"query": "{ test { output } }", "operationName": 3}), 400, "INVALID_PARAMETER_VALUE"
    )
    assert_error(post(url, ["{ test { output } }"]), 400, "INVALID_PARAMETER_VALUE")
    not_json = requests.post(url, data="{ test { output } }", timeout=TIMEOUT)
    assert_error(not_json, 400, "INVALID_PARAMETER_VALUE")
    huge = requests.post(
        url, json={"query": "{ test { output } }", "pad": "x" * (1024 * 1024)}, timeout=TIMEOUT
    )
    assert_error(huge, 400, "INVALID_PARAMETER_VALUE")
    assert_error(requests.put(url, json={"query": "{ test { output } }"}, timeout=TIMEOUT), 405)


@pytest.mark.skipif(not is_mlflow3(), reason="logged model inputs and outputs are an MLflow 3 API")
def test_run_model_inputs_and_outputs(tracking: Tracking) -> None:
    from mlflow.entities import LoggedModelInput, LoggedModelOutput

    exp = tracking.client.create_experiment(tracking.new_name())
    run_id = tracking.client.create_run(exp).info.run_id
    model_in = tracking.client.create_logged_model(exp).model_id
    model_out = tracking.client.create_logged_model(exp).model_id
    tracking.client.log_inputs(run_id, models=[LoggedModelInput(model_in)])
    tracking.client.log_outputs(run_id, [LoggedModelOutput(model_out, 7)])
    query = f'{{ mlflowGetRun(input: {{runUuid: "{run_id}"}}) {{ run {{ inputs {{ modelInputs {{ modelId }} }} outputs {{ modelOutputs {{ modelId step }} }} }} }} }}'
    run = graphql(tracking, query)["data"]["mlflowGetRun"]["run"]
    assert run == {
        "inputs": {"modelInputs": [{"modelId": model_in}]},
        "outputs": {"modelOutputs": [{"modelId": model_out, "step": "7"}]},
    }
