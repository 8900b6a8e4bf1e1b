"""The traces view over plain HTTP: an experiment's list (search, order, pages), a trace's page (span
tree, timeline, assessments, tags), one span's details, and a trace of 10,000 spans whose page stays small."""

from __future__ import annotations

import re
from html import unescape

import pytest
import requests
from harness.api import is_mlflow3
from harness.server import ServerProcess

from dashboard.seed import XSS_IMG
from dashboard.traces_seed import PLAIN_TRACES, send_wide_trace

pytestmark = pytest.mark.skipif(not is_mlflow3(), reason="seeded with MLflow 3's tracing and assessments")

PAYLOAD_MARKUP = re.compile(r"<script>window\.__xss|<img src=x onerror")
WIDE_SPANS = 10_000
WIDE_PAGE_BYTES = 600_000  # the page of a 10,000-span trace; its spans' inputs alone are over 2 MB


def get(server: ServerProcess, path: str, **kwargs) -> requests.Response:
    return requests.get(server.url + path, timeout=60, **kwargs)


def listed(html: str) -> list[str]:
    """The trace ids of a list page's rows, in order."""
    return re.findall(r'<tr data-trace-id="([^"]+)"', html)


def test_the_experiment_page_has_a_traces_tab(traced) -> None:
    server, t = traced
    page = get(server, f"/experiments/{t.experiment_id}")
    assert page.status_code == 200
    assert f'href="/experiments/{t.experiment_id}/traces"' in page.text
    tab = get(server, f"/experiments/{t.experiment_id}/traces")
    assert re.search(rf'href="/experiments/{t.experiment_id}/traces" aria-current="page">Traces', tab.text)


def test_the_list_shows_each_trace(traced) -> None:
    server, t = traced
    r = get(server, f"/experiments/{t.experiment_id}/traces?size=100")
    assert r.status_code == 200 and "text/html" in r.headers["content-type"]
    ids = listed(r.text)
    assert set(ids) == {t.pipeline, t.failed, t.xss, *t.plain}
    # Newest first: the pipeline was made first, and it took milliseconds (later ones may share one).
    assert ids[-1] == t.pipeline
    row = r.text[r.text.index(f'data-trace-id="{t.pipeline}"') :]
    row = row[: row.index("</tr>")]
    assert f'href="/experiments/{t.experiment_id}/traces/{t.pipeline}"' in row
    assert "pipeline" in row and "status-ok" in row
    assert "what is tracing?" in unescape(row)  # the request preview
    assert "env: prod" in row  # a tag
    assert "correctness: true" in row and "expected_answer: tracing records calls" in row
    failed = r.text[r.text.index(f'data-trace-id="{t.failed}"') :]
    assert "status-error" in failed[: failed.index("</tr>")]


def test_search_with_the_trace_filter_grammar(traced) -> None:
    server, t = traced
    base = f"/experiments/{t.experiment_id}/traces"
    assert listed(get(server, base, params={"filter": "status = 'ERROR'"}).text) == [t.failed]
    assert listed(get(server, base, params={"filter": "tag.env = 'prod'"}).text) == [t.pipeline]
    assert listed(get(server, base, params={"filter": "span.name = 'retrieve'"}).text) == [t.pipeline]
    assert listed(get(server, base, params={"filter": f"run_id = '{t.run_id}'"}).text) == [t.pipeline]
    assert set(listed(get(server, base, params={"filter": "name = 'plain'", "size": 100}).text)) == set(
        t.plain
    )
    bad = get(server, base, params={"filter": "status = = 'OK'"})
    assert bad.status_code == 400 and 'role="alert"' in bad.text and listed(bad.text) == []


def test_pages_follow_the_page_token_and_order(traced) -> None:
    server, t = traced
    base = f"/experiments/{t.experiment_id}/traces"
    seen: list[str] = []
    path = base + "?size=25&sort=execution_time_ms&dir=asc"
    pages = 0
    while path:
        r = get(server, unescape(path))
        assert r.status_code == 200
        seen += listed(r.text)
        pages += 1
        found = re.search(r'href="([^"]+)" rel="next"', r.text)
        path = found.group(1) if found else ""
        if pages > 1:
            assert 'rel="prev"' in r.text
    total = PLAIN_TRACES + 3
    assert pages == 2 and len(seen) == total and len(set(seen)) == total
    # In the order the API's own search gives for the same order_by.
    import mlflow

    api = mlflow.MlflowClient(server.url).search_traces(
        locations=[t.experiment_id], order_by=["execution_time_ms ASC"], max_results=100
    )
    assert seen == [trace.info.trace_id for trace in api]


def test_the_trace_page(traced) -> None:
    server, t = traced
    r = get(server, f"/experiments/{t.experiment_id}/traces/{t.pipeline}")
    assert r.status_code == 200
    html = r.text
    # The tree: the root, then its children by start time, indented one level.
    tree = html[html.index('id="span-tree"') : html.index("</table>", html.index('id="span-tree"'))]
    names = re.findall(
        r'<tr class="d(\d+)[^"]*" data-depth="\d+"><td class="sn">.*?<a href="[^"]+">([^<]+)</a>', tree
    )
    assert names == [("0", "pipeline"), ("1", "retrieve"), ("1", "generate")]
    for span_id in t.spans.values():
        assert f"/traces/{t.pipeline}/spans/{span_id}" in tree
    assert tree.count("<rect ") == 3
    # The root's bar spans the whole timeline.
    assert re.search(r'<rect x="0" width="(99\d|1000)"', tree)
    # The root is chosen at first: its inputs and outputs are on the page.
    detail = html[html.index('id="span-detail"') :]
    assert "what is tracing?" in unescape(detail[: detail.index('id="span-outputs"')])
    assert "answer to what is tracing? from 2 docs" in unescape(detail)
    assert "what is tracing?" in unescape(html[html.index('id="request-preview"') :])
    # Assessments and tags.
    assessments = html[html.index('id="assessments"') :]
    assessments = assessments[: assessments.index("</table>")]
    assert "correctness" in assessments and "cites both documents" in assessments
    assert "reviewer-ann" in assessments and "expected_answer" in assessments
    assert "tracing records calls" in assessments
    assert "env" in html[html.index('id="trace-tags"') :]
    assert f"/runs/{t.run_id}" in html  # the run it was made in


def test_span_details_route(traced) -> None:
    server, t = traced
    path = f"/experiments/{t.experiment_id}/traces/{t.pipeline}/spans/{t.spans['retrieve']}"
    fragment = get(server, path, headers={"HX-Request": "true"})
    assert fragment.status_code == 200
    assert fragment.text.lstrip().startswith('<div id="span-detail"') and "<html" not in fragment.text
    text = unescape(fragment.text)
    assert "RETRIEVER" in text and "doc about what is tracing?" in text and '"query"' in text
    assert "mlflow.spanType" in text  # the attributes
    # Opened on its own, the address gives the whole trace page with that span chosen.
    whole = get(server, path)
    assert whole.status_code == 200 and "<html" in whole.text
    assert re.search(r'class="d1 sel" data-depth="1"><td class="sn"><a [^>]+>retrieve<', whole.text)
    assert "doc about what is tracing?" in unescape(whole.text)
    # The failed trace's root span shows the exception event and its error status.
    failed_root = get(server, f"/experiments/{t.experiment_id}/traces/{t.failed}")
    detail = unescape(failed_root.text[failed_root.text.index('id="span-detail"') :])
    assert "exception" in detail and "cannot handle 7" in detail and "status-error" in detail


def test_unknown_traces_and_spans_are_404(traced) -> None:
    server, t = traced
    base = f"/experiments/{t.experiment_id}/traces"
    assert get(server, f"{base}/tr-{'0' * 32}").status_code == 404
    assert (
        get(server, f"{base}/tr-{'0' * 32}/spans/{'0' * 16}", headers={"HX-Request": "true"}).status_code
        == 404
    )
    assert get(server, f"{base}/{t.pipeline}/spans/{'0' * 16}").status_code == 404
    assert (
        get(server, f"{base}/{t.pipeline}/spans/{'0' * 16}", headers={"HX-Request": "true"}).status_code
        == 404
    )
    assert get(server, "/experiments/987654321/traces").status_code == 404
    # A trace under another experiment's address is sent to its own.
    moved = get(server, f"/experiments/0/traces/{t.pipeline}", allow_redirects=False)
    assert moved.status_code == 302 and moved.headers["location"].endswith(
        f"/{t.experiment_id}/traces/{t.pipeline}"
    )


def test_the_run_page_links_its_traces(traced) -> None:
    server, t = traced
    run = get(server, f"/experiments/{t.experiment_id}/runs/{t.run_id}")
    found = re.search(r'id="run-traces" href="([^"]+)"', run.text)
    assert found, "no link to the run's traces"
    assert listed(get(server, unescape(found.group(1))).text) == [t.pipeline]


def test_trace_content_is_escaped(traced) -> None:
    server, t = traced
    for path in (
        f"/experiments/{t.experiment_id}/traces?size=100",
        f"/experiments/{t.experiment_id}/traces/{t.xss}",
    ):
        r = get(server, path)
        assert r.status_code == 200, path
        assert not PAYLOAD_MARKUP.search(r.text), path
        assert "&lt;script&gt;" in r.text, path
    assert XSS_IMG not in get(server, f"/experiments/{t.experiment_id}/traces/{t.xss}").text


def test_a_trace_of_ten_thousand_spans(traced) -> None:
    server, t = traced
    trace_id = send_wide_trace(server.url, t.experiment_id, WIDE_SPANS)
    base = f"/experiments/{t.experiment_id}/traces/{trace_id}"
    first = get(server, base)
    assert first.status_code == 200
    assert len(first.content) < WIDE_PAGE_BYTES, len(first.content)
    assert "Spans 1–1000 of 10000" in first.text
    assert first.text.count("<rect ") == 1000
    shown = unescape(first.text)
    tree = shown[shown.index('id="span-tree"') : shown.index('id="span-detail"')]
    detail = shown[shown.index('id="span-detail"') :]
    assert "pad" not in tree and "step-1<" in tree  # the tree holds names and times, no payloads
    assert '"i": 0,' in detail and '"pad": "xxx' in detail  # the chosen root's inputs, and no other span's
    assert '"i": 1,' not in shown
    # The last page of the tree, reached by its link or by choosing a span on it.
    last = get(server, base + "?spans=9000")
    assert last.status_code == 200 and "Spans 9001–10000 of 10000" in last.text
    assert len(last.content) < WIDE_PAGE_BYTES
    # The last row of the tree: the root's last child's last child, and so on (span i hangs under
    # span (i - 1) // 3, and span ids count from 1).
    index = 0
    while 3 * index + 3 < WIDE_SPANS:
        index = 3 * index + 3
    deep = f"{index + 1:016x}"
    chosen = get(server, f"{base}/spans/{deep}")
    assert chosen.status_code == 200 and "Spans 9001–10000 of 10000" in chosen.text
    assert f'"i": {index},' in unescape(chosen.text)
    fragment = get(server, f"{base}/spans/{deep}", headers={"HX-Request": "true"})
    assert fragment.status_code == 200 and len(fragment.content) < 10_000
