"""`tracklight export-mlflow`: a store filled through our server by the stock 3.x client, exported into fresh MLflow
stores made by MLflow 3.x and 2.22 themselves, looks the same through a stock `mlflow server` of that release."""

from __future__ import annotations

import math
import sqlite3
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from harness.api import is_mlflow3
from harness.databases import BackendURI, create_database, drop_database, list_tables, selected_backends
from harness.mlflow_servers import MlflowServer, in_move_matrix, mlflow_bin, mlflow_store_uri
from harness.server import ServerProcess, db_upgrade, run_cli, server_env

if not is_mlflow3():
    pytest.skip("the store is filled with the 3.x client (logged models)", allow_module_level=True)

import mlflow  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
from mlflow import MlflowClient  # noqa: E402
from mlflow.entities import LoggedModelStatus, Metric, ViewType  # noqa: E402

sklearn = pytest.importorskip("sklearn")
from sklearn.datasets import load_iris  # noqa: E402
from sklearn.linear_model import LogisticRegression  # noqa: E402

MODEL = "iris-export"
MAX_DOUBLE = 1.7976931348623157e308
HISTORY_POINTS = 2500  # more than one batch of the exporter


# -- the MLflow side: a fresh store made by the release itself ------------------------------------------------------


def create_mlflow_store(release: str, uri: str) -> None:
    """The empty store the README tells users to make: `mlflow db upgrade URI` (3.x); 2.x's `db upgrade` cannot
    start from an empty database, so there any command that opens the store creates it."""
    env = server_env({"MLFLOW_TRACKING_URI": mlflow_store_uri(uri)})
    if release == "3":
        cmd = [str(mlflow_bin(release)), "db", "upgrade", mlflow_store_uri(uri)]
    else:
        cmd = [str(mlflow_bin(release)), "experiments", "search"]
    done = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=300, check=False)
    assert done.returncode == 0, f"{cmd} exited {done.returncode}:\n{done.stderr[-3000:]}"


def export(source: str, target: str, *extra: str) -> subprocess.CompletedProcess[str]:
    return run_cli(["export-mlflow", target, "--backend-store-uri", source, *extra], timeout=600)


# -- the Tracklight side: a store with a bit of everything ---------------------------------------------------------


@dataclass
class Source:
    db: BackendURI
    server: ServerProcess
    artifacts: Path
    model_input: Any  # an iris frame to predict on
    predictions: Any


def _populate(url: str) -> tuple[Any, Any]:
    mlflow.set_tracking_uri(url)
    client = MlflowClient(url, url)
    exp = client.create_experiment("export-a", tags={"team": "vision", "note": "ünïcode ✓"})
    mlflow.set_experiment(experiment_id=exp)
    x, y = load_iris(return_X_y=True, as_frame=True)
    frame = pd.DataFrame({"a": [1, 2, 3], "b": ["x", "y", "z"]})
    dataset = mlflow.data.from_pandas(frame, name="train-set", targets="a")
    with mlflow.start_run(run_name="parent", description="the parent") as parent:
        mlflow.log_params({"lr": 0.1, "layers": "3"})
        mlflow.set_tags({"stage": "dev"})
        for step, value in enumerate([1.0, float("nan"), float("inf"), -float("inf"), 2.5, 0.0]):
            mlflow.log_metric("odd", value, step=step, timestamp=1_700_000_000_000 + step)
        points = [Metric("loss", 1.0 / (i + 1), 1_700_000_000_000 + i, i) for i in range(HISTORY_POINTS)]
        for i in range(0, HISTORY_POINTS, 1000):
            client.log_batch(parent.info.run_id, metrics=points[i : i + 1000])
        mlflow.log_input(dataset, context="training", tags={"split": "train"})
        with mlflow.start_run(run_name="child", nested=True):
            mlflow.log_metric("child_metric", 3.0, step=7)
            mlflow.log_input(dataset, context="eval")
        with mlflow.start_run(run_name="failed-child", nested=True) as failed:
            mlflow.log_param("p", "v")
        client.set_terminated(failed.info.run_id, "FAILED", end_time=1_700_000_100_000)
    with mlflow.start_run(run_name="doomed") as doomed:
        mlflow.log_metric("m", 1.0)
    client.delete_run(doomed.info.run_id)
    with mlflow.start_run(run_name="trainer") as trainer:
        model = LogisticRegression(max_iter=300).fit(x, y)
        info = mlflow.sklearn.log_model(model, name="model", registered_model_name=MODEL, params={"C": "1.0"})
        mlflow.log_metric(
            "accuracy", float(model.score(x, y)), model_id=info.model_id, dataset=dataset, step=1
        )
        mlflow.log_metric("f1", 0.75, model_id=info.model_id)
    client.set_logged_model_tags(info.model_id, {"owner": "me"})
    pending = client.create_logged_model(
        exp, name="pending-one", params={"k": "v"}, tags={"t": "1"}, model_type="agent"
    )
    failed_model = client.create_logged_model(exp, name="failed-one", source_run_id=trainer.info.run_id)
    client.finalize_logged_model(failed_model.model_id, LoggedModelStatus.FAILED)
    del pending
    # The registry: versions 2 and 4 are deleted (their numbers must not come back), stages, descriptions, tags,
    # aliases.
    client.create_model_version(MODEL, info.model_uri, run_id=trainer.info.run_id)
    client.delete_model_version(MODEL, "2")
    client.create_model_version(MODEL, info.model_uri, run_id=trainer.info.run_id, description="third")
    client.create_model_version(MODEL, info.model_uri, run_id=trainer.info.run_id)
    client.delete_model_version(MODEL, "4")  # the highest number: MLflow must not hand it out again either
    client.update_registered_model(MODEL, description="iris classifier")
    client.set_registered_model_tag(MODEL, "domain", "flowers")
    client.set_model_version_tag(MODEL, "3", "validated", "yes")
    client.transition_model_version_stage(MODEL, "3", "Staging")
    client.transition_model_version_stage(MODEL, "1", "Production")
    client.set_registered_model_alias(MODEL, "champion", "1")
    client.set_registered_model_alias(MODEL, "challenger", "3")
    client.create_registered_model("empty-model", tags={"k": "v"}, description="no versions")
    client.create_registered_model("gone-model")
    client.delete_registered_model("gone-model")
    # A deleted experiment, with a run.
    gone = client.create_experiment("export-gone")
    client.create_run(gone, run_name="in-gone", tags={"x": "y"})
    client.delete_experiment(gone)
    client.set_experiment_tag("0", "default-tag", "kept")
    sample = x.head(10)
    return sample, model.predict(sample)


@pytest.fixture(scope="module", params=selected_backends())
def source(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Source]:
    workdir = tmp_path_factory.mktemp(f"export-source-{request.param}")
    db = create_database(request.param, workdir / "db")
    server = None
    try:
        if db.needs_upgrade:
            db_upgrade(db)
        server = ServerProcess(
            db, workdir / "artifacts", workdir / "server.log", name=f"tracklight-{db.backend}"
        )
        server.start(timeout=90)
        sample, predictions = _populate(server.url)
        yield Source(db, server, workdir / "artifacts", sample, predictions)
    finally:
        mlflow.set_tracking_uri(None)
        if server is not None:
            server.stop()
        drop_database(db)


# -- what the stock client sees ------------------------------------------------------------------------------------


def _num(value: float | None) -> Any:
    return "NaN" if isinstance(value, float) and math.isnan(value) else value


def view(url: str, *, logged_models: bool) -> dict[str, Any]:
    """Everything the stock client can read back, as plain data (NaN spelled out so it compares equal)."""
    client = MlflowClient(url, url)
    out: dict[str, Any] = {}
    experiments = client.search_experiments(view_type=ViewType.ALL, max_results=1000)
    out["experiments"] = {
        e.experiment_id: (
            e.name,
            e.artifact_location,
            e.lifecycle_stage,
            e.creation_time,
            e.last_update_time,
            e.tags,
        )
        for e in experiments
    }
    ids = [e.experiment_id for e in experiments]
    found = client.search_runs(ids, run_view_type=ViewType.ALL, max_results=1000)
    runs, histories = {}, {}
    for listed in found:
        run = client.get_run(listed.info.run_id)
        i = run.info
        runs[i.run_id] = {
            "info": (
                i.run_name,
                i.experiment_id,
                i.user_id,
                i.status,
                i.start_time,
                i.end_time,
                i.lifecycle_stage,
            ),
            "artifact_uri": i.artifact_uri,
            "params": run.data.params,
            "tags": run.data.tags,
            "metrics": {k: _num(v) for k, v in run.data.metrics.items()},
            "datasets": sorted(
                (
                    d.dataset.name,
                    d.dataset.digest,
                    d.dataset.source_type,
                    d.dataset.source,
                    d.dataset.schema,
                    d.dataset.profile,
                    sorted((t.key, t.value) for t in d.tags),
                )
                for d in run.inputs.dataset_inputs
            ),
            "listed_the_same": (listed.data.params, listed.data.tags) == (run.data.params, run.data.tags),
        }
        if logged_models:
            runs[i.run_id]["model_inputs"] = sorted(m.model_id for m in run.inputs.model_inputs or [])
            runs[i.run_id]["model_outputs"] = sorted(
                (m.model_id, m.step) for m in run.outputs.model_outputs or []
            )
        for key in run.data.metrics:
            history = client.get_metric_history(i.run_id, key)
            histories[(i.run_id, key)] = sorted((m.step, m.timestamp, str(_num(m.value))) for m in history)
    out["runs"], out["histories"] = runs, histories
    if logged_models:
        models = {}
        for listed in client.search_logged_models(experiment_ids=ids, max_results=100):
            m = client.get_logged_model(listed.model_id)
            models[m.model_id] = {
                "fields": (
                    m.name,
                    m.experiment_id,
                    m.artifact_location,
                    m.creation_timestamp,
                    m.last_updated_timestamp,
                    str(m.status),
                    m.status_message,
                    m.model_type,
                    m.source_run_id,
                ),
                "tags": m.tags,
                "params": m.params,
                "metrics": sorted(
                    (
                        x.key,
                        str(_num(x.value)),
                        x.timestamp,
                        x.step,
                        x.run_id,
                        x.dataset_name,
                        x.dataset_digest,
                    )
                    for x in m.metrics or []
                ),
            }
        out["logged_models"] = models
    out["registered_models"] = {
        r.name: (
            r.creation_timestamp,
            r.last_updated_timestamp,
            r.description,
            r.tags,
            r.aliases,
            sorted((v.version, v.current_stage) for v in r.latest_versions or []),
        )
        for r in client.search_registered_models(max_results=1000)
    }
    out["versions"] = {
        (v.name, v.version): (
            v.creation_timestamp,
            v.last_updated_timestamp,
            v.description,
            v.user_id,
            v.current_stage,
            v.source,
            v.run_id,
            v.run_link,
            v.status,
            v.status_message,
            v.tags,
            sorted(v.aliases),
            v.model_id,
        )
        # get_model_version: MLflow's search leaves aliases out (it fills them only for a single version).
        for v in (
            client.get_model_version(f.name, f.version)
            for f in client.search_model_versions(max_results=1000)
        )
    }
    return out


def _assert_same(ours: dict[str, Any], theirs: dict[str, Any]) -> None:
    for part in ours:
        if isinstance(ours[part], dict):
            assert sorted(map(str, ours[part])) == sorted(map(str, theirs[part])), part
            for key, value in ours[part].items():
                assert theirs[part][key] == value, f"{part}[{key!r}]"
        else:
            assert theirs[part] == ours[part], part


def _assert_rich(ours: dict[str, Any]) -> None:
    """The comparison means something only if the store holds what it was filled with."""
    names = {v[0]: v[2] for v in ours["experiments"].values()}
    assert names["export-gone"] == "deleted" and names["export-a"] == "active"
    runs = {r["info"][0]: r for r in ours["runs"].values()}
    assert runs["doomed"]["info"][-1] == "deleted" and runs["failed-child"]["info"][3] == "FAILED"
    assert runs["child"]["tags"]["mlflow.parentRunId"] in ours["runs"]
    assert runs["parent"]["metrics"]["odd"] == 0.0 and runs["parent"]["datasets"]
    odd = ours["histories"][(next(k for k, r in ours["runs"].items() if r["info"][0] == "parent"), "odd")]
    assert [p[2] for p in odd] == ["1.0", "NaN", str(MAX_DOUBLE), str(-MAX_DOUBLE), "2.5", "0.0"]
    loss = [h for (run, key), h in ours["histories"].items() if key == "loss"][0]
    assert len(loss) == HISTORY_POINTS
    assert ours["registered_models"][MODEL][4] == {"champion": "1", "challenger": "3"}
    assert sorted(v for n, v in ours["versions"] if n == MODEL) == ["1", "3"]


# -- the tests ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("release", ["3", "2"])
def test_export_reads_back_the_same_through_mlflow(
    source: Source, release: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    if not in_move_matrix(release, source.db.backend):
        pytest.skip("MLflow 2.22 on SQLite only (TRACKLIGHT_TEST_FULL_MOVE=1 runs every backend)")
    target = create_database(source.db.backend, tmp_path / "target")
    theirs_server = None
    try:
        create_mlflow_store(release, target)
        # 2.x has no logged models: the export refuses to leave them out unless told it may.
        extra = ["--allow-loss"] if release == "2" else []
        done = export(source.db, target, *extra)
        assert done.returncode == 0, done.stderr
        assert "registered_models: 2" in done.stdout
        if release == "2":
            assert "left out: 3 logged models" in done.stdout
        else:
            assert "left out" not in done.stdout
        theirs_server = MlflowServer(release, target, source.artifacts, tmp_path / "mlflow.log").start()
        ours = view(source.server.url, logged_models=release == "3")
        _assert_rich(ours)
        theirs = view(theirs_server.url, logged_models=release == "3")
        _assert_same(ours, theirs)

        # The registered model loads by alias from MLflow, with the artifacts where our server put them.
        monkeypatch.setenv("MLFLOW_TRACKING_URI", theirs_server.url)
        mlflow.set_tracking_uri(theirs_server.url)
        loaded = mlflow.pyfunc.load_model(f"models:/{MODEL}@champion")
        np.testing.assert_array_equal(loaded.predict(source.model_input), source.predictions)

        # MLflow carries on where we stopped: the deleted version's number is not handed out again, and new
        # experiments do not collide with the exported ids.
        client = MlflowClient(theirs_server.url, theirs_server.url)
        trainer = next(run_id for run_id, run in ours["runs"].items() if run["info"][0] == "trainer")
        source_uri = ours["runs"][trainer]["artifact_uri"] + "/model"
        again = client.create_model_version(MODEL, source_uri, run_id=trainer)
        assert again.version == "5"
        new_id = client.create_experiment("made-by-mlflow")
        assert new_id not in ours["experiments"]
    finally:
        mlflow.set_tracking_uri(None)
        if theirs_server is not None:
            theirs_server.stop()
        drop_database(target)


def test_refuses_a_target_mlflow_already_uses(source: Source, tmp_path: Path) -> None:
    target = create_database(source.db.backend, tmp_path / "target")
    try:
        create_mlflow_store("3", target)
        env = server_env({"MLFLOW_TRACKING_URI": mlflow_store_uri(target)})
        made = subprocess.run(
            [str(mlflow_bin("3")), "experiments", "create", "-n", "theirs"],
            capture_output=True,
            text=True,
            env=env,
            timeout=300,
            check=False,
        )
        assert made.returncode == 0, made.stderr
        done = export(source.db, target)
        assert done.returncode == 2, done.stdout + done.stderr
        assert "not empty" in done.stderr and "1 experiments besides Default" in done.stderr
        listed = subprocess.run(
            [str(mlflow_bin("3")), "experiments", "search", "--view", "all"],
            capture_output=True,
            text=True,
            env=env,
            timeout=300,
            check=False,
        )
        assert "theirs" in listed.stdout and "export-a" not in listed.stdout
    finally:
        drop_database(target)


def test_refuses_a_database_that_is_not_mlflow(source: Source, tmp_path: Path) -> None:
    empty = create_database(source.db.backend, tmp_path / "empty")
    try:
        done = export(source.db, empty)
        assert done.returncode == 2
        assert "empty database" in done.stderr and "mlflow db upgrade" in done.stderr
        assert list_tables(empty) == []
    finally:
        drop_database(empty)
    # Our own schema is not MLflow's, though it has experiments, runs and an alembic_version too.
    done = export(source.db, source.db)
    assert done.returncode == 2
    assert "not an MLflow tracking store" in done.stderr


def test_refuses_to_leave_data_out_unless_allowed(source: Source, tmp_path: Path) -> None:
    target = create_database(source.db.backend, tmp_path / "target")
    try:
        create_mlflow_store("2", target)
        before = list_tables(target)
        done = export(source.db, target)
        assert done.returncode == 2
        assert "3 logged models" in done.stderr and "--allow-loss" in done.stderr
        assert list_tables(target) == before
        assert _experiment_names(target) == ["Default"]
    finally:
        drop_database(target)


def _experiment_names(target: str) -> list[str]:
    """The target's experiments, read with SQL (opening it with MLflow would add its Default experiment)."""
    import sqlalchemy

    engine = sqlalchemy.create_engine(mlflow_store_uri(target))
    try:
        with engine.connect() as conn:
            return sorted(r[0] for r in conn.execute(sqlalchemy.text("SELECT name FROM experiments")))
    finally:
        engine.dispose()


@pytest.mark.parametrize("target_backend", selected_backends())
def test_a_failed_export_leaves_the_target_as_it_was(
    target_backend: str, tmp_path: Path, server_factory: Any
) -> None:
    """MLflow keeps a run's artifact URI in 200 characters; ours may be longer. PostgreSQL and MariaDB refuse such
    a run, part-way through the export (experiments are written by then), and the target is rolled back to the
    empty store it was. SQLite enforces no lengths: there a trigger in the target refuses the same insert."""
    ours = create_database("sqlite", tmp_path / "ours")
    server = server_factory(ours)
    client = MlflowClient(server.url)
    long_location = "mlflow-artifacts:/" + "deep/" * 34
    exp = client.create_experiment("long-paths", artifact_location=long_location)
    client.create_run(exp)
    target = create_database(target_backend, tmp_path / "target")
    try:
        create_mlflow_store("3", target)
        if target_backend == "sqlite":
            with sqlite3.connect(str(target.path)) as conn:
                conn.execute(
                    "CREATE TRIGGER refuse_long_uri BEFORE INSERT ON runs WHEN length(NEW.artifact_uri) > 200 "
                    "BEGIN SELECT RAISE(ABORT, 'artifact_uri longer than 200'); END"
                )
        done = export(ours, target)
        assert done.returncode == 2, done.stdout
        assert "writing runs failed" in done.stderr and "rolled back" in done.stderr
        assert _experiment_names(target) == []
    finally:
        drop_database(target)
