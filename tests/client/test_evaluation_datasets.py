"""MLflow 3 evaluation datasets through the stock client (mlflow.genai.datasets, MlflowClient) and the raw wire."""

from __future__ import annotations

import json
import re
import time
from types import ModuleType

import pytest
from harness.api import assert_error, get, is_mlflow3, ok, post, raises_code
from harness.plugin import Tracking

if not is_mlflow3():
    pytest.skip("evaluation datasets are an MLflow 3 API", allow_module_level=True)

import pandas as pd  # noqa: E402
import requests  # noqa: E402
from mlflow.genai import datasets as gd  # noqa: E402

DATASET_ID = re.compile(r"^d-[0-9a-f]{32}$")
RECORD_ID = re.compile(r"^dr-[0-9a-f]{32}$")


def _experiment(tracking: Tracking) -> str:
    return tracking.client.create_experiment(tracking.new_name())


def _records_url(tracking: Tracking, dataset_id: str) -> str:
    return tracking.api(f"datasets/{dataset_id}/records", "3.0")


def _own_tags(tags: dict[str, str]) -> dict[str, str]:
    """Tags without the mlflow.user tag the client adds from its environment."""
    return {k: v for k, v in tags.items() if k != "mlflow.user"}


def _upsert(tracking: Tracking, dataset_id: str, records: list[dict]) -> dict:
    return ok(post(_records_url(tracking, dataset_id), {"records": json.dumps(records)}))


# -- lifecycle ------------------------------------------------------------------------------------------


def test_create_get_delete(tracking: Tracking) -> None:
    exp_id = _experiment(tracking)
    name = tracking.new_name("ds")
    created = gd.create_dataset(name=name, experiment_id=exp_id, tags={"env": "test", "n": 1})
    assert DATASET_ID.match(created.dataset_id)
    assert created.name == name
    assert created.experiment_ids == [exp_id]
    assert created.tags["env"] == "test"
    assert created.tags["n"] == "1"  # tag values are strings
    assert created.created_time == created.last_update_time > 0
    assert created.schema is None and created.profile is None
    assert created.digest

    by_id = gd.get_dataset(dataset_id=created.dataset_id)
    assert (by_id.name, by_id.tags, by_id.digest) == (name, created.tags, created.digest)
    assert by_id.experiment_ids == [exp_id]
    by_name = gd.get_dataset(name=name)
    assert by_name.dataset_id == created.dataset_id

    gd.delete_dataset(dataset_id=created.dataset_id)
    exc = raises_code(lambda: gd.get_dataset(dataset_id=created.dataset_id), "RESOURCE_DOES_NOT_EXIST")
    assert "not found" in exc.message
    gd.delete_dataset(dataset_id=created.dataset_id)  # deleting again is not an error, as in the reference
    assert_error(get(tracking.api(f"datasets/{created.dataset_id}", "3.0")), 404, "RESOURCE_DOES_NOT_EXIST")


def test_create_records_user_and_default_experiment(mlflow: ModuleType, tracking: Tracking) -> None:
    created = gd.create_dataset(name=tracking.new_name("ds"), tags={"mlflow.user": "ann"})
    assert created.experiment_ids == [tracking.experiment_id]  # the active experiment
    assert created.created_by == "ann" == created.last_updated_by


def test_create_validation(tracking: Tracking) -> None:
    url = tracking.api("datasets/create", "3.0")
    assert_error(post(url, {"experiment_ids": []}), 400, "INVALID_PARAMETER_VALUE")
    assert_error(post(url, {"name": "x", "tags": "{not json"}), 400, "INVALID_PARAMETER_VALUE")
    assert_error(post(url, {"name": "x", "tags": "[1, 2]"}), 400, "INVALID_PARAMETER_VALUE")
    assert_error(post(url, {"name": "x", "experiment_ids": ["abc"]}), 400, "INVALID_PARAMETER_VALUE")
    missing = assert_error(
        post(url, {"name": "x", "experiment_ids": ["987654321"]}), 404, "RESOURCE_DOES_NOT_EXIST"
    )
    assert "987654321" in missing["message"]
    # Only the 3.0 API serves datasets, as in the reference.
    assert_error(post(tracking.api("datasets/create", "2.0"), {"name": "x"}), 404, "ENDPOINT_NOT_FOUND")
    body = ok(post(tracking.ajax("datasets/create", "3.0"), {"name": tracking.new_name("ds")}))
    assert DATASET_ID.match(body["dataset"]["dataset_id"])
    assert json.loads(body["dataset"]["tags"]) == {}


# -- tags -----------------------------------------------------------------------------------------------


def test_tags(tracking: Tracking) -> None:
    ds = gd.create_dataset(name=tracking.new_name("ds"), experiment_id=_experiment(tracking), tags={"a": "1"})
    gd.set_dataset_tags(dataset_id=ds.dataset_id, tags={"a": "2", "b": "x", "gone": None})
    after = gd.get_dataset(dataset_id=ds.dataset_id)
    assert _own_tags(after.tags) == {"a": "2", "b": "x"}  # a None value is skipped, as the reference does
    assert after.digest == ds.digest and after.last_update_time == ds.last_update_time
    gd.delete_dataset_tag(dataset_id=ds.dataset_id, key="b")
    gd.delete_dataset_tag(dataset_id=ds.dataset_id, key="never-set")
    assert _own_tags(gd.get_dataset(dataset_id=ds.dataset_id).tags) == {"a": "2"}

    missing = "d-" + "0" * 32
    raises_code(lambda: gd.set_dataset_tags(dataset_id=missing, tags={"x": "y"}), "RESOURCE_DOES_NOT_EXIST")
    resp = requests.patch(tracking.api(f"datasets/{ds.dataset_id}/tags", "3.0"), json={}, timeout=60)
    assert_error(resp, 400, "INVALID_PARAMETER_VALUE")


# -- records ---------------------------------------------------------------------------------------------


def test_merge_records_and_to_df(tracking: Tracking) -> None:
    ds = gd.create_dataset(name=tracking.new_name("ds"), experiment_id=_experiment(tracking))
    created_digest = ds.digest  # the 3.18 client refreshes ds.digest after a merge; older ones do not
    ds.merge_records(
        [
            {
                "inputs": {"question": "What is MLflow?"},
                "expectations": {"answer": "a platform", "score": 0.8},
                "tags": {"version": "v1"},
                "source": {"source_type": "TRACE", "source_data": {"trace_id": "tr-1"}},
            },
            {"inputs": {"question": "What is Python?"}, "outputs": "a language"},
            # Same inputs as the first: merged into it, not added.
            {
                "inputs": {"question": "What is MLflow?"},
                "expectations": {"answer": "an ML platform", "confidence": 0.9},
                "tags": {"reviewed": "yes"},
            },
        ]
    )
    fetched = gd.get_dataset(dataset_id=ds.dataset_id)
    assert json.loads(fetched.profile) == {"num_records": 2}
    schema = json.loads(fetched.schema)
    assert schema["inputs"] == {"question": "string"}
    assert schema["expectations"] == {"answer": "string", "score": "float", "confidence": "float"}
    assert schema["outputs"] == "string"
    assert fetched.digest != created_digest

    df = fetched.to_df()
    assert len(df) == 2
    assert list(df["inputs"]) == [{"question": "What is MLflow?"}, {"question": "What is Python?"}]
    first = df.iloc[0]
    assert first["expectations"] == {"answer": "an ML platform", "score": 0.8, "confidence": 0.9}
    assert first["tags"]["version"] == "v1" and first["tags"]["reviewed"] == "yes"
    assert first["source_type"] == "TRACE" and first["source_id"] == "tr-1"
    assert first["source"].source_data == {"trace_id": "tr-1"}
    assert df.iloc[1]["outputs"] == "a language"
    assert df.iloc[1]["source_type"] == "CODE"  # the client infers it for records without expectations
    assert all(RECORD_ID.match(i) for i in df["dataset_record_id"])

    # A DataFrame merges the same way: one update (outputs replaced), one insert.
    time.sleep(0.01)
    ds.merge_records(
        pd.DataFrame(
            [
                {"inputs": {"question": "What is Python?"}, "outputs": "a snake", "expectations": {"k": 1}},
                {"inputs": {"question": "What is Docker?"}, "expectations": {"answer": "containers"}},
            ]
        )
    )
    df = gd.get_dataset(dataset_id=ds.dataset_id).to_df()
    assert len(df) == 3
    python = df[df["inputs"] == {"question": "What is Python?"}].iloc[0]
    assert python["outputs"] == "a snake" and python["expectations"] == {"k": 1}
    assert python["created_time"] < df.iloc[2]["created_time"]

    deleted = ds.delete_records([python["dataset_record_id"]])
    assert deleted == 1
    after = gd.get_dataset(dataset_id=ds.dataset_id)
    assert json.loads(after.profile) == {"num_records": 2}
    assert len(after.to_df()) == 2


def test_upsert_counts_and_record_shape(tracking: Tracking) -> None:
    ds = gd.create_dataset(name=tracking.new_name("ds"), experiment_id=_experiment(tracking))
    records = [
        {"inputs": {"q": "a"}, "expectations": {"x": 1}, "tags": {"mlflow.user": "bob"}},
        {"inputs": {"q": "b"}},
        {"inputs": {"q": "a"}, "outputs": None},
    ]
    assert _upsert(tracking, ds.dataset_id, records) == {"inserted_count": 2, "updated_count": 1}
    assert _upsert(tracking, ds.dataset_id, []) == {"inserted_count": 0, "updated_count": 0}
    body = ok(get(_records_url(tracking, ds.dataset_id)))
    assert "next_page_token" not in body
    got = json.loads(body["records"])
    assert [r["inputs"] for r in got] == [{"q": "a"}, {"q": "b"}]
    a, b = got
    assert "outputs" not in a  # replaced by None
    assert b["outputs"] == {}  # a record stored without outputs reads back as {}
    assert a["expectations"] == {"x": 1} and "expectations" not in b
    assert a["created_by"] == "bob" == a["last_updated_by"]
    assert b["tags"] == {} and "source" not in b
    assert a["dataset_id"] == ds.dataset_id and isinstance(a["created_time"], int)
    assert gd.get_dataset(dataset_id=ds.dataset_id).last_updated_by == "bob"


def test_records_paging_in_insertion_order(tracking: Tracking) -> None:
    ds = gd.create_dataset(name=tracking.new_name("ds"), experiment_id=_experiment(tracking))
    _upsert(tracking, ds.dataset_id, [{"inputs": {"id": i}} for i in range(25)])
    seen: list[int] = []
    token = None
    pages = 0
    while True:
        params = {"max_results": 10, **({"page_token": token} if token else {})}
        body = ok(get(_records_url(tracking, ds.dataset_id), params))
        seen += [r["inputs"]["id"] for r in json.loads(body["records"])]
        pages += 1
        token = body.get("next_page_token")
        if not token:
            break
    assert pages == 3
    assert seen == list(range(25))
    assert len(gd.get_dataset(dataset_id=ds.dataset_id).to_df()) == 25

    bad = get(_records_url(tracking, ds.dataset_id), {"page_token": "not a token!"})
    assert_error(bad, 400, "INVALID_PARAMETER_VALUE")
    assert_error(
        get(_records_url(tracking, ds.dataset_id), {"max_results": -1}), 400, "INVALID_PARAMETER_VALUE"
    )


def test_records_errors(tracking: Tracking) -> None:
    ds = gd.create_dataset(name=tracking.new_name("ds"), experiment_id=_experiment(tracking))
    url = _records_url(tracking, ds.dataset_id)
    for body in (
        {},
        {"records": "not json"},
        {"records": json.dumps({"inputs": {}})},
        {"records": json.dumps([1])},
        {"records": json.dumps([{"inputs": "text"}])},
        {"records": json.dumps([{"inputs": {"q": 1}, "expectations": [1]}])},
        {"records": json.dumps([{"inputs": {"q": 1}, "source": {"source_type": "SPACE"}}])},
    ):
        assert_error(post(url, body), 400, "INVALID_PARAMETER_VALUE")
    missing = "d-" + "f" * 32
    assert_error(post(_records_url(tracking, missing), {"records": "[]"}), 404, "RESOURCE_DOES_NOT_EXIST")
    assert_error(get(_records_url(tracking, missing)), 404, "RESOURCE_DOES_NOT_EXIST")
    resp = requests.delete(url, json={"dataset_record_ids": ["dr-nothing"]}, timeout=60)
    assert ok(resp) == {"deleted_count": 0}


# -- search ---------------------------------------------------------------------------------------------


def test_search_filter_order_and_paging(tracking: Tracking) -> None:
    exp1, exp2 = _experiment(tracking), _experiment(tracking)
    prefix = tracking.new_name("s")
    made = []
    for i in range(5):
        made.append(
            gd.create_dataset(
                name=f"{prefix}-{i}",
                experiment_id=[exp1] if i < 3 else [exp2],
                tags={"team": "ml" if i % 2 == 0 else "data", "i": str(i)},
            )
        )
        time.sleep(0.005)
    client = tracking.client

    def names(**kwargs: object) -> list[str]:
        return [d.name for d in client.search_datasets(**kwargs)]

    like = f"name LIKE '{prefix}-%'"
    assert names(filter_string=like, order_by=["name ASC"]) == [f"{prefix}-{i}" for i in range(5)]
    assert names(filter_string=like, order_by=["name DESC"]) == [f"{prefix}-{i}" for i in reversed(range(5))]
    assert names(filter_string=like) == [f"{prefix}-{i}" for i in reversed(range(5))]  # newest first
    assert sorted(names(experiment_ids=[exp1])) == [f"{prefix}-{i}" for i in range(3)]
    assert sorted(names(experiment_ids=[exp1, exp2], filter_string="tags.team = 'ml'")) == [
        f"{prefix}-0",
        f"{prefix}-2",
        f"{prefix}-4",
    ]
    assert names(filter_string=f"{like} AND tags.team != 'ml'", order_by=["name"]) == [
        f"{prefix}-1",
        f"{prefix}-3",
    ]
    after = made[2].created_time
    assert sorted(names(filter_string=f"{like} AND created_time > {after}")) == [f"{prefix}-3", f"{prefix}-4"]
    assert names(filter_string=f"name IN ('{prefix}-1', '{prefix}-4')", order_by=["name"]) == [
        f"{prefix}-1",
        f"{prefix}-4",
    ]
    assert names(filter_string=f'name = "{prefix}-3"') == [f"{prefix}-3"]

    # Paging: max_results per page, tokens chain, nothing repeats or goes missing.
    collected: list[str] = []
    token = None
    for _ in range(5):
        page = client.search_datasets(
            filter_string=like, order_by=["name ASC"], max_results=2, page_token=token
        )
        collected += [d.name for d in page]
        token = page.token
        if not token:
            break
    assert collected == [f"{prefix}-{i}" for i in range(5)]
    # The fluent search pages on its own, through every page.
    assert len(gd.search_datasets(experiment_ids=[exp1, exp2], max_results=4)) == 4
    assert len(gd.search_datasets(experiment_ids=[exp1, exp2])) == 5

    raises_code(
        lambda: client.search_datasets(filter_string="invalid_field = 'x'"), "INVALID_PARAMETER_VALUE"
    )
    raises_code(lambda: client.search_datasets(order_by=["tags.team"]), "INVALID_PARAMETER_VALUE")
    body = ok(get(tracking.api("datasets/search", "3.0"), {"experiment_ids": exp2, "order_by": "name ASC"}))
    assert [d["name"] for d in body["datasets"]] == [f"{prefix}-3", f"{prefix}-4"]
    assert body["datasets"][0]["experiment_ids"] == [exp2]


# -- experiment links -----------------------------------------------------------------------------------


def test_experiment_links(tracking: Tracking) -> None:
    exps = [_experiment(tracking) for _ in range(3)]
    ds = gd.create_dataset(name=tracking.new_name("ds"), experiment_id=[exps[0]])
    before = ds.last_update_time
    time.sleep(0.01)
    added = gd.add_dataset_to_experiments(dataset_id=ds.dataset_id, experiment_ids=exps[1:] + [exps[0]])
    assert sorted(added.experiment_ids) == sorted(exps)
    assert added.last_update_time > before
    removed = gd.remove_dataset_from_experiments(dataset_id=ds.dataset_id, experiment_ids=[exps[1], "424242"])
    assert sorted(removed.experiment_ids) == sorted([exps[0], exps[2]])
    ids = ok(get(tracking.api(f"datasets/{ds.dataset_id}/experiment-ids", "3.0")))
    assert sorted(ids["experiment_ids"]) == sorted([exps[0], exps[2]])
    gd.remove_dataset_from_experiments(dataset_id=ds.dataset_id, experiment_ids=[exps[0], exps[2]])
    assert gd.get_dataset(dataset_id=ds.dataset_id).experiment_ids == []

    exc = raises_code(
        lambda: gd.add_dataset_to_experiments(dataset_id=ds.dataset_id, experiment_ids=["424242"]),
        "RESOURCE_DOES_NOT_EXIST",
    )
    assert "424242" in exc.message
    missing = "d-" + "1" * 32
    for call in (gd.add_dataset_to_experiments, gd.remove_dataset_from_experiments):
        exc = raises_code(
            lambda call=call: call(dataset_id=missing, experiment_ids=[exps[0]]), "RESOURCE_DOES_NOT_EXIST"
        )
        assert "not found" in exc.message


def test_concurrent_upserts_of_the_same_inputs_merge(tracking: Tracking) -> None:
    """Writers racing on the same new inputs queue on the dataset: one insert each, the rest updates."""
    from concurrent.futures import ThreadPoolExecutor

    ds = gd.create_dataset(name=tracking.new_name("ds"), experiment_id=_experiment(tracking))
    writers, inputs = 4, 20

    def write(n: int) -> dict:
        records = [{"inputs": {"i": i}, "tags": {f"writer-{n}": "yes"}} for i in range(inputs)]
        return _upsert(tracking, ds.dataset_id, records)

    with ThreadPoolExecutor(writers) as pool:
        results = list(pool.map(write, range(writers)))
    assert sum(r["inserted_count"] for r in results) == inputs
    assert sum(r["updated_count"] for r in results) == inputs * (writers - 1)
    df = gd.get_dataset(dataset_id=ds.dataset_id).to_df()
    assert len(df) == inputs
    assert all(set(tags) == {f"writer-{n}" for n in range(writers)} for tags in df["tags"])
