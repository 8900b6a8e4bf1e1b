"""`tracklight gc` as a subprocess beside a live server: what goes, what stays, its selection rules and sweeps."""

from __future__ import annotations

import os
import re
import subprocess
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import requests
from harness.databases import BackendURI
from harness.object_stores import BUCKET, ObjectStoreEmulator
from harness.plugin import ServerFactory
from harness.server import ServerProcess, run_cli, server_env, tracklight_bin
from sqlalchemy import Engine, text

from tracklight.artifacts.locations import open_store
from tracklight.artifacts.targets import ArtifactTargets
from tracklight.config import CloudOptions
from tracklight.services.purge import Purge, Selection
from tracklight.store import purge as purge_store
from tracklight.store.engine import open_database

mlflow = pytest.importorskip("mlflow")
numpy = pytest.importorskip("numpy")

from mlflow.entities import LoggedModelInput, LoggedModelOutput  # noqa: E402 - after the importorskip
from mlflow.exceptions import MlflowException  # noqa: E402
from mlflow.genai import datasets as genai_datasets  # noqa: E402

DAY_MS = 86_400_000


@dataclass
class Site:
    """A server on a fresh database, with the artifact destination on local disk or in moto's S3."""

    server: ServerProcess
    uri: BackendURI
    engine: Engine
    destination: str  # what --artifacts-destination names
    env: dict[str, str]
    s3: ObjectStoreEmulator | None = None
    prefix: str = ""
    client: Any = None

    def gc(self, *args: str) -> Any:
        return run_cli(
            ["gc", "--backend-store-uri", str(self.uri), "--artifacts-destination", self.destination, *args],
            env=self.env,
        )

    def stored(self) -> list[str]:
        """Every file and folder (local) or object (S3) under the destination, destination-relative."""
        if self.s3 is not None:
            return [k[len(self.prefix) + 1 :] for k in self.s3.keys(f"{self.prefix}/")]
        root = Path(self.destination)
        return sorted(str(p.relative_to(root)) for p in root.rglob("*"))

    def rows(self, sql: str, **params: Any) -> list[tuple]:
        with self.engine.connect() as conn:
            return [tuple(r) for r in conn.execute(text(sql), params)]

    def execute(self, sql: str, **params: Any) -> None:
        with self.engine.begin() as conn:
            conn.execute(text(sql), params)


def _site(
    backend: BackendURI, server_factory: ServerFactory, tmp_path: Path, s3: ObjectStoreEmulator | None
) -> Site:
    if s3 is None:
        destination, env, prefix = str(tmp_path / "artifacts"), {}, ""
    else:
        prefix = f"gc-{uuid.uuid4().hex[:8]}"
        destination, env = s3.destination(prefix), dict(s3.env)
    server = server_factory(
        backend,
        artifacts_dir=tmp_path / "artifacts",
        extra_args=["--artifacts-destination", destination],
        env=env,
    )
    db = open_database(str(backend))
    site = Site(server, backend, db.engine, destination, env, s3, prefix)
    mlflow.set_tracking_uri(server.url)
    site.client = mlflow.MlflowClient(tracking_uri=server.url)
    return site


@pytest.fixture(params=["local", "s3"])
def site(
    request: pytest.FixtureRequest, backend: BackendURI, server_factory: ServerFactory, tmp_path: Path
) -> Iterator[Site]:
    s3 = request.getfixturevalue("s3_emulator") if request.param == "s3" else None
    made = _site(backend, server_factory, tmp_path, s3)
    yield made
    made.engine.dispose()


@pytest.fixture
def local_site(backend: BackendURI, server_factory: ServerFactory, tmp_path: Path) -> Iterator[Site]:
    made = _site(backend, server_factory, tmp_path, None)
    yield made
    made.engine.dispose()


@dataclass
class Logged:
    """A run with everything a run can hold, and the logged model it produced."""

    run_id: str
    model_id: str
    internal_id: int = 0
    series: list[int] = field(default_factory=list)


def _log_run(site: Site, experiment_id: str, label: str, tmp_path: Path) -> Logged:
    client = site.client
    with mlflow.start_run(experiment_id=experiment_id, run_name=label) as run:
        run_id = run.info.run_id
        mlflow.log_params({"alpha": "0.5", "label": label})
        loss = [mlflow.entities.Metric("loss", 1.0 / (s + 1), 1000 + s, s) for s in range(40)]
        client.log_batch(run_id, metrics=loss)
        mlflow.log_metric("lr", 0.1)
        mlflow.set_tag("stage", label)
        mlflow.log_input(mlflow.data.from_numpy(numpy.arange(3), name=f"data-{label}"), context="training")
        mlflow.log_text(f"notes of {label}", "notes/readme.txt")
        mlflow.log_dict({"label": label}, "config.json")
    model = client.create_logged_model(
        experiment_id, name=f"model-{label}", source_run_id=run_id, params={"p": "1"}
    )
    client.set_logged_model_tags(model.model_id, {"kind": label})
    client.log_outputs(run_id, [LoggedModelOutput(model.model_id, step=0)])
    client.log_inputs(run_id, models=[LoggedModelInput(model.model_id)])
    client.log_batch(run_id, metrics=[mlflow.entities.Metric("acc", 0.9, 1, 0, model_id=model.model_id)])
    folder = tmp_path / f"model-{label}"
    folder.mkdir()
    (folder / "MLmodel").write_text(f"name: {label}\n")
    client.log_model_artifacts(model.model_id, str(folder))
    logged = Logged(run_id, model.model_id)
    ((logged.internal_id,),) = site.rows("SELECT id FROM runs WHERE run_uuid = :u", u=run_id)
    logged.series = [
        r[0] for r in site.rows("SELECT id FROM metric_series WHERE run_id = :i", i=logged.internal_id)
    ]
    return logged


@dataclass
class World:
    kept_experiment: str
    gone_experiment: str
    kept: Logged  # active run in an active experiment
    deleted: Logged  # deleted run; its logged model stays active
    cascaded: Logged  # active run in a deleted experiment: goes with it, as in MLflow
    lone_model: str  # deleted logged model of the kept experiment
    model_name: str  # a registered model whose version comes from the deleted run
    evaluation_dataset: str  # linked to both experiments: outlives the deleted one
    kept_issue: str = ""  # found by the deleted run: outlives it, without the link


def _populate(site: Site, tmp_path: Path) -> World:
    client = site.client
    kept_exp = client.create_experiment(f"keep-{uuid.uuid4().hex[:8]}")
    gone_exp = client.create_experiment(f"gone-{uuid.uuid4().hex[:8]}")
    client.set_experiment_tag(gone_exp, "team", "x")
    kept = _log_run(site, kept_exp, "kept", tmp_path)
    deleted = _log_run(site, kept_exp, "deleted", tmp_path)
    cascaded = _log_run(site, gone_exp, "cascaded", tmp_path)
    lone = client.create_logged_model(kept_exp, name="lone", params={"q": "2"})
    evaluation = genai_datasets.create_dataset(
        name=f"eval-{uuid.uuid4().hex[:8]}", experiment_id=[gone_exp, kept_exp]
    )
    name = f"reg-{uuid.uuid4().hex[:8]}"
    client.create_registered_model(name)
    client.create_model_version(name, f"runs:/{deleted.run_id}/model", run_id=deleted.run_id)
    # A grant on the doomed experiment: its id can be handed out again once it is gone.
    site.execute(
        "INSERT INTO auth_users (username, password_hash, is_admin, created_time, auth_version) "
        "VALUES ('grantee', 'x', :f, 0, 1)",
        f=False,
    )
    site.execute(
        "INSERT INTO auth_permissions (user_id, resource_type, resource_id, permission) "
        "SELECT id, 'experiment', :e, 'READ' FROM auth_users WHERE username = 'grantee'",
        e=gone_exp,
    )
    kept_issue = _scorers_and_issues(site, gone_exp, kept_exp, deleted.run_id)
    client.delete_run(deleted.run_id)
    client.delete_logged_model(lone.model_id)
    client.delete_experiment(gone_exp)
    return World(
        kept_exp, gone_exp, kept, deleted, cascaded, lone.model_id, name, evaluation.dataset_id, kept_issue
    )


def _scorers_and_issues(site: Site, gone_exp: str, kept_exp: str, run_id: str) -> str:
    """A scorer with two versions and an online configuration, and an issue, in the doomed experiment; a
    scorer and an issue found by `run_id` in the kept one. Returns the kept issue's id."""
    api = site.server.api

    def call(method: str, path: str, body: dict[str, Any]) -> dict[str, Any]:
        got = requests.request(method, api(path, version="3.0"), json=body, timeout=60)
        assert got.status_code == 200, got.text
        return got.json()

    serialized = '{"name": "tone", "instructions_judge_pydantic_data": {"model": "openai:/gpt-4o"}}'
    for exp in (gone_exp, gone_exp, kept_exp):
        call(
            "POST",
            "scorers/register",
            {"experiment_id": exp, "name": "tone", "serialized_scorer": serialized},
        )
    call("PUT", "scorers/online-config", {"experiment_id": gone_exp, "name": "tone", "sample_rate": 0})
    call("POST", "issues", {"experiment_id": gone_exp, "name": "doomed", "description": "d"})
    # A trace with an assessment in the doomed experiment: both go with it.
    trace_id = f"tr-{uuid.uuid4().hex}"
    location = {"type": "MLFLOW_EXPERIMENT", "mlflow_experiment": {"experiment_id": gone_exp}}
    info = {"trace_id": trace_id, "trace_location": location, "request_time": "2026-01-01T00:00:00Z"}
    call("POST", "traces", {"trace": {"trace_info": {**info, "state": "OK"}}})
    feedback = {"assessment_name": "ok", "source": {"source_type": "HUMAN"}, "feedback": {"value": True}}
    call("POST", f"traces/{trace_id}/assessments", {"assessment": feedback})
    body = {"experiment_id": kept_exp, "name": "kept", "description": "d", "source_run_id": run_id}
    return call("POST", "issues", body)["issue"]["issue_id"]


def _assert_run_gone(site: Site, run: Logged) -> None:
    assert (
        site.rows("SELECT id FROM runs WHERE run_uuid = :u OR id = :i", u=run.run_id, i=run.internal_id) == []
    )
    for table in ("params", "run_tags", "metric_series", "run_inputs", "run_model_links"):
        assert site.rows(f"SELECT * FROM {table} WHERE run_id = :i", i=run.internal_id) == [], table  # noqa: S608
    for series_id in run.series:
        assert site.rows("SELECT * FROM metrics WHERE series_id = :s", s=series_id) == []
    assert site.rows("SELECT * FROM logged_model_metrics WHERE run_id = :u", u=run.run_id) == []


def _assert_model_gone(site: Site, model_id: str) -> None:
    assert site.rows("SELECT id FROM logged_models WHERE id = :m", m=model_id) == []
    for table in ("logged_model_params", "logged_model_tags", "logged_model_metrics", "run_model_links"):
        assert site.rows(f"SELECT * FROM {table} WHERE model_id = :m", m=model_id) == [], table  # noqa: S608


def _assert_experiment_gone(site: Site, experiment_id: str) -> None:
    eid = int(experiment_id)
    for table in (
        "runs",
        "logged_models",
        "experiment_tags",
        "datasets",
        "evaluation_dataset_experiments",
        "scorers",
        "online_scoring_configs",
        "issues",
        "traces",
    ):
        assert site.rows(f"SELECT * FROM {table} WHERE experiment_id = :e", e=eid) == [], table  # noqa: S608
    assert site.rows("SELECT id FROM assessments") == []  # the only one was on the doomed experiment's trace
    assert site.rows("SELECT id FROM experiments WHERE id = :e", e=eid) == []
    assert site.rows("SELECT id FROM auth_permissions WHERE resource_id = :e", e=experiment_id) == []


def _mentions(stored: list[str], *names: str) -> list[str]:
    return [path for path in stored if any(name in path.split("/") for name in names)]


def test_gc_purges_deleted_runs_models_and_experiments_and_nothing_else(site: Site, tmp_path: Path) -> None:
    world = _populate(site, tmp_path)
    gone = (world.deleted.run_id, world.cascaded.run_id, world.cascaded.model_id, world.lone_model)
    before = site.stored()
    assert _mentions(before, world.deleted.run_id, world.cascaded.run_id, world.cascaded.model_id)
    assert [p for p in before if p.split("/")[0] == world.gone_experiment]

    dry = site.gc("--dry-run")
    assert dry.returncode == 0, dry.stderr
    for name in gone:
        assert name in dry.stdout
    assert world.kept.run_id not in dry.stdout
    assert "Would delete 2 runs, 2 logged models, 1 experiment" in dry.stdout
    assert site.stored() == before
    assert site.client.get_run(world.deleted.run_id).info.lifecycle_stage == "deleted"

    result = site.gc()
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Deleted 2 runs, 2 logged models, 1 experiment" in result.stdout, result.stdout

    _assert_run_gone(site, world.deleted)
    _assert_run_gone(site, world.cascaded)
    _assert_model_gone(site, world.cascaded.model_id)
    _assert_model_gone(site, world.lone_model)
    _assert_experiment_gone(site, world.gone_experiment)
    assert site.rows("SELECT run_uuid FROM runs WHERE run_uuid LIKE :t", t=f"{purge_store.TOMBSTONE}%") == []
    after = site.stored()
    assert _mentions(after, *gone) == []
    assert [p for p in after if p.split("/")[0] == world.gone_experiment] == []

    # What was not deleted is whole, through the client.
    kept = site.client.get_run(world.kept.run_id)
    assert kept.data.params == {"alpha": "0.5", "label": "kept"}
    assert len(site.client.get_metric_history(world.kept.run_id, "loss")) == 40
    assert {f.path for f in site.client.list_artifacts(world.kept.run_id)} == {"config.json", "notes"}
    assert len(kept.inputs.dataset_inputs) == 1
    for model_id in (world.kept.model_id, world.deleted.model_id):  # the deleted run's model was not deleted
        model = site.client.get_logged_model(model_id)
        assert model.params == {"p": "1"}
        assert [f.path for f in site.client.list_logged_model_artifacts(model_id)] == ["MLmodel"]
    assert _mentions(after, world.kept.run_id, world.kept.model_id, world.deleted.model_id)
    assert site.client.get_experiment(world.kept_experiment).lifecycle_stage == "active"
    # The registry keeps the version made from the purged run, source and all, as MLflow does.
    version = site.client.get_model_version(world.model_name, "1")
    assert (version.run_id, version.source) == (world.deleted.run_id, f"runs:/{world.deleted.run_id}/model")
    with pytest.raises(MlflowException, match="not found"):
        site.client.get_run(world.deleted.run_id)
    assert genai_datasets.get_dataset(dataset_id=world.evaluation_dataset).experiment_ids == [
        world.kept_experiment
    ]
    # Scorer versions go with their scorers; the kept experiment's scorer and issue stay, the issue
    # without the purged run that found it.
    assert site.rows("SELECT * FROM scorer_versions WHERE scorer_id NOT IN (SELECT id FROM scorers)") == []
    assert site.rows("SELECT name FROM scorers WHERE experiment_id = :e", e=int(world.kept_experiment)) == [
        ("tone",)
    ]
    kept_issue = requests.get(site.server.api(f"issues/{world.kept_issue}", version="3.0"), timeout=60)
    assert kept_issue.status_code == 200 and "source_run_id" not in kept_issue.json()["issue"], (
        kept_issue.text
    )

    again = site.gc()
    assert again.returncode == 0, again.stderr
    assert "Deleted 0 runs, 0 logged models, 0 experiments" in again.stdout


def _age(site: Site, run_id: str, days: float) -> None:
    site.execute(
        "UPDATE runs SET deleted_time = :t WHERE run_uuid = :u",
        t=int(time.time() * 1000 - days * DAY_MS),
        u=run_id,
    )


def test_older_than_and_named_ids(local_site: Site) -> None:
    site, client = local_site, local_site.client
    eid = client.create_experiment(f"sel-{uuid.uuid4().hex[:8]}")
    runs = [client.create_run(eid).info.run_id for _ in range(4)]
    active, young, old, older = runs
    for run_id in (young, old, older):
        client.delete_run(run_id)
    _age(site, old, 2)
    _age(site, older, 40)
    other = client.create_experiment(f"sel-old-{uuid.uuid4().hex[:8]}")
    client.delete_experiment(other)

    for args, message in [
        (["--older-than", "1x"], "--older-than '1x' is not an age"),
        (["--older-than", ""], "--older-than '' is not an age"),
        (["--older-than", "1..2d"], "--older-than '1..2d' is not an age"),
        (["--run-ids", active], "not in the deleted lifecycle stage"),
        (["--run-ids", f"{old},{uuid.uuid4().hex}"], "not found"),
        (["--run-ids", young, "--older-than", "1d"], "was not deleted older than 1d"),
        (["--experiment-ids", eid], "not in the deleted lifecycle stage"),
        (["--experiment-ids", "123456789"], "No Experiment with id=123456789"),
        (["--experiment-ids", "abc"], "Invalid experiment ID: 'abc'"),
        (["--experiment-ids", other, "--older-than", "1d"], "not deleted older than 1d"),
        (["--logged-model-ids", "m-" + "0" * 32], "not found"),
    ]:
        result = site.gc(*args)
        assert result.returncode == 2, (args, result.stdout, result.stderr)
        assert message in result.stderr, (args, result.stderr)
        assert "Deleted" not in result.stdout
    assert {r[0] for r in site.rows("SELECT run_uuid FROM runs WHERE experiment_id = :e", e=int(eid))} == set(
        runs
    )

    # An age: runs by their deletion time (30d purges only the 40-day-old one), then 1d2h3m4s the 2-day-old one.
    result = site.gc("--older-than", "30d")
    assert result.returncode == 0, result.stderr
    assert f"Purged run {older}." in result.stdout
    assert "Deleted 1 run, 0 logged models, 0 experiments" in result.stdout
    result = site.gc("--older-than", "1d2h3m4s")
    assert "Deleted 1 run, 0 logged models, 0 experiments" in result.stdout, result.stdout
    assert client.get_experiment(other).lifecycle_stage == "deleted"  # deleted just now: too young

    # Named runs: only those go, even with other deleted runs and experiments about.
    spare = client.create_run(eid).info.run_id
    client.delete_run(spare)
    result = site.gc("--run-ids", young)
    assert result.returncode == 0, result.stderr
    assert "Deleted 1 run, 0 logged models, 0 experiments" in result.stdout
    remaining = {r[0] for r in site.rows("SELECT run_uuid FROM runs WHERE experiment_id = :e", e=int(eid))}
    assert remaining == {active, spare}
    assert client.get_experiment(other).lifecycle_stage == "deleted"

    # Named experiments, by MLflow's age rule for them: last_update_time, which deleting set.
    site.execute(
        "UPDATE experiments SET last_update_time = :t WHERE id = :e",
        t=int(time.time() * 1000) - 3 * DAY_MS,
        e=int(other),
    )
    result = site.gc("--experiment-ids", other, "--older-than", "2d")
    assert result.returncode == 0, result.stderr
    assert "Deleted 0 runs, 0 logged models, 1 experiment" in result.stdout
    assert site.rows("SELECT id FROM experiments WHERE id = :e", e=int(other)) == []
    assert client.get_run(spare).info.lifecycle_stage == "deleted"


def test_a_run_restored_after_listing_is_left_alone(local_site: Site) -> None:
    site, client = local_site, local_site.client
    eid = client.create_experiment(f"race-{uuid.uuid4().hex[:8]}")
    with mlflow.start_run(experiment_id=eid) as run:
        mlflow.log_metric("m", 1.0)
        mlflow.log_text("keep me", "a.txt")
    run_id = run.info.run_id
    client.delete_run(run_id)
    db = open_database(str(site.uri))
    try:
        targets = ArtifactTargets(site.destination, open_store(site.destination), CloudOptions())
        warnings: list[str] = []
        purge = Purge(
            db, targets, artifact_root="mlflow-artifacts:", emit=lambda _: None, warn=warnings.append
        )
        plan = purge.plan(Selection(run_ids=run_id))
        client.restore_run(run_id)  # between listing and claiming
        outcome = purge.run(plan)
    finally:
        db.dispose()
    assert (outcome.runs, outcome.skipped) == (0, 1)
    assert "was restored" in warnings[0]
    assert client.get_run(run_id).info.lifecycle_stage == "active"
    assert [f.path for f in client.list_artifacts(run_id)] == ["a.txt"]


def test_gc_finishes_a_run_an_earlier_gc_claimed(local_site: Site) -> None:
    """A gc that died after its claim, with half the artifacts deleted: the next one finishes the run."""
    site, client = local_site, local_site.client
    eid = client.create_experiment(f"crash-{uuid.uuid4().hex[:8]}")
    with mlflow.start_run(experiment_id=eid) as run:
        mlflow.log_param("p", "1")
        mlflow.log_metric("m", 1.0)
        mlflow.log_text("a", "a.txt")
        mlflow.log_text("b", "b.txt")
    run_id = run.info.run_id
    client.delete_run(run_id)
    ((internal_id,),) = site.rows("SELECT id FROM runs WHERE run_uuid = :u", u=run_id)
    site.execute(
        "UPDATE runs SET run_uuid = :t, lifecycle_stage = 'purging' WHERE id = :i",
        t="~" + "1" * 31,
        i=internal_id,
    )
    folder = Path(site.destination) / eid / run_id
    (folder / "artifacts" / "a.txt").unlink()
    with pytest.raises(MlflowException, match="not found"):
        client.restore_run(run_id)  # a claimed run is out of every client's reach
    client.delete_experiment(eid)
    client.restore_experiment(eid)  # nor does restoring its experiment bring it back
    assert site.rows("SELECT lifecycle_stage FROM runs WHERE id = :i", i=internal_id) == [("purging",)]
    assert client.search_runs([eid]) == []

    result = site.gc("--run-ids", uuid.uuid4().hex)  # an error: nothing at all is done
    assert result.returncode == 2
    assert folder.exists()
    result = site.gc("--older-than", "3650d")  # whatever the selection, claimed runs are finished
    assert result.returncode == 0, result.stderr
    assert "Deleted 1 run" in result.stdout
    assert site.rows("SELECT id FROM runs WHERE id = :i", i=internal_id) == []
    assert site.rows("SELECT * FROM params WHERE run_id = :i", i=internal_id) == []
    assert not folder.exists()


def test_metric_points_go_in_bounded_batches(local_site: Site) -> None:
    site, client = local_site, local_site.client
    eid = client.create_experiment(f"batch-{uuid.uuid4().hex[:8]}")
    run_id = client.create_run(eid).info.run_id
    metrics = [mlflow.entities.Metric("m", float(i), 1000 + i % 3, i // 10) for i in range(95)]  # 10 per step
    for start in range(0, len(metrics), 50):
        client.log_batch(run_id, metrics=metrics[start : start + 50])
    ((series_id,),) = site.rows(
        "SELECT s.id FROM metric_series s JOIN runs r ON r.id = s.run_id WHERE r.run_uuid = :u", u=run_id
    )

    def count() -> int:
        return site.rows("SELECT COUNT(*) FROM metrics WHERE series_id = :s", s=series_id)[0][0]

    total, rounds = count(), 0
    assert total == 95
    db = open_database(str(site.uri))
    try:
        while True:
            rounds += 1
            with db.write() as conn:
                done = purge_store.delete_points(conn, series_id, 4)
            left = count()
            assert total - left <= 10  # a batch of 4, or one (step, timestamp) group of up to 10 points
            total = left
            if done:
                break
            assert rounds < 100
    finally:
        db.dispose()
    assert count() == 0
    assert rounds > 10


def test_sweeps_stale_upload_files_on_local_disk(local_site: Site) -> None:
    site = local_site
    root = Path(site.destination)
    (root / "1" / "abc" / "artifacts").mkdir(parents=True)
    stale = root / "1" / "abc" / "artifacts" / ".tracklight-upload-0123"
    fresh = root / "1" / "abc" / "artifacts" / ".tracklight-upload-4567"
    kept = root / "1" / "abc" / "artifacts" / "model.bin"
    for path in (stale, fresh, kept):
        path.write_bytes(b"x")
    two_days_ago = time.time() - 2 * 86400
    os.utime(stale, (two_days_ago, two_days_ago))
    os.utime(kept, (two_days_ago, two_days_ago))

    dry = site.gc("--dry-run")
    assert "Would remove abandoned upload 1/abc/artifacts/.tracklight-upload-0123" in dry.stdout, dry.stdout
    assert stale.exists()
    result = site.gc()
    assert result.returncode == 0, result.stderr
    assert "and 1 abandoned upload." in result.stdout
    assert not stale.exists()
    assert fresh.exists() and kept.exists()


def test_aborts_abandoned_s3_multipart_uploads_under_the_destination(
    backend: BackendURI, server_factory: ServerFactory, tmp_path: Path, s3_emulator: ObjectStoreEmulator
) -> None:
    site = _site(backend, server_factory, tmp_path, s3_emulator)
    try:
        s3 = s3_emulator.client
        mine = s3.create_multipart_upload(Bucket=BUCKET, Key=f"{site.prefix}/1/r/artifacts/big.bin")[
            "UploadId"
        ]
        s3.upload_part(
            Bucket=BUCKET, Key=f"{site.prefix}/1/r/artifacts/big.bin", UploadId=mine, PartNumber=1, Body=b"x"
        )
        elsewhere = f"other-{uuid.uuid4().hex[:8]}/big.bin"
        theirs = s3.create_multipart_upload(Bucket=BUCKET, Key=elsewhere)["UploadId"]

        def open_uploads() -> set[str]:
            return {u["UploadId"] for u in s3.list_multipart_uploads(Bucket=BUCKET).get("Uploads", [])}

        # moto answers ListMultipartUploads with one fixed date in 2010 for every upload, so an upload's age
        # is set through gc's hidden threshold instead: a hundred years makes this one young.
        result = site.gc("--stale-upload-age", str(100 * 365 * 86400))
        assert result.returncode == 0, result.stderr
        assert "and 0 abandoned uploads." in result.stdout
        assert mine in open_uploads()
        dry = site.gc("--dry-run")  # the default, a day
        assert "Would remove abandoned upload 1/r/artifacts/big.bin (multipart upload started" in dry.stdout
        assert mine in open_uploads()
        result = site.gc()
        assert "and 1 abandoned upload." in result.stdout, result.stdout
        assert mine not in open_uploads()
        assert theirs in open_uploads()  # outside the destination's prefix
        s3.abort_multipart_upload(Bucket=BUCKET, Key=elsewhere, UploadId=theirs)
    finally:
        site.engine.dispose()


def test_concurrent_gc_processes_purge_each_run_once(local_site: Site) -> None:
    site, client = local_site, local_site.client
    eid = client.create_experiment(f"many-{uuid.uuid4().hex[:8]}")
    run_ids = []
    for i in range(12):
        run_id = client.create_run(eid).info.run_id
        client.log_batch(run_id, metrics=[mlflow.entities.Metric("m", float(s), 1000, s) for s in range(20)])
        client.log_param(run_id, "i", str(i))
        client.log_text(run_id, "x", "f.txt")
        client.delete_run(run_id)
        run_ids.append(run_id)
    keep = client.create_run(eid).info.run_id
    base = ["gc", "--backend-store-uri", str(site.uri), "--artifacts-destination", site.destination]
    procs = [
        subprocess.Popen(
            [tracklight_bin(), *base],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=server_env(),
        )
        for _ in range(3)
    ]
    outputs = [proc.communicate(timeout=300) for proc in procs]
    deleted = 0
    for proc, (out, err) in zip(procs, outputs, strict=True):
        assert proc.returncode == 0, out + err
        deleted += int(re.search(r"Deleted (\d+) run", out).group(1))  # type: ignore[union-attr]
    assert deleted == len(run_ids)
    assert {r[0] for r in site.rows("SELECT run_uuid FROM runs WHERE experiment_id = :e", e=int(eid))} == {
        keep
    }
    assert _mentions(site.stored(), *run_ids) == []


def test_an_experiment_location_the_server_did_not_assign_is_left_alone(
    local_site: Site, tmp_path: Path
) -> None:
    """A user-chosen location may hold other data: its runs' folders go, the location itself stays."""
    site, client = local_site, local_site.client
    chosen = tmp_path / "shared-folder"
    chosen.mkdir()
    (chosen / "unrelated.txt").write_text("not tracklight's")
    eid = client.create_experiment(f"own-{uuid.uuid4().hex[:8]}", artifact_location=str(chosen))
    with mlflow.start_run(experiment_id=eid) as run:
        mlflow.log_text("x", "a.txt")
    assert (chosen / run.info.run_id / "artifacts" / "a.txt").exists()
    client.delete_experiment(eid)

    result = site.gc("--experiment-ids", eid)
    assert result.returncode == 0, result.stderr
    assert "Deleted 1 run, 0 logged models, 1 experiment" in result.stdout
    assert f"Left the artifact location of experiment {eid}" in result.stderr
    assert sorted(p.name for p in chosen.iterdir()) == ["unrelated.txt"]
    assert site.rows("SELECT id FROM experiments WHERE id = :e", e=int(eid)) == []


def test_an_experiments_traces_are_purged_with_it(local_site: Site) -> None:
    """Traces, their spans, tags, metadata and run links go with a purged experiment; others' stay."""
    site, client = local_site, local_site.client
    doomed = client.create_experiment(f"traced-{uuid.uuid4().hex[:8]}")
    kept = client.create_experiment(f"traced-kept-{uuid.uuid4().hex[:8]}")
    trace_ids = {}
    for eid in (doomed, kept):
        with mlflow.start_run(experiment_id=eid) as run, mlflow.start_span(name="work") as span:
            span.set_attributes({"k": "v"})
        mlflow.flush_trace_async_logging()
        client.set_trace_tag(span.trace_id, "t", "1")
        client.link_traces_to_run(trace_ids=[span.trace_id], run_id=run.info.run_id)
        trace_ids[eid] = span.trace_id
    client.delete_experiment(doomed)

    result = site.gc("--experiment-ids", doomed)
    assert result.returncode == 0, result.stderr
    for table, column in (
        ("traces", "id"),
        ("spans", "trace_id"),
        ("trace_tags", "trace_id"),
        ("trace_metadata", "trace_id"),
        ("trace_run_links", "trace_id"),
    ):
        assert site.rows(f"SELECT * FROM {table} WHERE {column} = :t", t=trace_ids[doomed]) == [], table  # noqa: S608
        assert site.rows(f"SELECT * FROM {table} WHERE {column} = :t", t=trace_ids[kept]) != [], table  # noqa: S608
    _assert_experiment_gone(site, doomed)
    assert client.get_trace(trace_ids[kept]).info.tags["t"] == "1"
