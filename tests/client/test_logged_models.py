"""MLflow 3 logged models through the stock 3.x client: lifecycle, tags, params, metrics, search, log_model and autolog."""

from __future__ import annotations

import re
from types import ModuleType

import pytest
from harness.api import assert_error, get, is_mlflow3, ok, post, raises_code
from harness.plugin import Tracking

if not is_mlflow3():
    pytest.skip("logged models are an MLflow 3 API; the 2.x client has none", allow_module_level=True)

import requests  # noqa: E402
from mlflow.entities import LoggedModelStatus, Metric  # noqa: E402

MODEL_ID = re.compile(r"^m-[0-9a-f]{32}$")


def _patch(url: str, body: dict) -> requests.Response:
    return requests.patch(url, json=body, timeout=60)


def _delete(url: str, body: dict | None = None) -> requests.Response:
    return requests.delete(url, json=body, timeout=60)


def _experiment(tracking: Tracking) -> str:
    return tracking.client.create_experiment(tracking.new_name())


# -- lifecycle ------------------------------------------------------------------------------------------


def test_create_get_finalize(tracking: Tracking) -> None:
    exp_id = _experiment(tracking)
    run_id = tracking.client.create_run(exp_id).info.run_id
    created = tracking.client.create_logged_model(
        exp_id,
        name="classifier",
        source_run_id=run_id,
        tags={"team": "ml"},
        params={"alpha": "0.5", "depth": "3"},
        model_type="sklearn",
    )
    assert MODEL_ID.match(created.model_id)
    assert created.experiment_id == exp_id
    assert created.name == "classifier"
    assert created.status == LoggedModelStatus.PENDING
    assert created.artifact_location == f"mlflow-artifacts:/{exp_id}/models/{created.model_id}/artifacts"
    assert created.source_run_id == run_id
    assert created.model_type == "sklearn"
    assert created.tags == {"team": "ml"}
    assert created.params == {"alpha": "0.5", "depth": "3"}
    assert created.creation_timestamp == created.last_updated_timestamp > 0

    fetched = tracking.client.get_logged_model(created.model_id)
    assert fetched.model_id == created.model_id
    assert fetched.params == created.params
    assert fetched.tags == created.tags
    assert fetched.status == LoggedModelStatus.PENDING

    ready = tracking.client.finalize_logged_model(created.model_id, LoggedModelStatus.READY)
    assert ready.status == LoggedModelStatus.READY
    assert ready.last_updated_timestamp >= created.creation_timestamp
    failed = tracking.client.finalize_logged_model(created.model_id, "FAILED")
    assert failed.status == LoggedModelStatus.FAILED
    assert tracking.client.get_logged_model(created.model_id).status == LoggedModelStatus.FAILED


def test_initialize_logged_model_fluent(mlflow: ModuleType, tracking: Tracking) -> None:
    model = mlflow.initialize_logged_model(name="fluent-model", params={"lr": "0.1"}, tags={"k": "v"})
    assert model.experiment_id == tracking.experiment_id
    assert model.status == LoggedModelStatus.PENDING
    assert mlflow.get_logged_model(model.model_id).params == {"lr": "0.1"}
    unnamed = mlflow.initialize_logged_model()
    assert unnamed.name, "the server names a model created without a name"


def test_tags_and_params(tracking: Tracking) -> None:
    exp_id = _experiment(tracking)
    model = tracking.client.create_logged_model(exp_id, name="tagged")
    tracking.client.set_logged_model_tags(model.model_id, {"a": "1", "b": "2", "mlflow.note": "x"})
    tracking.client.set_logged_model_tags(model.model_id, {"a": "10"})
    assert tracking.client.get_logged_model(model.model_id).tags == {"a": "10", "b": "2", "mlflow.note": "x"}
    tracking.client.delete_logged_model_tag(model.model_id, "b")
    tracking.client.delete_logged_model_tag(model.model_id, "mlflow.note")
    assert tracking.client.get_logged_model(model.model_id).tags == {"a": "10"}
    raises_code(
        lambda: tracking.client.delete_logged_model_tag(model.model_id, "b"), "RESOURCE_DOES_NOT_EXIST"
    )

    tracking.client.log_model_params(model.model_id, {"p1": "x", "p2": "y"})
    tracking.client.log_model_params(model.model_id, {"p1": "x"})  # the same value again is a no-op
    assert tracking.client.get_logged_model(model.model_id).params == {"p1": "x", "p2": "y"}
    raises_code(
        lambda: tracking.client.log_model_params(model.model_id, {"p1": "z"}), "INVALID_PARAMETER_VALUE"
    )


def test_many_params_are_sent_in_batches(tracking: Tracking) -> None:
    exp_id = _experiment(tracking)
    params = {f"p{i:03d}": str(i) for i in range(250)}
    model = tracking.client.create_logged_model(exp_id, name="wide", params=params)
    assert tracking.client.get_logged_model(model.model_id).params == params


def test_delete(tracking: Tracking) -> None:
    exp_id = _experiment(tracking)
    model = tracking.client.create_logged_model(exp_id, name="doomed")
    tracking.client.delete_logged_model(model.model_id)
    raises_code(lambda: tracking.client.get_logged_model(model.model_id), "RESOURCE_DOES_NOT_EXIST")
    # The client can still read it explicitly, as the reference allows.
    body = ok(get(tracking.api(f"logged-models/{model.model_id}"), {"allow_deleted": "true"}))
    assert body["model"]["info"]["model_id"] == model.model_id
    assert tracking.client.search_logged_models([exp_id]) == []
    raises_code(lambda: tracking.client.delete_logged_model(model.model_id), "RESOURCE_DOES_NOT_EXIST")


# -- wire shape and errors -------------------------------------------------------------------------------


def test_wire_shape(tracking: Tracking) -> None:
    exp_id = _experiment(tracking)
    body = ok(post(tracking.api("logged-models"), {"experiment_id": exp_id, "name": "wire"}))
    info = body["model"]["info"]
    assert set(info) == {
        "model_id",
        "experiment_id",
        "name",
        "creation_timestamp_ms",
        "last_updated_timestamp_ms",
        "artifact_uri",
        "status",
    }, "unset fields and empty lists are omitted"
    assert isinstance(info["creation_timestamp_ms"], int), "int64 goes out as a JSON number"
    assert info["experiment_id"] == exp_id
    assert info["status"] == "LOGGED_MODEL_PENDING"
    assert body["model"]["data"] == {}
    model_id = info["model_id"]

    # Proto JSON may carry the enum as a number.
    done = ok(_patch(tracking.api(f"logged-models/{model_id}"), {"model_id": model_id, "status": 2}))
    assert done["model"]["info"]["status"] == "LOGGED_MODEL_READY"
    assert (
        ok(_patch(tracking.api(f"logged-models/{model_id}/tags"), {"tags": [{"key": "k", "value": "v"}]}))
        == {}
    )
    assert (
        ok(post(tracking.api(f"logged-models/{model_id}/params"), {"model_id": model_id, "params": []})) == {}
    )
    assert ok(_delete(tracking.api(f"logged-models/{model_id}/tags/k"))) == {}
    assert ok(_delete(tracking.api(f"logged-models/{model_id}"), {"model_id": model_id})) == {}


def test_errors(tracking: Tracking) -> None:
    exp_id = _experiment(tracking)
    missing = "m-" + "0" * 32
    assert_error(get(tracking.api(f"logged-models/{missing}")), 404, "RESOURCE_DOES_NOT_EXIST")
    assert_error(
        _patch(
            tracking.api(f"logged-models/{missing}"), {"model_id": missing, "status": "LOGGED_MODEL_READY"}
        ),
        404,
        "RESOURCE_DOES_NOT_EXIST",
    )
    assert_error(
        _patch(tracking.api(f"logged-models/{missing}/tags"), {"tags": []}), 404, "RESOURCE_DOES_NOT_EXIST"
    )
    assert_error(
        post(tracking.api("logged-models"), {"experiment_id": "999999"}), 404, "RESOURCE_DOES_NOT_EXIST"
    )
    assert_error(
        post(tracking.api("logged-models"), {"name": "no-experiment"}), 400, "INVALID_PARAMETER_VALUE"
    )
    assert_error(
        post(tracking.api("logged-models"), {"experiment_id": exp_id, "name": "bad/name"}),
        400,
        "INVALID_PARAMETER_VALUE",
    )

    model_id = ok(post(tracking.api("logged-models"), {"experiment_id": exp_id}))["model"]["info"]["model_id"]
    for status in ("READY", "LOGGED_MODEL_PENDING", 7, None):
        body = {"model_id": model_id} if status is None else {"model_id": model_id, "status": status}
        assert_error(_patch(tracking.api(f"logged-models/{model_id}"), body), 400, "INVALID_PARAMETER_VALUE")

    search = tracking.api("logged-models/search")
    assert_error(
        post(search, {"experiment_ids": [exp_id], "filter": "metrics.x >>> 1"}),
        400,
        "INVALID_PARAMETER_VALUE",
    )
    assert_error(post(search, {"experiment_ids": [exp_id], "filter": "name = 'a' OR name = 'b'"}), 400)
    assert_error(
        post(search, {"experiment_ids": [exp_id], "filter": "foo.bar = 'x'"}), 400, "INVALID_PARAMETER_VALUE"
    )
    assert_error(post(search, {"experiment_ids": [exp_id], "filter": "metrics.loss < 'x'"}), 400)
    for order in (["name DESC"], [{"field_name": "params.alpha"}], [{"field_name": "nonsense"}]):
        assert_error(
            post(search, {"experiment_ids": [exp_id], "order_by": order}), 400, "INVALID_PARAMETER_VALUE"
        )
    assert_error(
        post(search, {"experiment_ids": [exp_id], "page_token": "garbage"}), 400, "INVALID_PARAMETER_VALUE"
    )
    assert_error(post(search, {"experiment_ids": [exp_id], "datasets": [{"dataset_digest": "d"}]}), 400)

    tracking.client.delete_experiment(exp_id)
    assert_error(
        post(tracking.api("logged-models"), {"experiment_id": exp_id}), 400, "INVALID_PARAMETER_VALUE"
    )


# -- metrics -----------------------------------------------------------------------------------------------


def test_log_metric_with_model_id(mlflow: ModuleType, tracking: Tracking) -> None:
    import pandas as pd

    dataset = mlflow.data.from_pandas(
        pd.DataFrame({"x": [1.0, 2.0], "y": [0, 1]}), name="eval-set", targets="y"
    )
    with mlflow.start_run() as run:
        model = mlflow.initialize_logged_model(name="scored")
        mlflow.log_metric("accuracy", 0.5, step=0, model_id=model.model_id, dataset=dataset)
        mlflow.log_metric("accuracy", 0.75, step=1, model_id=model.model_id, dataset=dataset)
        mlflow.log_metric("loss", float("nan"), model_id=model.model_id)
        mlflow.log_metric("plain", 1.0)
    run_id = run.info.run_id

    got = tracking.client.get_logged_model(model.model_id)
    by_key: dict[str, list] = {}
    for m in got.metrics:
        by_key.setdefault(m.key, []).append(m)
    assert sorted(by_key) == ["accuracy", "loss"], "only metrics logged with the model's id belong to it"
    accuracy = sorted(by_key["accuracy"], key=lambda m: m.step)
    assert [(m.step, m.value) for m in accuracy] == [(0, 0.5), (1, 0.75)]
    for m in accuracy:
        assert m.model_id == model.model_id
        assert m.run_id == run_id
        assert m.dataset_name == "eval-set"
        assert m.dataset_digest == dataset.digest
    (loss,) = by_key["loss"]
    assert loss.value != loss.value and loss.dataset_name is None

    fetched = tracking.client.get_run(run_id)
    assert fetched.data.metrics == {
        "accuracy": 0.75,
        "loss": pytest.approx(float("nan"), nan_ok=True),
        "plain": 1.0,
    }
    assert [m.model_id for m in fetched.inputs.model_inputs] == [model.model_id]
    assert len(tracking.client.get_metric_history(run_id, "accuracy")) == 2


def test_relogged_model_metrics_are_deduplicated(tracking: Tracking) -> None:
    exp_id = _experiment(tracking)
    run_id = tracking.client.create_run(exp_id).info.run_id
    model = tracking.client.create_logged_model(exp_id, name="dedup", source_run_id=run_id)
    points = [Metric("loss", 1.0 / (i + 1), 1_700_000_000_000 + i, i) for i in range(3)]
    tracking.client.log_batch(run_id, metrics=points)
    # What log_model does: the run's points again, now carrying the model's id.
    again = [Metric(p.key, p.value, p.timestamp, p.step, model_id=model.model_id) for p in points]
    tracking.client.log_batch(run_id, metrics=again)
    tracking.client.log_batch(run_id, metrics=again)
    assert len(tracking.client.get_metric_history(run_id, "loss")) == 3
    assert sorted(m.step for m in tracking.client.get_logged_model(model.model_id).metrics) == [0, 1, 2]


def test_metric_for_unknown_model_is_rejected(tracking: Tracking) -> None:
    exp_id = _experiment(tracking)
    run_id = tracking.client.create_run(exp_id).info.run_id
    body = {
        "run_id": run_id,
        "metrics": [{"key": "m", "value": 1.0, "timestamp": 1, "step": 0, "model_id": "m-" + "f" * 32}],
    }
    assert_error(post(tracking.api("runs/log-batch"), body), 404, "RESOURCE_DOES_NOT_EXIST")
    assert tracking.client.get_run(run_id).data.metrics == {}, "the batch is all or nothing"


# -- search ------------------------------------------------------------------------------------------------


def _scored_models(tracking: Tracking, exp_id: str) -> dict[str, str]:
    """Four models: name -> model_id, with params, tags, a loss metric (one without) and statuses."""
    run_id = tracking.client.create_run(exp_id).info.run_id
    losses = {"alpha": 0.3, "beta": 0.1, "gamma": 0.7, "delta": None}
    ids = {}
    for i, (name, loss) in enumerate(losses.items()):
        model = tracking.client.create_logged_model(
            exp_id,
            name=name,
            source_run_id=run_id,
            params={"depth": str(i + 1)},
            tags={"group": "even" if i % 2 == 0 else "odd"},
            model_type="clf" if i < 2 else "reg",
        )
        ids[name] = model.model_id
        if loss is not None:
            tracking.client.log_batch(
                run_id,
                metrics=[
                    Metric(
                        "loss",
                        loss,
                        1_700_000_000_000,
                        0,
                        model_id=model.model_id,
                        dataset_name="val",
                        dataset_digest="d1",
                    ),
                    Metric(
                        "loss",
                        1 - loss,
                        1_700_000_000_000,
                        0,
                        model_id=model.model_id,
                        dataset_name="test",
                        dataset_digest="d2",
                    ),
                ],
            )
    tracking.client.finalize_logged_model(ids["alpha"], LoggedModelStatus.READY)
    tracking.client.finalize_logged_model(ids["beta"], LoggedModelStatus.READY)
    return ids


def _names(models: list) -> list[str]:
    return [m.name for m in models]


def test_search_filters(tracking: Tracking) -> None:
    exp_id = _experiment(tracking)
    ids = _scored_models(tracking, exp_id)
    other = _experiment(tracking)
    tracking.client.create_logged_model(other, name="alpha")

    def names(filter_string: str | None = None, **kwargs) -> set[str]:
        return set(
            _names(tracking.client.search_logged_models([exp_id], filter_string=filter_string, **kwargs))
        )

    assert names() == {"alpha", "beta", "gamma", "delta"}
    assert names("name = 'alpha'") == {"alpha"}
    assert names("name LIKE '%a'") == {"alpha", "beta", "gamma", "delta"}
    assert names("name LIKE 'AL%'") == set(), "LIKE is case-sensitive"
    assert names("name ILIKE 'AL%'") == {"alpha"}
    assert names("attributes.name != 'alpha'") == {"beta", "gamma", "delta"}
    assert names(f"model_id = '{ids['beta']}'") == {"beta"}
    assert names(f"attributes.model_id IN ('{ids['beta']}', '{ids['gamma']}')") == {"beta", "gamma"}
    assert names("model_type = 'reg'") == {"gamma", "delta"}
    assert names("status = 'LOGGED_MODEL_READY'") == {"alpha", "beta"}
    assert names("status = 'READY'") == {"alpha", "beta"}
    assert names("status = '2'") == {"alpha", "beta"}, "the reference's enum-number spelling works too"
    assert names("status != 'LOGGED_MODEL_READY'") == {"gamma", "delta"}
    assert names("params.depth = '3'") == {"gamma"}
    assert names("params.depth IN ('1', '4')") == {"alpha", "delta"}
    assert names("tags.group = 'odd'") == {"beta", "delta"}
    assert names("tags.`group` != 'odd'") == {"alpha", "gamma"}
    assert names("tags.missing != 'x'") == set(), "a tag comparison needs the tag"
    assert names("metrics.loss < 0.5") == {"alpha", "beta", "gamma"}, "any dataset's point may match"
    assert names("metrics.loss < 0.5", datasets=[{"dataset_name": "val"}]) == {"alpha", "beta"}
    assert names("metrics.loss < 0.5", datasets=[{"dataset_name": "test", "dataset_digest": "d2"}]) == {
        "gamma"
    }
    assert (
        names("metrics.loss < 0.5", datasets=[{"dataset_name": "test", "dataset_digest": "other"}]) == set()
    )
    assert names(datasets=[{"dataset_name": "val"}]) == {"alpha", "beta", "gamma"}
    assert names(
        "metrics.loss > 0.2 AND params.depth != '1' AND name != 'zeta'", datasets=[{"dataset_name": "val"}]
    ) == {"gamma"}
    created = tracking.client.get_logged_model(ids["alpha"]).creation_timestamp
    assert "alpha" in names(f"creation_time >= {created}")
    assert names(f"creation_timestamp < {created}") == set()
    assert names("last_updated_timestamp > 0") == {"alpha", "beta", "gamma", "delta"}
    assert set(
        _names(tracking.client.search_logged_models([exp_id, other], filter_string="name = 'alpha'"))
    ) == {"alpha"}
    assert len(tracking.client.search_logged_models([exp_id, other], filter_string="name = 'alpha'")) == 2


def test_search_order_by(tracking: Tracking) -> None:
    exp_id = _experiment(tracking)
    _scored_models(tracking, exp_id)

    def order(*order_by: dict, **kwargs) -> list[str]:
        return _names(tracking.client.search_logged_models([exp_id], order_by=list(order_by), **kwargs))

    # Without an order: newest first.
    assert order() == ["delta", "gamma", "beta", "alpha"]
    assert order({"field_name": "creation_time", "ascending": True}) == ["alpha", "beta", "gamma", "delta"]
    assert order({"field_name": "name", "ascending": True}) == ["alpha", "beta", "delta", "gamma"]
    assert order({"field_name": "name", "ascending": False}) == ["gamma", "delta", "beta", "alpha"]
    # The latest point over every dataset (both were logged at one timestamp, so step and run decide).
    by_val = order({"field_name": "metrics.loss", "ascending": False, "dataset_name": "val"})
    assert by_val == ["gamma", "alpha", "beta", "delta"], "models without the metric come last"
    by_val_asc = order(
        {"field_name": "metrics.loss", "ascending": True, "dataset_name": "val", "dataset_digest": "d1"}
    )
    assert by_val_asc == ["beta", "alpha", "gamma", "delta"]
    by_test = order({"field_name": "metrics.loss", "ascending": True, "dataset_name": "test"})
    assert by_test == ["gamma", "alpha", "beta", "delta"]
    fluent = tracking.client.search_logged_models(
        [exp_id],
        order_by=[
            {"field_name": "model_type", "ascending": True},
            {"field_name": "name", "ascending": False},
        ],
    )
    assert _names(fluent) == ["beta", "alpha", "gamma", "delta"]


def test_search_order_by_metric_fluent(mlflow: ModuleType, tracking: Tracking) -> None:
    with mlflow.start_run():
        for name, loss in (("first", 0.4), ("second", 0.9), ("third", 0.1)):
            model = mlflow.initialize_logged_model(name=name)
            mlflow.log_metric("loss", loss, model_id=model.model_id)
    found = mlflow.search_logged_models(
        experiment_ids=[tracking.experiment_id],
        order_by=[{"field_name": "metrics.loss", "ascending": False}],
        output_format="list",
    )
    assert _names(found) == ["second", "first", "third"]
    frame = mlflow.search_logged_models(filter_string="metrics.loss > 0.2")
    assert sorted(frame["name"]) == ["first", "second"]


def test_search_order_by_metric_with_nan(tracking: Tracking) -> None:
    exp_id = _experiment(tracking)
    run_id = tracking.client.create_run(exp_id).info.run_id
    for name, value in (("high", 0.5), ("nan", float("nan")), ("missing", None), ("low", 0.2)):
        model = tracking.client.create_logged_model(exp_id, name=name)
        if value is not None:
            tracking.client.log_batch(run_id, metrics=[Metric("score", value, 1, 0, model_id=model.model_id)])
    for ascending, expected in (
        (False, ["high", "low", "nan", "missing"]),
        (True, ["low", "high", "nan", "missing"]),
    ):
        found = tracking.client.search_logged_models(
            [exp_id], order_by=[{"field_name": "metrics.score", "ascending": ascending}]
        )
        assert _names(found) == expected, "real values, then NaN, then models without the metric"
    assert set(
        _names(tracking.client.search_logged_models([exp_id], filter_string="metrics.score != 1"))
    ) == {
        "high",
        "low",
        "nan",
    }
    assert set(_names(tracking.client.search_logged_models([exp_id], filter_string="metrics.score > 0"))) == {
        "high",
        "low",
    }


def test_search_pagination(tracking: Tracking) -> None:
    exp_id = _experiment(tracking)
    made = {tracking.client.create_logged_model(exp_id, name=f"page-{i:02d}").model_id for i in range(23)}
    for order_by in (None, [{"field_name": "name", "ascending": True}], [{"field_name": "metrics.none"}]):
        seen: list[str] = []
        token = None
        for _ in range(10):
            page = tracking.client.search_logged_models(
                [exp_id], max_results=5, order_by=order_by, page_token=token
            )
            assert len(page) <= 5
            seen += [m.model_id for m in page]
            token = page.token
            if not token:
                break
        assert len(seen) == len(set(seen)) == 23
        assert set(seen) == made
    by_name = tracking.client.search_logged_models(
        [exp_id], max_results=50, order_by=[{"field_name": "name"}]
    )
    assert _names(by_name) == [f"page-{i:02d}" for i in range(23)]
    assert by_name.token is None
    # Without max_results the server's default page is 50; the fluent API pages through all of them.
    assert len(tracking.client.search_logged_models([exp_id])) == 23

    first = tracking.client.search_logged_models([exp_id], max_results=5)
    body = {
        "experiment_ids": [exp_id],
        "max_results": 5,
        "page_token": first.token,
        "order_by": [{"field_name": "name"}],
    }
    assert_error(post(tracking.api("logged-models/search"), body), 400, "INVALID_PARAMETER_VALUE")


# -- artifacts and the model flavours ------------------------------------------------------------------------


def test_model_artifact_directories(mlflow: ModuleType, tracking: Tracking, tmp_path) -> None:
    model = mlflow.initialize_logged_model(name="files")
    (tmp_path / "sub").mkdir()
    (tmp_path / "MLmodel").write_text("flavors: {}\n")
    (tmp_path / "sub" / "weights.bin").write_bytes(b"\x00" * 10)
    from mlflow.artifacts import get_artifact_repository

    get_artifact_repository(model.artifact_location).log_artifacts(str(tmp_path))
    url = tracking.api(f"logged-models/{model.model_id}/artifacts/directories")
    top = ok(get(url))
    assert top["root_uri"] == model.artifact_location
    assert {(f["path"], f["is_dir"]) for f in top["files"]} == {("MLmodel", False), ("sub", True)}
    sub = ok(get(url, {"artifact_directory_path": "sub"}))
    assert sub["files"] == [{"path": "sub/weights.bin", "is_dir": False, "file_size": 10}]
    assert "files" not in ok(get(url, {"artifact_directory_path": "nothing"}))
    assert_error(get(url, {"artifact_directory_path": "../x"}), 400, "INVALID_PARAMETER_VALUE")
    assert {f.path for f in tracking.client.list_logged_model_artifacts(model.model_id)} == {"MLmodel", "sub"}


def test_list_run_artifacts_in_subdirectory(mlflow: ModuleType, tracking: Tracking, tmp_path) -> None:
    (tmp_path / "a.txt").write_text("a")
    with mlflow.start_run() as run:
        mlflow.log_artifact(str(tmp_path / "a.txt"), artifact_path="some/dir")
    # The 3.x client also searches logged models named "some" here.
    listed = tracking.client.list_artifacts(run.info.run_id, "some/dir")
    assert [f.path for f in listed] == ["some/dir/a.txt"]
    local = tracking.client.download_artifacts(run.info.run_id, "some", str(tmp_path))
    assert (tmp_path / "some" / "dir" / "a.txt").read_text() == "a" and local


def test_sklearn_log_model_and_load(mlflow: ModuleType, tracking: Tracking) -> None:
    sklearn = pytest.importorskip("sklearn")
    from sklearn.datasets import load_iris
    from sklearn.linear_model import LogisticRegression

    assert sklearn
    x, y = load_iris(return_X_y=True, as_frame=True)
    with mlflow.start_run() as run:
        mlflow.log_param("C", 1.0)
        clf = LogisticRegression(max_iter=300, C=1.0).fit(x, y)
        mlflow.log_metric("train_accuracy", clf.score(x, y))
        info = mlflow.sklearn.log_model(clf, name="model", input_example=x.head(3))
    run_id = run.info.run_id
    assert MODEL_ID.match(info.model_id)
    assert info.model_uri == f"models:/{info.model_id}"

    logged = tracking.client.get_logged_model(info.model_id)
    assert logged.status == LoggedModelStatus.READY
    assert logged.name == "model"
    assert logged.source_run_id == run_id
    assert logged.params == {"C": "1.0"}
    assert [(m.key, m.model_id, m.run_id) for m in logged.metrics] == [
        ("train_accuracy", info.model_id, run_id)
    ]
    assert len(tracking.client.get_metric_history(run_id, "train_accuracy")) == 1, (
        "re-logged copies de-duplicate"
    )
    files = {f.path for f in tracking.client.list_logged_model_artifacts(info.model_id)}
    assert "MLmodel" in files

    fetched = tracking.client.get_run(run_id)
    assert [(o.model_id, o.step) for o in fetched.outputs.model_outputs] == [(info.model_id, 0)]
    found = tracking.client.search_logged_models(
        [tracking.experiment_id], filter_string=f"source_run_id = '{run_id}'"
    )
    assert [m.model_id for m in found] == [info.model_id]

    loaded = mlflow.pyfunc.load_model(info.model_uri)
    assert list(loaded.predict(x.head(5))) == list(clf.predict(x.head(5)))
    reloaded = mlflow.sklearn.load_model(f"runs:/{run_id}/model")
    assert list(reloaded.predict(x.tail(5))) == list(clf.predict(x.tail(5)))


def test_sklearn_autolog(mlflow: ModuleType, tracking: Tracking) -> None:
    pytest.importorskip("sklearn")
    from sklearn.datasets import load_diabetes
    from sklearn.linear_model import Ridge

    x, y = load_diabetes(return_X_y=True, as_frame=True)
    mlflow.sklearn.autolog(log_input_examples=False, silent=True)
    try:
        with mlflow.start_run() as run:
            Ridge(alpha=0.5).fit(x, y)
    finally:
        mlflow.sklearn.autolog(disable=True)
    run_id = run.info.run_id
    fetched = tracking.client.get_run(run_id)
    assert fetched.data.params["alpha"] == "0.5"
    assert "training_score" in fetched.data.metrics
    (output,) = fetched.outputs.model_outputs
    model = tracking.client.get_logged_model(output.model_id)
    assert model.status == LoggedModelStatus.READY
    assert model.source_run_id == run_id
    assert model.params["alpha"] == "0.5"
    training = {m.key: m for m in model.metrics}
    assert "training_score" in training
    point = training["training_score"]
    assert point.model_id == model.model_id
    assert point.run_id == run_id
    assert point.dataset_name == "dataset"
    assert point.dataset_digest == fetched.inputs.dataset_inputs[0].dataset.digest
    loaded = mlflow.pyfunc.load_model(f"models:/{model.model_id}")
    assert len(loaded.predict(x.head(4))) == 4
