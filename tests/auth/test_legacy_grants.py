"""MLflow 2.x's grant routes, `experiments/permissions/*` and `registered-models/permissions/*`, on the
wire as the 2.22 admin client sends them (its methods are one request each), and their effect on access.
The 3.x client used by the main test pass has no methods for them, so they are driven here directly."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest
import requests
from harness.server import ServerProcess

from .conftest import ADMIN, ADMIN_PASSWORD, new_user


@dataclass(frozen=True)
class Resource:
    """A resource type of the 2.x grant API: its route prefix, id field and response field."""

    prefix: str
    id_field: str
    answer: str
    make: Callable[[ServerProcess], str]  # creates one as the admin; returns its id
    read: str  # the read API path (GET) of one, with {} for its id


def _make_experiment(server: ServerProcess) -> str:
    got = _admin(server, "POST", "experiments/create", {"name": f"legacy-{uuid.uuid4().hex[:8]}"})
    return str(got["experiment_id"])


def _make_model(server: ServerProcess) -> str:
    name = f"legacy-{uuid.uuid4().hex[:8]}"
    _admin(server, "POST", "registered-models/create", {"name": name})
    return name


RESOURCES = [
    Resource(
        "experiments", "experiment_id", "experiment_permission", _make_experiment,
        "experiments/get?experiment_id={}",
    ),
    Resource(
        "registered-models", "name", "registered_model_permission", _make_model,
        "registered-models/get?name={}",
    ),
]  # fmt: skip


def _call(
    server: ServerProcess, auth: tuple[str, str], method: str, path: str, body: dict[str, Any] | None = None
) -> requests.Response:
    if method == "GET":
        return requests.get(server.api(path), params=body, auth=auth, timeout=30)
    return requests.request(method, server.api(path), json=body, auth=auth, timeout=30)


def _admin(
    server: ServerProcess, method: str, path: str, body: dict[str, Any] | None = None
) -> dict[str, Any]:
    got = _call(server, (ADMIN, ADMIN_PASSWORD), method, path, body)
    assert got.status_code == 200, got.text
    return got.json()


@pytest.mark.parametrize("resource", RESOURCES, ids=lambda r: r.prefix)
def test_grant_get_update_delete(auth_server: ServerProcess, resource: Resource) -> None:
    username, password = new_user(auth_server, "legacy")
    rid = resource.make(auth_server)
    grants = f"{resource.prefix}/permissions"
    key = {resource.id_field: rid, "username": username}

    def can_read() -> bool:
        got = _call(auth_server, (username, password), "GET", resource.read.format(rid))
        if got.status_code == 200:
            return True
        assert (got.status_code, got.json()["error_code"]) == (403, "PERMISSION_DENIED"), got.text
        return False

    assert can_read()  # no grant: the default, READ
    _admin(auth_server, "POST", f"{grants}/create", {**key, "permission": "NO_PERMISSIONS"})
    assert not can_read()
    found = _admin(auth_server, "GET", f"{grants}/get", key)[resource.answer]
    assert (found[resource.id_field], found["permission"]) == (rid, "NO_PERMISSIONS")

    _admin(auth_server, "PATCH", f"{grants}/update", {**key, "permission": "EDIT"})
    assert _admin(auth_server, "GET", f"{grants}/get", key)[resource.answer]["permission"] == "EDIT"
    assert can_read()

    # A second create of the same grant is refused, and changes nothing.
    again = _call(
        auth_server, (ADMIN, ADMIN_PASSWORD), "POST", f"{grants}/create", {**key, "permission": "READ"}
    )
    assert (again.status_code, again.json()["error_code"]) == (400, "RESOURCE_ALREADY_EXISTS"), again.text
    assert _admin(auth_server, "GET", f"{grants}/get", key)[resource.answer]["permission"] == "EDIT"

    _admin(auth_server, "DELETE", f"{grants}/delete", key)
    gone = _call(auth_server, (ADMIN, ADMIN_PASSWORD), "GET", f"{grants}/get", key)
    assert (gone.status_code, gone.json()["error_code"]) == (404, "RESOURCE_DOES_NOT_EXIST"), gone.text


@pytest.mark.parametrize("resource", RESOURCES, ids=lambda r: r.prefix)
def test_only_admins_and_managers_grant(auth_server: ServerProcess, resource: Resource) -> None:
    username, password = new_user(auth_server, "legacy")
    other, _ = new_user(auth_server, "other")
    rid = resource.make(auth_server)
    body = {resource.id_field: rid, "username": other, "permission": "READ"}
    got = _call(auth_server, (username, password), "POST", f"{resource.prefix}/permissions/create", body)
    assert (got.status_code, got.json()["error_code"]) == (403, "PERMISSION_DENIED"), got.text
    gone = _call(auth_server, (ADMIN, ADMIN_PASSWORD), "GET", f"{resource.prefix}/permissions/get", body)
    assert gone.status_code == 404, gone.text
