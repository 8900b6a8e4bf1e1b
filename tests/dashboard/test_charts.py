"""Charts: a running run refreshes itself, smoothing, zoom fetched from the server, long and many series."""

from __future__ import annotations

import os
import re
import uuid

import pytest
import requests
from playwright.sync_api import expect

from dashboard.conftest import Dashboard, Watched
from dashboard.seed import log_points_over_http

# Points of the long metric: 200,000 keeps CI quick; TRACKLIGHT_DASHBOARD_BIG=1000000 runs the full size.
BIG = int(os.environ.get("TRACKLIGHT_DASHBOARD_BIG", "200000"))
MANY_KEYS = 1000


@pytest.fixture(scope="module")
def long_run(dashboard: Dashboard) -> tuple[str, str]:
    client = dashboard.client
    eid = client.create_experiment(f"long-{uuid.uuid4().hex[:8]}")
    run_id = client.create_run(eid, run_name="long").info.run_id
    log_points_over_http(dashboard.url, run_id, "big", BIG)
    client.set_terminated(run_id, "FINISHED")
    return eid, run_id


@pytest.fixture(scope="module")
def wide_run(dashboard: Dashboard) -> tuple[str, str]:
    from mlflow.entities import Metric

    client = dashboard.client
    eid = client.create_experiment(f"wide-{uuid.uuid4().hex[:8]}")
    run_id = client.create_run(eid, run_name="wide").info.run_id
    for step in range(3):
        metrics = [Metric(f"key-{k:04d}", k + step, 1_700_000_000_000 + step, step) for k in range(MANY_KEYS)]
        client.log_batch(run_id, metrics=metrics)
    client.set_terminated(run_id, "FINISHED")
    return eid, run_id


def test_a_running_run_refreshes_itself(dashboard: Dashboard, page: Watched) -> None:
    client = dashboard.client
    eid = client.create_experiment(f"live-{uuid.uuid4().hex[:8]}")
    run_id = client.create_run(eid, run_name="live").info.run_id
    client.log_metric(run_id, "loss", 1.0, step=0)
    p = page.page
    polls: list[str] = []
    p.on("request", lambda r: polls.append(r.url) if r.url.endswith("/live") else None)
    p.goto(f"{dashboard.url}/experiments/{eid}/runs/{run_id}")
    expect(p.locator("#run-status")).to_have_text("RUNNING")
    expect(p.locator("#live-note")).to_be_visible()
    chart = p.locator("figure.chart[data-key='loss']")
    expect(chart).to_have_attribute("data-points", "1")
    # Logged while the page is open: the table, the chart and a chart for a new key follow by themselves.
    client.log_metric(run_id, "loss", 0.5, step=1)
    client.log_metric(run_id, "accuracy", 0.7, step=1)
    expect(p.locator("#metrics")).to_contain_text("accuracy", timeout=15_000)
    expect(chart).to_have_attribute("data-points", "2", timeout=15_000)
    expect(p.locator("figure.chart[data-key='accuracy']")).to_have_attribute("data-rendered", "true")
    expect(p.locator("#metrics tr", has_text="loss")).to_contain_text("0.5")
    # The swapped-in table's sparklines are drawn again, the loss one from its two points now.
    expect(p.locator("#metrics svg[data-spark='loss']")).to_have_attribute("data-points", "2")
    expect(p.locator("#metrics svg[data-spark='accuracy']")).to_have_attribute("data-drawn", "true")
    page.shot("run-live")
    # Once it finishes, the status says so and the polling stops.
    client.set_terminated(run_id, "FINISHED")
    expect(p.locator("#run-status")).to_have_text("FINISHED", timeout=15_000)
    expect(p.locator("#run-live")).not_to_have_attribute("hx-get", re.compile("."))
    expect(p.locator("#live-note")).to_have_count(0)
    seen = len(polls)
    p.wait_for_timeout(7_000)
    assert len(polls) == seen, "still polling after the run finished"
    assert seen >= 2
    page.clean()


def test_finished_run_does_not_poll(dashboard: Dashboard) -> None:
    d = dashboard.data
    html = requests.get(
        f"{dashboard.url}/experiments/{d.experiment_id}/runs/{d.runs['train-0']}", timeout=30
    ).text
    assert 'id="run-live"' in html and "hx-trigger" not in html.split('id="run-live"')[1].split(">")[0]
    live = requests.get(
        f"{dashboard.url}/experiments/{d.experiment_id}/runs/{d.runs['train-0']}/live", timeout=30
    )
    assert live.status_code == 200 and 'hx-swap-oob="true"' in live.text and "FINISHED" in live.text


def test_smoothing_slider(dashboard: Dashboard, page: Watched) -> None:
    d = dashboard.data
    p = page.page
    p.goto(f"{dashboard.url}/experiments/{d.experiment_id}/runs/{d.runs['train-1']}")
    chart = p.locator("figure.chart[data-key='loss']")
    expect(chart).to_have_attribute("data-rendered", "true")
    raw = float(chart.get_attribute("data-last-y"))
    slider = p.get_by_label("Smoothing")
    slider.focus()
    p.keyboard.press("ArrowRight")
    expect(p.locator("#chart-smooth-value")).to_have_text("0.01")
    slider.fill("0.99")
    expect(p.locator("#chart-smooth-value")).to_have_text("0.99")
    # Loss falls, so its moving average lags above the last raw value.
    p.wait_for_function(
        "([el, raw]) => Number(el.getAttribute('data-last-y')) > raw * 1.02",
        arg=[chart.element_handle(), raw],
    )
    page.shot("run-smoothed")
    slider.fill("0")
    p.wait_for_function(
        "([el, raw]) => Math.abs(Number(el.getAttribute('data-last-y')) - raw) < 1e-9",
        arg=[chart.element_handle(), raw],
    )
    page.clean()


def test_zoom_fetches_detail_for_a_long_series(
    dashboard: Dashboard, long_run: tuple[str, str], page: Watched
) -> None:
    eid, run_id = long_run
    p = page.page
    p.goto(f"{dashboard.url}/experiments/{eid}/runs/{run_id}")
    chart = p.locator("figure.chart[data-key='big']")
    expect(chart).to_have_attribute("data-rendered", "true", timeout=60_000)
    assert chart.get_attribute("data-first-step") == "0"
    assert chart.get_attribute("data-last-step") == str(BIG - 1)
    assert int(chart.get_attribute("data-points")) <= 1000
    # Drag across the middle tenth of the plot: the chart asks the server for those steps only.
    over = chart.locator(".u-over")
    box = over.bounding_box()
    y = box["y"] + box["height"] / 2
    p.mouse.move(box["x"] + box["width"] * 0.45, y)
    p.mouse.down()
    p.mouse.move(box["x"] + box["width"] * 0.50, y, steps=5)
    p.mouse.up()
    expect(chart).to_have_attribute("data-zoom", re.compile(r"^\d+:\d+$"))
    expect(chart).to_have_attribute("data-rendered", "true")
    lo, hi = (int(v) for v in chart.get_attribute("data-zoom").split(":"))
    assert 0 < lo < hi < BIG and hi - lo < BIG / 10
    p.wait_for_function("el => el.getAttribute('data-first-step') >= " + str(lo), arg=chart.element_handle())
    first, last = int(chart.get_attribute("data-first-step")), int(chart.get_attribute("data-last-step"))
    points = int(chart.get_attribute("data-points"))
    assert lo <= first and last <= hi
    # Finer than the whole-series view: ~1000 points over a twentieth of the steps.
    assert (last - first) / points < BIG / 1000 / 5
    page.shot("chart-zoomed")
    chart.get_by_role("button", name="Reset zoom").click()
    expect(chart).not_to_have_attribute("data-zoom", re.compile("."))
    expect(chart).to_have_attribute("data-last-step", str(BIG - 1))
    # The same by keyboard: type a step range.
    p.get_by_label("from", exact=True).fill("1000")
    p.get_by_label("to", exact=True).fill("1500")
    p.get_by_label("to", exact=True).press("Enter")
    expect(chart).to_have_attribute("data-zoom", "1000:1500")
    expect(chart).to_have_attribute("data-points", "501")
    p.get_by_role("button", name="All steps").click()
    expect(chart).not_to_have_attribute("data-zoom", re.compile("."))
    page.clean()


def test_series_endpoint_takes_a_step_range(dashboard: Dashboard, long_run: tuple[str, str]) -> None:
    _, run_id = long_run
    url = dashboard.url + "/dashboard-data/metric-series"
    whole = requests.get(url, params={"key": "big", "run": run_id, "points": "1000"}, timeout=60).json()
    steps = whole["series"][0]["steps"]
    assert len(steps) == 1000 and steps[0] == 0 and steps[-1] == BIG - 1
    part = requests.get(
        url,
        params={"key": "big", "run": run_id, "points": "1000", "start_step": "5000", "end_step": "5400"},
        timeout=60,
    ).json()
    assert part["series"][0]["steps"] == list(range(5000, 5401))
    bad = requests.get(
        url, params={"key": "big", "run": run_id, "start_step": "x", "end_step": "2"}, timeout=30
    )
    assert bad.status_code == 400
    half = requests.get(url, params={"key": "big", "run": run_id, "start_step": "1"}, timeout=30)
    assert half.status_code == 400


def test_a_thousand_metric_keys(dashboard: Dashboard, wide_run: tuple[str, str], page: Watched) -> None:
    eid, run_id = wide_run
    p = page.page
    series_requests: list[str] = []
    p.on("request", lambda r: series_requests.append(r.url) if "metric-series" in r.url else None)
    p.goto(f"{dashboard.url}/experiments/{eid}/runs/{run_id}")
    figures = p.locator("figure.chart")
    expect(figures).to_have_count(MANY_KEYS)
    # The metrics table scrolls inside itself, so the charts start within a screen or two.
    assert p.locator("#charts").bounding_box()["y"] < 2000
    p.locator("#charts-heading").scroll_into_view_if_needed()
    expect(p.locator("figure.chart[data-key='key-0000']")).to_have_attribute("data-rendered", "true")
    p.wait_for_timeout(500)
    # Only the charts near the viewport were fetched and drawn.
    assert len(series_requests) < 40, len(series_requests)
    expect(p.locator("[data-chart-count]")).to_have_text(f"{MANY_KEYS} charts")
    # Finding one chart by name shows just it, drawn.
    p.get_by_label("Find charts").fill("key-0999")
    expect(p.locator("figure.chart:visible")).to_have_count(1)
    expect(p.locator("figure.chart[data-key='key-0999']")).to_have_attribute("data-rendered", "true")
    expect(p.locator("[data-chart-count]")).to_have_text(f"1 of {MANY_KEYS} charts")
    p.get_by_label("Find charts").fill("")
    # Jumping to the end draws the last charts without drawing everything between.
    p.locator("figure.chart[data-key='key-0999']").scroll_into_view_if_needed()
    expect(p.locator("figure.chart[data-key='key-0998']")).to_have_attribute("data-rendered", "true")
    assert p.locator("figure.chart[data-rendered='true']").count() < 80
    # Scrolling through every chart keeps only a bounded number of canvases alive.
    p.evaluate("window.scrollTo(0, 0)")
    p.locator("#charts-heading").scroll_into_view_if_needed()
    for _ in range(40):
        p.mouse.wheel(0, 2400)
        p.wait_for_timeout(60)
    p.locator(
        "figure.chart[data-key='key-0999']"
    ).scroll_into_view_if_needed()  # the bottom, wherever the wheel got
    expect(p.locator("figure.chart[data-key='key-0999']")).to_have_attribute("data-rendered", "true")
    p.wait_for_timeout(300)
    live = p.locator("figure.chart canvas").count()
    assert 0 < live <= 48 + 12, live
    p.evaluate("window.scrollTo(0, 0)")
    p.locator("#charts-heading").scroll_into_view_if_needed()
    expect(p.locator("figure.chart[data-key='key-0000']")).to_have_attribute("data-rendered", "true")
    page.shot("run-thousand-keys", full_page=False)
    page.clean()
