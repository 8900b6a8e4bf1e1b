"""The permission matrix through the stock client and its admin client (`get_app_client("basic-auth")`):
each permission on each resource type, searches that hide what a user may not read, and the creator's
MANAGE. Runs with mlflow 3.x (.venv) and with mlflow 2.22 (.venv-mlflow2), whose admin API differs."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from harness.server import ServerProcess

from .conftest import Credentials, is_mlflow2, new_user, start_auth_server

# What each permission allows, as (read, edit, manage); None is "no grant" (the default, READ).
LEVELS: dict[str | None, tuple[bool, bool, bool]] = {
    None: (True, False, False),
    "READ": (True, False, False),
    "EDIT": (True, True, False),
    "MANAGE": (True, True, True),
    "NO_PERMISSIONS": (False, False, False),
}


def _client(url: str) -> Any:
    from mlflow import MlflowClient

    return MlflowClient(url)


def _admin_client(url: str) -> Any:
    from mlflow.server import get_app_client

    return get_app_client("basic-auth", tracking_uri=url)


def grant(url: str, username: str, resource_type: str, resource_id: str, permission: str) -> None:
    """Grant through whichever admin API this client has."""
    auth = _admin_client(url)
    if is_mlflow2():
        if resource_type == "experiment":
            auth.create_experiment_permission(resource_id, username, permission)
        else:
            auth.create_registered_model_permission(resource_id, username, permission)
    else:
        # 3.x has DENY where 2.x had NO_PERMISSIONS.
        permission = "DENY" if permission == "NO_PERMISSIONS" else permission
        auth.grant_user_permission(username, resource_type, resource_id, permission)


def allowed(call: Callable[[], object]) -> bool:
    from mlflow.exceptions import MlflowException

    try:
        call()
    except MlflowException as exc:
        assert exc.error_code == "PERMISSION_DENIED", exc
        return False
    return True


@pytest.mark.parametrize("level", list(LEVELS), ids=lambda p: p or "default")
def test_experiment_permission(auth_server: ServerProcess, creds: Credentials, level: str | None) -> None:
    client = _client(auth_server.url)
    eid = client.create_experiment(f"perm-{uuid.uuid4().hex[:10]}")
    run_id = client.create_run(eid).info.run_id
    username, password = new_user(auth_server)
    if level is not None:
        grant(auth_server.url, username, "experiment", eid, level)
    can_read, can_edit, can_manage = LEVELS[level]

    creds.basic(username, password)
    assert allowed(lambda: client.get_experiment(eid)) is can_read
    assert allowed(lambda: client.get_run(run_id)) is can_read
    assert allowed(lambda: client.get_metric_history(run_id, "m")) is can_read
    assert allowed(lambda: client.list_artifacts(run_id)) is can_read
    found = (
        {
            e.experiment_id
            for e in client.search_experiments(
                filter_string=f"name = '{client.get_experiment(eid).name if can_read else ''}'"
            )
        }
        if can_read
        else set()
    )
    assert (eid in found) is can_read
    runs = client.search_runs([eid])
    assert ([r.info.run_id for r in runs] == [run_id]) is can_read
    assert allowed(lambda: client.log_metric(run_id, "m", 1.0)) is can_edit
    assert allowed(lambda: client.set_experiment_tag(eid, "k", "v")) is can_edit
    assert allowed(lambda: client.set_tag(run_id, "k", "v")) is can_edit
    assert allowed(lambda: client.create_run(eid)) is can_edit
    assert allowed(lambda: client.delete_run(run_id)) is can_manage
    assert allowed(lambda: client.delete_experiment(eid)) is can_manage


@pytest.mark.parametrize("level", list(LEVELS), ids=lambda p: p or "default")
def test_registered_model_permission(
    auth_server: ServerProcess, creds: Credentials, level: str | None
) -> None:
    client = _client(auth_server.url)
    name = f"model-{uuid.uuid4().hex[:10]}"
    client.create_registered_model(name)
    run = client.create_run("0")
    client.create_model_version(name, f"runs:/{run.info.run_id}/model", run.info.run_id)
    client.set_registered_model_alias(name, "champion", "1")
    username, password = new_user(auth_server)
    if level is not None:
        grant(auth_server.url, username, "registered_model", name, level)
    can_read, can_edit, can_manage = LEVELS[level]

    creds.basic(username, password)
    assert allowed(lambda: client.get_registered_model(name)) is can_read
    assert allowed(lambda: client.get_model_version(name, "1")) is can_read
    assert allowed(lambda: client.get_model_version_by_alias(name, "champion")) is can_read
    assert ([m.name for m in client.search_registered_models(f"name = '{name}'")] == [name]) is can_read
    assert ([v.version for v in client.search_model_versions(f"name = '{name}'")] == ["1"]) is can_read
    assert allowed(lambda: client.set_registered_model_tag(name, "k", "v")) is can_edit
    assert allowed(lambda: client.update_model_version(name, "1", "described")) is can_edit
    assert allowed(lambda: client.set_registered_model_alias(name, "other", "1")) is can_edit
    assert allowed(lambda: client.delete_model_version(name, "1")) is can_manage
    assert allowed(lambda: client.delete_registered_model(name)) is can_manage


def test_creator_gets_manage_and_others_the_default(auth_server: ServerProcess, creds: Credentials) -> None:
    client = _client(auth_server.url)
    alice, alice_pw = new_user(auth_server, "alice")
    bob, bob_pw = new_user(auth_server, "bob")
    creds.basic(alice, alice_pw)
    eid = client.create_experiment(f"alice-{uuid.uuid4().hex[:8]}")
    name = f"alice-model-{uuid.uuid4().hex[:8]}"
    client.create_registered_model(name)
    client.set_experiment_tag(eid, "mine", "yes")
    creds.basic(bob, bob_pw)
    assert allowed(lambda: client.get_experiment(eid))
    assert not allowed(lambda: client.set_experiment_tag(eid, "bob", "no"))
    assert not allowed(lambda: client.delete_registered_model(name))
    creds.basic(alice, alice_pw)
    # A MANAGE holder may grant on their own resource, as MLflow allows.
    grant(auth_server.url, bob, "experiment", eid, "EDIT")
    creds.basic(bob, bob_pw)
    assert allowed(lambda: client.set_experiment_tag(eid, "bob", "yes"))
    assert not allowed(lambda: client.delete_experiment(eid))
    creds.basic(alice, alice_pw)
    client.delete_registered_model(name)
    client.delete_experiment(eid)


def test_only_admins_manage_users_and_others_grants(auth_server: ServerProcess, creds: Credentials) -> None:
    from mlflow.exceptions import MlflowException

    auth = _admin_client(auth_server.url)
    client = _client(auth_server.url)
    eid = client.create_experiment(f"admin-{uuid.uuid4().hex[:8]}")
    carol, carol_pw = new_user(auth_server, "carol")
    creds.basic(carol, carol_pw)
    for call in (
        lambda: auth.create_user(f"x-{uuid.uuid4().hex[:6]}", "some-password"),
        lambda: auth.update_user_admin(carol, True),
        lambda: auth.delete_user("admin"),
        lambda: grant(auth_server.url, carol, "experiment", eid, "MANAGE"),
    ):
        with pytest.raises(MlflowException) as info:
            call()
        assert info.value.get_http_status_code() == 403
    assert auth.get_user(carol).username == carol  # oneself, yes
    creds.admin()
    user = auth.get_user(carol)
    assert user.username == carol and user.is_admin is False
    auth.update_user_admin(carol, True)
    assert auth.get_user(carol).is_admin is True
    creds.basic(carol, carol_pw)
    assert allowed(lambda: client.delete_experiment(eid))  # admins pass every check
    creds.admin()
    auth.update_user_password(carol, "a-new-password-1")
    auth.delete_user(carol)
    with pytest.raises(MlflowException) as info:
        auth.get_user(carol)
    assert info.value.get_http_status_code() == 404


def test_grant_lifecycle_through_the_admin_api(auth_server: ServerProcess, creds: Credentials) -> None:
    auth = _admin_client(auth_server.url)
    client = _client(auth_server.url)
    eid = client.create_experiment(f"life-{uuid.uuid4().hex[:8]}")
    dave, dave_pw = new_user(auth_server, "dave")
    grant(auth_server.url, dave, "experiment", eid, "EDIT")
    if is_mlflow2():
        assert auth.get_experiment_permission(eid, dave).permission == "EDIT"
        auth.update_experiment_permission(eid, dave, "NO_PERMISSIONS")
        assert auth.get_experiment_permission(eid, dave).permission == "NO_PERMISSIONS"
        creds.basic(dave, dave_pw)
        assert not allowed(lambda: client.get_experiment(eid))
        creds.admin()
        auth.delete_experiment_permission(eid, dave)
    else:
        got = auth.get_user_permission(dave, "experiment", eid)
        assert (got.permission, got.allowed) == ("EDIT", True)
        auth.grant_user_permission(dave, "experiment", eid, "DENY")
        creds.basic(dave, dave_pw)
        assert not allowed(lambda: client.get_experiment(eid))
        creds.admin()
        auth.revoke_user_permission(dave, "experiment", eid)
        assert auth.get_user_permission(dave, "experiment", eid).permission == "READ"  # the default again
    creds.basic(dave, dave_pw)
    assert allowed(lambda: client.get_experiment(eid))
    assert not allowed(lambda: client.set_experiment_tag(eid, "k", "v"))


def test_pages_never_reveal_hidden_experiments(auth_server: ServerProcess, creds: Credentials) -> None:
    client = _client(auth_server.url)
    prefix = f"page-{uuid.uuid4().hex[:8]}"
    ids = [client.create_experiment(f"{prefix}-{i}") for i in range(6)]
    erin, erin_pw = new_user(auth_server, "erin")
    hidden = set(ids[1::2])
    for eid in hidden:
        grant(auth_server.url, erin, "experiment", eid, "NO_PERMISSIONS")
    creds.basic(erin, erin_pw)
    seen: list[str] = []
    token = None
    while True:
        page = client.search_experiments(
            filter_string=f"name LIKE '{prefix}%'", max_results=1, page_token=token
        )
        seen += [e.experiment_id for e in page]
        token = page.token
        if not token:
            break
    assert sorted(seen) == sorted(set(ids) - hidden)


def test_default_no_permissions_shows_only_grants(
    auth_db: str, tmp_path: Path, creds: Credentials, monkeypatch: pytest.MonkeyPatch
) -> None:
    server = start_auth_server(
        auth_db, tmp_path, env={"TRACKLIGHT_AUTH_DEFAULT_PERMISSION": "NO_PERMISSIONS"}
    )
    try:
        monkeypatch.setenv("MLFLOW_TRACKING_URI", server.url)
        client = _client(server.url)
        prefix = f"strict-{uuid.uuid4().hex[:8]}"
        ids = [client.create_experiment(f"{prefix}-{i}") for i in range(3)]
        models = [f"{prefix}-m{i}" for i in range(3)]
        for name in models:
            client.create_registered_model(name)
        frank, frank_pw = new_user(server, "frank")
        grant(server.url, frank, "experiment", ids[1], "READ")
        grant(server.url, frank, "registered_model", models[2], "READ")
        creds.basic(frank, frank_pw)
        assert [
            e.experiment_id for e in client.search_experiments(filter_string=f"name LIKE '{prefix}%'")
        ] == [ids[1]]
        assert [m.name for m in client.search_registered_models(f"name LIKE '{prefix}%'")] == [models[2]]
        assert not allowed(lambda: client.get_experiment(ids[0]))
        assert not allowed(lambda: client.get_experiment("0"))
        # Still allowed to create, and to manage what one created.
        own = client.create_experiment(f"{prefix}-own")
        client.set_experiment_tag(own, "k", "v")
    finally:
        server.stop()
