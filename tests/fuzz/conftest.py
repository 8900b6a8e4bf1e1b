"""The fuzzed server: one real `tracklight server` per backend for the module, seeded with state to hit."""

from __future__ import annotations

import contextlib
import json
import os
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import requests
from cryptography.fernet import Fernet
from harness.databases import BackendURI, create_database, drop_database, selected_backends
from harness.server import ServerProcess, db_upgrade
from hypothesis import HealthCheck, settings

from fuzz.store_digest import StoreDigest
from fuzz.values import World

# Examples per route and test. CI runs the `ci` profile (fixed examples, no example database, so every run
# tries the same requests); TRACKLIGHT_FUZZ_EXAMPLES=N runs N per route, and TRACKLIGHT_FUZZ_RANDOM=1 draws
# new ones each run, for a longer hunt on a developer's machine. 15 keeps the whole suite inside CI's hour
# now that every MLflow 3 route is fuzzed too (derandomized, so each run still tries the same ones).
CI_EXAMPLES = 15
settings.register_profile(
    "tracklight-fuzz",
    max_examples=int(os.environ.get("TRACKLIGHT_FUZZ_EXAMPLES") or CI_EXAMPLES),
    derandomize=os.environ.get("TRACKLIGHT_FUZZ_RANDOM", "") not in ("1", "true"),
    database=None,
    deadline=None,
    suppress_health_check=list(HealthCheck),
    print_blob=True,
)
FUZZ_SETTINGS = settings.get_profile("tracklight-fuzz")
# Broken HTTP has few shapes (five kinds, a dozen bodies): half as many examples cover them.
MALFORMED_SETTINGS = settings(FUZZ_SETTINGS, max_examples=max(1, FUZZ_SETTINGS.max_examples // 2))


def route_settings(base: settings, slow: bool) -> settings:
    """`base`, with half the examples for a slow route (one that writes runs and files, or renders a big
    page per request) in CI, so that the module stays within a few minutes; an explicit
    TRACKLIGHT_FUZZ_EXAMPLES applies to every route alike."""
    if not slow or os.environ.get("TRACKLIGHT_FUZZ_EXAMPLES"):
        return base
    return settings(base, max_examples=max(1, base.max_examples // 2))


# SQLite and PostgreSQL by default (each backend costs about a minute and a half); TRACKLIGHT_FUZZ_BACKENDS
# (e.g. "sqlite,postgresql,mariadb") chooses others, within TRACKLIGHT_TEST_BACKENDS.
FUZZ_BACKENDS = [
    b
    for b in selected_backends()
    if b in (os.environ.get("TRACKLIGHT_FUZZ_BACKENDS") or "sqlite,postgresql").split(",")
]

TIMEOUT = 30.0


@dataclass
class Fuzzed:
    """The server under fuzz, a digest reader on its database, and the ids of what was seeded."""

    server: ServerProcess
    db: BackendURI
    store: StoreDigest
    world: World
    http: requests.Session

    # The database as the last rejected request left it: with the fuzzer as the only client, that is also
    # the state before the next request, which saves reading every table twice per request.
    known: dict[str, list[str]] | None = None

    @property
    def backend(self) -> str:
        return self.db.backend

    def contents_before(self) -> dict[str, list[str]]:
        return self.known if self.known is not None else self.store.contents()


def _ok(resp: requests.Response) -> dict[str, Any]:
    assert resp.status_code == 200, (
        f"seeding {resp.request.method} {resp.url}: {resp.status_code} {resp.text}"
    )
    return resp.json() if resp.content else {}


def seed(server: ServerProcess, http: requests.Session) -> World:
    """An experiment (and a deleted one), runs with metrics/params/tags and a file, a logged model,
    and a registered model with a version, an alias and tags."""

    def post(path: str, body: dict[str, Any], method: str = "POST") -> dict[str, Any]:
        return _ok(http.request(method, server.api(path), json=body, timeout=TIMEOUT))

    tag = uuid.uuid4().hex[:6]
    name = f"fuzz-seed-{tag}"
    eid = post("experiments/create", {"name": name, "tags": [{"key": "team", "value": "a"}]})["experiment_id"]
    gone = post("experiments/create", {"name": f"fuzz-gone-{tag}"})["experiment_id"]
    post("experiments/delete", {"experiment_id": gone})
    runs = []
    for i in range(2):
        run = post("runs/create", {"experiment_id": eid, "run_name": f"r{i}", "start_time": 1000})["run"]
        run_id = run["info"]["run_id"]
        runs.append(run_id)
        post(
            "runs/log-batch",
            {
                "run_id": run_id,
                "metrics": [
                    {"key": "loss", "value": 1.0 / (s + 1), "timestamp": 1000 + s, "step": s}
                    for s in range(3)
                ],
                "params": [{"key": "alpha", "value": "0.5"}],
                "tags": [{"key": "team", "value": "a"}],
            },
        )
    first = runs[0]
    uploaded = http.put(
        f"{server.url}/api/2.0/mlflow-artifacts/artifacts/{eid}/{first}/artifacts/hello.txt",
        data=b"hello",
        timeout=TIMEOUT,
    )
    assert uploaded.status_code == 200, uploaded.text
    post("runs/delete", {"run_id": runs[1]})
    model = post(
        "logged-models",
        {
            "experiment_id": eid,
            "name": "fuzz-lm",
            "source_run_id": first,
            "params": [{"key": "alpha", "value": "1"}],
        },
    )["model"]
    model_id = model["info"]["model_id"]
    post(f"logged-models/{model_id}", {"status": "LOGGED_MODEL_READY"}, method="PATCH")
    put_model_file(server, http, model)
    post(
        "runs/log-inputs",
        {
            "run_id": first,
            "datasets": [
                {
                    "dataset": {
                        "name": "fuzz-data",
                        "digest": "abc123",
                        "source_type": "local",
                        "source": "{}",
                    },
                    "tags": [{"key": "mlflow.data.context", "value": "train"}],
                }
            ],
        },
    )
    dataset_id, record_id = seed_dataset(server, http, eid)
    scorer_id, issue_id = seed_scorer_and_issue(server, http, eid)
    gateway = seed_gateway(server, http)
    registered = f"fuzz-model-{tag}"
    post("registered-models/create", {"name": registered, "tags": [{"key": "team", "value": "a"}]})
    post(
        "model-versions/create",
        {"name": registered, "source": f"mlflow-artifacts:/{eid}/{first}/artifacts/model", "run_id": first},
    )
    post("registered-models/alias", {"name": registered, "alias": "champion", "version": "1"})
    post("model-versions/set-tag", {"name": registered, "version": "1", "key": "team", "value": "a"})
    return World(
        experiment_ids=["0", eid, gone],
        experiment_names=[name, "Default", f"fuzz-gone-{tag}"],
        run_ids=runs,
        model_names=[registered],
        versions=["1"],
        model_ids=[model_id],
        keys=["loss", "alpha", "team", "mlflow.runName"],
        aliases=["champion"],
        artifact_paths=[f"{eid}/{first}/artifacts/hello.txt", "hello.txt", f"{eid}/{first}/artifacts"],
        dataset_ids=[dataset_id],
        record_ids=[record_id],
        model_files=[MODEL_FILE],
        scorer_names=[SCORER_NAME],
        scorer_ids=[scorer_id],
        issue_ids=[issue_id],
        **gateway,
    )


MODEL_FILE = "MLmodel"
GATEWAY_KEY = Fernet.generate_key().decode()  # the fuzzed server seals gateway secrets with it


def seed_gateway(server: ServerProcess, http: requests.Session) -> dict[str, list[str]]:
    """A gateway secret, a model definition on it, and an endpoint using that (with a binding and a tag),
    under fresh names: the World's gateway fields."""

    def call(path: str, body: dict[str, Any]) -> dict[str, Any]:
        return _ok(http.post(server.api("gateway/" + path, version="3.0"), json=body, timeout=TIMEOUT))

    tag = uuid.uuid4().hex[:8]
    secret = call(
        "secrets/create",
        {
            "secret_name": f"fuzz-key-{tag}",
            "secret_value": {"api_key": "sk-0123456789"},
            "provider": "openai",
        },
    )["secret"]
    definition = call(
        "model-definitions/create",
        {
            "name": f"fuzz-def-{tag}",
            "secret_id": secret["secret_id"],
            "provider": "openai",
            "model_name": "gpt-4o",
        },
    )["model_definition"]
    configs = [{"model_definition_id": definition["model_definition_id"], "linkage_type": "PRIMARY"}]
    endpoint = call("endpoints/create", {"name": f"fuzz-ep-{tag}", "model_configs": configs})["endpoint"]
    binding = {"endpoint_id": endpoint["endpoint_id"], "resource_type": "scorer", "resource_id": "fuzz-job"}
    call("endpoints/bindings/create", binding)
    call("endpoints/set-tag", {"endpoint_id": endpoint["endpoint_id"], "key": "team", "value": "a"})
    return {
        "secret_ids": [secret["secret_id"]],
        "secret_names": [secret["secret_name"]],
        "model_definition_ids": [definition["model_definition_id"]],
        "endpoint_ids": [endpoint["endpoint_id"]],
        "endpoint_names": [endpoint["name"]],
    }


SCORER_NAME = "fuzz-scorer"


def seed_scorer_and_issue(
    server: ServerProcess, http: requests.Session, experiment_id: str
) -> tuple[str, str]:
    """A registered scorer (if there is none of its name) and an issue in the experiment: their ids."""
    serialized = json.dumps({"name": SCORER_NAME, "instructions_judge_pydantic_data": {"model": "openai:/x"}})
    scorer_id = _ok(
        http.post(
            server.api("scorers/register", version="3.0"),
            json={"experiment_id": experiment_id, "name": SCORER_NAME, "serialized_scorer": serialized},
            timeout=TIMEOUT,
        )
    )["scorer_id"]
    issue = _ok(
        http.post(
            server.api("issues", version="3.0"),
            json={
                "experiment_id": experiment_id,
                "name": "fuzz-issue",
                "description": "seeded",
                "severity": "low",
            },
            timeout=TIMEOUT,
        )
    )["issue"]
    return scorer_id, issue["issue_id"]


def put_model_file(server: ServerProcess, http: requests.Session, model: dict[str, Any]) -> None:
    """A file in the logged model's artifacts, through the artifact proxy (its URI is mlflow-artifacts:/…)."""
    root = model["info"]["artifact_uri"].removeprefix("mlflow-artifacts:").lstrip("/")
    put = http.put(
        f"{server.url}/api/2.0/mlflow-artifacts/artifacts/{root}/{MODEL_FILE}",
        data=b"flavors: {}\n",
        timeout=TIMEOUT,
    )
    assert put.status_code == 200, put.text


def seed_dataset(
    server: ServerProcess, http: requests.Session, experiment_id: str, dataset_id: str | None = None
) -> tuple[str, str]:
    """An evaluation dataset linked to the experiment, with one record: (dataset id, record id). Given an
    existing dataset, put its link and record back (the record keeps its id if it is still there)."""

    def call(method: str, path: str, body: dict[str, Any] | None = None) -> dict[str, Any]:
        url = server.api(path, version="3.0")
        if method == "GET":
            return _ok(http.get(url, params=body, timeout=TIMEOUT))
        return _ok(http.request(method, url, json=body, timeout=TIMEOUT))

    if dataset_id is None:
        dataset_id = call(
            "POST",
            "datasets/create",
            {"name": "fuzz-ds", "experiment_ids": [experiment_id], "tags": json.dumps({"team": "a"})},
        )["dataset"]["dataset_id"]
    else:
        call("POST", f"datasets/{dataset_id}/add-experiments", {"experiment_ids": [experiment_id]})
    record = {
        "inputs": {"question": "seeded"},
        "expectations": {"answer": "yes"},
        "tags": {"team": "a"},
        "source": {"source_type": "HUMAN", "source_data": {"source_id": "fuzz"}},
    }
    call("POST", f"datasets/{dataset_id}/records", {"records": json.dumps([record])})
    records = json.loads(call("GET", f"datasets/{dataset_id}/records")["records"])
    seeded = [r for r in records if r["inputs"] == record["inputs"]]
    return dataset_id, seeded[0]["dataset_record_id"]


def refresh(f: Fuzzed) -> None:
    """Put back what earlier examples deleted, renamed or moved, so every route's test meets the seeded
    things again: the experiments' stages, the first run, the file, the logged model, the registered model,
    its versions and alias. Routes run in name order, and the DELETEs would otherwise empty the world early."""
    w, http, server = f.world, f.http, f.server

    def call(method: str, path: str, body: dict[str, Any]) -> requests.Response:
        if method == "GET":
            return http.get(server.api(path), params=body, timeout=TIMEOUT)
        return http.request(method, server.api(path), json=body, timeout=TIMEOUT)

    eid, gone = w.experiment_ids[1], w.experiment_ids[2]
    call("POST", "experiments/restore", {"experiment_id": eid})  # a 400 if it is active already
    call("POST", "experiments/delete", {"experiment_id": gone})
    names = [
        _ok(call("GET", "experiments/get", {"experiment_id": e}))["experiment"]["name"] for e in (eid, gone)
    ]
    w.experiment_names = [names[0], "Default", names[1]]
    first = w.run_ids[0]
    call("POST", "runs/restore", {"run_id": first})
    put = http.put(
        f"{server.url}/api/2.0/mlflow-artifacts/artifacts/{eid}/{first}/artifacts/hello.txt",
        data=b"hello",
        timeout=TIMEOUT,
    )
    assert put.status_code == 200, put.text
    if call("GET", f"logged-models/{w.model_ids[0]}", {}).status_code != 200:
        model = _ok(
            call("POST", "logged-models", {"experiment_id": eid, "name": "fuzz-lm", "source_run_id": first})
        )
        w.model_ids = [model["model"]["info"]["model_id"]]
    name = w.model_names[0]
    if call("GET", "registered-models/get", {"name": name}).status_code != 200:
        _ok(call("POST", "registered-models/create", {"name": name}))
    found = _ok(call("GET", "model-versions/search", {"filter": f"name = '{name}'"})).get(
        "model_versions", []
    )
    if not found:
        source = f"mlflow-artifacts:/{eid}/{first}/artifacts/model"
        found = [
            _ok(call("POST", "model-versions/create", {"name": name, "source": source, "run_id": first}))[
                "model_version"
            ]
        ]
    w.versions = sorted({mv["version"] for mv in found}, key=int)
    model = _ok(call("GET", f"logged-models/{w.model_ids[0]}", {}))["model"]
    put_model_file(server, http, model)
    dataset = http.get(server.api(f"datasets/{w.dataset_ids[0]}", version="3.0"), timeout=TIMEOUT)
    kept = w.dataset_ids[0] if dataset.status_code == 200 else None
    w.dataset_ids[0], w.record_ids[0] = seed_dataset(server, http, eid, kept)
    scorer = http.get(
        server.api("scorers/get", version="3.0"),
        params={"experiment_id": eid, "name": SCORER_NAME},
        timeout=TIMEOUT,
    )
    if scorer.status_code != 200:
        w.scorer_ids[0] = seed_scorer_and_issue(server, http, eid)[0]
    _ok(
        call("POST", "registered-models/alias", {"name": name, "alias": "champion", "version": w.versions[0]})
    )
    seeded = (
        ("secrets/get", {"secret_id": w.secret_ids[0]}),
        ("model-definitions/get", {"model_definition_id": w.model_definition_ids[0]}),
        ("endpoints/get", {"endpoint_id": w.endpoint_ids[0]}),
    )
    gateway = [
        http.get(server.api("gateway/" + p, version="3.0"), params=q, timeout=TIMEOUT) for p, q in seeded
    ]
    if any(g.status_code != 200 for g in gateway):
        for field_name, values in seed_gateway(server, http).items():
            setattr(w, field_name, values)


@contextlib.contextmanager
def seeded_server(backend: str, workdir: Path) -> Iterator[Fuzzed]:
    """A fresh database on `backend`, a server on it, seeded; all of it torn down on exit."""
    db = create_database(backend, workdir / "sqlite")
    server: ServerProcess | None = None
    store: StoreDigest | None = None
    http = requests.Session()
    try:
        if db.needs_upgrade:
            db_upgrade(db)
        server = ServerProcess(
            db,
            workdir / "artifacts",
            workdir / "server.log",
            name=f"fuzz-{db.backend}",
            env={"TRACKLIGHT_WEBHOOK_SECRET_KEY": GATEWAY_KEY},
        )
        server.start(timeout=90)
        world = seed(server, http)
        store = StoreDigest(db)
        yield Fuzzed(server, db, store, world, http)
    finally:
        http.close()
        if store is not None:
            store.close()
        if server is not None:
            server.stop()
        drop_database(db)


@pytest.fixture(scope="module", params=FUZZ_BACKENDS)
def fuzzed(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Fuzzed]:
    """The fuzzed server on each fuzzed backend, for the whole module."""
    with seeded_server(request.param, tmp_path_factory.mktemp(f"fuzz-{request.param}")) as f:
        yield f


@pytest.fixture(scope="module", params=selected_backends())
def seeded(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Fuzzed]:
    """The same seeded server on every backend under test, for the regression tests."""
    with seeded_server(request.param, tmp_path_factory.mktemp(f"seeded-{request.param}")) as f:
        yield f
