"""The dashboard over plain HTTP: status codes, headers, escaping, forms, the chart data, routing priority."""

from __future__ import annotations

import gzip
import re
from pathlib import Path

import pytest
import requests
from harness.forms import post_form

from dashboard.conftest import Dashboard
from dashboard.seed import XSS_IMG, XSS_SCRIPT

PAYLOAD_MARKUP = re.compile(r"<script>window\.__xss|<img src=x onerror")


def get(d: Dashboard, path: str, **kwargs) -> requests.Response:
    return requests.get(d.url + path, timeout=30, **kwargs)


def test_root_lists_experiments_with_csp(dashboard: Dashboard) -> None:
    r = get(dashboard, "/")
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("text/html")
    csp = r.headers["content-security-policy"]
    assert "script-src 'self'" in csp and "unsafe-inline" not in csp
    assert dashboard.data.experiment_name in r.text
    assert f'href="/experiments/{dashboard.data.experiment_id}"' in r.text


def test_api_routes_keep_priority(dashboard: Dashboard) -> None:
    r = requests.post(
        dashboard.url + "/api/2.0/mlflow/experiments/search", json={"max_results": 5}, timeout=30
    )
    assert r.status_code == 200 and "experiments" in r.json()
    assert get(dashboard, "/health").text == "OK"
    missing = get(dashboard, "/api/2.0/mlflow/no-such-endpoint")
    assert missing.status_code == 404 and missing.json()["error_code"] == "ENDPOINT_NOT_FOUND"
    assert get(dashboard, "/no/such/page").status_code == 404


def test_missing_things_are_404_pages(dashboard: Dashboard) -> None:
    r = get(dashboard, "/experiments/987654321")
    assert r.status_code == 404 and "text/html" in r.headers["content-type"]
    assert get(dashboard, f"/experiments/{dashboard.data.experiment_id}/runs/{'0' * 32}").status_code == 404
    assert get(dashboard, "/models/no-such-model").status_code == 404


def test_user_content_is_escaped_everywhere(dashboard: Dashboard) -> None:
    d = dashboard.data
    base = f"/experiments/{d.xss_experiment_id}"
    pages = [
        "/",
        base,
        base + "?cols=1&param=payload&param=payload2&tag=payload&tag=note",
        f"{base}/runs/{d.xss_run_id}",
        f"{base}/runs/{d.xss_run_id}/artifacts",
        f"{base}/runs/{d.xss_run_id}/artifact?path=evil.json",
        f"{base}/runs/{d.xss_run_id}/artifact?path=evil.csv",
        f"{base}/runs/{d.xss_run_id}/artifact?path=" + requests.utils.quote(XSS_IMG + ".txt"),
        f"/compare?run={d.xss_run_id}",
    ]
    for path in pages:
        r = get(dashboard, path)
        assert r.status_code == 200, path
        assert not PAYLOAD_MARKUP.search(r.text), path
        assert "&lt;script&gt;" in r.text or "&lt;img" in r.text, path


def test_raw_html_artifact_is_sandboxed(dashboard: Dashboard) -> None:
    d = dashboard.data
    r = get(dashboard, f"/experiments/{d.xss_experiment_id}/runs/{d.xss_run_id}/artifact-raw?path=evil.html")
    assert r.status_code == 200
    csp = r.headers["content-security-policy"]
    # Scripts run (reports drawn by plotly) but in an opaque origin that connects nowhere.
    assert csp.startswith("sandbox allow-scripts;") and "allow-same-origin" not in csp
    assert "connect-src 'none'" in csp and "form-action 'none'" in csp
    assert (
        get(
            dashboard, f"/experiments/{d.xss_experiment_id}/runs/{d.xss_run_id}/artifact-raw?path=evil.json"
        ).status_code
        == 400
    )


def test_runs_filter_sort_and_errors(dashboard: Dashboard) -> None:
    d = dashboard.data
    base = f"/experiments/{d.experiment_id}"
    adam = get(dashboard, base, params={"filter": "params.optimizer = 'adam'"})
    assert adam.status_code == 200
    assert "train-1" in adam.text and "train-2" in adam.text and "train-0" not in adam.text
    ordered = get(
        dashboard, base, params={"sort": "metrics.loss", "dir": "asc", "filter": "metrics.loss < 1"}
    )
    names = re.findall(r">(train-\d|sweep-child-\d)</a>", ordered.text)
    assert names[:4] == ["train-2", "train-1", "train-3", "train-0"], names
    bad = get(dashboard, base, params={"filter": "metrics.loss <<< 1"})
    assert bad.status_code == 400
    assert 'role="alert"' in bad.text and "Filter not applied" in bad.text


def test_nested_runs_follow_their_parent(dashboard: Dashboard) -> None:
    d = dashboard.data
    text = get(dashboard, f"/experiments/{d.experiment_id}").text
    rows = re.findall(r'<tr data-run-id="(\w+)" class="depth-(\d)', text)
    order = [run_id for run_id, _ in rows]
    depth = dict(rows)
    parent = order.index(d.runs["sweep-parent"])
    children = {d.runs[f"sweep-child-{j}"] for j in range(3)}
    assert set(order[parent + 1 : parent + 4]) == children
    assert all(depth[c] == "1" for c in children) and depth[d.runs["sweep-parent"]] == "0"


def test_paging_is_server_side(dashboard: Dashboard) -> None:
    d = dashboard.data
    base = f"/experiments/{d.experiment_id}"
    first = get(dashboard, base, params={"size": "25"})
    assert first.status_code == 200 and 'rel="next"' not in first.text  # 8 runs: one page
    text = get(dashboard, base, params={"size": "25", "lifecycle": "all"}).text
    assert "8 runs on this page" in text


def test_experiment_forms(dashboard: Dashboard) -> None:
    url = dashboard.url
    browser = requests.Session()

    def post(path: str, data: dict[str, str], **kwargs: object) -> requests.Response:
        return post_form(browser, url + path, data, page_url=url + "/experiments", **kwargs)

    created = post(
        "/experiments/create", {"name": "form-made-" + dashboard.data.experiment_name}, allow_redirects=False
    )
    assert created.status_code == 303
    exp = dashboard.client.get_experiment_by_name("form-made-" + dashboard.data.experiment_name)
    eid = exp.experiment_id
    renamed = post(f"/experiments/{eid}/rename", {"name": "renamed-" + eid})
    assert renamed.status_code == 200
    assert dashboard.client.get_experiment(eid).name == "renamed-" + eid
    post(f"/experiments/{eid}/delete", {})
    assert dashboard.client.get_experiment(eid).lifecycle_stage == "deleted"
    post(f"/experiments/{eid}/restore", {})
    assert dashboard.client.get_experiment(eid).lifecycle_stage == "active"
    clash = post("/experiments/create", {"name": "renamed-" + eid})
    assert clash.status_code == 422 and "already exists" in clash.text
    foreign = post(f"/experiments/{eid}/delete", {}, headers={"Origin": "http://evil.example"})
    assert foreign.status_code == 403
    tokenless = requests.post(url + f"/experiments/{eid}/delete", data={}, timeout=30)
    assert tokenless.status_code == 403 and "security token" in tokenless.text
    assert dashboard.client.get_experiment(eid).lifecycle_stage == "active"


def test_metric_series_is_downsampled(dashboard: Dashboard) -> None:
    d = dashboard.data
    runs = [d.runs["train-0"], d.runs["train-1"]]
    r = get(dashboard, "/dashboard-data/metric-series", params={"key": "loss", "run": runs, "points": "50"})
    assert r.status_code == 200
    body = r.json()
    assert [s["run_id"] for s in body["series"]] == runs
    for s in body["series"]:
        assert 10 <= len(s["values"]) <= 60 < 300  # 300 logged points, sampled down
        assert s["steps"][0] == 0 and s["steps"][-1] == 299  # the ends are kept
    assert get(dashboard, "/dashboard-data/metric-series", params={"key": "loss"}).status_code == 400


def test_page_weight_budget(dashboard: Dashboard) -> None:
    d = dashboard.data
    html = get(dashboard, f"/experiments/{d.experiment_id}/runs/{d.runs['train-1']}").text
    assets = re.findall(r'(?:src|href)="(/static/[^"]+\.(?:js|css))"', html)
    assert any("uPlot" in a for a in assets) and any("htmx" in a for a in assets)
    total = sum(len(gzip.compress(get(dashboard, a).content)) for a in assets)
    assert total <= 300 * 1024, total


def test_static_text_is_served_gzipped(dashboard: Dashboard) -> None:
    static = Path(__file__).resolve().parents[2] / "src" / "tracklight" / "dashboard" / "static"
    source = (static / "vendor" / "htmx" / "htmx.min.js").read_bytes()
    path = "/static/vendor/htmx/htmx.min.js"
    packed = get(dashboard, path, headers={"Accept-Encoding": "gzip, deflate"}, stream=True)
    wire = packed.raw.read(decode_content=False)
    assert packed.headers["content-encoding"] == "gzip"
    assert "accept-encoding" in packed.headers["vary"].lower()
    assert int(packed.headers["content-length"]) == len(wire) < len(source) // 2
    assert gzip.decompress(wire) == source
    # A client that does not take gzip (or refuses it with q=0) gets the file as it is.
    for accept in ("identity", "br;q=1, gzip;q=0"):
        plain = get(dashboard, path, headers={"Accept-Encoding": accept}, stream=True)
        assert "content-encoding" not in plain.headers
        assert plain.raw.read(decode_content=False) == source
    # Files too small to gain are sent as they are, whatever the client takes.
    icon = get(dashboard, "/static/favicon.svg", headers={"Accept-Encoding": "gzip"})
    assert "content-encoding" not in icon.headers and icon.content == (static / "favicon.svg").read_bytes()


def test_vendored_files_and_licenses_ship() -> None:
    vendor = Path(__file__).resolve().parents[2] / "src" / "tracklight" / "dashboard" / "static" / "vendor"
    for name in ("htmx/htmx.min.js", "htmx/LICENSE", "uplot/uPlot.iife.min.js", "uplot/LICENSE"):
        assert (vendor / name).stat().st_size > 0, name


@pytest.mark.parametrize("prefix", ["/mlflow"])
def test_static_prefix(server_factory, backend, prefix: str) -> None:
    server = server_factory(backend, static_prefix=prefix)
    root = requests.get(server.base_url + prefix + "/", timeout=30)
    assert root.status_code == 200 and f'data-prefix="{prefix}"' in root.text
    assert f'href="{prefix}/static/app.css"' in root.text
    assert requests.get(server.base_url + prefix + "/static/app.css", timeout=30).status_code == 200
    assert requests.get(server.base_url + prefix + "/experiments/0", timeout=30).status_code == 200
    runs = requests.get(server.base_url + prefix + "/runs?experiment=0", timeout=30)
    assert (
        runs.status_code == 200
        and f'data-keys-url="{prefix}/dashboard-data/run-keys?experiment=0"' in runs.text
    )
    keys = requests.get(server.base_url + prefix + "/dashboard-data/run-keys?experiment=0", timeout=30)
    assert keys.json() == {"params": [], "metrics": [], "tags": []}
    assert XSS_SCRIPT not in root.text


def test_account_and_admin_pages_say_auth_is_off(dashboard: Dashboard) -> None:
    """Without --auth there is nobody to manage: the pages say so, a form post changes nothing, and the
    header links to neither."""
    for path in ("/account", "/admin", "/admin/users", "/admin/users/1", "/admin/tokens"):
        r = get(dashboard, path, allow_redirects=False)
        assert r.status_code == 200, path
        assert "Authentication is off" in r.text and 'id="auth-off"' in r.text
    posted = post_form(
        requests.Session(),
        dashboard.url + "/admin/users/create",
        {"username": "nobody", "password": "long-enough-1"},
        page_url=dashboard.url + "/experiments",  # the admin pages have no forms with auth off
        allow_redirects=False,
    )
    assert posted.status_code == 400 and "Authentication is off" in posted.text
    experiments = get(dashboard, "/experiments").text
    assert 'href="/account"' not in experiments and 'href="/admin/users"' not in experiments
    assert "Signed in as" not in experiments
    # The token API exists only with auth on.
    api = requests.post(dashboard.url + "/api/2.0/tracklight/tokens/create", json={"name": "x"}, timeout=30)
    assert api.status_code == 404 and api.json()["error_code"] == "ENDPOINT_NOT_FOUND"
