"""MLflow 3 registered scorers and issues: through the stock client (mlflow.genai.scorers, its tracking
store) and the raw wire. The 2.22 client has no scorer API: those tests skip there; issues go over plain
HTTP, which any client version can drive."""

from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
import requests
from harness.api import assert_error, get, is_mlflow3, ok, post, raises_code
from harness.plugin import Tracking

needs_scorer_api = pytest.mark.skipif(
    not is_mlflow3(), reason="registered scorers are an MLflow 3 client API (mlflow.genai.scorers)"
)


def _experiment(tracking: Tracking, label: str = "exp") -> str:
    return tracking.client.create_experiment(tracking.new_name(label))


def _judge(name: str, model: str = "openai:/gpt-4o-mini", **extra: Any) -> str:
    """A serialized LLM judge as the client writes one (only the parts the server reads matter)."""
    data = {
        "name": name,
        "aggregations": [],
        "mlflow_version": "3.0.0",
        "serialization_version": 1,
        "instructions_judge_pydantic_data": {"instructions": "Is {{ outputs }} polite?", "model": model},
        **extra,
    }
    return json.dumps(data)


def _store(tracking: Tracking) -> Any:
    return tracking.client._tracking_client.store


def _delete(url: str, body: Any) -> requests.Response:
    return requests.delete(url, json=body, timeout=60)


def _put(url: str, body: Any) -> requests.Response:
    return requests.put(url, json=body, timeout=60)


def _patch(url: str, body: Any) -> requests.Response:
    return requests.patch(url, json=body, timeout=60)


# -- scorers: versions -----------------------------------------------------------------------------------


@needs_scorer_api
def test_versions_are_numbered_per_experiment_and_name(tracking: Tracking) -> None:
    store = _store(tracking)
    exp, other = _experiment(tracking), _experiment(tracking, "other")
    first = store.register_scorer(exp, "tone", _judge("tone"))
    assert (first.scorer_version, first.scorer_name, first.experiment_id) == (1, "tone", exp)
    assert first.creation_time > 0 and first.scorer_id
    second = store.register_scorer(exp, "tone", _judge("tone", model="openai:/gpt-4o"))
    assert second.scorer_version == 2 and second.scorer_id == first.scorer_id
    # Another name, or the same name in another experiment, is another scorer counting from 1.
    assert store.register_scorer(exp, "brevity", _judge("brevity")).scorer_version == 1
    elsewhere = store.register_scorer(other, "tone", _judge("tone"))
    assert elsewhere.scorer_version == 1 and elsewhere.scorer_id != first.scorer_id

    listed = store.list_scorers(exp)
    assert [(s.scorer_name, s.scorer_version) for s in listed] == [("brevity", 1), ("tone", 2)]
    assert (
        json.loads(listed[1]._serialized_scorer)["instructions_judge_pydantic_data"]["model"]
        == "openai:/gpt-4o"
    )
    assert [s.experiment_id for s in listed] == [exp, exp]
    assert [v.scorer_version for v in store.list_scorer_versions(exp, "tone")] == [1, 2]
    assert store.get_scorer(exp, "tone").scorer_version == 2
    pinned = store.get_scorer(exp, "tone", version=1)
    assert (pinned.scorer_version, pinned._serialized_scorer) == (1, _judge("tone"))
    assert pinned.creation_time == first.creation_time
    assert [s.scorer_name for s in store.list_scorers(other)] == ["tone"]


@needs_scorer_api
def test_delete_one_version_or_all(tracking: Tracking) -> None:
    store = _store(tracking)
    exp = _experiment(tracking)
    for _ in range(3):
        store.register_scorer(exp, "tone", _judge("tone"))
    scorer_id = store.get_scorer(exp, "tone").scorer_id
    store.delete_scorer(exp, "tone", version=3)
    # The next version is one more than the highest left, as in the reference.
    assert store.register_scorer(exp, "tone", _judge("tone")).scorer_version == 3
    store.delete_scorer(exp, "tone", version=1)
    assert [v.scorer_version for v in store.list_scorer_versions(exp, "tone")] == [2, 3]
    raises_code(lambda: store.delete_scorer(exp, "tone", version=1), "RESOURCE_DOES_NOT_EXIST")
    raises_code(lambda: store.get_scorer(exp, "tone", version=1), "RESOURCE_DOES_NOT_EXIST")

    store.delete_scorer(exp, "tone")  # every version, and the scorer
    assert store.list_scorers(exp) == []
    raises_code(lambda: store.list_scorer_versions(exp, "tone"), "RESOURCE_DOES_NOT_EXIST")
    raises_code(lambda: store.get_scorer(exp, "tone"), "RESOURCE_DOES_NOT_EXIST")
    raises_code(lambda: store.delete_scorer(exp, "tone"), "RESOURCE_DOES_NOT_EXIST")
    again = store.register_scorer(exp, "tone", _judge("tone"))
    assert again.scorer_version == 1 and again.scorer_id != scorer_id


@needs_scorer_api
def test_the_last_version_deleted_alone_leaves_the_scorer(tracking: Tracking) -> None:
    store = _store(tracking)
    exp = _experiment(tracking)
    scorer_id = store.register_scorer(exp, "tone", _judge("tone")).scorer_id
    store.delete_scorer(exp, "tone", version=1)
    assert store.list_scorers(exp) == []
    raises_code(lambda: store.get_scorer(exp, "tone"), "RESOURCE_DOES_NOT_EXIST")
    raises_code(lambda: store.list_scorer_versions(exp, "tone"), "RESOURCE_DOES_NOT_EXIST")
    again = store.register_scorer(exp, "tone", _judge("tone"))
    assert (again.scorer_version, again.scorer_id) == (1, scorer_id)


def test_concurrent_registrations_number_versions_without_gaps_or_repeats(tracking: Tracking) -> None:
    exp = _experiment(tracking)
    url = tracking.api("scorers/register", "3.0")

    def register(_: int) -> tuple[int, str]:
        body = ok(post(url, {"experiment_id": exp, "name": "raced", "serialized_scorer": _judge("raced")}))
        return body["version"], body["scorer_id"]

    # The first registrations race to create the scorer itself as well.
    with ThreadPoolExecutor(max_workers=8) as pool:
        results = list(pool.map(register, range(24)))
    assert sorted(v for v, _ in results) == list(range(1, 25))
    assert len({sid for _, sid in results}) == 1
    listed = ok(get(tracking.api("scorers/versions", "3.0"), {"experiment_id": exp, "name": "raced"}))
    assert [s["scorer_version"] for s in listed["scorers"]] == list(range(1, 25))


# -- scorers: the genai API ------------------------------------------------------------------------------


@needs_scorer_api
def test_genai_scorers_register_list_get_delete(tracking: Tracking) -> None:
    from mlflow.genai.judges import make_judge
    from mlflow.genai.scorers import Guidelines, delete_scorer, get_scorer, list_scorers
    from mlflow.genai.scorers.base import ScorerStatus
    from mlflow.genai.scorers.registry import list_scorer_versions

    exp = _experiment(tracking)
    judge = make_judge(name="polite", instructions="Is {{ outputs }} polite?", model="openai:/gpt-4o-mini")
    registered = judge.register(experiment_id=exp)
    assert registered.name == "polite"
    assert registered.status == ScorerStatus.STOPPED
    guidelines = Guidelines(name="concise", guidelines=["Answer in one sentence."])
    guidelines.register(experiment_id=exp)
    guidelines.register(experiment_id=exp)  # a second version

    assert sorted(s.name for s in list_scorers(experiment_id=exp)) == ["concise", "polite"]
    loaded = get_scorer(name="polite", experiment_id=exp)
    assert loaded.name == "polite"
    assert loaded.instructions == "Is {{ outputs }} polite?"
    assert loaded.model == "openai:/gpt-4o-mini"
    assert get_scorer(name="concise", experiment_id=exp).scorer_version == 2
    assert get_scorer(name="concise", experiment_id=exp, version=1).scorer_version == 1
    assert get_scorer(name="concise", experiment_id=exp).guidelines == ["Answer in one sentence."]
    versions = list_scorer_versions(name="concise", experiment_id=exp)
    assert [(s.name, number) for s, number in versions] == [("concise", 1), ("concise", 2)]

    delete_scorer(name="concise", experiment_id=exp, version=1)
    assert get_scorer(name="concise", experiment_id=exp).scorer_version == 2
    delete_scorer(name="concise", experiment_id=exp, version="all")
    assert [s.name for s in list_scorers(experiment_id=exp)] == ["polite"]
    with pytest.raises(Exception, match="not found"):
        get_scorer(name="concise", experiment_id=exp)


@needs_scorer_api
def test_genai_scorer_stop_keeps_a_stopped_configuration(tracking: Tracking) -> None:
    from mlflow.exceptions import MlflowException
    from mlflow.genai.judges import make_judge
    from mlflow.genai.scorers import ScorerSamplingConfig, get_scorer
    from mlflow.genai.scorers.base import ScorerStatus

    exp = _experiment(tracking)
    judge = make_judge(name="polite", instructions="Is {{ outputs }} polite?", model="openai:/gpt-4o-mini")
    registered = judge.register(experiment_id=exp)
    # Online scoring runs on AI gateway endpoints, which this server does not have.
    with pytest.raises(MlflowException, match="gateway"):
        registered.start(experiment_id=exp, sampling_config=ScorerSamplingConfig(sample_rate=0.5))
    stopped = registered.stop(experiment_id=exp)
    assert stopped.status == ScorerStatus.STOPPED and stopped.sample_rate == 0
    assert get_scorer(name="polite", experiment_id=exp).sample_rate == 0


# -- scorers: the wire -----------------------------------------------------------------------------------


def test_scorer_wire_shapes(tracking: Tracking) -> None:
    exp = _experiment(tracking)
    body = ok(
        post(
            tracking.api("scorers/register", "3.0"),
            {"experiment_id": exp, "name": "tone", "serialized_scorer": _judge("tone")},
        )
    )
    assert set(body) == {
        "version",
        "scorer_id",
        "experiment_id",
        "name",
        "serialized_scorer",
        "creation_time",
    }
    assert (body["version"], body["experiment_id"], body["name"]) == (1, exp, "tone")
    listed = ok(get(tracking.api("scorers/list", "3.0"), {"experiment_id": exp}))["scorers"]
    # The Scorer message's experiment_id is an int32.
    assert listed == [
        {
            "experiment_id": int(exp),
            "scorer_name": "tone",
            "scorer_version": 1,
            "serialized_scorer": _judge("tone"),
            "creation_time": body["creation_time"],
            "scorer_id": body["scorer_id"],
        }
    ]
    got = ok(get(tracking.api("scorers/get", "3.0"), {"experiment_id": exp, "name": "tone", "version": "1"}))
    assert got == {"scorer": listed[0]}
    assert ok(get(tracking.api("scorers/versions", "3.0"), {"experiment_id": exp, "name": "tone"})) == {
        "scorers": listed
    }
    other = _experiment(tracking, "empty")
    assert ok(get(tracking.ajax("scorers/list", "3.0"), {"experiment_id": other})) == {}
    assert ok(_delete(tracking.api("scorers/delete", "3.0"), {"experiment_id": exp, "name": "tone"})) == {}
    # Not under 2.0: MLflow serves these at 3.0 only.
    assert_error(get(tracking.api("scorers/list"), {"experiment_id": exp}), 404, "ENDPOINT_NOT_FOUND")


def test_scorer_errors(tracking: Tracking) -> None:
    exp = _experiment(tracking)
    register = tracking.api("scorers/register", "3.0")

    def registered(**fields: Any) -> requests.Response:
        return post(register, {"experiment_id": exp, "name": "s", "serialized_scorer": _judge("s"), **fields})

    for missing in ("experiment_id", "name", "serialized_scorer"):
        body = {"experiment_id": exp, "name": "s", "serialized_scorer": _judge("s")}
        del body[missing]
        assert missing in assert_error(post(register, body), 400, "INVALID_PARAMETER_VALUE")["message"]
    assert_error(registered(name="   "), 400, "INVALID_PARAMETER_VALUE")
    assert_error(registered(name="x" * 257), 400, "INVALID_PARAMETER_VALUE")
    assert_error(registered(serialized_scorer="{not json"), 400, "INVALID_PARAMETER_VALUE")
    assert_error(registered(serialized_scorer="[1, 2]"), 400, "INVALID_PARAMETER_VALUE")
    # A decorator scorer carries its source, which the client executes when it loads one: refused.
    decorated = json.dumps({"name": "s", "call_source": "return 1", "original_func_name": "s"})
    assert_error(registered(serialized_scorer=decorated), 400, "INVALID_PARAMETER_VALUE")
    assert_error(registered(serialized_scorer=_judge("s", model="  ")), 400, "INVALID_PARAMETER_VALUE")
    assert (
        "gateway"
        in assert_error(
            registered(serialized_scorer=_judge("s", model="gateway:/my-endpoint")),
            404,
            "RESOURCE_DOES_NOT_EXIST",
        )["message"]
    )
    assert_error(registered(experiment_id="999999999"), 404, "RESOURCE_DOES_NOT_EXIST")
    assert_error(registered(experiment_id="abc"), 400, "INVALID_PARAMETER_VALUE")
    assert ok(get(tracking.api("scorers/list", "3.0"), {"experiment_id": exp})) == {}  # nothing stored

    assert_error(
        get(tracking.api("scorers/get", "3.0"), {"experiment_id": exp, "name": "nope"}),
        404,
        "RESOURCE_DOES_NOT_EXIST",
    )
    assert_error(
        get(tracking.api("scorers/versions", "3.0"), {"experiment_id": exp}), 400, "INVALID_PARAMETER_VALUE"
    )
    assert_error(
        get(tracking.api("scorers/get", "3.0"), {"experiment_id": exp, "name": "s", "version": "one"}),
        400,
        "INVALID_PARAMETER_VALUE",
    )
    ok(registered())
    assert_error(
        get(tracking.api("scorers/get", "3.0"), {"experiment_id": exp, "name": "s", "version": "7"}),
        404,
        "RESOURCE_DOES_NOT_EXIST",
    )
    # A deleted experiment's scorers are out of reach until it is restored.
    tracking.client.delete_experiment(exp)
    assert_error(
        get(tracking.api("scorers/list", "3.0"), {"experiment_id": exp}), 400, "INVALID_PARAMETER_VALUE"
    )
    assert_error(registered(), 400, "INVALID_PARAMETER_VALUE")
    tracking.client.restore_experiment(exp)
    assert len(ok(get(tracking.api("scorers/list", "3.0"), {"experiment_id": exp}))["scorers"]) == 1


def test_online_configuration(tracking: Tracking) -> None:
    exp = _experiment(tracking)
    scorer_id = ok(
        post(
            tracking.api("scorers/register", "3.0"),
            {"experiment_id": exp, "name": "tone", "serialized_scorer": _judge("tone")},
        )
    )["scorer_id"]
    url, configs_url = (
        tracking.api("scorers/online-config", "3.0"),
        tracking.api("scorers/online-configs", "3.0"),
    )
    assert ok(get(configs_url, [("scorer_ids", scorer_id)])) == {"configs": []}

    # Only a stopped configuration is possible without an AI gateway.
    message = assert_error(
        _put(url, {"experiment_id": exp, "name": "tone", "sample_rate": 0.5}), 400, "INVALID_PARAMETER_VALUE"
    )["message"]
    assert "gateway" in message
    config = ok(
        _put(url, {"experiment_id": exp, "name": "tone", "sample_rate": 0, "filter_string": "status = 'OK'"})
    )["config"]
    assert config["scorer_id"] == scorer_id and config["experiment_id"] == exp
    assert config["sample_rate"] == 0 and config["filter_string"] == "status = 'OK'"
    assert ok(get(configs_url, [("scorer_ids", scorer_id), ("scorer_ids", "unknown")])) == {
        "configs": [config]
    }

    # An upsert replaces the scorer's one configuration; filter_string null means none.
    replaced = ok(_put(url, {"experiment_id": exp, "name": "tone", "sample_rate": 0, "filter_string": None}))[
        "config"
    ]
    assert (
        "filter_string" not in replaced
        and replaced["online_scoring_config_id"] != config["online_scoring_config_id"]
    )
    assert ok(get(configs_url, [("scorer_ids", scorer_id)])) == {"configs": [replaced]}

    for bad in (1.5, -0.1, "NaN", "x", None):
        assert_error(
            _put(url, {"experiment_id": exp, "name": "tone", "sample_rate": bad}),
            400,
            "INVALID_PARAMETER_VALUE",
        )
    assert_error(
        _put(url, {"experiment_id": exp, "name": "nope", "sample_rate": 0}), 404, "RESOURCE_DOES_NOT_EXIST"
    )
    assert_error(get(configs_url), 400, "INVALID_PARAMETER_VALUE")

    # Deleting the scorer takes its configuration along.
    ok(_delete(tracking.api("scorers/delete", "3.0"), {"experiment_id": exp, "name": "tone"}))
    assert ok(get(configs_url, [("scorer_ids", scorer_id)])) == {"configs": []}


# -- issues ----------------------------------------------------------------------------------------------


def _issue(tracking: Tracking, experiment_id: str, name: str = "High latency", **fields: Any) -> dict:
    body = {"experiment_id": experiment_id, "name": name, "description": f"{name}, described", **fields}
    return ok(post(tracking.api("issues", "3.0"), body))["issue"]


def _search(tracking: Tracking, **fields: Any) -> dict:
    return ok(post(tracking.api("issues/search", "3.0"), fields))


def test_create_and_get_issue(tracking: Tracking) -> None:
    exp = _experiment(tracking)
    run_id = tracking.client.create_run(exp).info.run_id
    full = _issue(
        tracking,
        exp,
        status="resolved",
        severity="high",
        root_causes=["slow query", "network"],
        categories=["latency"],
        source_run_id=run_id,
        created_by="ann",
    )
    assert full["issue_id"].startswith("iss-") and len(full["issue_id"]) == 36
    assert (full["experiment_id"], full["status"], full["severity"]) == (exp, "resolved", "high")
    assert full["root_causes"] == ["slow query", "network"] and full["categories"] == ["latency"]
    assert (full["source_run_id"], full["created_by"]) == (run_id, "ann")
    assert full["created_timestamp"] == full["last_updated_timestamp"] > 0
    assert ok(get(tracking.api(f"issues/{full['issue_id']}", "3.0"))) == {"issue": full}

    minimal = _issue(tracking, exp, "Minimal")
    # A new issue is pending; unset fields and empty lists are left out, as proto JSON leaves them.
    assert minimal["status"] == "pending"
    assert set(minimal) == {
        "issue_id",
        "experiment_id",
        "name",
        "description",
        "status",
        "created_timestamp",
        "last_updated_timestamp",
    }
    assert "root_causes" not in _issue(tracking, exp, "Empty lists", root_causes=[], categories=[])
    assert ok(get(tracking.ajax(f"issues/{minimal['issue_id']}", "3.0")))["issue"] == minimal


def test_issue_errors(tracking: Tracking) -> None:
    exp = _experiment(tracking)
    create = tracking.api("issues", "3.0")
    good = {"experiment_id": exp, "name": "n", "description": "d"}
    for missing in good:
        body = {k: v for k, v in good.items() if k != missing}
        assert missing in assert_error(post(create, body), 400, "INVALID_PARAMETER_VALUE")["message"]
    assert_error(post(create, {**good, "status": "PENDING"}), 400, "INVALID_PARAMETER_VALUE")
    assert_error(post(create, {**good, "severity": "critical"}), 400, "INVALID_PARAMETER_VALUE")
    assert_error(post(create, {**good, "root_causes": "one"}), 400, "INVALID_PARAMETER_VALUE")
    assert_error(post(create, {**good, "name": "x" * 251}), 400, "INVALID_PARAMETER_VALUE")
    assert_error(post(create, {**good, "experiment_id": "999999"}), 404, "RESOURCE_DOES_NOT_EXIST")
    assert_error(post(create, {**good, "source_run_id": "0" * 32}), 404, "RESOURCE_DOES_NOT_EXIST")
    doomed = _experiment(tracking, "doomed")
    tracking.client.delete_experiment(doomed)
    assert_error(post(create, {**good, "experiment_id": doomed}), 404, "RESOURCE_DOES_NOT_EXIST")
    assert _search(tracking, experiment_id=exp) == {"next_page_token": ""}  # nothing was stored

    assert_error(get(tracking.api("issues/iss-nonexistent", "3.0")), 404, "RESOURCE_DOES_NOT_EXIST")
    assert_error(
        _patch(tracking.api("issues/iss-nonexistent", "3.0"), {"name": "x"}), 404, "RESOURCE_DOES_NOT_EXIST"
    )
    assert_error(_search_raw(tracking, filter_string="name = 'x'"), 400, "INVALID_PARAMETER_VALUE")
    assert_error(_search_raw(tracking, filter_string="status > 'a'"), 400, "INVALID_PARAMETER_VALUE")
    assert_error(_search_raw(tracking, page_token="not a token"), 400, "INVALID_PARAMETER_VALUE")
    assert_error(_search_raw(tracking, max_results=-1), 400, "INVALID_PARAMETER_VALUE")


def _search_raw(tracking: Tracking, **fields: Any) -> requests.Response:
    return post(tracking.api("issues/search", "3.0"), fields)


def test_update_issue(tracking: Tracking) -> None:
    exp = _experiment(tracking)
    created = _issue(tracking, exp, "Original", severity="low", root_causes=["why"])
    url = tracking.api(f"issues/{created['issue_id']}", "3.0")
    updated = ok(_patch(url, {"name": "Renamed", "status": "resolved", "severity": "high"}))["issue"]
    assert (updated["name"], updated["status"], updated["severity"]) == ("Renamed", "resolved", "high")
    assert updated["description"] == created["description"] and updated["root_causes"] == ["why"]
    assert updated["created_timestamp"] == created["created_timestamp"]
    assert updated["last_updated_timestamp"] >= created["last_updated_timestamp"]
    # An empty name or description is "not given", as in the reference.
    again = ok(_patch(url, {"name": "", "description": "Now described"}))["issue"]
    assert (again["name"], again["description"]) == ("Renamed", "Now described")
    assert ok(get(url))["issue"] == again
    assert_error(_patch(url, {"status": "done"}), 400, "INVALID_PARAMETER_VALUE")
    assert ok(get(url))["issue"] == again


def test_search_issues_filters_and_order(tracking: Tracking) -> None:
    exp, other = _experiment(tracking), _experiment(tracking, "other")
    run_id = tracking.client.create_run(exp).info.run_id
    low = _issue(tracking, exp, "low", severity="low", source_run_id=run_id)
    unset = _issue(tracking, exp, "unset")
    high = _issue(tracking, exp, "high", severity="high", status="resolved")
    later_high = _issue(tracking, exp, "later high", severity="high")
    elsewhere = _issue(tracking, other, "elsewhere", severity="medium", source_run_id=run_id)

    def names(**fields: Any) -> list[str]:
        return [i["name"] for i in _search(tracking, **fields).get("issues", [])]

    # Highest severity first, unset last; newest first within one severity (same millisecond: by id).
    in_exp = names(experiment_id=exp)
    assert in_exp[2:] == ["low", "unset"]
    assert set(in_exp[:2]) == {"high", "later high"}
    if later_high["created_timestamp"] > high["created_timestamp"]:
        assert in_exp[:2] == ["later high", "high"]
    assert names(experiment_id=exp, filter_string="status = 'resolved'") == ["high"]
    assert names(experiment_id=exp, filter_string="attributes.status != 'resolved'")[-2:] == ["low", "unset"]
    # Across experiments when none is given.
    assert names(filter_string=f"source_run_id = '{run_id}'") == ["elsewhere", "low"]
    assert names(filter_string=f"source_run_id = '{run_id}' AND status = 'pending'") == ["elsewhere", "low"]
    assert names(experiment_id=other) == ["elsewhere"]
    assert {low["issue_id"], unset["issue_id"], elsewhere["issue_id"]} <= {
        i["issue_id"] for i in _search(tracking, max_results=50000).get("issues", [])
    }


def test_search_issues_pages(tracking: Tracking) -> None:
    exp = _experiment(tracking)
    created = [
        _issue(tracking, exp, f"Issue {i}", severity=["low", "high"][i % 2])["issue_id"] for i in range(7)
    ]
    seen: list[str] = []
    token = None
    pages = 0
    while True:
        fields: dict[str, Any] = {"experiment_id": exp, "max_results": 3}
        if token:
            fields["page_token"] = token
        page = _search(tracking, **fields)
        pages += 1
        seen += [i["issue_id"] for i in page["issues"]]
        token = page["next_page_token"]
        if not token:
            break
    assert pages == 3 and sorted(seen) == sorted(created) and len(seen) == 7
    # A new issue does not shift the pages of a search under way (keyset, not offset).
    first = _search(tracking, experiment_id=exp, max_results=3)
    _issue(tracking, exp, "Newcomer", severity="high")
    second = _search(tracking, experiment_id=exp, max_results=3, page_token=first["next_page_token"])
    assert {i["issue_id"] for i in second["issues"]}.isdisjoint(i["issue_id"] for i in first["issues"])
    assert len(_search(tracking, experiment_id=exp)["issues"]) == 8  # the default page holds 100


@pytest.mark.skipif(not is_mlflow3(), reason="the issue methods of the tracking store are MLflow 3")
def test_issues_through_the_client_store(tracking: Tracking) -> None:
    from mlflow.entities.issue import IssueSeverity, IssueStatus

    store = _store(tracking)
    exp = _experiment(tracking)
    issue = store.create_issue(
        experiment_id=exp, name="Hallucination", description="Made-up facts", severity=IssueSeverity.MEDIUM
    )
    assert issue.status == IssueStatus.PENDING and issue.severity == IssueSeverity.MEDIUM
    fetched = store.get_issue(issue.issue_id)
    assert (fetched.name, fetched.experiment_id) == ("Hallucination", exp)
    resolved = store.update_issue(issue.issue_id, status=IssueStatus.RESOLVED)
    assert resolved.status == IssueStatus.RESOLVED and resolved.severity == IssueSeverity.MEDIUM
    found = store.search_issues(experiment_id=exp, filter_string="status = 'resolved'")
    assert [i.issue_id for i in found] == [issue.issue_id] and found.token is None
    raises_code(lambda: store.get_issue("iss-missing"), "RESOURCE_DOES_NOT_EXIST")
