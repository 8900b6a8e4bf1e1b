"""The article's workflow as users run it: examples/train.py and examples/predict.py against a live server, a
registered model served with `mlflow models serve`, and the MLproject reproduced with `mlflow run`.

Everything runs as real subprocesses of the stock mlflow 3.x client (the 2.22 client pass runs only tests/client).
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

mlflow = pytest.importorskip("mlflow")
if int(mlflow.__version__.split(".")[0]) < 3:
    pytest.skip("the examples use the mlflow 3.x client", allow_module_level=True)

import numpy as np  # noqa: E402
import requests  # noqa: E402
from harness.plugin import _CLIENT_ENV, ServerFactory  # noqa: E402
from harness.server import REPO_ROOT, ServerProcess, free_port, http_get, server_env  # noqa: E402
from mlflow.entities import LoggedModelStatus  # noqa: E402
from sklearn.datasets import load_iris  # noqa: E402

# Each test drives real subprocesses (training, model loading, a scoring server, a project run): tens of seconds.
pytestmark = pytest.mark.slow

EXAMPLES = REPO_ROOT / "examples"
BIN = Path(sys.executable).parent  # the environment running the tests: python, mlflow, uvicorn
SCRIPT_TIMEOUT = 300.0
SERVE_STARTUP_TIMEOUT = 180.0


def client_env(tracking_uri: str, extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """A clean environment for a client subprocess: no stray MLFLOW_* from the shell, the session's client
    settings, the tracking URI, and this environment's bin/ first on PATH (`mlflow run` and `mlflow models
    serve` start `python` and `uvicorn` by name)."""
    env = server_env({**{k: os.environ.get(k, v) for k, v in _CLIENT_ENV.items()}, **(extra or {})})
    env["MLFLOW_TRACKING_URI"] = tracking_uri
    env["PATH"] = f"{BIN}{os.pathsep}{env.get('PATH', '')}"
    return env


def run(
    args: Sequence[str | os.PathLike[str]], env: Mapping[str, str], cwd: Path | None = None
) -> subprocess.CompletedProcess[str]:
    """Run a command to completion; fail the test with its output if it exits non-zero."""
    result = subprocess.run(
        [str(a) for a in args],
        capture_output=True,
        text=True,
        timeout=SCRIPT_TIMEOUT,
        env=dict(env),
        cwd=cwd,
        stdin=subprocess.DEVNULL,
        check=False,
    )
    assert result.returncode == 0, (
        f"{' '.join(map(str, args))} exited {result.returncode}\n"
        f"--- stdout ---\n{result.stdout[-4000:]}\n--- stderr ---\n{result.stderr[-6000:]}"
    )
    return result


@dataclass
class Trained:
    """What examples/train.py did: its output and the names it was given."""

    server: ServerProcess
    env: dict[str, str]
    experiment: str
    model_name: str
    alias: str
    stdout: str
    run_id: str

    @property
    def model_uri(self) -> str:
        return f"models:/{self.model_name}@{self.alias}"


@pytest.fixture(scope="module")
def examples_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    """One server on a fresh SQLite file for this module (a stock `mlflow server` in reference mode)."""
    workdir = tmp_path_factory.mktemp("examples-server")
    factory = ServerFactory(workdir)
    try:
        yield factory(f"sqlite:///{workdir / 'tracklight.db'}", timeout=90)
    finally:
        factory.stop_all()


@pytest.fixture(scope="module")
def client(examples_server: ServerProcess) -> Iterator[Any]:
    """An MlflowClient on the module's server."""
    yield mlflow.MlflowClient(tracking_uri=examples_server.url)


@pytest.fixture(scope="module")
def trained(examples_server: ServerProcess) -> Trained:
    """Run examples/train.py once for the module, with fresh experiment and model names."""
    suffix = uuid.uuid4().hex[:8]
    experiment, model_name, alias = f"iris-demo-{suffix}", f"iris-classifier-{suffix}", "champion"
    env = client_env(examples_server.url)
    result = run(
        [
            BIN / "python",
            EXAMPLES / "train.py",
            "--experiment",
            experiment,
            "--model-name",
            model_name,
            "--alias",
            alias,
            "--C",
            "0.5",
        ],
        env,
    )
    match = re.search(r"^run_id: ([0-9a-f]{32})$", result.stdout, re.MULTILINE)
    assert match, f"train.py printed no run id:\n{result.stdout}"
    return Trained(examples_server, env, experiment, model_name, alias, result.stdout, match.group(1))


@pytest.fixture(scope="module")
def local_model(trained: Trained, client: Any) -> Any:
    """The registered model loaded in this process, through the registry, as a reference for predictions.

    load_model resolves `models:/` through the process-wide tracking URI, which tests/conftest.py forgets after
    every test, so it is set here for this one call rather than for the module."""
    mlflow.set_tracking_uri(trained.server.url)
    try:
        return mlflow.pyfunc.load_model(trained.model_uri)
    finally:
        mlflow.set_tracking_uri(None)


def iris_rows(count: int) -> Any:
    """`count` rows spread over the three classes (the same rows examples/predict.py scores)."""
    data = load_iris(as_frame=True).data
    return data.iloc[np.linspace(0, len(data) - 1, count).astype(int)]


# -- train.py and predict.py -----------------------------------------------------------------------------


def test_train_script_logs_registers_and_aliases(trained: Trained, client: Any) -> None:
    assert f"model_uri: {trained.model_uri}" in trained.stdout.splitlines()

    tracked = client.get_run(trained.run_id)
    assert tracked.info.status == "FINISHED"
    assert client.get_experiment(tracked.info.experiment_id).name == trained.experiment
    assert tracked.data.params == {"C": "0.5", "max_iter": "200", "random_state": "42"}
    assert set(tracked.data.metrics) >= {"accuracy", "f1_macro"}
    assert 0.8 <= tracked.data.metrics["accuracy"] <= 1.0
    assert 0.8 <= tracked.data.metrics["f1_macro"] <= 1.0

    registered = client.get_registered_model(trained.model_name)
    assert registered.aliases == {trained.alias: "1"}
    versions = client.search_model_versions(f"name = '{trained.model_name}'")
    assert [v.version for v in versions] == ["1"]

    by_alias = client.get_model_version_by_alias(trained.model_name, trained.alias)
    assert by_alias.version == "1"
    assert by_alias.run_id == trained.run_id
    assert by_alias.status == "READY"
    assert trained.alias in by_alias.aliases
    assert by_alias.source.startswith("models:/m-")  # 3.x clients register the logged model by its id

    logged = client.get_logged_model(by_alias.source.removeprefix("models:/"))
    assert logged.source_run_id == trained.run_id
    assert logged.name == "model"
    assert logged.status == LoggedModelStatus.READY


def test_predict_script_loads_alias_and_predicts(trained: Trained, local_model: Any) -> None:
    rows = 6
    result = run(
        [BIN / "python", EXAMPLES / "predict.py", "--model-uri", trained.model_uri, "--rows", str(rows)],
        trained.env,
    )
    lines = result.stdout.splitlines()
    assert lines[0] == f"model: {trained.model_uri}"
    assert lines[1].split()[-2:] == ["predicted", "actual"]
    printed = [line.split() for line in lines[2:]]

    expected_rows = iris_rows(rows)
    names = load_iris().target_names
    expected = names[np.asarray(local_model.predict(expected_rows))]
    assert [int(cells[0]) for cells in printed] == list(expected_rows.index)
    assert [cells[-2] for cells in printed] == list(expected)
    assert sum(cells[-2] == cells[-1] for cells in printed) >= rows - 1  # a decent classifier


# -- mlflow models serve -----------------------------------------------------------------------------------


@contextlib.contextmanager
def scoring_server(model_uri: str, env: Mapping[str, str], log_path: Path) -> Iterator[str]:
    """`mlflow models serve` on a free port in its own process group; yields its URL, kills the group after."""
    port = free_port()
    cmd = [
        str(BIN / "mlflow"),
        "models",
        "serve",
        "-m",
        model_uri,
        "--env-manager",
        "local",
        "-h",
        "127.0.0.1",
        "-p",
        str(port),
    ]
    with open(log_path, "wb") as log:
        proc = subprocess.Popen(
            cmd,
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            env=dict(env),
            start_new_session=True,
        )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + SERVE_STARTUP_TIMEOUT
        while True:
            if proc.poll() is not None:
                pytest.fail(
                    f"`mlflow models serve` exited {proc.returncode} before answering /ping\n"
                    f"{log_path.read_text(errors='replace')[-6000:]}"
                )
            with contextlib.suppress(OSError):
                if http_get(f"{url}/ping", timeout=2.0)[0] == 200:
                    break
            if time.monotonic() > deadline:
                pytest.fail(
                    f"`mlflow models serve` not answering /ping after {SERVE_STARTUP_TIMEOUT:.0f}s\n"
                    f"{log_path.read_text(errors='replace')[-6000:]}"
                )
            time.sleep(0.25)
        yield url
    finally:
        for sig in (signal.SIGTERM, signal.SIGKILL):
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, sig)
            try:
                proc.wait(15)
                break
            except subprocess.TimeoutExpired:
                continue
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)  # a uvicorn worker that outlived its parent


def test_models_serve_answers_invocations(trained: Trained, local_model: Any, tmp_path: Path) -> None:
    rows = iris_rows(12)
    with scoring_server(trained.model_uri, trained.env, tmp_path / "serve.log") as url:
        resp = requests.post(
            f"{url}/invocations", json={"dataframe_split": rows.to_dict(orient="split")}, timeout=60
        )
        assert resp.status_code == 200, resp.text[:1000]
        served = resp.json()["predictions"]

        # The other input shape the scoring server documents, on the same rows.
        resp = requests.post(
            f"{url}/invocations", json={"dataframe_records": rows.to_dict(orient="records")}, timeout=60
        )
        assert resp.status_code == 200, resp.text[:1000]
        assert resp.json()["predictions"] == served

    assert served == [int(p) for p in local_model.predict(rows)]
    assert len(set(served)) == 3  # the rows span the classes, and so do the answers


# -- mlflow run ----------------------------------------------------------------------------------------------


def git(args: Sequence[str], cwd: Path) -> str:
    env = {
        **os.environ,
        "GIT_CONFIG_NOSYSTEM": "1",
        "GIT_CONFIG_GLOBAL": os.devnull,
        "GIT_AUTHOR_NAME": "Tracklight Tests",
        "GIT_AUTHOR_EMAIL": "tests@tracklight.invalid",
        "GIT_COMMITTER_NAME": "Tracklight Tests",
        "GIT_COMMITTER_EMAIL": "tests@tracklight.invalid",
    }
    return subprocess.run(
        ["git", *args], cwd=cwd, env=env, capture_output=True, text=True, check=True, timeout=60
    ).stdout.strip()


@pytest.mark.skipif(shutil.which("git") is None, reason="git is not installed")
def test_mlflow_run_project_records_source_commit_entry_point_and_params(
    examples_server: ServerProcess, client: Any, tmp_path: Path
) -> None:
    project = tmp_path / "project"
    shutil.copytree(EXAMPLES / "project", project, ignore=shutil.ignore_patterns("__pycache__", "mlruns"))
    git(["init", "-q", "-b", "main"], project)
    git(["add", "."], project)
    git(["commit", "-q", "-m", "diabetes elasticnet project"], project)
    commit = git(["rev-parse", "HEAD"], project)

    experiment = f"project-{uuid.uuid4().hex[:8]}"
    result = run(
        [
            BIN / "mlflow",
            "run",
            project,
            "-P",
            "alpha=0.3",
            "--env-manager",
            "local",
            "--experiment-name",
            experiment,
        ],
        client_env(examples_server.url),
        cwd=tmp_path,
    )
    match = re.search(r"Run \(ID '([0-9a-f]{32})'\) succeeded", result.stderr + result.stdout)
    assert match, f"no run id in the output of mlflow run:\n{result.stderr[-4000:]}"
    run_id = match.group(1)

    runs = client.search_runs([client.get_experiment_by_name(experiment).experiment_id])
    assert [r.info.run_id for r in runs] == [run_id]
    tracked = client.get_run(run_id)
    assert tracked.info.status == "FINISHED"
    tags = tracked.data.tags
    assert tags["mlflow.source.type"] == "PROJECT"
    assert tags["mlflow.source.git.commit"] == commit
    assert tags["mlflow.project.entryPoint"] == "main"
    assert tags["mlflow.source.name"].startswith("file://")
    assert tags["mlflow.source.name"].rstrip("/").endswith(str(project.resolve()))
    assert tags["mlflow.project.backend"] == "local"
    assert tracked.data.params == {"alpha": "0.3", "l1_ratio": "0.1"}  # the -P value and the default
    assert set(tracked.data.metrics) >= {"rmse", "r2"}
    assert tracked.data.metrics["rmse"] > 0
