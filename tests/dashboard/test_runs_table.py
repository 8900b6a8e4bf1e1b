"""The runs table: children fetched under their parent, previous page, several experiments, key completion."""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass
from typing import Any

import pytest
import requests
from playwright.sync_api import expect

from dashboard.conftest import Dashboard, Watched
from dashboard.seed import bulk_runs, seed_nested

CHILDREN = 55  # with the parent, 56 runs: three pages of 25 sorted by name
ROW = re.compile(r'<tr data-run-id="(\w+)" class="depth-(\d)( deleted)?( fetched)?"')


@dataclass
class Nested:
    experiment_id: str
    parent: str
    children: list[str]


@pytest.fixture(scope="module")
def nested(dashboard: Dashboard) -> Nested:
    eid, parent, children = seed_nested(dashboard.client, f"nested-{uuid.uuid4().hex[:8]}", CHILDREN)
    return Nested(eid, parent, children)


def get(d: Dashboard, path: str, **params: Any) -> requests.Response:
    return requests.get(d.url + path, params=params, timeout=60)


def rows(html: str) -> list[tuple[str, int, bool]]:
    return [(run_id, int(depth), bool(fetched)) for run_id, depth, _, fetched in ROW.findall(html)]


def test_children_on_other_pages_follow_their_parent(dashboard: Dashboard, nested: Nested) -> None:
    page = get(
        dashboard, f"/experiments/{nested.experiment_id}", sort="attributes.run_name", dir="asc", size=25
    )
    assert page.status_code == 200
    found = rows(page.text)
    assert found[0] == (nested.parent, 0, False)
    # The page holds the parent and 24 children; the other 31 are fetched and shown under it.
    assert [r for r, _, _ in found[1:]][:24] == nested.children[:24]
    assert {r for r, _, _ in found[1:]} == set(nested.children)
    assert all(depth == 1 for _, depth, _ in found[1:])
    assert sum(fetched for _, _, fetched in found) == CHILDREN - 24
    assert "25 runs on this page, and 31 child runs from other pages" in page.text
    # A filter applies to the fetched children too.
    filtered = get(
        dashboard,
        f"/experiments/{nested.experiment_id}",
        filter="attributes.run_name != 'z-child-40'",
        sort="attributes.run_name",
        dir="asc",
        size=25,
    )
    ids = [r for r, _, _ in rows(filtered.text)]
    assert nested.children[40] not in ids and nested.children[41] in ids


def test_previous_page_walks_back(dashboard: Dashboard, nested: Nested) -> None:
    base = f"/experiments/{nested.experiment_id}"
    first = get(dashboard, base, sort="attributes.run_name", dir="asc", size=25).text
    assert 'rel="prev"' not in first
    pages = [first]
    for _ in range(2):
        nxt = re.search(r'<a href="([^"]+)" rel="next">', pages[-1])
        assert nxt, "no next link"
        pages.append(requests.get(dashboard.url + nxt.group(1).replace("&amp;", "&"), timeout=60).text)
    assert 'rel="next"' not in pages[2]
    assert len([r for r, _, f in rows(pages[2]) if not f]) == 6
    # From the third page, "previous" shows the second, and from there the first.
    back = pages[2]
    for expected in (pages[1], pages[0]):
        prev = re.search(r'<a href="([^"]+)" rel="prev">', back)
        assert prev, "no previous link"
        back = requests.get(dashboard.url + prev.group(1).replace("&amp;", "&"), timeout=60).text
        assert [r for r, _, f in rows(back) if not f] == [r for r, _, f in rows(expected) if not f]
    assert 'rel="prev"' not in back


def test_runs_of_several_experiments(dashboard: Dashboard, nested: Nested) -> None:
    d = dashboard.data
    r = requests.get(
        dashboard.url + "/runs",
        params=[("experiment", d.experiment_id), ("experiment", nested.experiment_id), ("size", "100")],
        timeout=60,
    )
    assert r.status_code == 200
    ids = {run_id for run_id, _, _ in rows(r.text)}
    assert set(d.runs.values()) <= ids and nested.parent in ids and set(nested.children) <= ids
    assert "Runs of 2 experiments" in r.text and '<th scope="col">Experiment</th>' in r.text
    # Sorting and filtering keep both experiments in the URL.
    sort_link = re.search(r'href="(/runs\?[^"]*sort=attributes\.run_name[^"]*)"', r.text)
    assert sort_link and sort_link.group(1).count("experiment=") == 2
    assert r.text.count('<input type="hidden" name="experiment"') >= 2
    filtered = requests.get(
        dashboard.url + "/runs",
        params=[
            ("experiment", d.experiment_id),
            ("experiment", nested.experiment_id),
            ("filter", "params.optimizer = 'adam'"),
        ],
        timeout=60,
    )
    assert {run_id for run_id, _, _ in rows(filtered.text)} == {d.runs["train-1"], d.runs["train-2"]}
    assert get(dashboard, "/runs").status_code == 400
    assert get(dashboard, "/runs", experiment="987654321").status_code == 404


def test_run_keys_for_completion(dashboard: Dashboard, nested: Nested) -> None:
    d = dashboard.data
    one = get(dashboard, "/dashboard-data/run-keys", experiment=d.experiment_id).json()
    assert one["params"] == ["lr", "optimizer"]
    assert one["metrics"] == ["accuracy", "loss"]
    assert "team" in one["tags"] and "mlflow.parentRunId" in one["tags"]
    both = requests.get(
        dashboard.url + "/dashboard-data/run-keys",
        params=[("experiment", d.experiment_id), ("experiment", d.xss_experiment_id)],
        timeout=30,
    ).json()
    assert both["params"] == ["lr", "optimizer", "payload", "payload2"]


def test_keys_at_ten_thousand_runs(dashboard: Dashboard) -> None:
    eid = dashboard.client.create_experiment(f"bulk-{uuid.uuid4().hex[:8]}")
    bulk_runs(dashboard.server.backend_store_uri, eid, 10_000, keys_per_run=5)
    keys = get(dashboard, "/dashboard-data/run-keys", experiment=eid).json()
    assert keys["params"] == sorted(f"p{i}" for i in range(15))
    assert keys["metrics"] == [f"m{i}" for i in range(5)] and keys["tags"] == [f"t{i}" for i in range(5)]
    page = get(dashboard, f"/experiments/{eid}", size=100)
    assert page.status_code == 200 and len(rows(page.text)) == 100


def test_collapse_and_expand_children(dashboard: Dashboard, nested: Nested, page: Watched) -> None:
    p = page.page
    p.goto(f"{dashboard.url}/experiments/{nested.experiment_id}?sort=attributes.run_name&dir=asc&size=25")
    children = p.locator(f"#runs-table tr[data-ancestors='{nested.parent}']")
    expect(children).to_have_count(CHILDREN)
    expect(p.locator("#runs-table tr.fetched").first).to_be_visible()
    page.shot("runs-nested")
    toggle = p.locator(f"button[data-toggle-children='{nested.parent}']")
    expect(toggle).to_have_attribute("aria-expanded", "true")
    toggle.focus()
    p.keyboard.press("Enter")
    expect(toggle).to_have_attribute("aria-expanded", "false")
    expect(toggle).to_have_accessible_name(re.compile(r"^Show the 55 child runs"))
    for i in (0, 30, CHILDREN - 1):
        expect(children.nth(i)).to_be_hidden()
    page.shot("runs-nested-collapsed")
    p.keyboard.press("Space")
    expect(toggle).to_have_attribute("aria-expanded", "true")
    expect(children.nth(CHILDREN - 1)).to_be_visible()
    page.clean()


def test_previous_page_in_the_browser(dashboard: Dashboard, nested: Nested, page: Watched) -> None:
    p = page.page
    p.goto(f"{dashboard.url}/experiments/{nested.experiment_id}?sort=attributes.run_name&dir=asc&size=25")
    first = p.locator("#runs-table tbody tr:not(.fetched) th.name a").all_inner_texts()
    p.get_by_role("link", name="Next page").click()
    p.wait_for_url(re.compile(r"page="))
    p.get_by_role("link", name="Next page").click()
    p.wait_for_url(re.compile(r"back="))
    expect(p.locator("#runs-table tbody tr")).to_have_count(6)
    p.get_by_role("link", name="Previous page").click()
    expect(p.locator("#runs-table tbody th.name a").first).to_have_text("z-child-24")
    p.get_by_role("link", name="Previous page").click()
    expect(p.locator("#runs-table tbody th.name a").first).to_have_text("a-parent")
    assert p.locator("#runs-table tbody tr:not(.fetched) th.name a").all_inner_texts() == first
    expect(p.get_by_role("link", name="Previous page")).to_have_count(0)
    page.clean()


def test_filter_completion_with_the_keyboard(dashboard: Dashboard, page: Watched) -> None:
    p = page.page
    p.goto(f"{dashboard.url}/experiments/{dashboard.data.experiment_id}")
    box = p.get_by_role("combobox", name="Filter")
    box.click()
    box.press_sequentially("met")
    listbox = p.get_by_role("listbox")
    expect(listbox.get_by_role("option", name="metrics.")).to_be_visible()
    box.press("ArrowDown")
    box.press("Enter")
    expect(box).to_have_value("metrics.")
    expect(listbox.get_by_role("option")).to_have_text(["metrics.accuracy", "metrics.loss"])
    box.press_sequentially("lo")
    expect(listbox.get_by_role("option")).to_have_text(["metrics.loss"])
    box.press("ArrowDown")
    expect(box).to_have_attribute("aria-activedescendant", "filter-keys-0")
    page.shot("runs-completion")
    box.press("Enter")
    expect(box).to_have_value("metrics.loss ")
    expect(listbox).to_be_hidden()
    box.press_sequentially("< 0.05 and opt")
    expect(listbox.get_by_role("option")).to_have_text(["params.optimizer"])
    box.press("Escape")
    expect(listbox).to_be_hidden()
    box.fill("metrics.loss < 0.01 and params.optimizer = 'adam'")
    box.press("Enter")
    p.wait_for_url(re.compile(r"filter=metrics\.loss"))
    expect(p.locator("#runs-table tbody th.name a")).to_have_text(["train-2"])
    page.clean()


def test_choose_experiments_on_the_list(dashboard: Dashboard, nested: Nested, page: Watched) -> None:
    p = page.page
    d = dashboard.data
    p.goto(dashboard.url + "/")
    button = p.get_by_role("button", name="Show runs of the selected experiments")
    expect(button).to_be_disabled()
    p.get_by_label(f"Select experiment {d.experiment_name}", exact=True).check()
    p.locator(f"tr[data-experiment-id='{nested.experiment_id}'] td.select input").check()
    button.click()
    p.wait_for_url(re.compile(r"/runs\?experiment=\d+&experiment=\d+"))
    expect(p.locator("h1")).to_have_text("Runs of 2 experiments")
    p.get_by_label("Per page").select_option("100")
    p.get_by_role("button", name="Apply").click()
    p.wait_for_url(re.compile(r"size=100"))
    assert p.url.count("experiment=") == 2
    expect(p.locator("#runs-table tbody td.experiment", has_text=d.experiment_name)).to_have_count(8)
    # Sorting by a header keeps both experiments.
    p.locator("#runs-table thead a", has_text="Name").click()
    p.wait_for_url(re.compile(r"sort=attributes\.run_name"))
    assert p.url.count("experiment=") == 2
    page.shot("runs-several-experiments")
    page.clean()


def test_deleted_runs_shown_on_demand(dashboard: Dashboard) -> None:
    client = dashboard.client
    eid = client.create_experiment(f"deleted-{uuid.uuid4().hex[:8]}")
    kept = client.create_run(eid, run_name="kept").info.run_id
    gone = client.create_run(eid, run_name="gone").info.run_id
    client.delete_run(gone)

    def shown(lifecycle: str | None) -> dict[str, bool]:
        params = {"lifecycle": lifecycle} if lifecycle else {}
        r = get(dashboard, f"/experiments/{eid}", **params)
        assert r.status_code == 200
        return {run_id: bool(deleted) for run_id, _, deleted, _ in ROW.findall(r.text)}

    assert shown(None) == {kept: False}  # the default: active runs only
    assert shown("deleted") == {gone: True}  # marked as deleted
    assert shown("all") == {kept: False, gone: True}
    client.restore_run(gone)
    assert shown(None) == {kept: False, gone: False}
