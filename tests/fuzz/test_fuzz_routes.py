"""Property-based fuzzing of every route: no 5xx ever, and a rejected request (4xx) is an MLflow error that
changed nothing in the database.

The routes come from the server's own tables (tests/fuzz/routes.py), so a new route is fuzzed as soon as it
has an entry in FIELDS, and test_every_route_has_a_generator fails until it does.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote, urlencode

import pytest
import requests
from harness.forms import CSRF_FIELD, csrf_token
from hypothesis import given
from hypothesis import strategies as st

from fuzz.conftest import FUZZ_SETTINGS, MALFORMED_SETTINGS, TIMEOUT, Fuzzed, refresh, route_settings
from fuzz.routes import DASHBOARD, DASHBOARD_JSON, FIELDS, PATH_SUFFIX, SLOW_ROUTES, Route, server_routes
from fuzz.store_digest import diff
from fuzz.values import HOSTILE, OMIT, World, field_value, good, query_value

ROUTES = server_routes()
HTTP_METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE")
_PARAM = re.compile(r"\{(\w+)(:path)?\}")
_TRANSPORT_REJECT = "Invalid HTTP request received."
_GRAPHQL_INTERNAL = "Internal server error; see the server log."
_PATH_PARAM_KINDS = {
    "model_id": "model_id",
    "tag_key": "key",
    "key": "key",
    "dataset_id": "dataset_id",
    "issue_id": "issue_id",
    "experiment_id": "experiment_id",
    "run_id": "run_id",
    "name": "model_name",
    "version": "version",
    "path": "static_path",
    "user_id": "int",
    "token": "int",
    "webhook_id": "webhook_id",
    "trace_id": "text",
    "request_id": "text",
    "assessment_id": "text",
    "span_id": "text",
}
_RAW_BODY = {("PUT", "api/2.0/mlflow-artifacts/artifacts"), ("POST", "api/2.0/mlflow/upload-artifact")}
_HOSTILE_ORIGINS = ["http://evil.example", "null", "", "http://127.0.0.1", "https://127.0.0.1:1", "\u00ff"]


@dataclass
class Probe:
    """One HTTP request to send: method, path, and either query fields, a JSON body or raw bytes."""

    method: str
    path: str
    query: list[tuple[str, str]] = field(default_factory=list)
    json_body: Any = OMIT
    data: bytes | None = None
    headers: dict[str, str] = field(default_factory=dict)
    # A dashboard form's CSRF token: "match" (the session's, as a page gives it), "wrong", or None.
    csrf: str | None = None

    def describe(self) -> str:
        body = (
            self.data[:300] if self.data is not None else (None if self.json_body is OMIT else self.json_body)
        )
        return (
            f"{self.method} /{self.path:.300} query={self.query!r:.300} body={body!r:.500} "
            f"headers={self.headers} csrf={self.csrf}"
        )


def route_id(route: Route) -> str:
    return f"{route[0]} {route[1]}"


def _segment(value: Any, *, keep_slashes: bool = False) -> str:
    text = value if isinstance(value, str) else repr(value)
    return quote(text, safe="/" if keep_slashes else "") or "x"


@st.composite
def _path(draw: st.DrawFn, route: Route, w: World) -> str:
    """The route's path with its {parameters} and any trailing artifact path filled in, sometimes via /ajax-api."""
    method, template = route

    def fill(m: re.Match[str]) -> str:
        kind = _PATH_PARAM_KINDS[m.group(1)]
        value = draw(st.one_of(good(kind, w), HOSTILE))
        return _segment(value, keep_slashes=bool(m.group(2)))

    path = _PARAM.sub(fill, template)
    if route in PATH_SUFFIX:
        suffix = draw(st.one_of(good(PATH_SUFFIX[route], w), HOSTILE))
        text = suffix if isinstance(suffix, str) else repr(suffix)
        if text:
            path += "/" + quote(text, safe="/")
    if path.startswith(("api/2.0/", "api/3.0/")) and draw(st.booleans()):
        path = "ajax-" + path
    return path


@st.composite
def hostile_fields(draw: st.DrawFn, route: Route, w: World, origin: str) -> Probe:
    """A request with the route's own field names, each left out, plausible, or hostile; plus a stray one.
    `origin` is the server's own, which half of the dashboard's form posts carry (as a browser would)."""
    method = route[0]
    fields = {name: draw(field_value(kind, w), label=name) for name, kind in FIELDS[route].items()}
    if draw(st.integers(0, 4)) == 0:
        fields[draw(st.sampled_from(["extra", "experiment_id", "run_id", "name", "__proto__"]))] = draw(
            HOSTILE
        )
    fields = {k: v for k, v in fields.items() if v is not OMIT}
    variables = fields.get("variables", "")
    if (
        FIELDS[route].get("variables") == "graphql_variables"
        and method == "GET"
        and not isinstance(variables, str)
    ):
        fields["variables"] = json.dumps(variables, allow_nan=True)  # in a query string, as JSON text
    pairs = [(k, v) for k, value in fields.items() for v in query_value(value)]
    probe = Probe(method, draw(_path(route, w)))
    if route in _RAW_BODY:
        probe.data = draw(st.binary(max_size=64))
        probe.headers["Content-Type"] = "application/octet-stream"
        if method == "POST":
            probe.query = pairs
    elif route in DASHBOARD and method == "POST":
        probe.data = urlencode(pairs).encode()
        probe.headers["Content-Type"] = "application/x-www-form-urlencoded"
        # Mostly the token a page gave (or the handlers would never run), sometimes none or a wrong one.
        probe.csrf = draw(st.sampled_from(["match", "match", "match", "wrong", None]))
        if draw(st.booleans()):
            probe.headers["Origin"] = origin
        elif (bad := draw(st.sampled_from([None, *_HOSTILE_ORIGINS]))) is not None:
            probe.headers["Origin"] = bad
    elif method == "GET":
        probe.query = pairs
        if route in DASHBOARD and draw(st.booleans()):
            probe.headers["HX-Request"] = "true"  # htmx asks for the part of the page it swaps
    elif method != "DELETE" or fields or draw(st.booleans()):
        probe.json_body = fields
    return probe


_BAD_BODIES = [
    b"{",
    b"[1, 2]",
    b"null",
    b'"a string"',
    b"42",
    b'{"a": NaN}',
    b'{"experiment_id": 99999999999999999999999}',
    b'{"run_id": "' + b"\xff\xfe" + b'"}',
    b"\xff\xfe\x00",
    b'{"name": "a", "name": "b"}',
    b'{"tags": {"key": "k"}}',
    b"{" + b'"k": [' * 600 + b"]" * 600 + b"}",
    b'{"name": "' + b"x" * 2_000_000 + b'"}',
]


@st.composite
def malformed(draw: st.DrawFn, route: Route, w: World) -> Probe:
    """A request broken at the HTTP level: bad JSON, wrong content type, wrong method, query on a POST."""
    method, _ = route
    path = draw(_path(route, w))
    names = list(FIELDS[route]) or ["x"]
    how = draw(st.sampled_from(["bad_json", "content_type", "method", "query_on_post", "body_on_get"]))
    if how == "bad_json":
        return Probe(
            method,
            path,
            data=draw(st.sampled_from(_BAD_BODIES)),
            headers={"Content-Type": "application/json"},
        )
    if how == "content_type":
        content_type = draw(
            st.sampled_from(
                ["text/plain", "application/x-www-form-urlencoded", "multipart/form-data", "", "json"]
            )
        )
        headers = {"Content-Type": content_type} if content_type else {}
        return Probe(method, path, data=b'{"name": "x", "experiment_id": "0"}', headers=headers)
    if how == "method":
        allowed = {m for m, p in ROUTES if p == route[1]}
        others = [m for m in HTTP_METHODS if m not in allowed] or ["PATCH"]
        return Probe(draw(st.sampled_from(others)), path, json_body={n: "1" for n in names})
    query = [(n, draw(st.sampled_from(["0", "1", str(2**70), "", "x"]))) for n in names]
    if how == "query_on_post":
        return Probe(method, path, query=query, json_body=draw(st.sampled_from([OMIT, {}])))
    return Probe(
        method,
        path,
        query=query,
        data=b'{"experiment_id": "0"}',
        headers={"Content-Type": "application/json"},
    )


def send(f: Fuzzed, probe: Probe) -> requests.Response:
    kwargs: dict[str, Any] = {
        "params": probe.query,
        "headers": dict(probe.headers),
        "timeout": TIMEOUT,
        "allow_redirects": False,
    }
    if probe.data is not None:
        kwargs["data"] = probe.data
        if probe.csrf is not None:
            token = csrf_token(f.http, f"{f.server.url}/experiments") if probe.csrf == "match" else "x" * 43
            kwargs["data"] += ("&" if probe.data else "").encode() + urlencode({CSRF_FIELD: token}).encode()
    elif probe.json_body is not OMIT:
        # NaN and Infinity go out as the bare words Python's json writes (as some clients do), not refused here.
        kwargs["data"] = json.dumps(probe.json_body, allow_nan=True).encode()
        kwargs["headers"].setdefault("Content-Type", "application/json")
    return f.http.request(probe.method, f"{f.server.url}/{probe.path}", **kwargs)


def check(f: Fuzzed, route: Route, probe: Probe) -> None:
    """The promise: never a 5xx (bar MLflow's own NOT_IMPLEMENTED 501, which no client retries); a 4xx
    is an error in the route's own form (an MLflow error; a dashboard page's HTML) and the database is
    exactly as before; a dashboard form's redirect stays on this server."""
    before = f.contents_before()
    f.known = None
    resp = send(f, probe)
    where = f"[{f.backend}] {probe.describe()}\n-> {resp.status_code}: {resp.text[:600]}"
    status = resp.status_code
    if status == 501:
        assert _error_code(resp) == "NOT_IMPLEMENTED", where
    else:
        assert status < 500, where
    if 300 <= status < 400 and route in DASHBOARD:
        location = resp.headers.get("location", "")
        assert location.startswith("/") and not location.startswith("//"), f"{where}\noff-site redirect"
        assert "\\" not in location, f"{where}\nbackslash in redirect"
    if status == 200 and route[1].endswith("graphql"):
        # GraphQL answers 200 whatever a field did: a field's internal error shows only in `errors`.
        errors = resp.json().get("errors") or []
        assert _GRAPHQL_INTERNAL not in errors, f"{where}\nan internal error in a GraphQL field"
    if status < 400:
        return
    after = f.store.contents()
    f.known = after
    assert before == after, f"{where}\nthe rejected request changed the database:\n{diff(before, after)}"
    if status == 416:  # an unsatisfiable Range: an empty body with Content-Range, as HTTP says
        return
    if status == 400 and resp.text == _TRANSPORT_REJECT:
        # The HTTP server refused the request head itself (a URL past h11's 16 KiB limit) before any route ran.
        return
    content_type = resp.headers.get("content-type", "")
    if route in DASHBOARD and route not in DASHBOARD_JSON and "json" not in content_type:
        # A page's error is a page (or, for a refused form post or raw view, a line of text).
        assert content_type.startswith(("text/html", "text/plain")), f"{where}\nerror is not HTML"
        assert resp.text.strip(), f"{where}\nempty error page"
        return
    # The API's errors, a dashboard data route's, and any path no route matched: an MLflow error.
    assert "json" in content_type, f"{where}\nerror is not JSON"
    body = resp.json()
    assert isinstance(body, dict) and isinstance(body.get("error_code"), str) and body["error_code"], where
    assert isinstance(body.get("message"), str) and body["message"], where


def _error_code(resp: requests.Response) -> str | None:
    try:
        return resp.json().get("error_code")
    except ValueError:
        return None


def test_every_route_has_a_generator() -> None:
    """A route the server answers but the fuzzer cannot generate requests for fails here."""
    missing = sorted(set(ROUTES) - set(FIELDS))
    assert not missing, f"routes without a fuzz generator in tests/fuzz/routes.py FIELDS: {missing}"
    stale = sorted(set(FIELDS) - set(ROUTES))
    assert not stale, f"FIELDS names routes the server no longer has: {stale}"


@pytest.mark.parametrize("route", ROUTES, ids=route_id)
def test_hostile_fields(fuzzed: Fuzzed, route: Route) -> None:
    refresh(fuzzed)
    fuzzed.known = None

    @route_settings(FUZZ_SETTINGS, route in SLOW_ROUTES)
    @given(probe=hostile_fields(route, fuzzed.world, fuzzed.server.url))
    def probe_route(probe: Probe) -> None:
        check(fuzzed, route, probe)

    probe_route()


@pytest.mark.parametrize("route", ROUTES, ids=route_id)
def test_malformed_requests(fuzzed: Fuzzed, route: Route) -> None:
    refresh(fuzzed)
    fuzzed.known = None

    @route_settings(MALFORMED_SETTINGS, route in SLOW_ROUTES)
    @given(probe=malformed(route, fuzzed.world))
    def probe_route(probe: Probe) -> None:
        check(fuzzed, route, probe)

    probe_route()
