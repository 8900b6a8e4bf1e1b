"""The compare page's scatter plot over 100 runs, and a logged model's page with its files."""

from __future__ import annotations

import re
import tempfile
import uuid
from pathlib import Path

import pytest
import requests
from harness.forms import post_form
from playwright.sync_api import expect

from dashboard.conftest import Dashboard, Watched
from dashboard.seed import XSS_IMG, XSS_SCRIPT

RUNS = 100


@pytest.fixture(scope="module")
def sweep(dashboard: Dashboard) -> list[str]:
    """100 runs: lr numeric, optimizer categorical, loss and accuracy as their latest metrics."""
    from mlflow.entities import Metric, Param

    client = dashboard.client
    eid = client.create_experiment(f"sweep-{uuid.uuid4().hex[:8]}")
    ids = []
    for i in range(RUNS):
        run_id = client.create_run(eid, run_name=f"s-{i:03d}").info.run_id
        lr = 0.001 * (i + 1)
        client.log_batch(
            run_id,
            params=[Param("lr", str(lr)), Param("optimizer", ("sgd", "adam", "rmsprop")[i % 3])],
            metrics=[Metric("loss", 1.0 - lr * 5, 0, 0), Metric("accuracy", lr * 5, 0, 0)],
        )
        ids.append(run_id)
    return ids


def test_scatter_of_params_against_metrics(dashboard: Dashboard, sweep: list[str], page: Watched) -> None:
    p = page.page
    url = dashboard.url + "/compare?" + "&".join(f"run={r}" for r in sweep)
    p.goto(url)
    section = p.locator("#scatter")
    expect(section).to_have_attribute("data-rendered", "true")
    expect(section).to_have_attribute("data-points", str(RUNS))
    x, y = section.get_by_label("X axis", exact=True), section.get_by_label("Y axis", exact=True)
    expect(x).to_have_value("param:lr")
    expect(y).to_have_value("metric:accuracy")
    expect(p.locator("#scatter-summary")).to_have_text("100 of 100 runs plotted: accuracy against lr.")
    canvas = section.locator("canvas")
    expect(canvas).to_have_accessible_name("Scatter plot of accuracy against lr, 100 runs")
    # Pointing at a dot names its run: lr 0.05 (s-049) sits half way along both axes.
    box = canvas.bounding_box()
    width = box["width"]
    p.mouse.move(box["x"] + 72 + (width - 92) * 0.5, box["y"] + 16 + (380 - 72) * 0.5)
    expect(p.locator("[data-scatter-hover]")).to_contain_text(re.compile(r"s-0(49|50|51):"))
    page.shot("compare-scatter")
    # Choosing the axes with the keyboard: a categorical param on x, loss on y.
    x.focus()
    x.select_option("param:optimizer")
    y.focus()
    p.keyboard.press("ArrowUp")  # accuracy → the option before it in the list
    expect(p.locator("#scatter-summary")).to_contain_text("against optimizer")
    y.select_option("metric:loss")
    expect(p.locator("#scatter-summary")).to_have_text("100 of 100 runs plotted: loss against optimizer.")
    page.shot("compare-scatter-categorical")
    page.clean()


def test_compare_page_of_a_hundred_runs(dashboard: Dashboard, sweep: list[str]) -> None:
    url = dashboard.url + "/compare?" + "&".join(f"run={r}" for r in sweep)
    r = requests.get(url, timeout=60)
    assert r.status_code == 200 and "data-scatter=" in r.text
    too_many = requests.get(url + "&run=" + uuid.uuid4().hex, timeout=60)
    assert too_many.status_code == 400


@pytest.fixture(scope="module")
def logged_model(dashboard: Dashboard) -> tuple[str, str, str]:
    """A logged model of a run, with params, metrics, tags and artifact files (one a payload)."""
    client = dashboard.client
    eid = client.create_experiment(f"models-{uuid.uuid4().hex[:8]}")
    run_id = client.create_run(eid, run_name="trainer").info.run_id
    model = client.create_logged_model(
        eid,
        name="classifier",
        source_run_id=run_id,
        params={"depth": "6", "note": XSS_IMG},
        tags={"stage": "candidate", "html": XSS_SCRIPT},
        model_type="sklearn",
    )
    from mlflow.entities import Metric

    client.log_batch(run_id, metrics=[Metric("f1", 0.875, 0, 3, model_id=model.model_id)])
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        (root / "MLmodel").write_text("artifact_path: model\nflavors:\n  sklearn: {}\n")
        (root / "requirements.txt").write_text("scikit-learn==1.5\n")
        (root / "data").mkdir()
        (root / "data" / "summary.json").write_text('{"rows": 10, "x": "' + XSS_IMG.replace('"', "'") + '"}')
        client.log_model_artifacts(model.model_id, str(root))
    client.finalize_logged_model(model.model_id, "READY")
    return eid, run_id, model.model_id


def test_logged_model_page(dashboard: Dashboard, logged_model: tuple[str, str, str], page: Watched) -> None:
    eid, run_id, model_id = logged_model
    p = page.page
    p.goto(f"{dashboard.url}/experiments/{eid}/runs/{run_id}")
    p.locator("#logged-models").get_by_role("link", name="classifier").click()
    p.wait_for_url(re.compile(rf"/logged-models/{model_id}$"))
    expect(p.locator("h1")).to_contain_text("classifier")
    expect(p.locator("h1")).to_contain_text("READY")
    expect(p.locator("#model-overview")).to_contain_text("sklearn")
    expect(p.locator("#model-params")).to_contain_text(XSS_IMG)
    expect(p.locator("#model-metrics tr", has_text="f1")).to_contain_text("0.875")
    expect(p.locator("#model-tags")).to_contain_text("candidate")
    tree = p.locator("#artifact-tree")
    preview = p.locator("#artifact-preview")
    tree.get_by_role("link", name="MLmodel").click()
    preview.get_by_text("sklearn: {}").wait_for()
    tree.get_by_role("link", name="data/").click()
    tree.get_by_role("link", name="summary.json").click()
    preview.get_by_text('"rows": 10').wait_for()
    download = preview.get_by_role("link", name="Download").get_attribute("href")
    got = requests.get(dashboard.url + download, timeout=30)
    assert got.status_code == 200 and got.json()["rows"] == 10
    page.shot("logged-model")
    p.get_by_role("link", name="trainer").click()
    p.wait_for_url(re.compile(rf"/runs/{run_id}$"))
    page.clean()


def test_logged_model_pages_over_http(dashboard: Dashboard, logged_model: tuple[str, str, str]) -> None:
    _, _, model_id = logged_model
    base = f"{dashboard.url}/logged-models/{model_id}"
    for path in ("", "/artifacts", "/artifacts?path=data", "/artifact?path=data/summary.json"):
        r = requests.get(base + path, timeout=30)
        assert r.status_code == 200, path
        assert "<img src=x onerror" not in r.text and "<script>window.__xss" not in r.text, path
    assert requests.get(base + "/artifact?path=nope.txt", timeout=30).status_code == 404
    assert requests.get(f"{dashboard.url}/logged-models/m-{'0' * 32}", timeout=30).status_code == 404
    assert requests.get(base + "/artifact?path=../../etc/passwd.txt", timeout=30).status_code in (400, 404)


def test_edit_a_model_version(dashboard: Dashboard, page: Watched) -> None:
    client = dashboard.client
    name = f"edit-model-{uuid.uuid4().hex[:8]}"
    client.create_registered_model(name)
    run_id = dashboard.data.runs["train-0"]
    client.create_model_version(name, f"runs:/{run_id}/model", run_id=run_id)
    client.create_model_version(name, f"runs:/{run_id}/model", run_id=run_id)
    with pytest.warns(FutureWarning):  # stages are deprecated in the client, still served
        client.transition_model_version_stage(name, "1", "Production")
    p = page.page
    p.goto(f"{dashboard.url}/models/{name}/versions/2")
    p.get_by_label("Add alias").fill("champion")
    p.get_by_role("button", name="Set").click()
    expect(p.locator("#version-aliases")).to_contain_text("@champion")
    assert client.get_model_version_by_alias(name, "champion").version == "2"
    # A reserved alias is refused, with the registry's reason.
    p.get_by_label("Add alias").fill("latest")
    p.get_by_role("button", name="Set").click()
    expect(p.locator("#form-error")).to_be_visible()
    p.get_by_label("Stage", exact=True).select_option("Production")
    p.get_by_label("archive other versions in this stage").check()
    p.get_by_role("button", name="Change stage").click()
    # The page comes back with the box unchecked once the change is made.
    expect(p.get_by_label("archive other versions in this stage")).not_to_be_checked()
    expect(p.get_by_label("Stage", exact=True)).to_have_value("Production")
    assert client.get_model_version(name, "2").current_stage == "Production"
    assert client.get_model_version(name, "1").current_stage == "Archived"
    p.get_by_label("Tag", exact=True).fill("reviewed")
    p.get_by_label("value").fill(XSS_IMG)
    p.get_by_role("button", name="Add tag").click()
    expect(p.locator("#version-tags")).to_contain_text(XSS_IMG)
    assert client.get_model_version(name, "2").tags == {"reviewed": XSS_IMG}
    page.shot("model-version-edit")
    p.get_by_role("button", name="Delete tag reviewed").click()
    expect(p.locator("#version-tags")).to_contain_text("No tags.")
    p.get_by_role("button", name="Remove alias champion").click()
    expect(p.locator("#version-aliases")).to_contain_text("none")
    assert client.get_model_version(name, "2").tags == {}
    assert client.get_registered_model(name).aliases == {}
    page.clean()


def test_version_forms_over_http(dashboard: Dashboard) -> None:
    client = dashboard.client
    name = f"http-model-{uuid.uuid4().hex[:8]}"
    client.create_registered_model(name)
    client.create_model_version(name, "runs:/" + dashboard.data.runs["train-0"] + "/model")
    base = f"{dashboard.url}/models/{name}/versions/1"
    browser = requests.Session()

    def post(url: str, data: dict[str, str], **kwargs: object) -> requests.Response:
        return post_form(browser, url, data, page_url=base, **kwargs)

    r = post(base + "/alias", {"alias": "prod"}, allow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == f"/models/{name}/versions/1"
    assert client.get_model_version_by_alias(name, "prod").version == "1"
    foreign = post(base + "/alias/delete", {"alias": "prod"}, headers={"Origin": "http://evil.example"})
    assert foreign.status_code == 403
    assert client.get_model_version_by_alias(name, "prod").version == "1"
    bad = post(base + "/stage", {"stage": "Nowhere"})
    assert bad.status_code == 422 and 'role="alert"' in bad.text
    missing = post(f"{dashboard.url}/models/{name}/versions/9/tags", {"key": "k"})
    assert missing.status_code == 404
