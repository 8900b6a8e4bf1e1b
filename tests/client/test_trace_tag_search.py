"""Trace searches by tag value, listed by time: the order and pages stay right as traces' times move.

Such a search reads the tag search index (trace_tags' copies of each trace's experiment and start time);
these tests move traces' start times in every way the server allows and check the listing against the
times the traces show."""

from __future__ import annotations

import os
from typing import Any

import requests
from harness.api import TIMEOUT, get, ok, post
from harness.otlp_spans import export, otlp_span
from harness.plugin import Tracking

SECOND = 1_000_000_000


def _root(trace_hex: str, start_s: int, tags: dict[str, str], *, status: int = 1) -> dict[str, Any]:
    attributes = [{"key": f"mlflow.traceTag.{k}", "value": {"stringValue": v}} for k, v in tags.items()]
    return otlp_span(
        trace_hex,
        "0000000000000001",
        None,
        "root",
        start_s * SECOND,
        (start_s + 1) * SECOND,
        status=status,
        attributes=attributes,
    )


def _search(tracking: Tracking, exp: str, filter_string: str, order_by: list[str], page: int) -> list[str]:
    """Every matching trace id, read `page` at a time through the page tokens."""
    ids: list[str] = []
    token = None
    while True:
        body: dict[str, Any] = {
            "locations": [{"type": "MLFLOW_EXPERIMENT", "mlflow_experiment": {"experiment_id": exp}}],
            "filter": filter_string,
            "order_by": order_by,
            "max_results": page,
        }
        if token:
            body["page_token"] = token
        got = ok(post(tracking.api("traces/search", "3.0"), body))
        ids += [t["trace_id"] for t in got.get("traces", [])]
        token = got.get("next_page_token")
        if not token:
            return ids


def _expected(tracking: Tracking, ids: list[str], ascending: bool) -> list[str]:
    """The traces ordered as a search by time orders them, from the times they show now."""
    times = {}
    for trace_id in ids:
        info = ok(get(tracking.api(f"traces/{trace_id}", "3.0")))["trace"]["trace_info"]
        times[trace_id] = info["request_time"]
    newest_first = sorted(ids, key=lambda t: (times[t], _Desc(t)), reverse=True)
    return sorted(ids, key=lambda t: (times[t], t)) if ascending else newest_first


class _Desc(str):
    """A string that sorts backwards, so that reversing a sort keeps ids ascending among equal times."""

    def __lt__(self, other: str) -> bool:  # type: ignore[override]
        return str.__gt__(self, other)


def test_tag_search_lists_by_time_as_times_move(tracking: Tracking) -> None:
    exp = tracking.client.create_experiment(tracking.new_name())
    long_a, long_b = "x" * 100 + "a", "x" * 100 + "b"  # the same first 64 characters
    traces = [os.urandom(16).hex() for _ in range(24)]
    spans = [
        # Pairs of traces start in the same second, so the id breaks ties.
        _root(t, 1_000 + i // 2, {"env": "prod" if i % 3 else "dev", "long": long_a if i % 2 else long_b})
        for i, t in enumerate(traces)
    ]
    assert export(tracking.url, exp, spans).status_code == 200
    ids = ["tr-" + t for t in traces]
    prod = [ids[i] for i in range(len(ids)) if i % 3]

    # A span that starts earlier moves a trace's start back; the client's trace info moves another's on.
    early_child = otlp_span(
        traces[4], "0000000000000002", "0000000000000001", "child", 5 * SECOND, 6 * SECOND
    )
    assert export(tracking.url, exp, [early_child]).status_code == 200
    info = {
        "trace_id": ids[7],
        "trace_location": {"type": "MLFLOW_EXPERIMENT", "mlflow_experiment": {"experiment_id": exp}},
        "request_time": "1970-01-01T05:00:00Z",
        "execution_duration": "1s",
        "state": "OK",
        "tags": {"env": "prod"},
    }
    ok(post(tracking.api("traces", "3.0"), {"trace": {"trace_info": info}}))
    # A tag set afterwards is found too, in its trace's place.
    set_tag = requests.patch(
        tracking.api(f"traces/{ids[0]}/tags", "3.0"), json={"key": "env", "value": "prod"}, timeout=TIMEOUT
    )
    assert set_tag.status_code == 200, set_tag.text
    prod.append(ids[0])

    for order_by, ascending in (([], False), (["timestamp_ms DESC"], False), (["timestamp_ms ASC"], True)):
        want = _expected(tracking, prod, ascending)
        assert want[0 if ascending else -1] == ids[4] and want[-1 if ascending else 0] == ids[7]
        for page in (3, 100):
            assert _search(tracking, exp, "tag.env = 'prod'", order_by, page) == want
    # A value longer than the indexed prefix matches only itself; other conditions still apply.
    odd = [ids[i] for i in range(len(ids)) if i % 2]
    assert _search(tracking, exp, f"tag.long = '{long_a}'", [], 5) == _expected(tracking, odd, False)
    odd_prod = [t for t in odd if t in prod]
    both = f"tag.long = '{long_a}' AND tag.env = 'prod' AND trace.status = 'OK'"
    assert _search(tracking, exp, both, [], 4) == _expected(tracking, odd_prod, False)
    assert _search(tracking, exp, "tag.env = 'PROD'", [], 10) == []


def test_trace_name_search_lists_by_time(tracking: Tracking) -> None:
    exp = tracking.client.create_experiment(tracking.new_name())
    traces = [os.urandom(16).hex() for _ in range(5)]
    assert (
        export(tracking.url, exp, [_root(t, 2_000 - i, {}) for i, t in enumerate(traces)]).status_code == 200
    )
    named = ["tr-" + traces[i] for i in (0, 2, 3)]
    for trace_id in named:
        resp = requests.patch(
            tracking.api(f"traces/{trace_id}/tags", "3.0"),
            json={"key": "mlflow.traceName", "value": "answer"},
            timeout=TIMEOUT,
        )
        assert resp.status_code == 200, resp.text
    assert _search(tracking, exp, "trace.name = 'answer'", [], 2) == named
    assert _search(tracking, exp, "trace.name = 'answer'", ["timestamp_ms ASC"], 2) == named[::-1]
