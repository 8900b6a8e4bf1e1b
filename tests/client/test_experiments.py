"""Experiments through the stock client: create, get, search, rename, delete/restore, tags, the Default experiment."""

from __future__ import annotations

import time
import uuid
from pathlib import Path
from types import ModuleType

import pytest
from harness.api import assert_error, get, is_mlflow3, ok, post, raises_code
from harness.plugin import Tracking
from mlflow.entities import ViewType


def test_default_experiment_exists(tracking: Tracking) -> None:
    exp = tracking.client.get_experiment("0")
    assert exp.experiment_id == "0"
    assert exp.name == "Default"
    assert exp.lifecycle_stage == "active"
    by_name = tracking.client.get_experiment_by_name("Default")
    assert by_name is not None and by_name.experiment_id == "0"


def test_run_in_default_experiment_without_lookup(tracking: Tracking) -> None:
    run = tracking.client.create_run("0")
    try:
        assert run.info.experiment_id == "0"
        assert tracking.client.get_run(run.info.run_id).info.experiment_id == "0"
    finally:
        tracking.client.delete_run(run.info.run_id)


def test_create_and_get(tracking: Tracking) -> None:
    name = tracking.new_name()
    before = int(time.time() * 1000) - 2000
    exp_id = tracking.client.create_experiment(name, tags={"team": "vision", "owner": "ann"})
    assert isinstance(exp_id, str) and exp_id != "0"
    exp = tracking.client.get_experiment(exp_id)
    assert exp.name == name
    assert exp.experiment_id == exp_id
    assert exp.lifecycle_stage == "active"
    assert exp.tags == {"team": "vision", "owner": "ann"}
    assert exp.artifact_location.startswith("mlflow-artifacts:")
    assert exp.artifact_location.rstrip("/").endswith(f"/{exp_id}")
    assert before <= exp.creation_time <= int(time.time() * 1000) + 2000
    assert exp.last_update_time >= exp.creation_time
    by_name = tracking.client.get_experiment_by_name(name)
    assert by_name is not None and by_name.experiment_id == exp_id and by_name.tags == exp.tags


def test_create_with_artifact_location(tracking: Tracking, tmp_path: Path) -> None:
    location = f"file://{tmp_path}/custom-root"
    exp_id = tracking.client.create_experiment(tracking.new_name(), artifact_location=location)
    assert tracking.client.get_experiment(exp_id).artifact_location == location


def test_unicode_and_spaces_in_name(tracking: Tracking) -> None:
    name = tracking.new_name("naïve экспер 実験 with spaces")
    exp_id = tracking.client.create_experiment(name)
    assert tracking.client.get_experiment(exp_id).name == name
    assert tracking.client.get_experiment_by_name(name).experiment_id == exp_id


def test_get_by_name_missing_returns_none(tracking: Tracking) -> None:
    assert tracking.client.get_experiment_by_name(tracking.new_name("missing")) is None
    resp = get(tracking.api("experiments/get-by-name"), {"experiment_name": tracking.new_name("missing")})
    assert_error(resp, 404, "RESOURCE_DOES_NOT_EXIST")


def test_get_unknown_experiment(tracking: Tracking) -> None:
    raises_code(lambda: tracking.client.get_experiment("987654321"), "RESOURCE_DOES_NOT_EXIST")
    assert_error(
        get(tracking.api("experiments/get"), {"experiment_id": "987654321"}), 404, "RESOURCE_DOES_NOT_EXIST"
    )


def test_get_non_numeric_experiment_id_is_not_500(tracking: Tracking) -> None:
    resp = get(tracking.api("experiments/get"), {"experiment_id": "not-a-number"})
    assert resp.status_code in (400, 404), resp.text
    assert resp.json()["error_code"] in ("INVALID_PARAMETER_VALUE", "RESOURCE_DOES_NOT_EXIST")


def test_duplicate_name(tracking: Tracking) -> None:
    name = tracking.new_name()
    tracking.client.create_experiment(name)
    raises_code(lambda: tracking.client.create_experiment(name), "RESOURCE_ALREADY_EXISTS")
    assert_error(post(tracking.api("experiments/create"), {"name": name}), 400, "RESOURCE_ALREADY_EXISTS")


def test_duplicate_name_of_deleted_experiment(tracking: Tracking) -> None:
    name = tracking.new_name()
    exp_id = tracking.client.create_experiment(name)
    tracking.client.delete_experiment(exp_id)
    raises_code(lambda: tracking.client.create_experiment(name), "RESOURCE_ALREADY_EXISTS")


def test_empty_name_rejected(tracking: Tracking) -> None:
    assert_error(post(tracking.api("experiments/create"), {"name": ""}), 400, "INVALID_PARAMETER_VALUE")


def test_set_experiment_creates_then_reuses(mlflow: ModuleType, tracking: Tracking) -> None:
    name = tracking.new_name()
    first = mlflow.set_experiment(name)
    second = mlflow.set_experiment(name)
    assert first.experiment_id == second.experiment_id
    assert first.name == name
    by_id = mlflow.set_experiment(experiment_id=first.experiment_id)
    assert by_id.name == name


def test_rename(tracking: Tracking) -> None:
    old, new = tracking.new_name("old"), tracking.new_name("new")
    exp_id = tracking.client.create_experiment(old)
    created = tracking.client.get_experiment(exp_id)
    time.sleep(0.01)
    tracking.client.rename_experiment(exp_id, new)
    renamed = tracking.client.get_experiment(exp_id)
    assert renamed.name == new
    assert renamed.last_update_time >= created.last_update_time
    assert tracking.client.get_experiment_by_name(old) is None
    assert tracking.client.get_experiment_by_name(new).experiment_id == exp_id


@pytest.mark.reference_differs  # stock mlflow answers BAD_REQUEST with the SQL error
def test_rename_to_existing_name(tracking: Tracking) -> None:
    a, b = tracking.new_name("a"), tracking.new_name("b")
    exp_a = tracking.client.create_experiment(a)
    tracking.client.create_experiment(b)
    raises_code(lambda: tracking.client.rename_experiment(exp_a, b), "RESOURCE_ALREADY_EXISTS")
    assert tracking.client.get_experiment(exp_a).name == a


def test_rename_unknown(tracking: Tracking) -> None:
    raises_code(
        lambda: tracking.client.rename_experiment("987654321", tracking.new_name()), "RESOURCE_DOES_NOT_EXIST"
    )


def test_delete_and_restore(tracking: Tracking) -> None:
    name = tracking.new_name()
    exp_id = tracking.client.create_experiment(name)
    run = tracking.client.create_run(exp_id)
    tracking.client.delete_experiment(exp_id)

    exp = tracking.client.get_experiment(exp_id)
    assert exp.lifecycle_stage == "deleted"
    assert tracking.client.get_experiment_by_name(name).lifecycle_stage == "deleted"
    assert tracking.client.get_run(run.info.run_id).info.lifecycle_stage == "deleted"
    active = tracking.client.search_experiments(filter_string=f"name = '{name}'")
    assert active == []
    deleted = tracking.client.search_experiments(
        view_type=ViewType.DELETED_ONLY, filter_string=f"name = '{name}'"
    )
    assert [e.experiment_id for e in deleted] == [exp_id]
    both = tracking.client.search_experiments(view_type=ViewType.ALL, filter_string=f"name = '{name}'")
    assert [e.experiment_id for e in both] == [exp_id]
    raises_code(lambda: tracking.client.create_run(exp_id), "INVALID_PARAMETER_VALUE")

    tracking.client.restore_experiment(exp_id)
    assert tracking.client.get_experiment(exp_id).lifecycle_stage == "active"
    assert tracking.client.get_run(run.info.run_id).info.lifecycle_stage == "active"
    assert [
        e.experiment_id for e in tracking.client.search_experiments(filter_string=f"name = '{name}'")
    ] == [exp_id]


def test_delete_unknown(tracking: Tracking) -> None:
    raises_code(lambda: tracking.client.delete_experiment("987654321"), "RESOURCE_DOES_NOT_EXIST")


def test_experiment_tags(tracking: Tracking) -> None:
    exp_id = tracking.client.create_experiment(tracking.new_name())
    tracking.client.set_experiment_tag(exp_id, "stage", "dev")
    tracking.client.set_experiment_tag(exp_id, "stage", "prod")  # overwrite
    tracking.client.set_experiment_tag(exp_id, "note", "x" * 5000)
    tags = tracking.client.get_experiment(exp_id).tags
    assert tags == {"stage": "prod", "note": "x" * 5000}
    if is_mlflow3():  # delete_experiment_tag is a 3.x client API
        tracking.client.delete_experiment_tag(exp_id, "stage")
        assert tracking.client.get_experiment(exp_id).tags == {"note": "x" * 5000}
    ok(post(tracking.api("experiments/delete-experiment-tag"), {"experiment_id": exp_id, "key": "note"}))
    remaining = tracking.client.get_experiment(exp_id).tags
    assert "note" not in remaining


def test_set_experiment_tag_unknown_experiment(tracking: Tracking) -> None:
    raises_code(lambda: tracking.client.set_experiment_tag("987654321", "k", "v"), "RESOURCE_DOES_NOT_EXIST")


def test_search_filter_order_and_pages(tracking: Tracking) -> None:
    prefix = f"srch-{uuid.uuid4().hex[:8]}"
    ids = {}
    for index, suffix in enumerate(["c", "a", "e", "b", "d"]):
        name = f"{prefix}-{suffix}"
        ids[name] = tracking.client.create_experiment(
            name, tags={"parity": "even" if index % 2 == 0 else "odd"}
        )

    by_name_asc = tracking.client.search_experiments(
        filter_string=f"name LIKE '{prefix}-%'", order_by=["name ASC"]
    )
    assert [e.name for e in by_name_asc] == [f"{prefix}-{s}" for s in "abcde"]
    by_name_desc = tracking.client.search_experiments(
        filter_string=f"name LIKE '{prefix}-%'", order_by=["name DESC"]
    )
    assert [e.name for e in by_name_desc] == [f"{prefix}-{s}" for s in "edcba"]

    even = tracking.client.search_experiments(
        filter_string=f"name LIKE '{prefix}-%' AND tags.parity = 'even'", order_by=["name"]
    )
    assert [e.name for e in even] == [f"{prefix}-{s}" for s in "cde"]

    by_created = tracking.client.search_experiments(
        filter_string=f"name LIKE '{prefix}-%'", order_by=["creation_time ASC"]
    )
    assert sorted(e.experiment_id for e in by_created) == sorted(ids.values())
    times = [e.creation_time for e in by_created]
    assert times == sorted(times)

    seen: list[str] = []
    token = None
    pages = 0
    while True:
        page = tracking.client.search_experiments(
            max_results=2, filter_string=f"name LIKE '{prefix}-%'", order_by=["name ASC"], page_token=token
        )
        pages += 1
        assert len(page) <= 2
        seen.extend(e.name for e in page)
        token = page.token
        if not token:
            break
        assert pages < 10
    assert pages == 3
    assert seen == [f"{prefix}-{s}" for s in "abcde"]


def test_search_experiment_id_in(tracking: Tracking) -> None:
    a = tracking.client.create_experiment(tracking.new_name("a"))
    b = tracking.client.create_experiment(tracking.new_name("b"))
    found = tracking.client.search_experiments(filter_string=f"experiment_id IN ('{a}', '{b}')")
    assert sorted(e.experiment_id for e in found) == sorted([a, b])


def test_search_name_like_is_case_sensitive(tracking: Tracking) -> None:
    name = f"CaseTest-{uuid.uuid4().hex[:8]}"
    exp_id = tracking.client.create_experiment(name)
    assert [
        e.experiment_id for e in tracking.client.search_experiments(filter_string=f"name LIKE '{name}'")
    ] == [exp_id]
    assert tracking.client.search_experiments(filter_string=f"name LIKE '{name.lower()}'") == []
    found = tracking.client.search_experiments(filter_string=f"name ILIKE '{name.lower()}'")
    assert [e.experiment_id for e in found] == [exp_id]


def test_search_experiments_malformed(tracking: Tracking) -> None:
    raises_code(
        lambda: tracking.client.search_experiments(filter_string="name === 'x'"), "INVALID_PARAMETER_VALUE"
    )
    resp = post(tracking.api("experiments/search"), {"max_results": 10, "filter": "name = 'a' OR name = 'b'"})
    assert_error(resp, 400, "INVALID_PARAMETER_VALUE")
    resp = post(tracking.api("experiments/search"), {"max_results": 10, "order_by": ["lifecycle_stage ASC"]})
    assert_error(resp, 400, "INVALID_PARAMETER_VALUE")
    resp = post(tracking.api("experiments/search"), {"max_results": 10, "page_token": "not-a-token!!"})
    assert_error(resp, 400, "INVALID_PARAMETER_VALUE")
