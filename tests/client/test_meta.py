"""Non-API routes and transport rules: /health, /version, server-info, the ajax mirror, unknown routes, bad bodies."""

from __future__ import annotations

import re
import time

import pytest
import requests
from harness.api import TIMEOUT, assert_4xx_not_500, assert_error, get, ok, post
from harness.plugin import Tracking


def test_health_is_plain_ok(tracking: Tracking) -> None:
    resp = get(f"{tracking.url}/health")
    assert resp.status_code == 200
    assert resp.text.strip() == "OK"


def test_version_is_a_version_string(tracking: Tracking) -> None:
    resp = get(f"{tracking.url}/version")
    assert resp.status_code == 200
    assert re.fullmatch(r"\d+\.\d+(\.\d+)?\S*", resp.text.strip()), resp.text[:100]


@pytest.mark.parametrize("prefix", ["api", "ajax-api"])
def test_server_info(tracking: Tracking, prefix: str) -> None:
    body = ok(get(f"{tracking.url}/{prefix}/3.0/mlflow/server-info"))
    # Local artifact storage: the client must not try presigned multipart transfers. The reference
    # always sends both keys, so a server that drops them fails here rather than passing by default.
    assert body["multipart_uploads_enabled"] is False
    assert body["multipart_downloads_enabled"] is False
    assert "store_type" in body


def test_ajax_mirror_serves_the_same_api(tracking: Tracking) -> None:
    name = tracking.new_name()
    exp_id = ok(post(tracking.ajax("experiments/create"), {"name": name}))["experiment_id"]
    via_api = ok(get(tracking.api("experiments/get"), {"experiment_id": exp_id}))["experiment"]
    via_ajax = ok(get(tracking.ajax("experiments/get"), {"experiment_id": exp_id}))["experiment"]
    assert via_api["name"] == via_ajax["name"] == name
    run = ok(post(tracking.api("runs/create"), {"experiment_id": exp_id, "start_time": 1}))["run"]
    found = ok(post(tracking.ajax("runs/search"), {"experiment_ids": [exp_id], "max_results": 10}))
    assert [r["info"]["run_id"] for r in found["runs"]] == [run["info"]["run_id"]]


def test_empty_results_are_empty_object(tracking: Tracking) -> None:
    exp_id = ok(post(tracking.api("experiments/create"), {"name": tracking.new_name()}))["experiment_id"]
    body = ok(post(tracking.api("runs/search"), {"experiment_ids": [exp_id], "max_results": 10}))
    assert body == {}


@pytest.mark.reference_differs
@pytest.mark.parametrize(
    "method,path",
    [
        ("GET", "/api/2.0/mlflow/no-such-thing"),
        ("POST", "/api/2.0/mlflow/runs/no-such-thing"),
        ("GET", "/ajax-api/2.0/mlflow/nope"),
        ("GET", "/api/9.9/mlflow/experiments/get"),
    ],
)
def test_unknown_route_is_json_404_endpoint_not_found(tracking: Tracking, method: str, path: str) -> None:
    resp = requests.request(method, f"{tracking.url}{path}", json={}, timeout=TIMEOUT)
    assert_error(resp, 404, "ENDPOINT_NOT_FOUND")


def test_wrong_method_is_rejected(tracking: Tracking) -> None:
    resp = get(tracking.api("runs/search"))
    assert resp.status_code in (404, 405), resp.status_code


def test_post_without_content_type(tracking: Tracking) -> None:
    resp = requests.post(tracking.api("experiments/create"), data=b'{"name": "x"}', timeout=TIMEOUT)
    assert "content-type" not in {k.lower() for k in resp.request.headers}
    assert_error(resp, 400, "INVALID_PARAMETER_VALUE")


def test_post_with_wrong_content_type(tracking: Tracking) -> None:
    resp = requests.post(
        tracking.api("experiments/create"),
        data=b'{"name": "x"}',
        headers={"Content-Type": "text/plain"},
        timeout=TIMEOUT,
    )
    assert_error(resp, 400, "INVALID_PARAMETER_VALUE")


def test_content_type_with_charset_is_accepted(tracking: Tracking) -> None:
    name = tracking.new_name()
    resp = requests.post(
        tracking.api("experiments/create"),
        data=f'{{"name": "{name}"}}'.encode(),
        headers={"Content-Type": "application/json; charset=utf-8"},
        timeout=TIMEOUT,
    )
    assert ok(resp)["experiment_id"]


@pytest.mark.parametrize(
    "raw",
    [b"{not json", b"", b'{"name": "unterminated', b"\xff\xfe\x00"],
    ids=["garbage", "empty", "truncated", "binary"],
)
def test_bad_json_is_400(tracking: Tracking, raw: bytes) -> None:
    resp = requests.post(
        tracking.api("experiments/create"),
        data=raw,
        headers={"Content-Type": "application/json"},
        timeout=TIMEOUT,
    )
    assert_error(resp, 400, "INVALID_PARAMETER_VALUE", "BAD_REQUEST", "MALFORMED_REQUEST")


@pytest.mark.reference_differs
@pytest.mark.parametrize("raw", [b"[1, 2]", b'"a string"', b"42", b"null"])
def test_non_object_json_is_400(tracking: Tracking, raw: bytes) -> None:
    resp = requests.post(
        tracking.api("experiments/create"),
        data=raw,
        headers={"Content-Type": "application/json"},
        timeout=TIMEOUT,
    )
    assert_error(resp, 400, "INVALID_PARAMETER_VALUE", "BAD_REQUEST", "MALFORMED_REQUEST")


def _run_id(tracking: Tracking) -> str:
    exp_id = ok(post(tracking.api("experiments/create"), {"name": tracking.new_name()}))["experiment_id"]
    return ok(post(tracking.api("runs/create"), {"experiment_id": exp_id}))["run"]["info"]["run_id"]


@pytest.mark.parametrize(
    "path,body",
    [
        pytest.param("experiments/create", {"name": 123}, id="create-name-int"),
        pytest.param("experiments/create", {"name": ["a"]}, id="create-name-list"),
        pytest.param("experiments/create", {"name": "x", "tags": "not-a-list"}, id="create-tags-str"),
        pytest.param("experiments/search", {"max_results": "abc"}, id="exp-search-max-str"),
        pytest.param("runs/search", {"experiment_ids": "1"}, id="search-ids-str"),
        pytest.param("runs/search", {"experiment_ids": ["0"], "max_results": "lots"}, id="search-max-str"),
        pytest.param(
            "runs/search", {"experiment_ids": ["0"], "order_by": "start_time"}, id="search-order-str"
        ),
        pytest.param("runs/log-metric", {"key": "m", "value": "abc", "timestamp": 1}, id="metric-value-str"),
        pytest.param(
            "runs/log-metric", {"key": "m", "value": 1, "timestamp": 1, "step": "x"}, id="metric-step-str"
        ),
        pytest.param("runs/log-metric", {"key": "m", "value": 1, "timestamp": "soon"}, id="metric-ts-str"),
        pytest.param(
            "runs/log-metric",
            {"key": "m", "value": {"a": 1}, "timestamp": 1},
            marks=pytest.mark.reference_differs,
            id="metric-value-object",
        ),
        pytest.param("runs/log-parameter", {"key": "p", "value": {"nested": True}}, id="param-value-object"),
        pytest.param("runs/set-tag", {"key": ["k"], "value": "v"}, id="tag-key-list"),
        pytest.param("runs/log-batch", {"metrics": "nope"}, id="batch-metrics-str"),
        pytest.param(
            "runs/log-batch",
            {"metrics": [{"key": "m", "value": "x", "timestamp": 1, "step": 0}]},
            marks=pytest.mark.reference_differs,
            id="batch-metric-value-str",
        ),
        pytest.param(
            "runs/log-batch",
            {"params": [{"key": "p"}]},
            marks=pytest.mark.reference_differs,
            id="batch-param-no-value",
        ),
        pytest.param(
            "runs/log-batch",
            {"metrics": [1, 2]},
            marks=pytest.mark.reference_differs,
            id="batch-metrics-ints",
        ),
    ],
)
def test_wrong_types_are_400(tracking: Tracking, path: str, body: dict[str, object]) -> None:
    if path.startswith("runs/") and path != "runs/search":
        body = {"run_id": _run_id(tracking), **body}
    assert_error(post(tracking.api(path), body), 400, "INVALID_PARAMETER_VALUE", "BAD_REQUEST")


@pytest.mark.parametrize(
    "method,path,body",
    [
        ("POST", "experiments/create", {}),
        ("GET", "experiments/get", {}),
        ("GET", "experiments/get-by-name", {}),
        ("POST", "experiments/delete", {}),
        ("POST", "experiments/update", {"new_name": "x"}),
        ("GET", "runs/get", {}),
        ("POST", "runs/log-metric", {"key": "m", "value": 1.0}),
        ("POST", "runs/log-metric", {"key": "m", "timestamp": 1}),
        ("POST", "runs/log-metric", {"value": 1.0, "timestamp": 1}),
        pytest.param("POST", "runs/log-parameter", {"key": "p"}, marks=pytest.mark.reference_differs),
        ("POST", "runs/set-tag", {"value": "v"}),
        ("POST", "runs/delete", {}),
        ("GET", "metrics/get-history", {}),
    ],
)
def test_missing_required_fields_are_400(
    tracking: Tracking, method: str, path: str, body: dict[str, object]
) -> None:
    run_id = _run_id(tracking)
    if path.startswith("runs/log") or path == "runs/set-tag" or path == "metrics/get-history":
        body = {"run_id": run_id, **body}
    resp = get(tracking.api(path), body) if method == "GET" else post(tracking.api(path), body)
    assert_error(resp, 400, "INVALID_PARAMETER_VALUE", "BAD_REQUEST")


def test_numeric_strings_are_accepted(tracking: Tracking) -> None:
    run_id = _run_id(tracking)
    ok(
        post(
            tracking.api("runs/log-metric"),
            {"run_id": run_id, "key": "m", "value": "1.5", "timestamp": "1700000000000", "step": "3"},
        )
    )
    hist = ok(get(tracking.api("metrics/get-history"), {"run_id": run_id, "metric_key": "m"}))["metrics"]
    assert hist == [{"key": "m", "value": 1.5, "timestamp": 1700000000000, "step": 3}]


def test_run_uuid_is_accepted_for_run_id(tracking: Tracking) -> None:
    run_id = _run_id(tracking)
    ok(post(tracking.api("runs/set-tag"), {"run_uuid": run_id, "key": "k", "value": "v"}))
    run = ok(get(tracking.api("runs/get"), {"run_uuid": run_id}))["run"]
    assert run["info"]["run_id"] == run["info"]["run_uuid"] == run_id
    assert {"key": "k", "value": "v"} in run["data"]["tags"]


def test_unknown_body_fields_are_ignored(tracking: Tracking) -> None:
    name = tracking.new_name()
    exp_id = ok(post(tracking.api("experiments/create"), {"name": name, "no_such_field": [1, 2, 3]}))[
        "experiment_id"
    ]
    assert ok(get(tracking.api("experiments/get"), {"experiment_id": exp_id}))["experiment"]["name"] == name


def test_int64_fields_are_json_numbers(tracking: Tracking) -> None:
    before = int(time.time() * 1000) - 5000
    run = ok(post(tracking.api("runs/create"), {"experiment_id": "0", "start_time": before}))["run"]
    assert run["info"]["start_time"] == before
    assert isinstance(run["info"]["start_time"], int)
    ok(post(tracking.api("runs/delete"), {"run_id": run["info"]["run_id"]}))


def test_boolean_query_values(tracking: Tracking) -> None:
    resp = get(tracking.api("experiments/search"), {"max_results": 1, "view_type": "ALL"})
    assert resp.status_code == 200, resp.text


def test_get_history_bulk_interval(tracking: Tracking) -> None:
    exp_id = ok(post(tracking.api("experiments/create"), {"name": tracking.new_name()}))["experiment_id"]
    run_ids = []
    for offset in (0.0, 1000.0):
        run_id = ok(post(tracking.api("runs/create"), {"experiment_id": exp_id}))["run"]["info"]["run_id"]
        metrics = [{"key": "b", "value": offset + s, "timestamp": 1000 + s, "step": s} for s in range(100)]
        ok(post(tracking.api("runs/log-batch"), {"run_id": run_id, "metrics": metrics}))
        run_ids.append(run_id)

    url = tracking.api("metrics/get-history-bulk-interval")
    body = ok(get(url, {"run_ids": run_ids, "metric_key": "b", "max_results": 10}))
    by_run: dict[str, list[dict[str, object]]] = {}
    for point in body["metrics"]:
        assert point["key"] == "b"
        by_run.setdefault(str(point["run_id"]), []).append(point)
    assert set(by_run) == set(run_ids)
    for index, run_id in enumerate(run_ids):
        points = by_run[run_id]
        steps = [int(p["step"]) for p in points]  # type: ignore[call-overload]
        assert 2 <= len(points) <= 10, steps
        assert steps == sorted(steps) and len(set(steps)) == len(steps), steps
        assert steps[0] == 0 and steps[-1] == 99, steps
        for p in points:
            assert p["value"] == index * 1000.0 + int(p["step"])  # type: ignore[call-overload]

    window = ok(
        get(
            url,
            {"run_ids": run_ids[:1], "metric_key": "b", "start_step": 20, "end_step": 40, "max_results": 5},
        )
    )
    steps = [int(p["step"]) for p in window["metrics"]]
    assert steps and all(20 <= s <= 40 for s in steps), steps
    assert len(steps) <= 5 and steps[0] == 20 and steps[-1] == 40, steps

    everything = ok(get(url, {"run_ids": run_ids[:1], "metric_key": "b", "max_results": 2500}))
    assert sorted(int(p["step"]) for p in everything["metrics"]) == list(range(100))


def _kept(rows: list[tuple[int, int, float]], wanted: int) -> list[tuple[int, int, float]]:
    """The sampling rule, by brute force: row r of n is kept where floor(r*(w-1)/(n-1)) steps up."""
    n = len(rows)
    if wanted == 1:
        return rows[-1:]
    if n <= wanted:
        return rows
    return [
        row
        for r, row in enumerate(rows)
        if r == 0 or r * (wanted - 1) // (n - 1) > (r - 1) * (wanted - 1) // (n - 1)
    ]


def test_get_history_bulk_interval_long_series(tracking: Tracking) -> None:
    """A series far longer than the points wanted is walked, not numbered: the same rows either way."""
    exp_id = ok(post(tracking.api("experiments/create"), {"name": tracking.new_name()}))["experiment_id"]
    run_id = ok(post(tracking.api("runs/create"), {"experiment_id": exp_id}))["run"]["info"]["run_id"]
    # 1500 steps logged twice each (two timestamps), so the walk must step through equal steps too.
    rows = sorted((step, 1000 + step * 2 + k, step * 10.0 + k) for step in range(1500) for k in (0, 1))
    metrics = [{"key": "m", "value": v, "timestamp": ts, "step": st} for st, ts, v in rows]
    for start in range(0, len(metrics), 1000):
        ok(post(tracking.api("runs/log-batch"), {"run_id": run_id, "metrics": metrics[start : start + 1000]}))
    url = tracking.api("metrics/get-history-bulk-interval")

    def sample(**params: object) -> list[tuple[int, int, float]]:
        body = ok(get(url, {"run_ids": [run_id], "metric_key": "m", **params}))
        return [(int(p["step"]), int(p["timestamp"]), float(p["value"])) for p in body["metrics"]]

    for wanted in (1, 2, 10, 29):  # 3000 rows: more than 100 per point wanted, so walked
        assert sample(max_results=wanted) == _kept(rows, wanted), wanted
    assert sample(max_results=2500) == _kept(rows, 2500)  # numbered
    in_range = [r for r in rows if 100 <= r[0] <= 1400]
    assert sample(max_results=5, start_step=100, end_step=1400) == _kept(in_range, 5)


@pytest.mark.parametrize(
    "params",
    [
        {"metric_key": "b", "max_results": 10},  # no run_ids
        {"run_ids": ["x"] * 101, "metric_key": "b", "max_results": 10},
        {"run_ids": ["x"], "metric_key": "b", "max_results": 2501},
        {"run_ids": ["x"], "metric_key": "b", "max_results": 0},
        {"run_ids": ["x"], "max_results": 10},  # no metric_key
    ],
    ids=["no-run-ids", "101-runs", "max-2501", "max-0", "no-key"],
)
def test_get_history_bulk_interval_validation(tracking: Tracking, params: dict[str, object]) -> None:
    assert_4xx_not_500(get(tracking.api("metrics/get-history-bulk-interval"), params))
