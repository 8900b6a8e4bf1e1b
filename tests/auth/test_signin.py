"""Signing in to the dashboard: the login page, database sessions, CSRF, and OpenID Connect single sign-on
against a real provider process, on each backend. Two servers share each database, as replicas behind a
load balancer would: one with password sign-in, one with single sign-on only."""

from __future__ import annotations

import hashlib
import re
import time
import uuid
from collections.abc import Iterator
from http.cookies import SimpleCookie
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit, urlunsplit

import pytest
import requests
from harness.forms import CSRF_FIELD, csrf_token, post_form
from harness.identity_provider import IdentityProvider, identity_provider
from harness.server import ServerProcess
from sqlalchemy import create_engine, text

from .conftest import ADMIN, ADMIN_PASSWORD, eventually, new_user, start_auth_server

SESSION = "tracklight_session"
PROVIDER_NAME = "Example IdP"
ADMINS, STAFF = "tl-admins", "tl-staff"


# -- fixtures ---------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def provider(tmp_path_factory: pytest.TempPathFactory) -> Iterator[IdentityProvider]:
    with identity_provider(tmp_path_factory.mktemp("idp")) as idp:
        yield idp


@pytest.fixture(scope="module")
def sso_server(
    auth_db: str,
    provider: IdentityProvider,
    auth_server: ServerProcess,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[ServerProcess]:
    """A second server on the same database, with single sign-on only (no password form)."""
    server = start_auth_server(
        auth_db,
        tmp_path_factory.mktemp("ssosrv"),
        env={
            "TRACKLIGHT_AUTH_OIDC_ISSUER": provider.issuer,
            "TRACKLIGHT_AUTH_OIDC_CLIENT_ID": "tracklight-tests",
            "TRACKLIGHT_AUTH_OIDC_CLIENT_SECRET": "not-so-secret",
            "TRACKLIGHT_AUTH_OIDC_ADMIN_GROUPS": ADMINS,
            "TRACKLIGHT_AUTH_OIDC_ALLOWED_GROUPS": f"{STAFF},{ADMINS}",
            "TRACKLIGHT_AUTH_OIDC_PROVIDER_NAME": PROVIDER_NAME,
            "TRACKLIGHT_AUTH_PASSWORD_LOGIN": "false",
        },
    )
    try:
        yield server
    finally:
        server.stop()


# -- helpers ----------------------------------------------------------------------------------------


def set_cookies(response: requests.Response) -> dict[str, Any]:
    """The cookies a response sets, by name, with their attributes (morsels)."""
    jar: SimpleCookie = SimpleCookie()
    for header in response.raw.headers.getlist("set-cookie"):
        jar.load(header)
    return dict(jar)


def sign_in(
    server: ServerProcess,
    username: str,
    password: str,
    next_path: str = "/",
    browser: requests.Session | None = None,
) -> tuple[requests.Session, requests.Response]:
    """Fill in the login page as a browser would: (the browser, the answer to the form)."""
    browser = browser or requests.Session()
    answer = post_form(
        browser,
        server.url + "/login",
        {"username": username, "password": password, "next": next_path},
        page_url=server.url + "/login",
        allow_redirects=False,
    )
    return browser, answer


def signed_in_as(server: ServerProcess, browser: requests.Session, path: str = "/experiments") -> str | None:
    """Who the dashboard says is signed in for this browser (None: it sent the browser to the login page)."""
    page = browser.get(server.url + path, allow_redirects=False, timeout=30)
    if page.status_code == 303:
        assert page.headers["location"].startswith("/login"), page.headers["location"]
        return None
    assert page.status_code == 200, page.text[:300]
    marker = "Signed in as <strong>"
    start = page.text.index(marker) + len(marker)
    return page.text[start : page.text.index("</strong>", start)]


def sso_sign_in(
    server: ServerProcess, provider: IdentityProvider, sub: str, next_path: str = "/experiments"
) -> tuple[requests.Session, requests.Response, str]:
    """The whole authorization code flow: (the browser, our callback's answer, the authorization URL)."""
    browser = requests.Session()
    token = csrf_token(browser, server.url + "/login")
    started = browser.post(
        server.url + "/login/oidc",
        data={CSRF_FIELD: token, "next": next_path},
        allow_redirects=False,
        timeout=30,
    )
    assert started.status_code == 303, started.text[:300]
    authorization_url = started.headers["location"]
    callback = provider.authorize(authorization_url, sub)
    answer = browser.get(callback, allow_redirects=False, timeout=30)
    return browser, answer, authorization_url


def staff_member(provider: IdentityProvider, *groups: str) -> str:
    email = f"sso-{uuid.uuid4().hex[:8]}@example.com"
    provider.set_user(email, email=email, email_verified=True, groups=list(groups))
    return email


def user_record(server: ServerProcess, username: str) -> dict[str, Any] | None:
    got = requests.get(
        server.api("users/get"), params={"username": username}, auth=(ADMIN, ADMIN_PASSWORD), timeout=30
    )
    if got.status_code == 404:
        return None
    assert got.status_code == 200, got.text
    return got.json()["user"]


def session_rows(auth_db: str, secret: str) -> int:
    engine = create_engine(str(auth_db).replace("postgresql://", "postgresql+psycopg2://"))
    try:
        with engine.connect() as conn:
            return conn.execute(
                text("SELECT COUNT(*) FROM auth_sessions WHERE secret_hash = :h"),
                {"h": hashlib.sha256(secret.encode()).hexdigest()},
            ).scalar_one()
    finally:
        engine.dispose()


def admin_call(server: ServerProcess, method: str, path: str, body: dict[str, Any]) -> None:
    got = requests.request(method, server.api(path), json=body, auth=(ADMIN, ADMIN_PASSWORD), timeout=30)
    assert got.status_code == 200, got.text


# -- password sign-in -------------------------------------------------------------------------------


def test_a_page_sends_the_browser_to_the_login_page_and_back(
    auth_server: ServerProcess, auth_db: str
) -> None:
    username, password = new_user(auth_server, "web")
    browser = requests.Session()
    first = browser.get(auth_server.url + "/experiments/0?view=all", allow_redirects=False, timeout=30)
    assert first.status_code == 303
    assert first.headers["location"] == "/login?next=/experiments/0%3Fview%3Dall"
    login = browser.get(auth_server.url + first.headers["location"], timeout=30)
    assert login.status_code == 200 and 'name="password"' in login.text
    assert 'name="next" value="/experiments/0?view=all"' in login.text
    assert "Sign in with" not in login.text  # no issuer configured on this server
    _, answer = sign_in(auth_server, username, password, "/experiments/0?view=all", browser)
    assert answer.status_code == 303 and answer.headers["location"] == "/experiments/0?view=all"
    assert signed_in_as(auth_server, browser) == username
    page = browser.get(auth_server.url + "/experiments", timeout=30).text
    assert 'action="/logout"' in page and ">Sign out</button>" in page
    # The charts' data route takes the session too.
    assert (
        browser.get(auth_server.url + "/dashboard-data/run-keys?experiment=0", timeout=30).status_code == 200
    )

    secret = browser.cookies[SESSION]
    assert session_rows(auth_db, secret) == 1
    out = post_form(browser, auth_server.url + "/logout", {}, page_url=auth_server.url, allow_redirects=False)
    assert out.status_code == 303 and out.headers["location"] == "/login"
    assert SESSION not in browser.cookies  # the cookie is cleared
    assert session_rows(auth_db, secret) == 0  # and the session row is gone
    assert signed_in_as(auth_server, _with_session(secret)) is None  # the old cookie opens nothing


def _with_session(secret: str) -> requests.Session:
    browser = requests.Session()
    browser.cookies.set(SESSION, secret)
    return browser


def test_cookie_flags(auth_server: ServerProcess) -> None:
    username, password = new_user(auth_server, "flags")
    login = requests.get(auth_server.url + "/login", timeout=30)
    csrf = set_cookies(login)["tracklight_csrf"]
    assert csrf["httponly"] and csrf["samesite"].lower() == "strict" and csrf["path"] == "/"
    assert not csrf["secure"]  # plain http: a Secure cookie would be kept only for localhost
    _, answer = sign_in(auth_server, username, password)
    session = set_cookies(answer)[SESSION]
    assert session["httponly"] and session["samesite"].lower() == "lax" and session["path"] == "/"
    assert not session["secure"]
    assert 11 * 3600 < int(session["max-age"]) <= 12 * 3600  # TRACKLIGHT_AUTH_SESSION_HOURS' default
    assert "tracklight_csrf" in set_cookies(answer)  # a fresh CSRF token after sign-in
    # Behind a TLS-terminating proxy, the request was https: both cookies are Secure.
    proxied = requests.Session()
    headers = {"X-Forwarded-Proto": "https"}
    proxied_login = proxied.get(auth_server.url + "/login", headers=headers, timeout=30)
    assert set_cookies(proxied_login)["tracklight_csrf"]["secure"]
    _, answer = sign_in(auth_server, username, password, browser=_proxied(proxied, headers))
    assert set_cookies(answer)[SESSION]["secure"]


def _proxied(browser: requests.Session, headers: dict[str, str]) -> requests.Session:
    browser.headers.update(headers)
    # The Secure CSRF cookie would not be sent back over plain http by requests: send it as the proxy would.
    for cookie in browser.cookies:
        cookie.secure = False
    return browser


def test_prefix_and_always_secure(auth_db: str, tmp_path: Path) -> None:
    server = start_auth_server(
        auth_db, tmp_path, static_prefix="/tl", env={"TRACKLIGHT_AUTH_COOKIE_SECURE": "always"}
    )
    try:
        username, password = new_user(server, "prefixed")
        first = requests.get(server.url + "/", allow_redirects=False, timeout=30)
        assert first.headers["location"] == "/tl/login?next=/tl/"
        login = requests.get(server.url + "/login", timeout=30)
        assert 'href="/tl/static/app.css"' in login.text
        csrf = set_cookies(login)["tracklight_csrf"]
        assert csrf["secure"] and csrf["path"] == "/tl"
        answer = requests.post(  # the Secure cookie, sent back as a browser on https would
            server.url + "/login",
            data={"username": username, "password": password, CSRF_FIELD: csrf.value, "next": "/elsewhere"},
            cookies={"tracklight_csrf": csrf.value},
            allow_redirects=False,
            timeout=30,
        )
        assert answer.status_code == 303 and answer.headers["location"] == "/tl/"  # outside the prefix: no
        session = set_cookies(answer)[SESSION]
        assert session["secure"] and session["path"] == "/tl"
    finally:
        server.stop()


def test_wrong_password_gets_no_session_and_is_throttled(auth_server: ServerProcess) -> None:
    username, password = new_user(auth_server, "guess")
    browser = requests.Session()
    for attempt in range(10):
        _, answer = sign_in(auth_server, username, f"wrong-{attempt}", browser=browser)
        assert answer.status_code == 401 and "Wrong username or password." in answer.text
        assert SESSION not in set_cookies(answer) and SESSION not in browser.cookies
        assert f'value="{username}"' in answer.text  # the name stays filled in
    _, blocked = sign_in(auth_server, username, password, browser=browser)
    assert blocked.status_code == 429 and int(blocked.headers["Retry-After"]) > 0
    assert "Too many failed sign-ins" in blocked.text and SESSION not in browser.cookies
    # One throttle for the form and the API's Basic credentials.
    api = requests.get(auth_server.api("experiments/search"), auth=(username, password), timeout=30)
    assert api.status_code == 429
    # An unknown user gets the same answer as a wrong password.
    _, unknown = sign_in(auth_server, "nobody-" + uuid.uuid4().hex[:6], "whatever-it-is")
    assert unknown.status_code == 401 and "Wrong username or password." in unknown.text


@pytest.mark.parametrize(
    "next_path",
    [
        "https://evil.example/",
        "//evil.example/x",
        "/\\evil.example",
        "\\\\evil.example",
        "http:/evil.example",
        "javascript:alert(1)",
        "/\r\nSet-Cookie: x=1",
        "/login?next=//evil.example",
        "/logout",
        " /experiments",
        "",
    ],
)
def test_no_open_redirect(auth_server: ServerProcess, next_path: str) -> None:
    username, password = new_user(auth_server, "redirect")
    page = requests.get(auth_server.url + "/login", params={"next": next_path}, timeout=30)
    assert 'name="next" value="/"' in page.text
    _, answer = sign_in(auth_server, username, password, next_path)
    assert answer.status_code == 303 and answer.headers["location"] == "/", answer.headers["location"]


def test_signed_in_login_page_goes_on(auth_server: ServerProcess) -> None:
    username, password = new_user(auth_server, "again")
    browser, _ = sign_in(auth_server, username, password)
    again = browser.get(auth_server.url + "/login?next=/models", allow_redirects=False, timeout=30)
    assert again.status_code == 303 and again.headers["location"] == "/models"
    away = browser.get(auth_server.url + "/login?next=//evil.example", allow_redirects=False, timeout=30)
    assert away.headers["location"] == "/"


def test_a_session_does_not_open_the_api(auth_server: ServerProcess) -> None:
    username, password = new_user(auth_server, "api")
    browser, _ = sign_in(auth_server, username, password)
    assert signed_in_as(auth_server, browser) == username
    for method, path in (
        ("GET", "/api/2.0/mlflow/experiments/search?max_results=1"),
        ("GET", "/ajax-api/2.0/mlflow/experiments/search?max_results=1"),
        ("POST", "/api/2.0/mlflow/experiments/create"),
        ("GET", "/api/2.0/mlflow/users/current"),
        ("POST", "/graphql"),
        ("GET", "/api/2.0/mlflow-artifacts/artifacts"),
        ("GET", "/get-artifact?path=x&run_uuid=0"),
        ("GET", "/metrics"),
    ):
        got = browser.request(method, auth_server.url + path, json={"name": "x"}, timeout=30)
        assert got.status_code == 401, (method, path, got.status_code)
        assert got.headers["www-authenticate"] == 'Basic realm="tracklight"'


def test_htmx_is_sent_to_the_login_page(auth_server: ServerProcess) -> None:
    got = requests.get(
        auth_server.url + "/experiments",
        headers={"HX-Request": "true", "HX-Current-URL": auth_server.url + "/models?q=a"},
        allow_redirects=False,
        timeout=30,
    )
    assert got.status_code == 401 and got.headers["hx-redirect"] == "/login?next=/models%3Fq%3Da"
    post = requests.post(
        auth_server.url + "/experiments/create", data={"name": "x"}, allow_redirects=False, timeout=30
    )
    assert post.status_code == 303 and post.headers["location"] == "/login"


def test_sessions_end_everywhere_on_password_admin_change_and_deletion(
    auth_server: ServerProcess, sso_server: ServerProcess
) -> None:
    """sso_server shares auth_server's database: a replica. A session started on one works on the other,
    and what ends it on one ends it on both; a grant does not end it."""
    username, password = new_user(auth_server, "ends")

    def fresh() -> requests.Session:
        browser, answer = sign_in(auth_server, username, password)
        assert answer.status_code == 303
        for server in (auth_server, sso_server):
            assert signed_in_as(server, browser) == username  # checked, and cached, on both replicas
        return browser

    def ended(browser: requests.Session) -> bool:
        return all(
            eventually(lambda s=s: signed_in_as(s, browser) is None) for s in (auth_server, sso_server)
        )

    browser = fresh()
    grant = requests.post(
        auth_server.api("users/permissions/grant", "3.0"),
        json={"username": username, "resource_type": "experiment", "resource_id": "0", "permission": "EDIT"},
        auth=(ADMIN, ADMIN_PASSWORD),
        timeout=30,
    )
    assert grant.status_code == 200, grant.text
    time.sleep(2.5)  # past the replicas' version re-read: the grant has been seen
    assert signed_in_as(sso_server, browser) == username and signed_in_as(auth_server, browser) == username

    new_password = "pw-" + uuid.uuid4().hex
    admin_call(
        auth_server, "PATCH", "users/update-password", {"username": username, "password": new_password}
    )
    assert ended(browser)
    password = new_password

    browser = fresh()
    admin_call(sso_server, "PATCH", "users/update-admin", {"username": username, "is_admin": True})
    assert ended(browser)

    browser = fresh()
    kept = browser.cookies[SESSION]
    logged_out = post_form(
        browser, sso_server.url + "/logout", {}, page_url=sso_server.url, allow_redirects=False
    )
    assert logged_out.status_code == 303
    assert ended(_with_session(kept))  # signed out on one replica: the same cookie is refused on both

    browser = fresh()
    kept = browser.cookies[SESSION]
    admin_call(auth_server, "DELETE", "users/delete", {"username": username})
    assert ended(_with_session(kept))


# -- CSRF -------------------------------------------------------------------------------------------


def test_csrf_refuses_forged_posts(auth_server: ServerProcess) -> None:
    username, password = new_user(auth_server, "forge")
    browser, _ = sign_in(auth_server, username, password)
    url = auth_server.url + "/experiments/create"
    token = browser.cookies["tracklight_csrf"]

    def create(data: dict[str, str], **headers: str) -> requests.Response:
        return browser.post(url, data=data, headers=headers, allow_redirects=False, timeout=30)

    name = "csrf-" + uuid.uuid4().hex[:8]
    refused = [
        create({"name": name}),  # no token
        create({"name": name, CSRF_FIELD: "x" * 43}),  # a wrong one
        create({"name": name, CSRF_FIELD: token[:-1]}),  # nearly right
        create({"name": name, CSRF_FIELD: token}, Origin="http://evil.example"),  # from another site
        create({"name": name, CSRF_FIELD: token}, **{"Sec-Fetch-Site": "cross-site"}),
        create({"name": name, CSRF_FIELD: token}, **{"Sec-Fetch-Site": "same-site"}),
        create({"name": name}, **{"X-CSRF-Token": "y" * 43}),
    ]
    assert [r.status_code for r in refused] == [403] * len(refused), [r.text[:100] for r in refused]
    assert (
        requests.get(
            auth_server.api("experiments/get-by-name"),
            params={"experiment_name": name},
            auth=(ADMIN, ADMIN_PASSWORD),
            timeout=30,
        ).status_code
        == 404
    )
    # The same post from our own page goes through, with the field or with htmx's header.
    assert create({"name": name, CSRF_FIELD: token}, Origin=auth_server.base_url).status_code == 303
    assert (
        create(
            {"name": name + "-htmx"}, **{"X-CSRF-Token": token, "Sec-Fetch-Site": "same-origin"}
        ).status_code
        == 303
    )
    # Sign-out and sign-in are checked too: no forged logout, no login CSRF.
    assert browser.post(auth_server.url + "/logout", timeout=30, allow_redirects=False).status_code == 403
    assert signed_in_as(auth_server, browser) == username
    forged_login = requests.post(
        auth_server.url + "/login",
        data={"username": username, "password": password},
        cookies={"tracklight_csrf": token},
        allow_redirects=False,
        timeout=30,
    )
    assert forged_login.status_code == 403 and SESSION not in set_cookies(forged_login)


# -- single sign-on ---------------------------------------------------------------------------------


def test_sso_first_sign_in_creates_the_user(sso_server: ServerProcess, provider: IdentityProvider) -> None:
    login = requests.get(sso_server.url + "/login", timeout=30)
    assert f"Sign in with {PROVIDER_NAME}" in login.text and 'name="password"' not in login.text
    # The button's form may lead to the provider (a browser holds the redirect to the CSP's form-action).
    assert f"form-action 'self' {provider.issuer}" in login.headers["content-security-policy"]
    email = staff_member(provider, STAFF)
    assert user_record(sso_server, email) is None
    browser, answer, authorization_url = sso_sign_in(sso_server, provider, email, "/models")
    assert answer.status_code == 303 and answer.headers["location"] == "/models", answer.text[:300]
    asked = parse_qs(urlsplit(authorization_url).query)
    assert asked["code_challenge_method"] == ["S256"] and len(asked["code_challenge"][0]) == 43
    assert asked["redirect_uri"] == [sso_server.url + "/login/oidc/callback"]
    assert asked["scope"] == ["openid email profile"] and asked["nonce"] and asked["state"]
    cookies = set_cookies(answer)
    assert cookies[SESSION]["httponly"] and cookies["tracklight_oidc"]["max-age"] == "0"  # spent
    assert signed_in_as(sso_server, browser) == email
    made = user_record(sso_server, email)
    assert made is not None and made["is_admin"] is False
    # Password sign-in is off on this server; the user has no password anyway.
    off = post_form(
        requests.Session(),
        sso_server.url + "/login",
        {"username": ADMIN, "password": ADMIN_PASSWORD},
        page_url=sso_server.url + "/login",
        allow_redirects=False,
    )
    assert off.status_code == 401 and SESSION not in set_cookies(off)


def test_admin_group_grants_and_revokes_admin(sso_server: ServerProcess, provider: IdentityProvider) -> None:
    email = staff_member(provider, STAFF, ADMINS)
    browser, answer, _ = sso_sign_in(sso_server, provider, email)
    assert answer.status_code == 303
    assert user_record(sso_server, email)["is_admin"] is True  # type: ignore[index]
    provider.set_user(email, email=email, email_verified=True, groups=[STAFF])  # left the admin group
    again, answer, _ = sso_sign_in(sso_server, provider, email)
    assert answer.status_code == 303 and signed_in_as(sso_server, again) == email
    assert user_record(sso_server, email)["is_admin"] is False  # type: ignore[index]
    assert eventually(lambda: signed_in_as(sso_server, browser) is None)  # the admin session has ended


def test_groups_outside_the_allowed_ones_are_refused(
    sso_server: ServerProcess, provider: IdentityProvider
) -> None:
    email = staff_member(provider, "contractors")
    browser, answer, _ = sso_sign_in(sso_server, provider, email)
    assert answer.status_code == 403 and "not in a group allowed to use Tracklight" in answer.text
    assert SESSION not in set_cookies(answer) and SESSION not in browser.cookies
    assert user_record(sso_server, email) is None
    unverified = f"sso-{uuid.uuid4().hex[:8]}@example.com"
    provider.set_user(unverified, email=unverified, email_verified=False, groups=[STAFF])
    _, answer, _ = sso_sign_in(sso_server, provider, unverified)
    assert answer.status_code == 403 and "not verified" in answer.text


def test_tampered_or_replayed_callbacks_are_refused(
    sso_server: ServerProcess, provider: IdentityProvider
) -> None:
    email = staff_member(provider, STAFF)
    browser = requests.Session()
    token = csrf_token(browser, sso_server.url + "/login")
    started = browser.post(
        sso_server.url + "/login/oidc", data={CSRF_FIELD: token}, allow_redirects=False, timeout=30
    )
    callback = provider.authorize(started.headers["location"], email)
    parts = urlsplit(callback)
    query = parse_qs(parts.query)
    query["state"] = [query["state"][0][:-2] + "xy"]
    tampered = urlunsplit(parts._replace(query="&".join(f"{k}={v[0]}" for k, v in query.items())))
    answer = browser.get(tampered, allow_redirects=False, timeout=30)
    assert answer.status_code == 400 and "could not be matched" in answer.text
    assert SESSION not in set_cookies(answer) and user_record(sso_server, email) is None
    # The pending sign-in is spent: the genuine callback, now, is refused too.
    late = browser.get(callback, allow_redirects=False, timeout=30)
    assert late.status_code == 400 and SESSION not in set_cookies(late)
    # A callback in another browser (no pending sign-in there) is refused: the code is bound to ours.
    browser2, answer2, _ = sso_sign_in(sso_server, provider, email)
    assert answer2.status_code == 303
    stranger = requests.get(callback, allow_redirects=False, timeout=30)
    assert stranger.status_code == 400 and SESSION not in set_cookies(stranger)


# -- in a real browser ------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def chromium() -> Iterator[Any]:
    from dashboard.conftest import launched_chromium

    yield from launched_chromium()


def test_sign_in_in_a_browser(
    chromium: Any,
    auth_server: ServerProcess,
    sso_server: ServerProcess,
    provider: IdentityProvider,
    tmp_path: Path,
) -> None:
    from playwright.sync_api import expect

    username, password = new_user(auth_server, "browser")
    context = chromium.new_context(viewport={"width": 1200, "height": 760})
    errors: list[str] = []
    try:
        page = context.new_page()
        page.on("pageerror", lambda exc: errors.append(str(exc)))
        page.goto(auth_server.url + "/models")
        expect(page).to_have_url(auth_server.url + "/login?next=/models")
        expect(page.get_by_role("heading", name="Sign in to Tracklight", exact=True)).to_be_visible()
        page.screenshot(path=str(tmp_path / "login-password.png"))
        page.get_by_label("Username", exact=True).fill(username)
        page.get_by_label("Password", exact=True).fill("not-the-password")
        page.get_by_role("button", name="Sign in", exact=True).click()
        expect(page.get_by_role("alert")).to_have_text("Wrong username or password.")
        page.screenshot(path=str(tmp_path / "login-refused.png"))
        page.get_by_label("Password", exact=True).fill(password)
        page.get_by_role("button", name="Sign in", exact=True).click()
        expect(page).to_have_url(auth_server.url + "/models")
        expect(page.locator(".account")).to_contain_text(f"Signed in as {username}")
        page.screenshot(path=str(tmp_path / "signed-in.png"))
        page.get_by_role("button", name="Sign out", exact=True).click()
        expect(page).to_have_url(auth_server.url + "/login")
        page.goto(auth_server.url + "/models")
        expect(page).to_have_url(auth_server.url + "/login?next=/models")

        email = staff_member(provider, STAFF)
        page.goto(sso_server.url + "/experiments")
        button = page.get_by_role("button", name=f"Sign in with {PROVIDER_NAME}", exact=True)
        expect(button).to_be_visible()
        expect(page.get_by_label("Password", exact=True)).to_have_count(0)
        page.screenshot(path=str(tmp_path / "login-sso.png"))
        button.click()
        expect(page).to_have_url(re.compile(re.escape(provider.issuer) + "/oauth2/authorize"))
        page.get_by_placeholder("sub").fill(email)
        page.screenshot(path=str(tmp_path / "provider.png"))
        page.get_by_role("button", name="Authorize", exact=True).click()
        expect(page).to_have_url(sso_server.url + "/experiments")
        expect(page.locator(".account")).to_contain_text(f"Signed in as {email}")
        page.screenshot(path=str(tmp_path / "signed-in-sso.png"))
        page.get_by_role("button", name="Sign out", exact=True).click()
        expect(page).to_have_url(sso_server.url + "/login")

        outsider = staff_member(provider, "contractors")
        page.get_by_role("button", name=f"Sign in with {PROVIDER_NAME}", exact=True).click()
        page.get_by_placeholder("sub").fill(outsider)
        page.get_by_role("button", name="Authorize", exact=True).click()
        expect(page.get_by_role("alert")).to_contain_text("is not in a group allowed to use Tracklight")
        page.screenshot(path=str(tmp_path / "refused-sso.png"))
        assert errors == []
    finally:
        context.close()
    shots = (
        "login-password",
        "login-refused",
        "signed-in",
        "login-sso",
        "provider",
        "signed-in-sso",
        "refused-sso",
    )
    for name in shots:
        assert (tmp_path / f"{name}.png").stat().st_size > 5000, name
