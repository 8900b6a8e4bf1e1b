"""The traces view in headless Chromium: the list, a search, a trace page, a click on a span."""

from __future__ import annotations

import re

import pytest
from harness.api import is_mlflow3
from playwright.sync_api import expect

from dashboard.conftest import Watched

pytestmark = pytest.mark.skipif(not is_mlflow3(), reason="seeded with MLflow 3's tracing and assessments")


def test_browse_traces_and_their_spans(traced, page: Watched) -> None:
    server, t = traced
    p = page.page
    p.goto(f"{server.url}/experiments/{t.experiment_id}")
    p.get_by_role("link", name="Traces", exact=True).click()
    p.wait_for_url(re.compile(rf"/experiments/{t.experiment_id}/traces$"))
    expect(p.locator("#traces-table tbody tr")).to_have_count(33)
    page.shot("traces-list")
    # A search in the trace grammar narrows the list in place.
    p.get_by_label("Search", exact=True).fill("tag.env = 'prod'")
    p.get_by_label("Search", exact=True).press("Enter")
    p.wait_for_url(re.compile(r"filter=tag\.env"))
    expect(p.locator("#traces-table tbody tr")).to_have_count(1)
    page.shot("traces-searched")
    p.locator("#traces-table tbody th.trace-id a").click()
    p.wait_for_url(re.compile(rf"/traces/{t.pipeline}$"))
    tree = p.locator("#span-tree tbody tr")
    expect(tree).to_have_count(3)
    expect(p.locator("#span-detail h3")).to_contain_text("pipeline")
    # A click on a span loads its details beside the tree, without leaving the page.
    p.locator("#span-tree a", has_text="retrieve").click()
    expect(p.locator("#span-detail h3")).to_contain_text("retrieve")
    expect(p.locator("#span-outputs")).to_contain_text("doc about what is tracing?")
    expect(p.locator("#span-tree tr.sel")).to_contain_text("retrieve")
    assert p.url.endswith(f"/traces/{t.pipeline}")
    # Folding the root hides its subtree.
    p.locator("#span-tree button.fold").first.click()
    expect(p.locator("#span-tree tbody tr:visible")).to_have_count(1)
    p.locator("#span-tree button.fold").first.click()
    expect(p.locator("#span-tree tbody tr:visible")).to_have_count(3)
    expect(p.locator("#assessments")).to_contain_text("cites both documents")
    page.shot("trace-page")
    page.clean()
