"""Traces with auth on: a trace takes its experiment's permission. READ reads it (info, spans, search,
traces.json, its assessments), EDIT writes it (spans over OTLP, the trace info, tags, links, assessments,
deletes), DENY hides it."""

from __future__ import annotations

import os
import uuid

import pytest
import requests
from harness.server import ServerProcess

from .conftest import ADMIN, ADMIN_PASSWORD, Credentials, is_mlflow2, new_user

if is_mlflow2():
    pytest.skip("OTLP spans and the v3 trace API are what the 3.x client uses", allow_module_level=True)

from mlflow.server import get_app_client  # noqa: E402

# What each grant on the trace's experiment allows, as (read, edit); None is no grant (READ by default).
LEVELS: dict[str | None, tuple[bool, bool]] = {
    None: (True, False),
    "READ": (True, False),
    "EDIT": (True, True),
    "MANAGE": (True, True),
    "DENY": (False, False),
}


def _status(resp: requests.Response, allowed: bool) -> bool:
    if allowed:
        assert resp.status_code == 200, resp.text
        return True
    assert resp.status_code == 403 and resp.json()["error_code"] == "PERMISSION_DENIED", resp.text
    return False


def _otlp(trace_hex: str, span_hex: str, name: str) -> dict:
    span = {
        "traceId": trace_hex,
        "spanId": span_hex,
        "name": name,
        "startTimeUnixNano": "1000000",
        "endTimeUnixNano": "2000000",
    }
    return {"resourceSpans": [{"scopeSpans": [{"spans": [span]}]}]}


@pytest.mark.parametrize("level", list(LEVELS), ids=lambda p: p or "default")
def test_trace_permission(auth_server: ServerProcess, creds: Credentials, level: str | None) -> None:
    admin = (ADMIN, ADMIN_PASSWORD)
    url = auth_server.url
    made = requests.post(
        auth_server.api("experiments/create"),
        json={"name": f"tr-{uuid.uuid4().hex[:8]}"},
        auth=admin,
        timeout=30,
    )
    eid = made.json()["experiment_id"]
    run = requests.post(
        auth_server.api("runs/create"), json={"experiment_id": eid}, auth=admin, timeout=30
    ).json()
    trace_hex = os.urandom(16).hex()
    trace_id = "tr-" + trace_hex
    otlp_headers = {"x-mlflow-experiment-id": eid}
    assert (
        requests.post(
            url + "/v1/traces",
            json=_otlp(trace_hex, "01" * 8, "root"),
            headers=otlp_headers,
            auth=admin,
            timeout=30,
        ).status_code
        == 200
    )
    username, password = new_user(auth_server)
    if level is not None:
        get_app_client("basic-auth", tracking_uri=url).grant_user_permission(
            username, "experiment", eid, level
        )
    can_read, can_edit = LEVELS[level]
    user = (username, password)
    location = [{"type": "MLFLOW_EXPERIMENT", "mlflow_experiment": {"experiment_id": eid}}]

    def call(method: str, path: str, version: str = "3.0", **kwargs: object) -> requests.Response:
        return requests.request(method, auth_server.api(path, version), auth=user, timeout=30, **kwargs)

    _status(call("GET", f"traces/{trace_id}"), can_read)
    _status(call("GET", "traces/get", params={"trace_id": trace_id}), can_read)
    _status(call("GET", "traces/batchGet", params={"trace_ids": [trace_id]}), can_read)
    _status(call("POST", "traces/search", json={"locations": location}), can_read)
    _status(call("GET", "get-trace-artifact", "2.0", params={"request_id": trace_id}), can_read)
    _status(call("GET", f"traces/{trace_id}/info", "2.0"), can_read)

    # Assessments follow the trace: READ gets one, EDIT creates, updates and deletes.
    judged = {"assessment_name": "ok", "source": {"source_type": "HUMAN"}, "feedback": {"value": 1}}
    seed = requests.post(
        auth_server.api(f"traces/{trace_id}/assessments", "3.0"),
        json={"assessment": judged},
        auth=admin,
        timeout=30,
    ).json()["assessment"]["assessment_id"]
    one = f"traces/{trace_id}/assessments/{seed}"
    _status(call("GET", one), can_read)
    _status(call("POST", f"traces/{trace_id}/assessments", json={"assessment": judged}), can_edit)
    renamed = {"assessment": {"assessment_name": "renamed"}, "update_mask": "assessmentName"}
    _status(call("PATCH", one, json=renamed), can_edit)
    _status(call("DELETE", one), can_edit)
    if not can_edit:
        kept = requests.get(auth_server.api(one, "3.0"), auth=admin, timeout=30)
        assert kept.json()["assessment"]["assessment_name"] == "ok"

    _status(call("PATCH", f"traces/{trace_id}/tags", "2.0", json={"key": "k", "value": "v"}), can_edit)
    _status(
        call(
            "POST",
            "traces/link-to-run",
            "2.0",
            json={"trace_ids": [trace_id], "run_id": run["run"]["info"]["run_id"]},
        ),
        can_edit,
    )
    more = requests.post(
        url + "/v1/traces",
        json=_otlp(trace_hex, "02" * 8, "more"),
        headers=otlp_headers,
        auth=user,
        timeout=30,
    )
    _status(more, can_edit)
    start = {
        "trace": {
            "trace_info": {
                "trace_id": "tr-" + os.urandom(16).hex(),
                "trace_location": location[0],
                "request_time": "2026-01-01T00:00:00Z",
                "state": "OK",
            }
        }
    }
    _status(call("POST", "traces", json=start), can_edit)
    _status(
        call("POST", "traces/delete-traces", json={"experiment_id": eid, "request_ids": [trace_id]}), can_edit
    )

    # What went through is there, and nothing else.
    info = requests.get(auth_server.api(f"traces/{trace_id}", "3.0"), auth=admin, timeout=30)
    if can_edit:
        assert info.status_code == 404
    else:
        assert info.status_code == 200 and "k" not in info.json()["trace"]["trace_info"]["tags"]
        spans = requests.get(
            auth_server.api("traces/get", "3.0"), params={"trace_id": trace_id}, auth=admin, timeout=30
        )
        assert [s["name"] for s in spans.json()["trace"]["spans"]] == ["root"]
