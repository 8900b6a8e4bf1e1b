"""`tracklight import-mlflow`: a store filled by the stock client of MLflow 3.x or 2.22, on each backend, reads
back the same through Tracklight; a second import adds nothing, an interrupted one completes, a dry run
writes nothing, and a target holding other data under the source's ids is refused."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from harness.databases import BackendURI, create_database, drop_database, list_tables, selected_backends
from harness.mlflow_servers import MlflowServer, in_move_matrix, mlflow_python, mlflow_store_uri
from harness.server import run_cli, server_env, tracklight_bin
from sqlalchemy import Connection, create_engine, text

SCRIPT = Path(__file__).with_name("mlflow_client_script.py")
CASES = [(r, b) for r in ("3", "2") for b in selected_backends() if in_move_matrix(r, b)]


@dataclass
class Source:
    release: str
    backend: str
    uri: BackendURI
    artifacts: Path
    snapshot: dict[str, Any]


def _client_env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k != "MLFLOW_TRACKING_URI"}
    env["PYTHONUNBUFFERED"] = "1"
    return env


def _script(release: str, *args: str) -> None:
    result = subprocess.run(
        [str(mlflow_python(release)), str(SCRIPT), *args],
        capture_output=True,
        text=True,
        timeout=600,
        env=_client_env(),
        check=False,
    )
    assert result.returncode == 0, f"{args[0]} failed:\n{result.stdout[-3000:]}\n{result.stderr[-6000:]}"


def _snapshot(release: str, url: str, path: Path) -> dict[str, Any]:
    _script(release, "snapshot", url, str(path))
    return json.loads(path.read_text())


@pytest.fixture(scope="module", params=CASES, ids=[f"mlflow{r}-{b}" for r, b in CASES])
def source(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Any:
    """A stock MLflow server's store, filled and described by that release's client (server stopped)."""
    release, backend = request.param
    workdir = tmp_path_factory.mktemp(f"mlflow{release}-{backend}")
    db = create_database(backend, workdir / "sqlite")
    server = MlflowServer(release, db, workdir / "artifacts", workdir / "mlflow.log")
    try:
        server.start()
        _script(release, "populate", server.url)
        snapshot = _snapshot(release, server.url, workdir / "mlflow.json")
    finally:
        server.stop()
    try:
        yield Source(release, backend, db, workdir / "artifacts", snapshot)
    finally:
        drop_database(db)


@pytest.fixture
def target(source: Source, tmp_path: Path) -> Any:
    db = create_database(source.backend, tmp_path / "target")
    try:
        yield db
    finally:
        drop_database(db)


def _import(source_uri: str, target: str, *extra: str) -> subprocess.CompletedProcess[str]:
    return run_cli(["import-mlflow", source_uri, "--backend-store-uri", target, *extra], timeout=600)


def _known_differences(snap: dict[str, Any], *, ours: bool) -> dict[str, Any]:
    """Differences between the two servers that an import cannot change, taken out of the comparison."""
    snap = json.loads(json.dumps(snap))
    for section in ("runs", "get_run"):
        for run in snap[section]:
            # Three points at one step and time (1.0, 2.0, NaN): our write path ranks NaN above every
            # number for the latest value, MLflow's compares the stored 0; the history is the same.
            assert run["metrics"].get("tie", "nan" if ours else 2.0) == ("nan" if ours else 2.0)
            run["metrics"].pop("tie", None)
            if section == "runs":
                run.pop("model_inputs", None)  # MLflow's search_runs leaves them out; get_run has them
    for version in snap["versions"]:
        version.pop("aliases")  # MLflow's search_model_versions leaves them out; by_alias checks them
    return snap


def _differences(mlflow: Any, ours: Any, path: str = "") -> list[str]:
    """Where two snapshots differ, as readable paths (a bare == failure shows only truncated reprs)."""
    if isinstance(mlflow, dict) and isinstance(ours, dict):
        found = []
        for key in sorted(set(mlflow) | set(ours)):
            found += _differences(mlflow.get(key, "<absent>"), ours.get(key, "<absent>"), f"{path}.{key}")
        return found
    if isinstance(mlflow, list) and isinstance(ours, list) and len(mlflow) == len(ours):
        found = []
        for i, (a, b) in enumerate(zip(mlflow, ours, strict=True)):
            found += _differences(a, b, f"{path}[{i}]")
        return found
    return [] if mlflow == ours else [f"{path}: MLflow {mlflow!r}, Tracklight {ours!r}"]


def test_the_stock_client_reads_the_same_store_from_tracklight(
    source: Source, target: BackendURI, server_factory: Any, tmp_path: Path
) -> None:
    result = _import(source.uri, target)
    assert result.returncode == 0, result.stderr
    assert "Added:" in result.stdout
    if source.release == "3":
        assert "logged_models +" in result.stdout
    # Our server serves the artifacts MLflow wrote: its destination is MLflow's.
    server = server_factory(target, artifacts_dir=source.artifacts)
    ours = _snapshot(source.release, server.url, tmp_path / "tracklight.json")
    assert ours["prediction"] == source.snapshot["prediction"]
    assert {r["lifecycle_stage"] for r in ours["runs"]} == {"active", "deleted"}
    assert any(e["lifecycle_stage"] == "deleted" for e in ours["experiments"])
    assert (
        _differences(_known_differences(source.snapshot, ours=False), _known_differences(ours, ours=True))
        == []
    )

    again = _import(source.uri, target)
    assert again.returncode == 0, again.stderr
    assert "Nothing new" in again.stdout
    assert _snapshot(source.release, server.url, tmp_path / "again.json") == ours


def test_dry_run_counts_and_writes_nothing(source: Source, target: BackendURI) -> None:
    result = _import(source.uri, target, "--dry-run")
    assert result.returncode == 0, result.stderr
    runs = len(source.snapshot["runs"])
    assert f"  runs: {runs}\n" in result.stdout
    assert "  registered models: 2\n" in result.stdout
    assert "Dry run: nothing was written." in result.stdout
    assert list_tables(target) == []


def test_a_target_with_other_data_under_the_same_ids_is_refused(
    source: Source, target: BackendURI, server_factory: Any
) -> None:
    import mlflow
    from mlflow.entities import ViewType

    server = server_factory(target)
    client = mlflow.MlflowClient(server.url)
    # Our server makes the Default experiment (0) as MLflow does: the same in both, so no collision.
    assert client.create_experiment("move-b") == "1"  # the source's 1 is move-a, and its move-b is 2
    client.create_registered_model("move-model")
    client.create_model_version("move-model", "s3://elsewhere/model")
    result = _import(source.uri, target)
    assert result.returncode == 2
    assert "experiment id 1 is named 'move-b' in the target but 'move-a' in the source" in result.stderr
    assert "experiment 'move-b' has id 1 in the target but 2 in the source" in result.stderr
    assert "registered model 'move-model' exists in the target with other versions (1)" in result.stderr
    assert "experiment id 0" not in result.stderr and "'Default'" not in result.stderr
    assert "Nothing was imported" in result.stderr
    names = {e.name for e in client.search_experiments(view_type=ViewType.ALL)}
    assert names == {"Default", "move-b"}
    assert client.search_runs(["0", "1"]) == []


# -- interruption ------------------------------------------------------------------------------------------

_BIG_RUNS, _BIG_KEYS, _BIG_STEPS = 8, 3, 8_000  # 192,000 points: a few seconds of importing


def _add_big_experiment(uri: str) -> None:
    """More points in the source (through the in-process 3.x client on the database itself), so that an
    import can be killed while it copies them."""
    from mlflow import MlflowClient
    from mlflow.entities import Metric

    client = MlflowClient(tracking_uri=mlflow_store_uri(uri))
    exp = client.create_experiment("move-big")
    for r in range(_BIG_RUNS):
        run = client.create_run(exp, run_name=f"big-{r}")
        # One point per key through the client (so MLflow's own rows for a metric exist); the bulk goes
        # straight into its metrics table, in its own spelling of NaN (value 0, is_nan true), which is
        # what log_batch would have written, in a fraction of the time.
        client.log_batch(
            run.info.run_id, metrics=[Metric(f"k{k}", k, 1_700_000_000_000, 0) for k in range(_BIG_KEYS)]
        )
        rows = [
            {
                "key": f"k{k}",
                "value": 0.0 if s % 997 == 0 else s * 0.5 + k,
                "timestamp": 1_700_000_000_000 + s,
                "run_uuid": run.info.run_id,
                "step": s,
                "is_nan": s % 997 == 0,
            }
            for k in range(_BIG_KEYS)
            for s in range(1, _BIG_STEPS)
        ]
        with _connect(uri) as conn:
            key = _key(uri)
            conn.execute(
                text(
                    f"INSERT INTO metrics ({key}, value, timestamp, run_uuid, step, is_nan) "
                    "VALUES (:key, :value, :timestamp, :run_uuid, :step, :is_nan)"
                ),
                rows,
            )
            conn.commit()


@contextlib.contextmanager
def _connect(uri: str) -> Iterator[Connection]:
    engine = create_engine(mlflow_store_uri(uri))
    try:
        with engine.connect() as conn:
            yield conn
    finally:
        engine.dispose()


def _key(uri: str) -> str:
    return "`key`" if uri.startswith("mysql") else "key"


def _source_state(uri: str) -> dict[str, Any]:
    key = _key(uri)
    with _connect(uri) as conn:
        return {
            "runs": set(
                conn.execute(text("SELECT run_uuid, experiment_id, status, lifecycle_stage FROM runs")).all()
            ),
            "params": set(conn.execute(text(f"SELECT run_uuid, {key}, value FROM params")).all()),
            "tags": set(conn.execute(text(f"SELECT run_uuid, {key}, value FROM tags")).all()),
            "points": set(
                (r[0], r[1], r[2], r[3], float(r[4]), bool(r[5]))
                for r in conn.execute(
                    text(f"SELECT run_uuid, {key}, step, timestamp, value, is_nan FROM metrics")
                )
            ),
        }


def _target_state(uri: str) -> dict[str, Any]:
    key = _key(uri)
    with _connect(uri) as conn:
        runs = "JOIN runs r ON r.id = x.run_id"
        return {
            "runs": set(
                conn.execute(text("SELECT run_uuid, experiment_id, status, lifecycle_stage FROM runs")).all()
            ),
            "params": set(
                conn.execute(text(f"SELECT r.run_uuid, x.{key}, x.value FROM params x {runs}")).all()
            ),
            "tags": set(
                conn.execute(text(f"SELECT r.run_uuid, x.{key}, x.value FROM run_tags x {runs}")).all()
            ),
            "points": set(
                (r[0], r[1], r[2], r[3], float(r[4]), bool(r[5]))
                for r in conn.execute(
                    text(
                        f"SELECT r.run_uuid, x.{key}, m.step, m.timestamp, m.value, m.is_nan FROM metrics m "
                        f"JOIN metric_series x ON x.id = m.series_id {runs}"
                    )
                )
            ),
            "latest": {
                (r[0], r[1]): (r[2], r[3], bool(r[4]), float(r[5]))
                for r in conn.execute(
                    text(
                        f"SELECT r.run_uuid, x.{key}, x.step, x.timestamp, x.is_nan, x.value FROM metric_series x {runs}"
                    )
                )
            },
        }


def _point_count(uri: str) -> int:
    try:
        with _connect(uri) as conn:
            return int(conn.execute(text("SELECT COUNT(*) FROM metrics")).scalar_one())
    except Exception:  # the schema may not be there yet
        return 0


def test_an_import_killed_half_way_completes_when_run_again(source: Source, target: BackendURI) -> None:
    """Last in this module: it adds an experiment to the source, which the tests above have described."""
    if source.release != "3":
        pytest.skip("the source is grown with the in-process 3.x client; one release per backend suffices")
    _add_big_experiment(source.uri)
    expected = _source_state(source.uri)
    proc = subprocess.Popen(
        [tracklight_bin(), "import-mlflow", source.uri, "--backend-store-uri", target],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env=server_env(),
    )
    try:
        deadline = time.monotonic() + 300
        while _point_count(target) < 1000 and proc.poll() is None and time.monotonic() < deadline:
            time.sleep(0.05)
        os.kill(proc.pid, signal.SIGKILL)
    finally:
        proc.wait(timeout=30)
    assert proc.returncode == -signal.SIGKILL, "the import finished before it could be interrupted"
    partial = _point_count(target)
    assert 0 < partial < len(expected["points"])

    result = _import(source.uri, target)
    assert result.returncode == 0, result.stderr
    got = _target_state(target)
    for what in ("runs", "params", "tags", "points"):
        assert got[what] == expected[what], what
    # Each series' latest point is the largest (step, timestamp, is_nan, value), as our write path keeps it.
    latest: dict[tuple[str, str], tuple[int, int, bool, float]] = {}
    for run_id, key, step, ts, value, nan in expected["points"]:
        candidate = (step, ts, nan, value)
        if (run_id, key) not in latest or candidate > latest[(run_id, key)]:
            latest[(run_id, key)] = candidate
    assert got["latest"] == latest
    assert "Nothing new" in _import(source.uri, target).stdout
