"""The model registry through the stock client: models, versions, stages, aliases, tags, search and errors."""

from __future__ import annotations

import json
import time
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
import requests
from harness.api import assert_error, get, is_mlflow3, ok, post, raises_code
from harness.plugin import Tracking


def _delete(url: str, body: Any) -> requests.Response:
    return requests.delete(url, json=body, timeout=60)


def _patch(url: str, body: Any) -> requests.Response:
    return requests.patch(url, json=body, timeout=60)


def _run_with_model(mlflow: ModuleType, path: str = "model") -> str:
    """A finished run holding a tiny model folder, as a 2.22 client's log_model leaves it."""
    with mlflow.start_run() as run:
        mlflow.log_text("artifact_path: model\nflavors: {}\n", f"{path}/MLmodel")
        mlflow.log_text("weights", f"{path}/weights.txt")
    return str(run.info.run_id)


def _version_from_run(tracking: Tracking, name: str, run_id: str, path: str = "model") -> Any:
    return tracking.client.create_model_version(name, f"runs:/{run_id}/{path}", run_id=run_id)


# -- registered models ---------------------------------------------------------------------------


def test_create_get_update_delete_registered_model(tracking: Tracking) -> None:
    name = tracking.new_name("model")
    before = int(time.time() * 1000) - 2000
    created = tracking.client.create_registered_model(name, tags={"team": "vision"}, description="first")
    assert created.name == name
    assert created.description == "first"
    assert created.tags == {"team": "vision"}
    assert before <= created.creation_timestamp <= int(time.time() * 1000) + 2000
    got = tracking.client.get_registered_model(name)
    assert (got.name, got.description, got.tags) == (name, "first", {"team": "vision"})
    assert got.latest_versions == []
    updated = tracking.client.update_registered_model(name, description="second")
    assert updated.description == "second"
    assert updated.last_updated_timestamp >= created.last_updated_timestamp
    assert tracking.client.get_registered_model(name).description == "second"
    tracking.client.delete_registered_model(name)
    raises_code(lambda: tracking.client.get_registered_model(name), "RESOURCE_DOES_NOT_EXIST")


def test_wire_shape_of_registered_model(tracking: Tracking) -> None:
    name = tracking.new_name("model")
    body = ok(post(tracking.api("registered-models/create"), {"name": name}))["registered_model"]
    assert body["name"] == name
    assert isinstance(body["creation_timestamp"], int) and isinstance(body["last_updated_timestamp"], int)
    # Empty fields are omitted, not sent as [] or null.
    for absent in ("tags", "aliases", "latest_versions", "description"):
        assert absent not in body, body
    got = ok(get(tracking.api("registered-models/get"), {"name": name}))["registered_model"]
    assert got == body
    assert ok(get(tracking.ajax("registered-models/get"), {"name": name}))["registered_model"] == body


def test_duplicate_name_is_resource_already_exists(tracking: Tracking) -> None:
    name = tracking.new_name("model")
    tracking.client.create_registered_model(name)
    exc = raises_code(lambda: tracking.client.create_registered_model(name), "RESOURCE_ALREADY_EXISTS")
    assert f"Registered Model (name={name}) already exists." in exc.message
    assert_error(
        post(tracking.api("registered-models/create"), {"name": name}), 400, "RESOURCE_ALREADY_EXISTS"
    )


def test_rename_moves_versions_aliases_and_tags(mlflow: ModuleType, tracking: Tracking) -> None:
    name, new_name = tracking.new_name("model"), tracking.new_name("renamed")
    tracking.client.create_registered_model(name, tags={"k": "v"})
    run_id = _run_with_model(mlflow)
    _version_from_run(tracking, name, run_id)
    tracking.client.set_registered_model_alias(name, "champion", "1")
    tracking.client.set_model_version_tag(name, "1", "stage", "qa")
    tracking.client.rename_registered_model(name, new_name)
    raises_code(lambda: tracking.client.get_registered_model(name), "RESOURCE_DOES_NOT_EXIST")
    got = tracking.client.get_registered_model(new_name)
    assert got.tags == {"k": "v"}
    assert got.aliases == {"champion": "1"}
    version = tracking.client.get_model_version(new_name, "1")
    assert version.name == new_name and version.tags == {"stage": "qa"} and version.aliases == ["champion"]
    assert tracking.client.get_model_version_by_alias(new_name, "champion").version == "1"


def test_rename_onto_existing_name_is_rejected(tracking: Tracking) -> None:
    a, b = tracking.new_name("a"), tracking.new_name("b")
    tracking.client.create_registered_model(a)
    tracking.client.create_registered_model(b)
    raises_code(lambda: tracking.client.rename_registered_model(a, b), "RESOURCE_ALREADY_EXISTS")
    assert tracking.client.get_registered_model(a).name == a


def test_registered_model_tags(tracking: Tracking) -> None:
    name = tracking.new_name("model")
    tracking.client.create_registered_model(name)
    tracking.client.set_registered_model_tag(name, "owner", "ann")
    tracking.client.set_registered_model_tag(name, "owner", "bob")
    tracking.client.set_registered_model_tag(name, "big", "x" * 50_000)
    assert tracking.client.get_registered_model(name).tags == {"owner": "bob", "big": "x" * 50_000}
    tracking.client.delete_registered_model_tag(name, "owner")
    assert tracking.client.get_registered_model(name).tags == {"big": "x" * 50_000}
    # The delete-tag route takes its fields in a JSON body on DELETE.
    ok(_delete(tracking.api("registered-models/delete-tag"), {"name": name, "key": "big"}))
    assert tracking.client.get_registered_model(name).tags == {}


def test_delete_model_removes_versions_and_aliases(mlflow: ModuleType, tracking: Tracking) -> None:
    name = tracking.new_name("model")
    tracking.client.create_registered_model(name)
    run_id = _run_with_model(mlflow)
    _version_from_run(tracking, name, run_id)
    tracking.client.set_registered_model_alias(name, "prod", "1")
    ok(_delete(tracking.api("registered-models/delete"), {"name": name}))
    raises_code(lambda: tracking.client.get_model_version(name, "1"), "RESOURCE_DOES_NOT_EXIST")
    assert tracking.client.search_model_versions(f"name = '{name}'") == []
    # A model created again under the name starts from version 1, without the old alias.
    tracking.client.create_registered_model(name)
    assert _version_from_run(tracking, name, run_id).version == "1"
    assert tracking.client.get_registered_model(name).aliases == {}


def test_search_registered_models(tracking: Tracking) -> None:
    prefix = tracking.new_name("srch")
    names = [f"{prefix}-{c}" for c in ("b", "a", "c", "D")]
    for n in names:
        tracking.client.create_registered_model(n, tags={"kind": "cnn" if n.endswith(("a", "b")) else "tree"})
        time.sleep(0.005)
    found = tracking.client.search_registered_models(f"name LIKE '{prefix}-%'")
    assert [m.name for m in found] == sorted(names)
    assert [m.name for m in tracking.client.search_registered_models(f"name = '{prefix}-a'")] == [
        f"{prefix}-a"
    ]
    # LIKE is case-sensitive, ILIKE is not.
    assert [m.name for m in tracking.client.search_registered_models(f"name LIKE '{prefix}-d'")] == []
    assert [m.name for m in tracking.client.search_registered_models(f"name ILIKE '{prefix}-d'")] == [
        f"{prefix}-D"
    ]
    cnn = tracking.client.search_registered_models(f"name LIKE '{prefix}%' AND tags.kind = 'cnn'")
    assert sorted(m.name for m in cnn) == [f"{prefix}-a", f"{prefix}-b"]
    # A tag != also matches models without the tag (what the client's prompt filter relies on).
    tracking.client.delete_registered_model_tag(f"{prefix}-c", "kind")
    not_cnn = tracking.client.search_registered_models(f"name LIKE '{prefix}%' AND tags.kind != 'cnn'")
    assert sorted(m.name for m in not_cnn) == [f"{prefix}-D", f"{prefix}-c"]
    newest_first = tracking.client.search_registered_models(
        f"name LIKE '{prefix}%'", order_by=["last_updated_timestamp DESC"]
    )
    assert newest_first[0].name == f"{prefix}-D"  # created last; tag changes do not count as updates
    by_name_desc = tracking.client.search_registered_models(f"name LIKE '{prefix}%'", order_by=["name DESC"])
    assert [m.name for m in by_name_desc] == sorted(names, reverse=True)


def test_search_registered_models_pages(tracking: Tracking) -> None:
    prefix = tracking.new_name("page")
    names = sorted(f"{prefix}-{i:02d}" for i in range(7))
    for n in names:
        tracking.client.create_registered_model(n)
    seen: list[str] = []
    token = None
    for _ in range(10):
        page = tracking.client.search_registered_models(
            f"name LIKE '{prefix}%'", max_results=3, page_token=token
        )
        seen += [m.name for m in page]
        token = page.token
        if not token:
            break
    assert seen == names


def test_search_excludes_prompts(tracking: Tracking) -> None:
    prefix = tracking.new_name("prm")
    tracking.client.create_registered_model(f"{prefix}-model")
    # As mlflow.genai.register_prompt creates one (the client refuses the tag in create_registered_model).
    prompt = {"name": f"{prefix}-prompt", "tags": [{"key": "mlflow.prompt.is_prompt", "value": "true"}]}
    ok(post(tracking.api("registered-models/create"), prompt))
    found = tracking.client.search_registered_models(f"name LIKE '{prefix}%'")
    assert [m.name for m in found] == [f"{prefix}-model"]
    raw = ok(
        get(
            tracking.api("registered-models/search"),
            {"filter": f"name LIKE '{prefix}%' AND tags.`mlflow.prompt.is_prompt` = 'true'"},
        )
    )
    assert [m["name"] for m in raw["registered_models"]] == [f"{prefix}-prompt"]


def test_search_registered_models_bad_input(tracking: Tracking) -> None:
    url = tracking.api("registered-models/search")
    assert_error(get(url, {"max_results": 2000}), 400, "INVALID_PARAMETER_VALUE")
    assert_error(get(url, {"filter": "run_id = 'x'"}), 400, "INVALID_PARAMETER_VALUE")
    assert_error(get(url, {"filter": "name = 'a' OR name = 'b'"}), 400, "INVALID_PARAMETER_VALUE")
    assert_error(get(url, {"order_by": "foo DESC"}), 400, "INVALID_PARAMETER_VALUE")
    assert_error(get(url, {"page_token": "garbage!!"}), 400, "INVALID_PARAMETER_VALUE")


# -- versions --------------------------------------------------------------------------------------


def test_versions_from_run_sources(mlflow: ModuleType, tracking: Tracking) -> None:
    name = tracking.new_name("model")
    tracking.client.create_registered_model(name)
    run_id = _run_with_model(mlflow)
    v1 = _version_from_run(tracking, name, run_id)
    assert (v1.name, v1.version, v1.run_id, v1.status) == (name, "1", run_id, "READY")
    assert v1.current_stage == "None"
    assert v1.source == f"runs:/{run_id}/model"
    run = tracking.client.get_run(run_id)
    assert tracking.client.get_model_version_download_uri(name, "1") == f"{run.info.artifact_uri}/model"
    v2 = tracking.client.create_model_version(
        name, f"{run.info.artifact_uri}/model", run_id=run_id, description="direct", tags={"t": "1"}
    )
    assert (v2.version, v2.description, v2.tags) == ("2", "direct", {"t": "1"})
    assert tracking.client.get_model_version_download_uri(name, "2") == f"{run.info.artifact_uri}/model"
    latest = tracking.client.get_registered_model(name).latest_versions
    assert [(v.version, v.current_stage) for v in latest] == [("2", "None")]


@pytest.mark.skipif(is_mlflow3(), reason="the 3.x register_model looks the folder up as a logged model first")
def test_register_model_from_run_artifacts_2x(mlflow: ModuleType, tracking: Tracking) -> None:
    name = tracking.new_name("model")
    run_id = _run_with_model(mlflow)
    version = mlflow.register_model(f"runs:/{run_id}/model", name)
    assert (version.name, version.version, version.run_id, version.status) == (name, "1", run_id, "READY")
    again = mlflow.register_model(f"runs:/{run_id}/model", name)  # the model exists: the client goes on
    assert again.version == "2"


def test_version_wire_shape(mlflow: ModuleType, tracking: Tracking) -> None:
    name = tracking.new_name("model")
    tracking.client.create_registered_model(name)
    run_id = _run_with_model(mlflow)
    body = ok(
        post(
            tracking.api("model-versions/create"),
            {"name": name, "source": f"runs:/{run_id}/model", "run_id": run_id},
        )
    )["model_version"]
    assert body["version"] == "1"
    assert body["status"] == "READY" and body["current_stage"] == "None"
    assert isinstance(body["creation_timestamp"], int) and isinstance(body["last_updated_timestamp"], int)
    assert "aliases" not in body and "tags" not in body
    ok(post(tracking.api("registered-models/alias"), {"name": name, "alias": "best", "version": "1"}))
    got = ok(get(tracking.api("model-versions/get"), {"name": name, "version": "1"}))["model_version"]
    assert got["aliases"] == ["best"]
    model = ok(get(tracking.api("registered-models/get"), {"name": name}))["registered_model"]
    assert model["aliases"] == [{"alias": "best", "version": "1"}]
    assert [v["version"] for v in model["latest_versions"]] == ["1"]


def test_update_and_delete_version_never_reuses_numbers(mlflow: ModuleType, tracking: Tracking) -> None:
    name = tracking.new_name("model")
    tracking.client.create_registered_model(name)
    run_id = _run_with_model(mlflow)
    for _ in range(3):
        _version_from_run(tracking, name, run_id)
    updated = tracking.client.update_model_version(name, "2", description="better")
    assert updated.description == "better"
    assert tracking.client.get_model_version(name, "2").description == "better"
    tracking.client.set_registered_model_alias(name, "doomed", "3")
    tracking.client.set_model_version_tag(name, "3", "k", "v")
    tracking.client.delete_model_version(name, "3")
    raises_code(lambda: tracking.client.get_model_version(name, "3"), "RESOURCE_DOES_NOT_EXIST")
    assert tracking.client.get_registered_model(name).aliases == {}
    raises_code(lambda: tracking.client.get_model_version_by_alias(name, "doomed"), "INVALID_PARAMETER_VALUE")
    assert _version_from_run(tracking, name, run_id).version == "4"
    ok(_delete(tracking.api("model-versions/delete"), {"name": name, "version": "1"}))
    versions = tracking.client.search_model_versions(f"name = '{name}'")
    assert sorted(int(v.version) for v in versions) == [2, 4]


def test_version_tags(mlflow: ModuleType, tracking: Tracking) -> None:
    name = tracking.new_name("model")
    tracking.client.create_registered_model(name)
    _version_from_run(tracking, name, _run_with_model(mlflow))
    tracking.client.set_model_version_tag(name, "1", "a", "1")
    tracking.client.set_model_version_tag(name, "1", "b", "2")
    tracking.client.set_model_version_tag(name, "1", "a", "3")
    assert tracking.client.get_model_version(name, "1").tags == {"a": "3", "b": "2"}
    tracking.client.delete_model_version_tag(name, "1", "a")
    assert tracking.client.get_model_version(name, "1").tags == {"b": "2"}


def test_transition_stage_and_latest_versions(mlflow: ModuleType, tracking: Tracking) -> None:
    name = tracking.new_name("model")
    tracking.client.create_registered_model(name)
    run_id = _run_with_model(mlflow)
    for _ in range(4):
        _version_from_run(tracking, name, run_id)
    c = tracking.client
    assert c.transition_model_version_stage(name, "1", "production").current_stage == "Production"
    assert c.transition_model_version_stage(name, "2", "Staging").current_stage == "Staging"
    moved = c.transition_model_version_stage(name, "3", "Production", archive_existing_versions=True)
    assert moved.current_stage == "Production"
    assert c.get_model_version(name, "1").current_stage == "Archived"
    assert c.get_model_version(name, "2").current_stage == "Staging"  # another stage is left alone
    latest = {v.current_stage: v.version for v in c.get_latest_versions(name)}
    assert latest == {"None": "4", "Staging": "2", "Production": "3", "Archived": "1"}
    assert [v.version for v in c.get_latest_versions(name, stages=["Production"])] == ["3"]
    assert sorted(v.version for v in c.get_latest_versions(name, stages=["staging", "none"])) == ["2", "4"]
    model_latest = {v.current_stage: v.version for v in c.get_registered_model(name).latest_versions}
    assert model_latest == latest
    # The GET spelling of get-latest-versions answers the same.
    raw = ok(
        get(tracking.api("registered-models/get-latest-versions"), {"name": name, "stages": "Production"})
    )
    assert [v["version"] for v in raw["model_versions"]] == ["3"]
    # The reserved alias "latest" names the highest version, whatever its stage.
    raw = ok(get(tracking.api("registered-models/alias"), {"name": name, "alias": "latest"}))
    assert raw["model_version"]["version"] == "4"


def test_bad_stage_is_400(mlflow: ModuleType, tracking: Tracking) -> None:
    name = tracking.new_name("model")
    tracking.client.create_registered_model(name)
    _version_from_run(tracking, name, _run_with_model(mlflow))
    body = {"name": name, "version": "1", "stage": "Heaven", "archive_existing_versions": False}
    assert_error(post(tracking.api("model-versions/transition-stage"), body), 400, "INVALID_PARAMETER_VALUE")
    body = {"name": name, "version": "1", "stage": "Archived", "archive_existing_versions": True}
    assert_error(post(tracking.api("model-versions/transition-stage"), body), 400, "INVALID_PARAMETER_VALUE")
    assert_error(
        post(tracking.api("registered-models/get-latest-versions"), {"name": name, "stages": ["Heaven"]}),
        400,
        "INVALID_PARAMETER_VALUE",
    )
    assert tracking.client.get_model_version(name, "1").current_stage == "None"


def test_search_model_versions(mlflow: ModuleType, tracking: Tracking) -> None:
    name, other = tracking.new_name("model"), tracking.new_name("other")
    c = tracking.client
    c.create_registered_model(name)
    c.create_registered_model(other)
    run_a, run_b = _run_with_model(mlflow), _run_with_model(mlflow)
    for run_id in (run_a, run_b, run_a):
        _version_from_run(tracking, name, run_id)
    _version_from_run(tracking, other, run_b)
    c.set_model_version_tag(name, "2", "quality", "high")
    by_name = c.search_model_versions(f"name = '{name}'")
    assert [v.version for v in by_name] == ["3", "2", "1"]  # newest update first, then version DESC
    assert sorted((v.name, v.version) for v in c.search_model_versions(f"run_id = '{run_b}'")) == [
        (name, "2"),
        (other, "1"),
    ]
    both = c.search_model_versions(f"run_id IN ('{run_a}', '{run_b}') AND name = '{name}'")
    assert sorted(v.version for v in both) == ["1", "2", "3"]
    assert [
        v.version
        for v in c.search_model_versions(
            f"name = '{name}' AND version_number > 1", order_by=["version_number ASC"]
        )
    ] == ["2", "3"]
    assert [v.version for v in c.search_model_versions(f"name = '{name}' AND tags.quality = 'high'")] == ["2"]
    without = c.search_model_versions(
        f"name = '{name}' AND tags.quality != 'high'", order_by=["version_number ASC"]
    )
    assert [v.version for v in without] == ["1", "3"]
    run = c.get_run(run_a)
    source_hits = c.search_model_versions(f"name = '{name}' AND source_path = 'runs:/{run_a}/model'")
    assert sorted(v.version for v in source_hits) == ["1", "3"] and run.info.run_id == run_a
    ordered = c.search_model_versions(
        f"name IN ('{name}', '{other}')", order_by=["name ASC", "version_number DESC"]
    )
    assert [(v.name, v.version) for v in ordered] == sorted(
        [(name, "3"), (name, "2"), (name, "1"), (other, "1")], key=lambda p: (p[0], -int(p[1]))
    )
    # Paging through the versions of one model, two at a time.
    url = tracking.api("model-versions/search")
    seen, token = [], None
    for _ in range(5):
        params: dict[str, Any] = {
            "filter": f"name = '{name}'",
            "max_results": 2,
            "order_by": "version_number ASC",
        }
        if token:
            params["page_token"] = token
        page = ok(get(url, params))
        seen += [v["version"] for v in page.get("model_versions", [])]
        token = page.get("next_page_token")
        if not token:
            break
    assert seen == ["1", "2", "3"]
    assert ok(get(url, {"filter": "name = 'no-such-model-anywhere'"})) == {}
    assert_error(get(url, {"max_results": 200_001}), 400, "INVALID_PARAMETER_VALUE")
    assert_error(get(url, {"filter": "current_stage = 'None'"}), 400, "INVALID_PARAMETER_VALUE")
    assert_error(get(url, {"filter": "source_path IN ('a')"}), 400, "INVALID_PARAMETER_VALUE")


# -- aliases and downloads -------------------------------------------------------------------------


def test_aliases_and_download_by_alias(mlflow: ModuleType, tracking: Tracking, tmp_path: Path) -> None:
    name = tracking.new_name("model")
    c = tracking.client
    c.create_registered_model(name)
    run_id = _run_with_model(mlflow)
    _version_from_run(tracking, name, run_id)
    _version_from_run(tracking, name, run_id)
    c.set_registered_model_alias(name, "champion", "1")
    c.set_registered_model_alias(name, "challenger", "2")
    assert c.get_model_version_by_alias(name, "champion").version == "1"
    assert c.get_registered_model(name).aliases == {"champion": "1", "challenger": "2"}
    c.set_registered_model_alias(name, "champion", "2")  # moving an alias
    assert c.get_model_version_by_alias(name, "champion").aliases == ["challenger", "champion"]
    local = mlflow.artifacts.download_artifacts(f"models:/{name}@champion", dst_path=str(tmp_path / "dl"))
    assert (Path(local) / "weights.txt").read_text() == "weights"
    assert (Path(local) / "MLmodel").exists()
    c.delete_registered_model_alias(name, "challenger")
    assert c.get_registered_model(name).aliases == {"champion": "2"}
    exc = raises_code(lambda: c.get_model_version_by_alias(name, "challenger"), "INVALID_PARAMETER_VALUE")
    assert "challenger" in exc.message
    resp = get(tracking.api("registered-models/alias"), {"name": name, "alias": "nope"})
    assert_error(resp, 400, "INVALID_PARAMETER_VALUE")
    assert resp.json()["message"] == "Registered model alias nope not found."
    ok(_delete(tracking.api("registered-models/alias"), {"name": name, "alias": "champion"}))
    assert c.get_registered_model(name).aliases == {}


def test_alias_rules(mlflow: ModuleType, tracking: Tracking) -> None:
    name = tracking.new_name("model")
    tracking.client.create_registered_model(name)
    _version_from_run(tracking, name, _run_with_model(mlflow))
    url = tracking.api("registered-models/alias")
    for bad in ("latest", "Latest", "v1", "has space", "a" * 256):
        assert_error(post(url, {"name": name, "alias": bad, "version": "1"}), 400, "INVALID_PARAMETER_VALUE")
    # The version must exist.
    assert_error(post(url, {"name": name, "alias": "x", "version": "9"}), 404, "RESOURCE_DOES_NOT_EXIST")
    assert_error(
        post(url, {"name": "no-such-model-xyz", "alias": "x", "version": "1"}), 404, "RESOURCE_DOES_NOT_EXIST"
    )


def test_model_version_get_artifact_for_the_ui(mlflow: ModuleType, tracking: Tracking) -> None:
    name = tracking.new_name("model")
    tracking.client.create_registered_model(name)
    _version_from_run(tracking, name, _run_with_model(mlflow))
    url = f"{tracking.url}/model-versions/get-artifact"
    resp = requests.get(url, params={"name": name, "version": "1", "path": "weights.txt"}, timeout=60)
    assert resp.status_code == 200 and resp.content == b"weights"
    missing = requests.get(url, params={"name": name, "version": "1", "path": "nope.txt"}, timeout=60)
    assert missing.status_code == 404
    escape = requests.get(
        url, params={"name": name, "version": "1", "path": "../../../etc/passwd"}, timeout=60
    )
    assert escape.status_code == 400


def test_version_from_logged_model(mlflow: ModuleType, tracking: Tracking) -> None:
    if not is_mlflow3():
        pytest.skip("logged models are an MLflow 3 feature")
    with mlflow.start_run() as run:
        model = mlflow.initialize_logged_model(name="model", source_run_id=run.info.run_id)
    name = tracking.new_name("model")
    tracking.client.create_registered_model(name)
    body = ok(
        post(
            tracking.api("model-versions/create"),
            {"name": name, "source": f"models:/{model.model_id}", "model_id": model.model_id},
        )
    )["model_version"]
    assert body["run_id"] == run.info.run_id
    assert body["model_id"] == model.model_id
    assert body["status"] == "READY"
    uri = ok(get(tracking.api("model-versions/get-download-uri"), {"name": name, "version": "1"}))[
        "artifact_uri"
    ]
    assert uri == model.artifact_location


# -- errors --------------------------------------------------------------------------------------


def test_unknown_model_and_version_are_404(mlflow: ModuleType, tracking: Tracking) -> None:
    c = tracking.client
    missing = tracking.new_name("missing")
    raises_code(lambda: c.get_registered_model(missing), "RESOURCE_DOES_NOT_EXIST")
    raises_code(lambda: c.update_registered_model(missing, "d"), "RESOURCE_DOES_NOT_EXIST")
    raises_code(lambda: c.rename_registered_model(missing, missing + "-2"), "RESOURCE_DOES_NOT_EXIST")
    raises_code(lambda: c.get_latest_versions(missing), "RESOURCE_DOES_NOT_EXIST")
    raises_code(lambda: c.create_model_version(missing, "s3://bucket/m"), "RESOURCE_DOES_NOT_EXIST")
    resp = get(tracking.api("registered-models/get"), {"name": missing})
    assert_error(resp, 404, "RESOURCE_DOES_NOT_EXIST")
    assert_error(
        _delete(tracking.api("registered-models/delete"), {"name": missing}), 404, "RESOURCE_DOES_NOT_EXIST"
    )
    name = tracking.new_name("model")
    c.create_registered_model(name)
    raises_code(lambda: c.get_model_version(name, "7"), "RESOURCE_DOES_NOT_EXIST")
    raises_code(lambda: c.update_model_version(name, "7", "d"), "RESOURCE_DOES_NOT_EXIST")
    raises_code(lambda: c.transition_model_version_stage(name, "7", "Staging"), "RESOURCE_DOES_NOT_EXIST")
    raises_code(lambda: c.get_model_version_download_uri(name, "7"), "RESOURCE_DOES_NOT_EXIST")
    raises_code(lambda: c.set_model_version_tag(name, "7", "k", "v"), "RESOURCE_DOES_NOT_EXIST")
    assert_error(
        _delete(tracking.api("model-versions/delete"), {"name": name, "version": "7"}),
        404,
        "RESOURCE_DOES_NOT_EXIST",
    )
    assert_error(
        get(tracking.api("model-versions/get"), {"name": name, "version": "x"}),
        400,
        "INVALID_PARAMETER_VALUE",
    )


def test_invalid_input_is_400(tracking: Tracking) -> None:
    create = tracking.api("registered-models/create")
    assert_error(post(create, {}), 400, "INVALID_PARAMETER_VALUE")
    assert_error(post(create, {"name": ""}), 400, "INVALID_PARAMETER_VALUE")
    assert_error(post(create, {"name": "a/b"}), 400, "INVALID_PARAMETER_VALUE")
    assert_error(post(create, {"name": "a:b"}), 400, "INVALID_PARAMETER_VALUE")
    name = tracking.new_name("model")
    ok(post(create, {"name": name}))
    versions = tracking.api("model-versions/create")
    assert_error(post(versions, {"name": name}), 400, "INVALID_PARAMETER_VALUE")
    assert_error(post(versions, {"name": name, "source": "runs:/abc/../../x", "run_id": "abc"}), 400)
    assert_error(post(versions, {"name": name, "source": "runs:/aaaa/model", "run_id": "bbbb"}), 400)
    assert_error(
        _patch(tracking.api("registered-models/update"), {"description": "x"}), 400, "INVALID_PARAMETER_VALUE"
    )
    body = json.dumps({"name": name})
    resp = requests.post(create, data=body, timeout=60)  # no Content-Type
    assert_error(resp, 400, "INVALID_PARAMETER_VALUE")
