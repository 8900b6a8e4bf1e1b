"""User journeys in headless Chromium against a live server seeded through the mlflow client."""

from __future__ import annotations

import re
import uuid

from playwright.sync_api import expect

from dashboard.conftest import Dashboard, Watched
from dashboard.seed import XSS_IMG, XSS_SCRIPT


def test_open_an_experiment(dashboard: Dashboard, page: Watched) -> None:
    p = page.page
    p.goto(dashboard.url + "/")
    assert p.title().startswith("Experiments")
    p.get_by_role("link", name=dashboard.data.experiment_name, exact=True).click()
    p.wait_for_url(re.compile(rf"/experiments/{dashboard.data.experiment_id}$"))
    assert p.locator("#runs-table tbody tr").count() == 8
    assert p.locator("#runs-table thead").get_by_text("loss").count() == 1
    page.shot("experiment-runs")
    page.clean()


def test_filter_and_sort_runs(dashboard: Dashboard, page: Watched) -> None:
    p = page.page
    p.goto(f"{dashboard.url}/experiments/{dashboard.data.experiment_id}")
    p.get_by_label("Filter").fill("params.optimizer = 'adam'")
    p.get_by_label("Filter").press("Enter")
    p.wait_for_url(re.compile(r"filter=params\.optimizer"))
    expect(p.locator("#runs-table tbody tr")).to_have_count(2)
    assert sorted(p.locator("#runs-table tbody th.name a").all_inner_texts()) == ["train-1", "train-2"]
    # Sort by the loss column, ascending then descending; the URL carries the state.
    p.locator("#runs-table thead th.metric a", has_text="loss").click()
    p.wait_for_url(re.compile(r"sort=metrics\.loss"))
    expect(p.locator("#runs-table thead th.metric", has_text="loss")).to_have_attribute(
        "aria-sort", "descending"
    )
    assert p.locator("#runs-table tbody th.name a").all_inner_texts() == ["train-1", "train-2"]
    p.locator("#runs-table thead th.metric a", has_text="loss").click()
    p.wait_for_url(re.compile(r"dir=asc"))
    expect(p.locator("#runs-table thead th.metric", has_text="loss")).to_have_attribute(
        "aria-sort", "ascending"
    )
    assert p.locator("#runs-table tbody th.name a").all_inner_texts() == ["train-2", "train-1"]
    page.shot("runs-filtered-sorted")
    # A reload of the URL shows the same view.
    p.reload()
    assert p.get_by_label("Filter").input_value() == "params.optimizer = 'adam'"
    assert p.locator("#runs-table tbody th.name a").all_inner_texts() == ["train-2", "train-1"]
    # A filter the grammar refuses says why.
    p.get_by_label("Filter").fill("metrics.loss <<< 2")
    p.get_by_label("Filter").press("Enter")
    alert = p.locator("#filter-error")
    alert.wait_for()
    assert "Filter not applied" in alert.inner_text()
    page.shot("runs-filter-error")
    page.clean()


def test_run_page_and_metric_chart(dashboard: Dashboard, page: Watched) -> None:
    p = page.page
    d = dashboard.data
    p.goto(f"{dashboard.url}/experiments/{d.experiment_id}/runs/{d.runs['train-1']}")
    assert p.locator("h1").inner_text().startswith("train-1")
    assert p.locator("#params").get_by_text("optimizer").count() == 1
    # Each metric's row has a sparkline of its history, sampled on the server.
    spark = p.locator("#metrics svg[data-spark='loss']")
    expect(spark).to_have_attribute("data-drawn", "true")
    line = [
        tuple(map(float, xy.split(","))) for xy in spark.locator("polyline").get_attribute("points").split()
    ]
    assert 10 <= len(line) <= 51 and line == sorted(line)  # sampled, in step order
    assert line[0][1] < line[-1][1]  # the loss falls, so its line starts high (SVG's y grows downwards)
    chart = p.locator("figure.chart[data-key='loss']")
    chart.scroll_into_view_if_needed()
    p.wait_for_selector("figure.chart[data-key='loss'][data-rendered='true']")
    expect(chart).to_have_attribute("data-drawn", "true")  # uPlot's draw hook ran: the canvas is painted
    assert chart.locator("canvas").count() == 1
    assert 0 < int(chart.get_attribute("data-points")) <= 1000
    p.get_by_label("Log scale").check()
    p.get_by_label("X axis").select_option("relative")
    expect(p.locator("figure.chart[data-key='loss'] .u-legend")).to_contain_text("seconds")
    page.shot("run-page")
    page.clean()


def test_browse_and_preview_artifacts(dashboard: Dashboard, page: Watched) -> None:
    p = page.page
    d = dashboard.data
    p.goto(f"{dashboard.url}/experiments/{d.experiment_id}/runs/{d.runs['train-1']}")
    tree = p.locator("#artifact-tree")
    preview = p.locator("#artifact-preview")
    tree.get_by_role("link", name="notes.txt").click()
    preview.get_by_text("hello from the artifact browser").wait_for()
    tree.get_by_role("link", name="config.json").click()
    preview.get_by_text('"dropout": 0.1').wait_for()
    tree.get_by_role("link", name="table.csv").click()
    preview.locator("table.csv th", has_text="epoch").wait_for()
    assert preview.locator("table.csv tbody tr").count() == 3
    tree.get_by_role("link", name="plot.png").click()
    img = preview.locator("img.artifact-image")
    img.wait_for()
    expect(img).to_have_js_property("naturalWidth", 4)
    tree.get_by_role("link", name="report.html").click()
    frame = preview.locator("iframe.artifact-html")
    frame.wait_for()
    assert frame.get_attribute("sandbox") == "allow-scripts"
    p.frame_locator("iframe.artifact-html").get_by_text("Report").wait_for()
    # A report its script draws shows, and its script cannot reach this page.
    tree.get_by_role("link", name="scripted.html").click()
    preview.locator("#preview-name", has_text="scripted.html").wait_for()
    p.frame_locator("iframe.artifact-html").get_by_text("drawn by script").wait_for()
    page.shot("artifacts-html-scripted")
    assert not p.title().startswith("owned")
    page.sandbox_blocked()  # report.html reached for this page's window
    tree.get_by_role("link", name="model/").click()
    tree.get_by_role("link", name="MLmodel").click()
    preview.get_by_text("python_function").wait_for()
    download = preview.get_by_role("link", name="Download")
    href = download.get_attribute("href")
    assert href.startswith("/get-artifact?path=model%2FMLmodel")
    page.shot("artifacts-preview")
    page.clean()


def test_follow_links_the_client_printed(dashboard: Dashboard, page: Watched, capsys, caplog) -> None:
    import mlflow

    mlflow.set_tracking_uri(dashboard.url)
    experiment = mlflow.set_experiment(f"printed-{uuid.uuid4().hex[:8]}")
    with mlflow.start_run(run_name="printed-run") as run:
        mlflow.log_metric("x", 1.0)
    printed = capsys.readouterr().out + capsys.readouterr().err + caplog.text
    links = re.findall(r"https?://\S+/#/experiments/\S+", printed)
    run_link = next(link for link in links if "/runs/" in link)
    experiment_link = next(link for link in links if "/runs/" not in link)
    p = page.page
    p.goto(run_link)
    p.wait_for_url(re.compile(rf"/experiments/{experiment.experiment_id}/runs/{run.info.run_id}$"))
    assert p.locator("h1").inner_text().startswith("printed-run")
    p.goto(experiment_link)
    p.wait_for_url(re.compile(rf"/experiments/{experiment.experiment_id}$"))
    assert p.locator("#runs-table tbody th.name a").all_inner_texts() == ["printed-run"]
    page.clean()


def test_follow_the_evaluation_and_trace_links_of_mlflow_3(
    dashboard: Dashboard, page: Watched, capsys, caplog
) -> None:
    import mlflow
    from mlflow.genai.scorers import scorer

    @scorer
    def short(outputs: str) -> bool:
        return len(outputs) < 10

    mlflow.set_tracking_uri(dashboard.url)
    experiment = mlflow.set_experiment(f"evaluated-{uuid.uuid4().hex[:8]}")
    result = mlflow.genai.evaluate(
        data=[{"inputs": {"question": "why"}}], predict_fn=lambda question: question.upper(), scorers=[short]
    )
    printed = capsys.readouterr().out + capsys.readouterr().err + caplog.text
    link = re.search(r"https?://\S+/#/experiments/\S+selectedRunUuid=\w+", printed)
    assert link is not None, printed
    p = page.page
    p.goto(link.group())
    p.wait_for_url(re.compile(rf"/experiments/{experiment.experiment_id}/runs/{result.run_id}$"))
    trace_id = mlflow.search_traces(run_id=result.run_id, return_type="list")[0].info.trace_id
    p.goto(f"{dashboard.url}/#/experiments/{experiment.experiment_id}/traces?selectedTraceId={trace_id}")
    p.wait_for_url(re.compile(rf"/experiments/{experiment.experiment_id}/traces/{trace_id}$"))
    p.goto(f"{dashboard.url}/#/experiments/{experiment.experiment_id}/traces")
    p.wait_for_url(re.compile(rf"/experiments/{experiment.experiment_id}/traces$"))
    page.clean()


def test_payloads_never_execute(dashboard: Dashboard, page: Watched) -> None:
    p = page.page
    d = dashboard.data
    base = f"{dashboard.url}/experiments/{d.xss_experiment_id}"
    p.goto(dashboard.url + "/")
    # Other modules on the shared server seed payload-named experiments too: look at this one's link.
    link = p.locator(f"#experiments a[href$='/experiments/{d.xss_experiment_id}']")
    assert link.count() == 1 and XSS_SCRIPT in link.inner_text()
    p.goto(base + "?cols=1&param=payload&param=payload2&tag=payload&tag=note&metric=m_onerror")
    assert p.locator("#runs-table tbody th.name a").inner_text() == XSS_IMG
    p.locator("details.columns summary").click()
    page.shot("xss-runs")
    p.goto(f"{base}/runs/{d.xss_run_id}")
    p.wait_for_selector("figure.chart[data-rendered='true']")
    assert p.locator(".u-legend").first.inner_text().count("onerror") == 1  # the run's name, as text
    tree = p.locator("#artifact-tree")
    tree.get_by_role("link", name=XSS_IMG + ".txt").click()
    p.locator("#artifact-preview").get_by_text(XSS_SCRIPT).wait_for()
    for name in ("evil.json", "evil.csv", "evil.html"):
        tree.get_by_role("link", name=name).click()
        p.locator("#preview-name", has_text=name).wait_for()
    p.frame_locator("iframe.artifact-html").get_by_text("sandboxed").wait_for()
    page.sandbox_blocked()  # evil.html reached for this page's window
    page.shot("xss-run")
    p.goto(f"{dashboard.url}/compare?run={d.xss_run_id}&run={d.runs['train-0']}")
    p.wait_for_selector("#scatter[data-rendered='true']")
    p.locator("#charts").scroll_into_view_if_needed()
    p.wait_for_selector("figure.chart[data-rendered='true']")
    page.clean()


def test_compare_selected_runs(dashboard: Dashboard, page: Watched) -> None:
    p = page.page
    d = dashboard.data
    p.goto(f"{dashboard.url}/experiments/{d.experiment_id}")
    assert p.locator("#compare-button").is_disabled()
    p.get_by_label("Select run train-0").check()
    p.get_by_label("Select run train-3").check()
    p.get_by_role("button", name="Compare selected runs").click()
    p.wait_for_url(re.compile(r"/compare\?run="))
    headers = p.locator("#compare-table thead th a").all_inner_texts()
    assert sorted(headers) == ["train-0", "train-3"]
    assert [t.split()[0] for t in p.locator("#compare-table tr.differs th").all_inner_texts()] == ["lr"]
    chart = p.locator("figure.chart[data-key='loss']")
    chart.scroll_into_view_if_needed()
    p.wait_for_selector("figure.chart[data-key='loss'][data-rendered='true']")
    assert chart.locator(".u-legend .u-series").count() == 3  # the x value plus one per run
    page.shot("compare")
    page.clean()


def test_manage_experiments_with_forms(dashboard: Dashboard, page: Watched) -> None:
    p = page.page
    name = f"ui-made-{uuid.uuid4().hex[:8]}"
    p.goto(dashboard.url + "/")
    p.get_by_label("New experiment").fill(name)
    p.get_by_role("button", name="Create", exact=True).click()
    row = p.locator("#experiments tbody tr", has_text=name)
    row.wait_for()
    eid = row.get_attribute("data-experiment-id")
    row.get_by_text("Rename").click()
    row.get_by_label("New name").fill(name + "-renamed")
    row.get_by_role("button", name="Save").click()
    p.locator("#experiments tbody tr", has_text=name + "-renamed").wait_for()
    assert dashboard.client.get_experiment(eid).name == name + "-renamed"
    p.get_by_label("New experiment").fill(name + "-renamed")
    p.get_by_role("button", name="Create", exact=True).click()
    p.locator("#form-error", has_text="already exists").wait_for()
    page.accept_dialogs = True
    row = p.locator(f"#experiments tbody tr[data-experiment-id='{eid}']")
    row.get_by_role("button", name=re.compile("Delete")).click()
    row.wait_for(state="detached")
    assert dashboard.client.get_experiment(eid).lifecycle_stage == "deleted"
    p.get_by_label("Show").select_option("deleted")
    p.get_by_role("button", name="Search", exact=True).click()
    restore = p.locator(f"#experiments tbody tr[data-experiment-id='{eid}']").get_by_role(
        "button", name=re.compile("Restore")
    )
    restore.click()
    expect(p.locator(f"#experiments tbody tr[data-experiment-id='{eid}']")).to_have_count(0)
    assert dashboard.client.get_experiment(eid).lifecycle_stage == "active"
    page.shot("experiments")


def test_theme_toggle_and_keyboard(dashboard: Dashboard, page: Watched) -> None:
    p = page.page
    p.goto(
        f"{dashboard.url}/experiments/{dashboard.data.experiment_id}/runs/{dashboard.data.runs['train-0']}"
    )
    toggle = p.get_by_role("button", name="Dark theme")
    toggle.click()
    assert p.evaluate("document.documentElement.getAttribute('data-theme')") == "dark"
    p.wait_for_selector("figure.chart[data-rendered='true']")
    page.shot("run-page-dark")
    p.reload()
    assert p.evaluate("document.documentElement.getAttribute('data-theme')") == "dark"
    # The skip link is the first stop of the keyboard, and it moves focus to the content.
    p.keyboard.press("Tab")
    assert p.evaluate("document.activeElement.textContent") == "Skip to content"
    page.clean()


def test_registry_pages(dashboard: Dashboard, page: Watched) -> None:
    client = dashboard.client
    d = dashboard.data
    name = f"dash-model-{uuid.uuid4().hex[:8]}"
    client.create_registered_model(name, tags={"owner": XSS_IMG}, description="A model for the dashboard")
    run_id = d.runs["train-1"]
    version = client.create_model_version(name, f"runs:/{run_id}/model", run_id=run_id)
    client.set_registered_model_alias(name, "champion", version.version)
    p = page.page
    p.goto(dashboard.url + "/models?q=" + name)
    p.get_by_role("link", name=name, exact=True).click()
    p.wait_for_url(re.compile(r"/models/dash-model-"))
    assert p.locator("#model-tags").get_by_text(XSS_IMG).count() == 1
    assert "@champion" in p.locator("#versions").inner_text()
    page.shot("model")
    p.locator("#versions").get_by_role("link", name="v1").click()
    p.wait_for_url(re.compile(r"/versions/1$"))
    page.shot("model-version")
    p.get_by_role("link", name="train-1").click()
    p.wait_for_url(re.compile(rf"/runs/{run_id}$"))
    page.clean()


def test_edit_run_tags(dashboard: Dashboard, page: Watched) -> None:
    client = dashboard.client
    run_id = client.create_run(dashboard.data.experiment_id, run_name="tag-edit").info.run_id
    p = page.page
    p.goto(f"{dashboard.url}/experiments/{dashboard.data.experiment_id}/runs/{run_id}")
    p.get_by_label("Tag", exact=True).fill("stage")
    p.get_by_label("value", exact=True).fill("<b>candidate</b>")
    p.get_by_role("button", name="Set tag", exact=True).click()
    expect(p.locator("#tags")).to_contain_text("<b>candidate</b>")  # shown as text, not markup
    assert client.get_run(run_id).data.tags["stage"] == "<b>candidate</b>"
    p.get_by_label("Tag", exact=True).fill("bad key!")
    p.get_by_role("button", name="Set tag", exact=True).click()
    expect(p.locator("#form-error")).to_contain_text("Invalid value")
    assert "bad key!" not in client.get_run(run_id).data.tags
    p.get_by_role("button", name="Delete tag stage").click()
    expect(p.locator("#tags")).to_contain_text("No tags.")
    assert "stage" not in client.get_run(run_id).data.tags
    page.clean()
