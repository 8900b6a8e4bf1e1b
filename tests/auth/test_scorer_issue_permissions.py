"""Registered scorers and issues with auth on: each takes the permission of its experiment, READ to list,
get and search, EDIT to register, delete, configure, create and update; searches and the online
configurations leave out what the caller may not read; admins pass every check."""

from __future__ import annotations

import json
import uuid
from typing import Any

import pytest
import requests
from harness.server import ServerProcess

from .conftest import ADMIN, ADMIN_PASSWORD, Credentials, new_user

# What each grant on the experiment allows, as (read, edit); None is no grant (the default, READ).
LEVELS: dict[str | None, tuple[bool, bool]] = {
    None: (True, False),
    "READ": (True, False),
    "EDIT": (True, True),
    "MANAGE": (True, True),
    "DENY": (False, False),
}
SERIALIZED = json.dumps({"name": "tone", "instructions_judge_pydantic_data": {"model": "openai:/gpt-4o"}})


class Caller:
    """Plain HTTP to the 3.0 API as one user."""

    def __init__(self, server: ServerProcess, auth: tuple[str, str]) -> None:
        self.server, self.auth = server, auth

    def call(self, method: str, path: str, body: dict[str, Any] | None = None) -> requests.Response:
        url = self.server.api(path, version="3.0")
        if method == "GET":
            return requests.get(url, params=body, auth=self.auth, timeout=30)
        return requests.request(method, url, json=body or {}, auth=self.auth, timeout=30)

    def ok(self, method: str, path: str, body: dict[str, Any] | None = None) -> dict[str, Any]:
        got = self.call(method, path, body)
        assert got.status_code == 200, got.text
        return got.json()

    def allowed(self, method: str, path: str, body: dict[str, Any] | None = None) -> bool:
        got = self.call(method, path, body)
        if got.status_code == 200:
            return True
        assert (got.status_code, got.json()["error_code"]) == (403, "PERMISSION_DENIED"), got.text
        return False


def _grant(server: ServerProcess, username: str, experiment_id: str, permission: str) -> None:
    got = requests.post(
        server.api("experiments/permissions/create"),
        json={"experiment_id": experiment_id, "username": username, "permission": permission},
        auth=(ADMIN, ADMIN_PASSWORD),
        timeout=30,
    )
    assert got.status_code == 200, got.text


@pytest.mark.parametrize("level", list(LEVELS), ids=lambda p: p or "default")
def test_scorer_and_issue_permissions(
    auth_server: ServerProcess, creds: Credentials, level: str | None
) -> None:
    admin = Caller(auth_server, (ADMIN, ADMIN_PASSWORD))
    eid = requests.post(
        auth_server.api("experiments/create"),
        json={"name": f"perm-{uuid.uuid4().hex[:8]}"},
        auth=admin.auth,
        timeout=30,
    ).json()["experiment_id"]
    scorer_id = admin.ok(
        "POST", "scorers/register", {"experiment_id": eid, "name": "tone", "serialized_scorer": SERIALIZED}
    )["scorer_id"]
    admin.ok("PUT", "scorers/online-config", {"experiment_id": eid, "name": "tone", "sample_rate": 0})
    marker = uuid.uuid4().hex
    issue_id = admin.ok("POST", "issues", {"experiment_id": eid, "name": marker, "description": "d"})[
        "issue"
    ]["issue_id"]
    username, password = new_user(auth_server)
    if level is not None:
        # The 2.x grant API names DENY as NO_PERMISSIONS.
        _grant(auth_server, username, eid, "NO_PERMISSIONS" if level == "DENY" else level)
    user = Caller(auth_server, (username, password))
    can_read, can_edit = LEVELS[level]

    scorer = {"experiment_id": eid, "name": "tone"}
    assert user.allowed("GET", "scorers/list", {"experiment_id": eid}) is can_read
    assert user.allowed("GET", "scorers/versions", scorer) is can_read
    assert user.allowed("GET", "scorers/get", scorer) is can_read
    assert user.allowed("GET", f"issues/{issue_id}") is can_read
    assert user.allowed("POST", "issues/search", {"experiment_id": eid}) is can_read
    # What the caller may not read is left out rather than refused.
    configs = user.ok("GET", "scorers/online-configs", {"scorer_ids": [scorer_id]})["configs"]
    assert [c["scorer_id"] for c in configs] == ([scorer_id] if can_read else [])
    everywhere = user.ok("POST", "issues/search", {"max_results": 50000}).get("issues", [])
    assert (issue_id in {i["issue_id"] for i in everywhere}) is can_read

    register = {**scorer, "serialized_scorer": SERIALIZED}
    assert user.allowed("POST", "scorers/register", register) is can_edit
    assert user.allowed("PUT", "scorers/online-config", {**scorer, "sample_rate": 0}) is can_edit
    assert user.allowed("POST", "issues", {"experiment_id": eid, "name": "n", "description": "d"}) is can_edit
    assert user.allowed("PATCH", f"issues/{issue_id}", {"status": "resolved"}) is can_edit
    assert user.allowed("DELETE", "scorers/delete", {**scorer, "version": 1}) is can_edit
    assert user.allowed("DELETE", "scorers/delete", scorer) is can_edit

    # Nothing a refused call asked for happened.
    versions = admin.call("GET", "scorers/versions", scorer)
    if can_edit:
        assert versions.status_code == 404
    else:
        assert [s["scorer_version"] for s in versions.json()["scorers"]] == [1]
        assert admin.ok("GET", f"issues/{issue_id}")["issue"]["status"] == "pending"
