"""With auth on, no route of the running application serves data or accepts a change without valid
credentials: every route is taken from the application's own tables, so a route added later is covered.
The API answers 401 and asks for Basic credentials; a dashboard page sends the browser to its login page."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import requests
from harness.server import ServerProcess

from tracklight.application import assemble
from tracklight.auth import gate
from tracklight.config import load_settings
from tracklight.http.app import TracklightApp
from tracklight.http.artifacts import ARTIFACT_ROUTES

from .conftest import ADMIN, ADMIN_PASSWORD

PROBES = {"/health", "/ready", "/api/3.0/mlflow/server-info", "/ajax-api/3.0/mlflow/server-info"}
LOGIN_PAGE = {"/login", "/login/oidc", "/login/oidc/callback"}
LOGIN_ASSETS = {"/static/app.css", "/static/theme.js", "/static/favicon.svg"}  # what the login page loads
PUBLIC = PROBES | LOGIN_PAGE | LOGIN_ASSETS


def _sample(pattern: str) -> str:
    """A concrete path for a route regex: each parameter becomes a made-up value."""
    path = re.sub(r"\(\?P<\w+>[^)]*\)", "1", pattern.strip("^$"))
    return path.replace("\\", "")


def every_route(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, str, bool]]:
    """(method, path, whether the dashboard serves it) of every route the application registers, with
    auth on and single sign-on configured (the issuer is not contacted to build the table)."""
    monkeypatch.setenv("TRACKLIGHT_ADMIN_PASSWORD", "route-table-only")
    monkeypatch.setenv("TRACKLIGHT_AUTH_OIDC_ISSUER", "http://127.0.0.1:9")
    monkeypatch.setenv("TRACKLIGHT_AUTH_OIDC_CLIENT_ID", "route-table-only")
    settings = load_settings(
        backend_store_uri=f"sqlite:///{tmp_path / 'routes.db'}",
        artifacts_destination=str(tmp_path / "artifacts"),
        auth=True,
    )
    application = assemble(settings)
    try:
        app = TracklightApp(application)
        routes: set[tuple[str, str]] = set()
        for path in [*app.plain, *app.probes]:
            routes.add(("GET", path))
        for path, by_method in app.routes.items():
            routes.update((method, path) for method in by_method)
        for pattern, by_method in app.patterns:
            routes.update((method, _sample(pattern.pattern)) for method in by_method)
        for path in app.streamed:
            routes.add(("GET", path))
        for prefix in app.artifact_prefixes:
            for name, by_method in ARTIFACT_ROUTES:
                for method in by_method:
                    routes.add((method, prefix + name))
                    routes.add((method, prefix + name + "/0/run/artifacts/file.txt"))
        assert app.dashboard is not None
        dashboard = app.dashboard.built
        pages = {(method, _sample(pattern.pattern)) for method, pattern, _ in dashboard.pages}
        pages |= {("GET", dashboard.static_prefix + name) for name in dashboard.static}
        return sorted([(m, p, False) for m, p in routes - pages] + [(m, p, True) for m, p in pages])
    finally:
        gate.install(None)
        if application.db is not None:
            application.db.engine.dispose()


def _call(
    server: ServerProcess, method: str, path: str, auth: tuple[str, str] | None, **extra: object
) -> requests.Response:
    kwargs: dict = {"timeout": 30, "auth": auth, "allow_redirects": False, **extra}
    if method in ("POST", "PUT", "PATCH", "DELETE"):
        kwargs["json"] = {"name": "x", "experiment_id": "0", "run_id": "0", "username": "admin"}
    return requests.request(method, server.base_url + path, **kwargs)


def test_the_route_table_is_complete_enough_to_mean_something(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    routes = every_route(tmp_path, monkeypatch)
    paths = {p for _, p, _ in routes}
    # A sample of each family, so a broken enumeration cannot pass by finding nothing.
    for expected in (
        "/api/2.0/mlflow/runs/log-metric",
        "/ajax-api/2.0/mlflow/runs/search",
        "/api/3.0/mlflow/users/permissions/grant",
        "/api/2.0/mlflow/users/create",
        "/graphql",
        "/get-artifact",
        "/model-versions/get-artifact",
        "/metrics",
        "/version",
        "/api/2.0/mlflow-artifacts/artifacts",
        "/api/2.0/tracklight/tokens/create",
        "/api/3.0/mlflow/gateway/secrets/create",
        "/ajax-api/3.0/mlflow/gateway/supported-providers",
        "/account",
        "/admin/users",
        "/admin/users/1/grants",
        "/experiments/1/rename",
        "/experiments/1/traces",
        "/experiments/1/traces/1",
        "/experiments/1/traces/1/spans/1",
        "/logout",
    ):
        assert expected in paths, expected
    assert paths >= LOGIN_PAGE and paths >= LOGIN_ASSETS
    assert {p for _, p, dashboard in routes if dashboard} & {"/graphql", "/metrics", "/get-artifact"} == set()
    assert len(routes) > 150


def _refused(got: requests.Response, dashboard: bool) -> bool:
    """The API asks for credentials; a dashboard page sends a browser to its login page (and answers
    its other routes 401 without a Basic prompt, which the login page replaces)."""
    if got.status_code == 401 and got.headers.get("www-authenticate") == 'Basic realm="tracklight"':
        return True
    if not dashboard:
        return False
    if got.status_code == 303:
        return got.headers["location"].startswith("/login")
    return got.status_code == 401


def test_no_route_answers_without_credentials(
    auth_server: ServerProcess, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    routes = every_route(tmp_path, monkeypatch)
    served = []
    for index, (method, path, dashboard) in enumerate(routes):
        if path in PUBLIC:
            continue
        # Wrong credentials on a sample only: failed logins count towards throttling (test_credentials).
        tries: list[dict] = [{"auth": None}]
        if index % 25 == 0:
            tries.append({"auth": ("nobody-" + str(index), "not-a-password")})
        if dashboard and index % 5 == 0:  # a made-up session cookie opens nothing either
            tries.append({"auth": None, "cookies": {"tracklight_session": "made-up-" + str(index)}})
        for extra in tries:
            got = _call(auth_server, method, path, **extra)
            if not _refused(got, dashboard):
                served.append((method, path, extra, got.status_code, got.text[:100]))
    assert served == []


def test_public_paths_are_only_the_probes_and_the_login_page(auth_server: ServerProcess) -> None:
    for path in [*PROBES, "/login", *LOGIN_ASSETS]:
        assert requests.get(auth_server.base_url + path, timeout=30).status_code == 200, path
    # Anything else, even a path nobody registered, asks for credentials rather than saying "not found".
    for path in ("/nope", "/api/2.0/mlflow/nope", "/health/", "/signup", "/login/nope"):
        got = requests.get(auth_server.base_url + path, timeout=30)
        assert got.status_code == 401, path
        assert got.headers["www-authenticate"] == 'Basic realm="tracklight"'
    # The dashboard's pages send a browser to the login page, and come back after it.
    for path, back in (("/", "/"), ("/experiments/1?view=all", "/experiments/1%3Fview%3Dall")):
        got = requests.get(auth_server.base_url + path, timeout=30, allow_redirects=False)
        assert got.status_code == 303 and got.headers["location"] == "/login?next=" + back, path
    # Its scripts, unlike the login page's stylesheet, are not public.
    assert requests.get(auth_server.base_url + "/static/app.js", timeout=30).status_code == 401


def test_bearer_and_malformed_headers_are_refused(auth_server: ServerProcess) -> None:
    url = auth_server.api("experiments/search") + "?max_results=1"
    for header in (
        "Bearer tl_not-a-token",
        "Bearer ",
        "Basic !!!",
        "Basic " + "YWRtaW4=",
        "Digest x",
        "tl_x",
    ):
        got = requests.get(url, headers={"Authorization": header}, timeout=30)
        assert got.status_code == 401, header
    ok = requests.get(url, auth=(ADMIN, ADMIN_PASSWORD), timeout=30)
    assert ok.status_code == 200, ok.text
