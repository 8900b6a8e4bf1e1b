"""Evaluation datasets with auth on, through the stock client (mlflow.genai.datasets, MlflowClient) and
grants made with its admin client: a dataset takes the permission of every experiment it is linked to
(READ to read, EDIT to change, MANAGE to delete), creating and linking need EDIT on the experiments,
searches leave out what the caller may not read, page by page, and admins pass every check."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import requests
from harness.server import ServerProcess

from .conftest import Credentials, is_mlflow2, new_user, start_auth_server

if is_mlflow2():
    pytest.skip("evaluation datasets are an MLflow 3 API", allow_module_level=True)

from mlflow import MlflowClient  # noqa: E402
from mlflow.exceptions import MlflowException  # noqa: E402
from mlflow.genai import datasets as gd  # noqa: E402
from mlflow.server import get_app_client  # noqa: E402

# What each grant on the dataset's experiment allows, as (read, edit, manage); None is no grant (READ).
LEVELS: dict[str | None, tuple[bool, bool, bool]] = {
    None: (True, False, False),
    "READ": (True, False, False),
    "USE": (True, False, False),
    "EDIT": (True, True, False),
    "MANAGE": (True, True, True),
    "DENY": (False, False, False),
}


def grant(url: str, username: str, experiment_id: str, permission: str) -> None:
    get_app_client("basic-auth", tracking_uri=url).grant_user_permission(
        username, "experiment", experiment_id, permission
    )


def allowed(call: Callable[[], object]) -> bool:
    """Whether the call went through; a refusal must be PERMISSION_DENIED (the client wraps some)."""
    try:
        call()
    except MlflowException as exc:
        cause = exc.__cause__ if isinstance(exc.__cause__, MlflowException) else exc
        assert cause.error_code == "PERMISSION_DENIED", exc
        return False
    return True


def _name(label: str = "ds") -> str:
    return f"{label}-{uuid.uuid4().hex[:10]}"


def _searched(client: MlflowClient, **kwargs: Any) -> set[str]:
    return {d.dataset_id for d in client.search_datasets(**kwargs)}


@pytest.mark.parametrize("level", list(LEVELS), ids=lambda p: p or "default")
def test_dataset_permission(auth_server: ServerProcess, creds: Credentials, level: str | None) -> None:
    client = MlflowClient(auth_server.url)
    eid = client.create_experiment(_name("dsperm"))
    other = client.create_experiment(_name("dsperm-other"))
    name = _name()
    ds = gd.create_dataset(name=name, experiment_id=eid, tags={"owner": "admin"})
    ds.merge_records([{"inputs": {"q": "first"}, "expectations": {"a": "1"}}])
    record_id = ds.to_df()["dataset_record_id"].iloc[0]
    username, password = new_user(auth_server)
    grant(auth_server.url, username, other, "EDIT")  # what is checked below is the grant on `eid`
    if level is not None:
        grant(auth_server.url, username, eid, level)
    can_read, can_edit, can_manage = LEVELS[level]

    creds.basic(username, password)
    assert allowed(lambda: gd.get_dataset(dataset_id=ds.dataset_id)) is can_read
    assert allowed(lambda: client.get_dataset(ds.dataset_id).to_df()) is can_read
    linked = requests.get(
        auth_server.api(f"datasets/{ds.dataset_id}/experiment-ids", "3.0"),
        auth=(username, password),
        timeout=60,
    )
    assert (linked.status_code, linked.json().get("experiment_ids")) == (
        (200, [eid]) if can_read else (403, None)
    )
    assert allowed(lambda: client.search_datasets(experiment_ids=[eid])) is can_read
    assert (ds.dataset_id in _searched(client, filter_string=f"name = '{name}'")) is can_read
    if can_read:
        assert gd.get_dataset(name=name).dataset_id == ds.dataset_id
    else:  # by name, a dataset the caller may not read is one that is not there
        with pytest.raises(MlflowException) as info:
            gd.get_dataset(name=name)
        assert info.value.error_code == "RESOURCE_DOES_NOT_EXIST"

    assert allowed(lambda: gd.set_dataset_tags(dataset_id=ds.dataset_id, tags={"k": "v"})) is can_edit
    assert allowed(lambda: gd.delete_dataset_tag(dataset_id=ds.dataset_id, key="owner")) is can_edit
    assert allowed(lambda: ds.merge_records([{"inputs": {"q": "second"}}])) is can_edit
    assert allowed(lambda: ds.delete_records([record_id])) is can_edit
    assert allowed(lambda: gd.add_dataset_to_experiments(ds.dataset_id, [other])) is can_edit
    if not can_edit:
        creds.admin()
        gd.add_dataset_to_experiments(ds.dataset_id, [other])
        creds.basic(username, password)
    assert allowed(lambda: gd.remove_dataset_from_experiments(ds.dataset_id, [other])) is can_edit
    assert allowed(lambda: client.create_dataset(_name(), experiment_id=eid)) is can_edit
    assert allowed(lambda: gd.delete_dataset(dataset_id=ds.dataset_id)) is can_manage

    creds.admin()
    after = client.search_datasets(filter_string=f"name = '{name}'")
    if can_manage:
        assert after == []
        return
    [kept] = after
    assert ("k" in kept.tags, "owner" in kept.tags) == (can_edit, not can_edit)
    inputs = sorted(r["q"] for r in kept.to_df()["inputs"])
    assert inputs == (["second"] if can_edit else ["first"])
    assert kept.experiment_ids == ([eid] if can_edit else [eid, other])


def test_every_linked_experiment_counts(auth_server: ServerProcess, creds: Credentials) -> None:
    """Linked to one experiment the user may read and one they may not: the dataset is not theirs to
    read, nor to find by searching the readable one (where MLflow's own search would list it)."""
    client = MlflowClient(auth_server.url)
    readable = client.create_experiment(_name("linked-r"))
    denied = client.create_experiment(_name("linked-d"))
    prefix = _name("both")
    both = gd.create_dataset(name=f"{prefix}-both", experiment_id=[readable, denied])
    mine = gd.create_dataset(name=f"{prefix}-mine", experiment_id=[readable])
    username, password = new_user(auth_server)
    grant(auth_server.url, username, readable, "MANAGE")
    grant(auth_server.url, username, denied, "DENY")

    creds.basic(username, password)
    assert not allowed(lambda: gd.get_dataset(dataset_id=both.dataset_id))
    assert allowed(lambda: gd.get_dataset(dataset_id=mine.dataset_id))
    assert _searched(client, experiment_ids=[readable]) == {mine.dataset_id}
    assert _searched(client, filter_string=f"name LIKE '{prefix}%'") == {mine.dataset_id}
    assert not allowed(lambda: client.search_datasets(experiment_ids=[readable, denied]))
    # Nor may they change it, or link their dataset into an experiment they may not edit.
    assert not allowed(lambda: gd.set_dataset_tags(dataset_id=both.dataset_id, tags={"k": "v"}))
    assert not allowed(lambda: gd.remove_dataset_from_experiments(both.dataset_id, [denied]))
    assert not allowed(lambda: gd.add_dataset_to_experiments(mine.dataset_id, [denied]))
    assert not allowed(lambda: client.create_dataset(_name(), experiment_id=[readable, denied]))

    creds.admin()
    gd.remove_dataset_from_experiments(both.dataset_id, [denied])
    creds.basic(username, password)
    assert _searched(client, experiment_ids=[readable]) == {mine.dataset_id, both.dataset_id}
    assert allowed(lambda: gd.delete_dataset(dataset_id=both.dataset_id))


def test_a_dataset_linked_to_nothing_is_for_admins(auth_server: ServerProcess, creds: Credentials) -> None:
    client = MlflowClient(auth_server.url)
    name = _name("unlinked")
    unlinked = client.create_dataset(name)  # the client's own create links nothing unless told
    assert unlinked.experiment_ids == []
    assert client.get_dataset(unlinked.dataset_id).name == name
    assert unlinked.dataset_id in _searched(client, filter_string=f"name = '{name}'")
    username, password = new_user(auth_server)

    creds.basic(username, password)
    assert not allowed(lambda: client.get_dataset(unlinked.dataset_id))
    assert _searched(client, filter_string=f"name = '{name}'") == set()
    assert not allowed(lambda: client.create_dataset(_name("unlinked")))
    # The creator of an experiment may link datasets to it, and unlink them again (then they are gone).
    own = client.create_experiment(_name("own"))
    ds = client.create_dataset(_name("own-ds"), experiment_id=own)
    assert allowed(lambda: gd.remove_dataset_from_experiments(ds.dataset_id, [own]))
    assert not allowed(lambda: client.get_dataset(ds.dataset_id))
    # Something that is not there is not there, whoever asks.
    with pytest.raises(MlflowException) as info:
        client.get_dataset("d-" + "0" * 32)
    assert info.value.error_code == "RESOURCE_DOES_NOT_EXIST"


def test_pages_never_reveal_hidden_datasets(auth_server: ServerProcess, creds: Credentials) -> None:
    client = MlflowClient(auth_server.url)
    shown = client.create_experiment(_name("pages-shown"))
    hidden = client.create_experiment(_name("pages-hidden"))
    prefix = _name("paged")
    visible = set()
    for i in range(8):
        linked = [shown, hidden] if i % 2 else [shown]
        ds = gd.create_dataset(name=f"{prefix}-{i}", experiment_id=linked)
        if i % 2 == 0:
            visible.add(ds.dataset_id)
    username, password = new_user(auth_server)
    grant(auth_server.url, username, hidden, "DENY")

    creds.basic(username, password)
    for scope in ({"experiment_ids": [shown]}, {}):
        seen: list[str] = []
        token = None
        pages = 0
        while True:
            page = client.search_datasets(
                filter_string=f"name LIKE '{prefix}%'",
                order_by=["name ASC"],
                max_results=1,
                page_token=token,
                **scope,
            )
            pages += 1
            seen += [d.dataset_id for d in page]
            token = page.token
            if not token:
                break
        assert sorted(seen) == sorted(visible), scope
        assert pages <= len(visible) + 1  # no page is spent on a hidden dataset


def test_default_no_permissions_shows_only_granted_experiments_datasets(
    auth_db: str, tmp_path: Path, creds: Credentials, monkeypatch: pytest.MonkeyPatch
) -> None:
    server = start_auth_server(
        auth_db, tmp_path, env={"TRACKLIGHT_AUTH_DEFAULT_PERMISSION": "NO_PERMISSIONS"}
    )
    try:
        monkeypatch.setenv("MLFLOW_TRACKING_URI", server.url)
        client = MlflowClient(server.url)
        granted = client.create_experiment(_name("strict-granted"))
        other = client.create_experiment(_name("strict-other"))
        prefix = _name("strict")
        mine = gd.create_dataset(name=f"{prefix}-mine", experiment_id=granted)
        gd.create_dataset(name=f"{prefix}-other", experiment_id=other)
        gd.create_dataset(name=f"{prefix}-both", experiment_id=[granted, other])
        username, password = new_user(server)
        grant(server.url, username, granted, "READ")

        creds.basic(username, password)
        assert _searched(client, filter_string=f"name LIKE '{prefix}%'") == {mine.dataset_id}
        assert _searched(client, experiment_ids=[granted]) == {mine.dataset_id}
        assert not allowed(lambda: client.search_datasets(experiment_ids=[other]))
        assert not allowed(lambda: gd.set_dataset_tags(dataset_id=mine.dataset_id, tags={"k": "v"}))
        # Their own experiment is theirs to fill.
        own = client.create_experiment(_name("strict-own"))
        ds = gd.create_dataset(name=f"{prefix}-own", experiment_id=own)
        ds.merge_records([{"inputs": {"q": "x"}}])
        assert _searched(client, filter_string=f"name LIKE '{prefix}%'") == {mine.dataset_id, ds.dataset_id}
    finally:
        server.stop()
