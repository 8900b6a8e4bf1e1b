"""The dashboard, GraphQL and the web UI's ajax routes with auth on, for a user denied one experiment and
one registered model (the default permission being READ): lists leave the denied things out, their
URLs answer 403 (or 404) and never their data, and pages of readable things that point at denied ones
show no more than the reference itself. The admin sees everything, so each check could fail."""

from __future__ import annotations

import tempfile
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
import requests
from harness.server import ServerProcess

from .conftest import ADMIN, ADMIN_PASSWORD, CLIENT_ENV, is_mlflow2, new_user

if is_mlflow2():
    pytest.skip("seeded with MLflow 3's logged models", allow_module_level=True)

TIMEOUT = 60


@dataclass
class World:
    """What the admin seeded, and the user who may not read the `hidden_*` things."""

    server: ServerProcess
    user: tuple[str, str]
    secret: str  # in every name and value of the hidden things, and nowhere else
    shown_experiment: str
    shown_experiment_name: str
    hidden_experiment: str
    shown_run: str
    child_run: str  # in the shown experiment, its parent run in the hidden one
    hidden_run: str
    shown_model: str  # registered; its version 1 comes from the hidden run
    hidden_model: str  # registered; its version 1 comes from the shown run, aliased
    shown_logged_model: str  # in the shown experiment, from the hidden run
    hidden_logged_model: str  # in the hidden experiment; the shown run lists it as an input
    shown_trace: str  # in the shown experiment
    hidden_trace: str  # in the hidden experiment, its input the secret
    hidden_span: str  # the hidden trace's root span

    def get(self, path: str, *, as_admin: bool = False, **kwargs: Any) -> requests.Response:
        auth = (ADMIN, ADMIN_PASSWORD) if as_admin else self.user
        return requests.get(self.server.base_url + path, auth=auth, timeout=TIMEOUT, **kwargs)

    def post(self, path: str, *, as_admin: bool = False, **kwargs: Any) -> requests.Response:
        auth = (ADMIN, ADMIN_PASSWORD) if as_admin else self.user
        return requests.post(self.server.base_url + path, auth=auth, timeout=TIMEOUT, **kwargs)


def _seed(server: ServerProcess, tmp: Path) -> World:
    from mlflow import MlflowClient
    from mlflow.entities import Dataset, DatasetInput, LoggedModelInput, Metric
    from mlflow.server import get_app_client

    client = MlflowClient(server.url)
    secret = f"secret{uuid.uuid4().hex[:10]}"
    tag = uuid.uuid4().hex[:8]

    shown_name = f"shown-{tag}"
    shown_eid = client.create_experiment(shown_name)
    hidden_eid = client.create_experiment(f"hidden-{secret}")
    deleted_eid = client.create_experiment(f"deleted-{secret}")
    client.delete_experiment(deleted_eid)

    hidden_run = client.create_run(hidden_eid, run_name=f"run-{secret}").info.run_id
    client.log_param(hidden_run, "p", f"param-{secret}")
    client.log_batch(
        hidden_run,
        metrics=[Metric(f"metric_{secret}", 0.5 + step, 1_700_000_000_000 + step, step) for step in range(5)],
    )
    client.set_tag(hidden_run, "note", f"tag-{secret}")
    client.log_text(hidden_run, f"text-{secret}", f"notes/{secret}.txt")
    client.log_text(hidden_run, f"<p>html-{secret}</p>", "report.html")
    client.log_inputs(hidden_run, [DatasetInput(Dataset(f"data-{secret}", "d1", "local", "/data"), tags=[])])

    shown_run = client.create_run(shown_eid, run_name=f"visible-{tag}").info.run_id
    client.log_param(shown_run, "p", "plain")
    client.log_metric(shown_run, "loss", 0.25, step=0)
    client.log_text(shown_run, "artifact_path: model\n", "model/MLmodel")
    child_run = client.create_run(
        shown_eid, run_name=f"child-{tag}", tags={"mlflow.parentRunId": hidden_run}
    ).info.run_id

    shown_model = f"shown-model-{tag}"
    client.create_registered_model(shown_model)
    client.create_model_version(shown_model, f"runs:/{hidden_run}/model", hidden_run)
    hidden_model = f"model-{secret}"
    client.create_registered_model(hidden_model, description=f"description-{secret}")
    client.create_model_version(hidden_model, f"runs:/{shown_run}/model", shown_run)
    client.set_registered_model_alias(hidden_model, f"alias{secret}", "1")

    hidden_lm = client.create_logged_model(hidden_eid, name=f"lm-{secret}", params={"p": f"lmparam-{secret}"})
    files = tmp / "model-files"
    files.mkdir()
    (files / "MLmodel").write_text(f"artifact_path: {secret}\n")
    (files / "card.html").write_text(f"<p>card-{secret}</p>")
    client.log_model_artifacts(hidden_lm.model_id, str(files))
    client.finalize_logged_model(hidden_lm.model_id, "READY")
    shown_lm = client.create_logged_model(shown_eid, name=f"shown-lm-{tag}", source_run_id=hidden_run)
    client.finalize_logged_model(shown_lm.model_id, "READY")
    client.log_inputs(shown_run, models=[LoggedModelInput(hidden_lm.model_id)])

    shown_trace, _ = _trace(server, shown_eid, "plain")
    hidden_trace, hidden_span = _trace(server, hidden_eid, f"input-{secret}")

    username, password = new_user(server, "viewer")
    admin = get_app_client("basic-auth", tracking_uri=server.url)
    admin.grant_user_permission(username, "experiment", hidden_eid, "DENY")
    admin.grant_user_permission(username, "experiment", deleted_eid, "DENY")
    admin.grant_user_permission(username, "registered_model", hidden_model, "DENY")
    return World(
        server=server,
        user=(username, password),
        secret=secret,
        shown_experiment=shown_eid,
        shown_experiment_name=shown_name,
        hidden_experiment=hidden_eid,
        shown_run=shown_run,
        child_run=child_run,
        hidden_run=hidden_run,
        shown_model=shown_model,
        hidden_model=hidden_model,
        shown_logged_model=shown_lm.model_id,
        hidden_logged_model=hidden_lm.model_id,
        shown_trace=shown_trace,
        hidden_trace=hidden_trace,
        hidden_span=hidden_span,
    )


def _trace(server: ServerProcess, experiment_id: str, text: str) -> tuple[str, str]:
    """A trace made with @mlflow.trace in the experiment: its id and its root span's id."""
    import mlflow

    mlflow.set_tracking_uri(server.url)
    mlflow.set_experiment(experiment_id=experiment_id)

    @mlflow.trace(name="answer")
    def answer(question: str) -> str:
        return question.upper()

    answer(text)
    trace_id = mlflow.get_last_active_trace_id()
    mlflow.flush_trace_async_logging()
    span = mlflow.get_trace(trace_id).data.spans[0]
    return trace_id, span.span_id


@pytest.fixture(scope="module")
def world(auth_server: ServerProcess) -> Iterator[World]:
    with pytest.MonkeyPatch.context() as mp, tempfile.TemporaryDirectory() as tmp:
        for key, value in CLIENT_ENV.items():
            mp.setenv(key, value)
        mp.delenv("MLFLOW_TRACKING_TOKEN", raising=False)
        mp.setenv("MLFLOW_TRACKING_URI", auth_server.url)
        mp.setenv("MLFLOW_TRACKING_USERNAME", ADMIN)
        mp.setenv("MLFLOW_TRACKING_PASSWORD", ADMIN_PASSWORD)
        yield _seed(auth_server, Path(tmp))


def _hidden_paths(w: World) -> list[str]:
    """Every page and data route that would show one of the hidden things."""
    he, hr, hm, hl = w.hidden_experiment, w.hidden_run, quote(w.hidden_model, safe=""), w.hidden_logged_model
    run = f"/experiments/{he}/runs/{hr}"
    return [
        f"/experiments/{he}",
        f"/experiments/{he}?filter=params.p%20%3D%20%27x%27",
        f"/runs?experiment={w.shown_experiment}&experiment={he}",
        f"/runs?experiment={he}",
        run,
        f"/experiments/{w.shown_experiment}/runs/{hr}",  # the wrong experiment in the URL changes nothing
        run + "/live",
        run + "/artifacts",
        run + "/artifacts?path=notes",
        run + f"/artifact?path=notes/{w.secret}.txt",
        run + "/artifact-raw?path=report.html",
        f"/dashboard-data/run-keys?experiment={he}",
        f"/dashboard-data/run-keys?experiment={w.shown_experiment}&experiment={he}",
        f"/dashboard-data/metric-series?key=metric_{w.secret}&run={hr}",
        f"/dashboard-data/metric-series?key=metric_{w.secret}&run={w.shown_run}&run={hr}",
        f"/experiments/{he}/traces",
        f"/experiments/{he}/traces?filter=status%20%3D%20%27OK%27",
        f"/experiments/{he}/traces/{w.hidden_trace}",
        f"/experiments/{w.shown_experiment}/traces/{w.hidden_trace}",
        f"/experiments/{he}/traces/{w.hidden_trace}/spans/{w.hidden_span}",
        f"/models/{hm}",
        f"/models/{hm}/versions/1",
        f"/logged-models/{hl}",
        f"/logged-models/{hl}/artifacts",
        f"/logged-models/{hl}/artifact?path=MLmodel",
        f"/logged-models/{hl}/artifact-raw?path=card.html",
        # The web UI's own routes.
        f"/get-artifact?run_uuid={hr}&path=notes/{w.secret}.txt",
        f"/model-versions/get-artifact?name={hm}&version=1&path=MLmodel",
        f"/ajax-api/2.0/mlflow/logged-models/{hl}/artifacts/files?artifact_file_path=MLmodel",
        f"/ajax-api/2.0/mlflow/runs/get?run_id={hr}",
        f"/ajax-api/2.0/mlflow/experiments/get?experiment_id={he}",
        f"/ajax-api/2.0/mlflow/artifacts/list?run_id={hr}",
        f"/ajax-api/2.0/mlflow/metrics/get-history-bulk-interval?run_ids={hr}&metric_key=metric_{w.secret}",
        f"/ajax-api/2.0/mlflow/metrics/get-history-bulk?run_id={hr}&metric_key=metric_{w.secret}",
        f"/ajax-api/2.0/mlflow/registered-models/get?name={hm}",
        f"/ajax-api/2.0/mlflow/registered-models/alias?name={hm}&alias=alias{w.secret}",
        f"/ajax-api/2.0/mlflow/logged-models/{hl}",
    ]


def test_the_admin_sees_what_the_user_may_not(world: World) -> None:
    """The hidden things are really there: the checks below are not passing on empty pages."""
    for path in _hidden_paths(world):
        got = world.get(path, as_admin=True)
        assert got.status_code == 200, (path, got.status_code, got.text[:200])
    assert world.secret in world.get("/experiments", as_admin=True).text
    assert f"deleted-{world.secret}" in world.get("/experiments?view=deleted", as_admin=True).text
    assert world.secret in world.get("/models", as_admin=True).text
    assert (
        f"run-{world.secret}"
        in world.get(f"/experiments/{world.shown_experiment}/runs/{world.child_run}", as_admin=True).text
    )


def test_lists_show_only_what_the_user_may_read(world: World) -> None:
    for path in (
        "/",
        "/experiments",
        "/experiments?view=all",
        "/experiments?view=deleted",
        "/experiments?q=secret",
    ):
        got = world.get(path)
        assert got.status_code == 200, path
        assert world.secret not in got.text, path
    assert world.shown_experiment_name in world.get("/experiments").text
    models = world.get("/models")
    assert models.status_code == 200 and world.shown_model in models.text
    assert world.secret not in models.text
    assert world.secret not in world.get("/models?q=model").text
    runs = world.get(f"/experiments/{world.shown_experiment}")
    assert runs.status_code == 200 and world.shown_run in runs.text
    assert world.hidden_run not in runs.text.replace(f'title="parent run {world.hidden_run}', "")
    assert world.secret not in runs.text
    traces = world.get(f"/experiments/{world.shown_experiment}/traces")
    assert traces.status_code == 200 and world.shown_trace in traces.text
    assert world.hidden_trace not in traces.text and world.secret not in traces.text
    keys = world.get(f"/dashboard-data/run-keys?experiment={world.shown_experiment}").json()
    assert "p" in keys["params"] and world.secret not in str(keys)


def test_urls_of_hidden_things_are_refused(world: World) -> None:
    for path in _hidden_paths(world):
        got = world.get(path)
        assert got.status_code in (403, 404), (path, got.status_code, got.text[:200])
        assert world.secret not in got.text, path
        if "text/html" in got.headers.get("content-type", ""):
            assert got.status_code == 403, path  # a page that exists says it is refused, not missing
            assert "Permission denied" in got.text, path


def test_a_hidden_traces_span_details_are_refused(world: World) -> None:
    """The fragment a click on the span tree loads answers 403 too, and says nothing of the span."""
    path = f"/experiments/{world.hidden_experiment}/traces/{world.hidden_trace}/spans/{world.hidden_span}"
    headers = {"HX-Request": "true"}
    assert world.secret in world.get(path, headers=headers, as_admin=True).text
    got = world.get(path, headers=headers)
    assert got.status_code == 403 and world.secret not in got.text


def test_pages_of_readable_things_name_hidden_ones_at_most(world: World) -> None:
    """A readable run whose parent, input model or registered version is hidden; a version whose run is
    hidden; a logged model whose source run is hidden: each page shows at most the id it holds."""
    pages = {
        f"/experiments/{world.shown_experiment}/runs/{world.child_run}": world.hidden_run,
        f"/experiments/{world.shown_experiment}/runs/{world.shown_run}": world.hidden_logged_model,
        f"/models/{quote(world.shown_model, safe='')}/versions/1": world.hidden_run,
        f"/models/{quote(world.shown_model, safe='')}": None,
        f"/logged-models/{world.shown_logged_model}": world.hidden_run,
        f"/compare?run={world.shown_run}&run={world.hidden_run}": None,
        f"/runs?experiment={world.shown_experiment}": None,
    }
    for path, reference in pages.items():
        got = world.get(path)
        assert got.status_code == 200, (path, got.status_code)
        assert world.secret not in got.text, path
        if reference is not None:
            assert reference in got.text, path  # the id itself is the readable thing's own data
            # ...but never as a link to it: that would only lead to the refusal.
            assert f'/runs/{reference}"' not in got.text and f'/logged-models/{reference}"' not in got.text, (
                path
            )
    series = world.get(f"/dashboard-data/metric-series?key=loss&run={world.shown_run}")
    assert series.status_code == 200 and series.json()["series"][0]["values"] == [0.25]


def test_forms_on_hidden_things_change_nothing(world: World) -> None:
    run = f"/experiments/{world.hidden_experiment}/runs/{world.hidden_run}"
    model = f"/models/{quote(world.hidden_model, safe='')}/versions/1"
    experiment = f"/experiments/{world.hidden_experiment}"
    posts = {
        run + "/tags": {"key": "written", "value": "by-viewer"},
        run + "/tags/delete": {"key": "note"},
        model + "/alias": {"alias": "viewer"},
        model + "/alias/delete": {"alias": f"alias{world.secret}"},
        model + "/stage": {"stage": "Production", "archive_existing": "false"},
        model + "/tags": {"key": "written", "value": "by-viewer"},
        model + "/tags/delete": {"key": "written"},
        experiment + "/rename": {"name": "renamed-by-viewer"},
        experiment + "/delete": {},
    }
    for path, form in posts.items():
        got = world.post(path, data=form)
        # The run and version pages refuse outright; the experiments list shows the refusal above itself.
        assert got.status_code in (403, 422), (path, got.status_code)
        assert world.secret not in got.text, path
        if got.status_code == 422:
            assert "Permission denied" in got.text, path
    run_page = world.get(run, as_admin=True).text
    assert "by-viewer" not in run_page and f"tag-{world.secret}" in run_page
    version_page = world.get(model, as_admin=True).text
    assert "@viewer" not in version_page and f"@alias{world.secret}" in version_page
    assert "by-viewer" not in version_page and 'value="None" selected' in version_page
    listing = world.get(f"/experiments?q={world.secret}", as_admin=True).text
    assert f"hidden-{world.secret}" in listing and "renamed-by-viewer" not in listing
    upload = world.post(
        f"/ajax-api/2.0/mlflow/upload-artifact?run_uuid={world.hidden_run}&path=planted.txt", data=b"x"
    )
    assert upload.status_code == 403
    files = world.get(f"/ajax-api/2.0/mlflow/artifacts/list?run_id={world.hidden_run}", as_admin=True)
    assert files.status_code == 200 and "planted.txt" not in files.text


def _graphql(world: World, query: str, *, as_admin: bool = False, path: str = "/graphql") -> dict[str, Any]:
    got = world.post(path, json={"query": query}, as_admin=as_admin)
    assert got.status_code == 200, got.text
    return got.json()


RUN_FIELDS = """info { runId runName experimentId } data { params { key value } metrics { key value } }
experiment { experimentId name } modelVersions { name version runId aliases }
inputs { modelInputs { modelId } }"""


def test_graphql_answers_only_what_the_user_may_read(world: World) -> None:
    hr, he = world.hidden_run, world.hidden_experiment
    refused = [
        f'query {{ mlflowGetRun(input: {{runId: "{hr}"}}) {{ run {{ {RUN_FIELDS} }} }} }}',
        f'query {{ mlflowGetExperiment(input: {{experimentId: "{he}"}}) {{ experiment {{ name }} }} }}',
        f'query {{ mlflowListArtifacts(input: {{runId: "{hr}", path: "notes"}}) {{ files {{ path }} }} }}',
        f'query {{ mlflowGetMetricHistoryBulkInterval(input: {{runIds: ["{hr}"], metricKey: "metric_{world.secret}"}}) '
        "{ metrics { key value } } }",
        f'mutation {{ mlflowSearchDatasets(input: {{experimentIds: ["{he}"]}}) {{ datasetSummaries {{ name }} }} }}',
    ]
    for query in refused:
        as_admin = _graphql(world, query, as_admin=True)
        assert as_admin["errors"] is None and world.secret in str(as_admin["data"]), (query, as_admin)
        for path in ("/graphql", "/ajax-api/2.0/mlflow/graphql"):
            body = _graphql(world, query, path=path)
            assert world.secret not in str(body), (path, query)
            assert body["errors"] and any("Permission denied" in e for e in body["errors"]), (path, body)

    search = (
        f'mutation {{ mlflowSearchRuns(input: {{experimentIds: ["{world.shown_experiment}", "{he}"]}}) '
        f"{{ runs {{ {RUN_FIELDS} }} }} }}"
    )
    admin_runs = _graphql(world, search, as_admin=True)["data"]["mlflowSearchRuns"]["runs"]
    assert world.secret in str(admin_runs)
    body = _graphql(world, search)
    assert body["errors"] is None
    runs = body["data"]["mlflowSearchRuns"]["runs"]
    assert {r["info"]["runId"] for r in runs} == {world.shown_run, world.child_run}
    assert world.secret not in str(body)
    versions = f"query {{ mlflowSearchModelVersions(input: {{filter: \"run_id = '{world.shown_run}'\"}}) {{ modelVersions {{ name }} }} }}"
    assert world.secret in str(_graphql(world, versions, as_admin=True))
    body = _graphql(world, versions)
    assert body["errors"] is None and world.secret not in str(body)
