"""Assessments of traces through the stock client: feedback and expectations logged on a trace made with
@mlflow.trace, read back alone and with the trace, updated, overridden and deleted; and the wire's errors.

The 2.22 client has no assessments API (mlflow.log_feedback and the rest are MLflow 3): skipped there."""

from __future__ import annotations

import json
from types import ModuleType
from typing import Any

import pytest
import requests
from harness.api import assert_error, get, is_mlflow3, ok, post, raises_code
from harness.plugin import Tracking

pytestmark = pytest.mark.skipif(
    not is_mlflow3(), reason="assessments (mlflow.log_feedback and the rest) are an MLflow 3 client API"
)


def _traced(mlflow: ModuleType) -> str:
    @mlflow.trace
    def answer(question: str) -> str:
        return question.upper()

    assert answer("why?") == "WHY?"
    trace_id = mlflow.get_last_active_trace_id()
    assert trace_id is not None
    mlflow.flush_trace_async_logging()
    return trace_id


def _human(mlflow: ModuleType, who: str = "alice") -> Any:
    return mlflow.entities.AssessmentSource(source_type="HUMAN", source_id=who)


def _by_id(assessments: list[Any]) -> dict[str, Any]:
    return {a.assessment_id: a for a in assessments}


def test_feedback_and_expectation_round_trip(mlflow: ModuleType, tracking: Tracking) -> None:
    trace_id = _traced(mlflow)
    feedback = mlflow.log_feedback(
        trace_id=trace_id,
        name="relevance",
        value=0.75,
        rationale="mostly on topic",
        source=_human(mlflow),
        metadata={"round": "1"},
    )
    expectation = mlflow.log_expectation(
        trace_id=trace_id, name="expected_answer", value={"text": "WHY?", "score": [1, 2]}
    )
    assert feedback.assessment_id.startswith("a-") and expectation.assessment_id.startswith("a-")
    assert feedback.assessment_id != expectation.assessment_id

    got = mlflow.get_assessment(trace_id, feedback.assessment_id)
    assert got.name == "relevance" and got.trace_id == trace_id
    assert got.value == 0.75 and got.rationale == "mostly on topic"
    assert got.source.source_type == "HUMAN" and got.source.source_id == "alice"
    assert got.metadata == {"round": "1"} and got.valid is True
    assert got.create_time_ms == feedback.create_time_ms

    got = mlflow.get_assessment(trace_id, expectation.assessment_id)
    assert got.name == "expected_answer" and got.value == {"text": "WHY?", "score": [1, 2]}

    # The trace carries its assessments wherever the client reads trace infos.
    info = mlflow.get_trace(trace_id).info
    assert {a.assessment_id: a.name for a in info.assessments} == {
        feedback.assessment_id: "relevance",
        expectation.assessment_id: "expected_answer",
    }
    found = mlflow.search_traces(locations=[tracking.experiment_id], return_type="list")
    assert [len(t.info.assessments) for t in found] == [2]
    info = tracking.client._tracking_client.store.get_trace_info(trace_id)
    assert len(info.assessments) == 2


def test_feedback_carrying_an_error(mlflow: ModuleType, tracking: Tracking) -> None:
    trace_id = _traced(mlflow)
    feedback = mlflow.log_feedback(
        trace_id=trace_id,
        name="judge",
        error=mlflow.entities.AssessmentError(error_code="RATE_LIMIT", error_message="try later"),
    )
    got = mlflow.get_assessment(trace_id, feedback.assessment_id)
    assert got.value is None
    assert got.error.error_code == "RATE_LIMIT" and got.error.error_message == "try later"


def test_update_changes_only_what_it_names(mlflow: ModuleType, tracking: Tracking) -> None:
    trace_id = _traced(mlflow)
    feedback = mlflow.log_feedback(
        trace_id=trace_id, name="tone", value="rude", source=_human(mlflow), metadata={"a": "1"}
    )
    updated = mlflow.update_assessment(
        trace_id,
        feedback.assessment_id,
        mlflow.entities.Feedback(name="tone", value="polite", rationale="re-read it", metadata={"b": "2"}),
    )
    assert updated.assessment_id == feedback.assessment_id
    got = mlflow.get_assessment(trace_id, feedback.assessment_id)
    assert got.value == "polite" and got.rationale == "re-read it"
    assert got.metadata == {"a": "1", "b": "2"}  # merged, as MLflow does
    assert got.source.source_id == "alice"  # the source stays
    assert got.create_time_ms == feedback.create_time_ms
    assert got.last_update_time_ms >= feedback.last_update_time_ms

    expectation = mlflow.log_expectation(trace_id=trace_id, name="truth", value=1)
    mlflow.update_assessment(
        trace_id, expectation.assessment_id, mlflow.entities.Expectation(name="truth", value=2)
    )
    assert mlflow.get_assessment(trace_id, expectation.assessment_id).value == 2
    # A feedback's value cannot be written into an expectation.
    url = tracking.api(f"traces/{trace_id}/assessments/{expectation.assessment_id}", "3.0")
    body = {"assessment": {"feedback": {"value": 3}}, "update_mask": "feedback"}
    assert_error(requests.patch(url, json=body, timeout=60), 400, "INVALID_PARAMETER_VALUE")
    assert mlflow.get_assessment(trace_id, expectation.assessment_id).value == 2


def test_override_marks_the_old_one_invalid_until_the_override_is_deleted(
    mlflow: ModuleType, tracking: Tracking
) -> None:
    trace_id = _traced(mlflow)
    original = mlflow.log_feedback(trace_id=trace_id, name="correct", value=False, source=_human(mlflow))
    override = mlflow.override_feedback(
        trace_id=trace_id,
        assessment_id=original.assessment_id,
        value=True,
        rationale="the judge was wrong",
        source=_human(mlflow, "bob"),
    )
    assert override.overrides == original.assessment_id and override.valid is True
    assert mlflow.get_assessment(trace_id, original.assessment_id).valid is False
    listed = _by_id(mlflow.get_trace(trace_id).info.assessments)
    assert listed[original.assessment_id].valid is False
    assert listed[override.assessment_id].valid is True
    assert listed[override.assessment_id].overrides == original.assessment_id

    mlflow.delete_assessment(trace_id, override.assessment_id)
    assert mlflow.get_assessment(trace_id, original.assessment_id).valid is True
    assert list(_by_id(mlflow.get_trace(trace_id).info.assessments)) == [original.assessment_id]


def test_delete_then_get_is_not_found(mlflow: ModuleType, tracking: Tracking) -> None:
    trace_id = _traced(mlflow)
    feedback = mlflow.log_feedback(trace_id=trace_id, name="gone", value=1)
    mlflow.delete_assessment(trace_id, feedback.assessment_id)
    raises_code(lambda: mlflow.get_assessment(trace_id, feedback.assessment_id), "RESOURCE_DOES_NOT_EXIST")
    mlflow.delete_assessment(trace_id, feedback.assessment_id)  # a second delete is harmless, as in MLflow
    assert mlflow.get_trace(trace_id).info.assessments == []


def test_deleting_the_trace_removes_its_assessments(mlflow: ModuleType, tracking: Tracking) -> None:
    trace_id = _traced(mlflow)
    feedback = mlflow.log_feedback(trace_id=trace_id, name="doomed", value="x")
    deleted = tracking.client.delete_traces(tracking.experiment_id, trace_ids=[trace_id])
    assert deleted == 1
    url = tracking.api(f"traces/{trace_id}/assessments/{feedback.assessment_id}", "3.0")
    assert_error(get(url), 404, "RESOURCE_DOES_NOT_EXIST")


# -- the wire ---------------------------------------------------------------------------------------------


def test_wire_shape_and_errors(mlflow: ModuleType, tracking: Tracking) -> None:
    trace_id = _traced(mlflow)
    url = tracking.api(f"traces/{trace_id}/assessments", "3.0")
    body = {
        "assessment": {
            "assessment_name": "score",
            "source": {"source_type": "CODE", "source_id": "judge.py"},
            "feedback": {"value": 3},
            "span_id": "0123456789abcdef",
        }
    }
    made = ok(post(url, body))["assessment"]
    assert made["trace_id"] == trace_id and made["feedback"] == {"value": 3}
    assert made["source"] == {"source_type": "CODE", "source_id": "judge.py"}
    assert made["span_id"] == "0123456789abcdef" and made["valid"] is True
    assert made["create_time"].endswith("Z") and made["create_time"] == made["last_update_time"]

    # An expectation that is not a plain value comes back as JSON text, as MLflow's clients read it.
    expected = {"assessment": {**body["assessment"], "feedback": None, "expectation": {"value": {"n": [1]}}}}
    serialized = ok(post(url, expected))["assessment"]["expectation"]["serialized_value"]
    assert serialized["serialization_format"] == "JSON_FORMAT"
    assert json.loads(serialized["value"]) == {"n": [1]}

    # An update mask as protobuf writes it in JSON: lowerCamelCase paths joined by commas.
    one = f"{url}/{made['assessment_id']}"
    patched = requests.patch(
        one,
        json={
            "assessment": {"assessment_name": "score2", "rationale": "no"},
            "update_mask": "assessmentName",
        },
        timeout=60,
    )
    assert ok(patched)["assessment"]["assessment_name"] == "score2"
    assert "rationale" not in ok(get(one))["assessment"]

    no_kind = {"assessment": {"assessment_name": "x", "source": {"source_type": "HUMAN"}}}
    assert_error(post(url, no_kind), 400, "INVALID_PARAMETER_VALUE")
    both = {"assessment": {**body["assessment"], "expectation": {"value": 1}}}
    assert_error(post(url, both), 400, "INVALID_PARAMETER_VALUE")
    assert_error(post(url, {}), 400, "INVALID_PARAMETER_VALUE")
    missing_trace = tracking.api("traces/tr-00000000000000000000000000000000/assessments", "3.0")
    assert_error(post(missing_trace, body), 404, "RESOURCE_DOES_NOT_EXIST")
    overrides_nothing = {"assessment": {**body["assessment"], "overrides": "a-missing"}}
    assert_error(post(url, overrides_nothing), 404, "RESOURCE_DOES_NOT_EXIST")
    assert_error(get(f"{url}/a-missing"), 404, "RESOURCE_DOES_NOT_EXIST")
    assert_error(
        requests.patch(f"{url}/{made['assessment_id']}", json={"assessment": {}}, timeout=60),
        400,
        "INVALID_PARAMETER_VALUE",
    )


def test_issue_search_counts_the_traces_that_reference_an_issue(
    mlflow: ModuleType, tracking: Tracking
) -> None:
    first, second = _traced(mlflow), _traced(mlflow)
    issues = tracking.api("issues", "3.0")
    made = [
        ok(post(issues, {"experiment_id": tracking.experiment_id, "name": n, "description": "d"}))["issue"]
        for n in ("slow", "rude")
    ]
    slow = made[0]["issue_id"]
    for trace_id in (first, second, second):  # the second trace twice: traces are counted, not assessments
        reference = {
            "assessment": {
                "assessment_name": slow,
                "source": {"source_type": "LLM_JUDGE", "source_id": "judge"},
                "issue": {"issue_name": "slow"},
            }
        }
        assert ok(post(tracking.api(f"traces/{trace_id}/assessments", "3.0"), reference))["assessment"][
            "issue"
        ]
    search = {"experiment_id": tracking.experiment_id, "include_trace_count": True}
    counts = {i["issue_id"]: i["trace_count"] for i in ok(post(f"{issues}/search", search))["issues"]}
    assert counts == {slow: 2, made[1]["issue_id"]: 0}
    plain = ok(post(f"{issues}/search", {"experiment_id": tracking.experiment_id}))["issues"]
    assert all("trace_count" not in i for i in plain)


def test_search_traces_by_feedback_expectation_and_issue(mlflow: ModuleType, tracking: Tracking) -> None:
    @mlflow.trace
    def step(i: int, session: str | None = None) -> int:
        if session is not None:
            mlflow.update_current_trace(metadata={"mlflow.trace.session": session})
        return i

    ids = {}
    for name, session in (("yes", None), ("no", None), ("none", None), ("overridden", None), ("s1", "s1")):
        step(len(ids), session)
        ids[name] = mlflow.get_last_active_trace_id()
    step(len(ids), "s1")
    ids["s1-sibling"] = mlflow.get_last_active_trace_id()
    mlflow.flush_trace_async_logging()

    def feedback(trace: str, name: str, value: Any, **kw: Any) -> Any:
        return mlflow.log_feedback(trace_id=ids[trace], name=name, value=value, source=_human(mlflow), **kw)

    feedback("yes", "quality", "yes")
    feedback("yes", "score", 5)
    feedback("yes", "ok", True)
    feedback("no", "quality", "no")
    old = feedback("overridden", "quality", "yes")
    mlflow.override_feedback(
        trace_id=ids["overridden"], assessment_id=old.assessment_id, value="no", source=_human(mlflow)
    )
    mlflow.log_expectation(trace_id=ids["no"], name="answer", value="WHY?")
    # A session-level judgement covers every trace of the session.
    feedback("s1", "session_rating", "good", metadata={"mlflow.trace.session": "s1"})
    issue = ok(
        post(
            tracking.api("issues", "3.0"),
            {"experiment_id": tracking.experiment_id, "name": "slow", "description": "d"},
        )
    )["issue"]["issue_id"]
    reference = {
        "assessment": {
            "assessment_name": issue,
            "source": {"source_type": "LLM_JUDGE", "source_id": "judge"},
            "issue": {"issue_name": "slow"},
        }
    }
    ok(post(tracking.api(f"traces/{ids['none']}/assessments", "3.0"), reference))

    names = {v: k for k, v in ids.items()}

    def found(filter_string: str) -> set[str]:
        traces = mlflow.search_traces(
            locations=[tracking.experiment_id], filter_string=filter_string, return_type="list"
        )
        return {names[t.info.trace_id] for t in traces}

    assert found("feedback.quality = 'yes'") == {"yes"}  # the overridden "yes" is no longer valid
    assert found("feedback.quality != 'yes'") == {"no", "overridden"}
    assert found("feedback.score = '5.0'") == {"yes"}  # the wire carries numbers as doubles
    assert found("feedback.ok = 'true'") == {"yes"}
    assert found("feedback.quality IS NULL") == {"none", "s1", "s1-sibling"}
    assert found("feedback.quality IS NOT NULL") == {"yes", "no", "overridden"}
    assert found("feedback.quality LIKE '%ye%'") == {"yes"}
    assert found("feedback.quality RLIKE '^\"n'") == {"no", "overridden"}
    assert found("expectation.answer = 'WHY?'") == {"no"}
    assert found("expectation.answer = 'why?'") == set()
    assert found("feedback.session_rating = 'good'") == {"s1", "s1-sibling"}
    assert found("feedback.session_rating = 'good' AND feedback.quality IS NULL") == {"s1", "s1-sibling"}
    assert found(f"issue.id = '{issue}'") == {"none"}
    assert found("metadata.`mlflow.trace.session` RLIKE '^s[0-9]$'") == {"s1", "s1-sibling"}

    search = tracking.api("traces/search", "3.0")
    location = [{"type": "MLFLOW_EXPERIMENT", "mlflow_experiment": {"experiment_id": tracking.experiment_id}}]
    for bad in (
        "issue.id != 'x'",
        "issue.name = 'x'",
        "feedback.quality RLIKE '('",
        "feedback.quality > '1'",
    ):
        assert_error(post(search, {"locations": location, "filter": bad}), 400, "INVALID_PARAMETER_VALUE")
