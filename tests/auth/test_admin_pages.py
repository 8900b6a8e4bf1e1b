"""The dashboard's admin and account pages on a server with --auth, driven in chromium with Basic credentials:
admins manage users, grants and tokens; every user manages their own tokens and password; the stock
client uses a token made on the page, and stops working once it is revoked."""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
from dashboard.conftest import launched_chromium
from harness.server import ServerProcess, run_cli
from playwright.sync_api import expect

from .conftest import ADMIN, ADMIN_PASSWORD, Credentials, cli_token, new_user


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    yield from launched_chromium()


class Session:
    """One person's browser: a context signed in through the login page (or with a token), and what went wrong
    on its pages (script errors, CSP violations, dialogs)."""

    def __init__(self, browser: Any, server: ServerProcess, shots: Path, **auth: Any) -> None:
        self.server = server
        self.shots = shots
        self.context = browser.new_context(viewport={"width": 1300, "height": 900}, **auth)
        self.context.add_init_script(
            "window.__violations = [];"
            "document.addEventListener('securitypolicyviolation', e => "
            "window.__violations.push(e.violatedDirective + ' ' + e.blockedURI));"
        )
        self.page = self.context.new_page()
        self.problems: list[str] = []
        self.page.on("pageerror", lambda exc: self.problems.append(f"script error: {exc}"))
        self.page.on("dialog", lambda d: (self.problems.append(f"dialog: {d.message}"), d.dismiss()))
        self.page.on(
            "console",
            lambda m: self.problems.append(m.text) if "Content Security Policy" in m.text else None,
        )

    def goto(self, path: str) -> Any:
        return self.page.goto(self.server.url + path)

    def shot(self, name: str) -> Path:
        path = self.shots / f"{name}.png"
        self.page.screenshot(path=str(path), full_page=True)
        return path

    def clean(self) -> None:
        assert self.problems == []
        assert self.page.evaluate("window.__violations") == []

    def close(self) -> None:
        self.context.close()


@pytest.fixture
def sessions(browser: Any, auth_server: ServerProcess, tmp_path: Path) -> Iterator[Any]:
    """Opens browser sessions for the test: as(username, password) or with_token(token)."""
    opened: list[Session] = []

    class Opener:
        shots = tmp_path

        def as_user(self, username: str, password: str) -> Session:
            """A browser signed in through the login page, as a person does."""
            session = Session(browser, auth_server, tmp_path)
            opened.append(session)
            sign_in_on_page(session, username, password)
            return session

        def with_token(self, token: str) -> Session:
            session = Session(
                browser, auth_server, tmp_path, extra_http_headers={"Authorization": f"Bearer {token}"}
            )
            opened.append(session)
            return session

        def admin(self) -> Session:
            return self.as_user(ADMIN, ADMIN_PASSWORD)

    try:
        yield Opener()
    finally:
        for session in opened:
            session.close()


def sign_in_on_page(session: Session, username: str, password: str) -> None:
    p = session.page
    session.goto("/login")
    p.get_by_label("Username", exact=True).fill(username)
    p.get_by_label("Password", exact=True).fill(password)
    p.get_by_role("button", name="Sign in", exact=True).click()
    expect(p.locator("header .account .who strong")).to_have_text(username)


def _create_user_on_page(admin: Session, username: str, password: str, *, is_admin: bool = False) -> str:
    """Create a user with the users page's form; returns the path of their page."""
    p = admin.page
    admin.goto("/admin/users")
    p.get_by_text("Create a user", exact=True).click()
    p.get_by_label("Username", exact=True).fill(username)
    p.get_by_label("Password", exact=True).fill(password)
    if is_admin:
        p.get_by_label(re.compile(r"^Admin \(")).check()
    p.get_by_role("button", name="Create user", exact=True).click()
    p.wait_for_url(re.compile(r"/admin/users/\d+$"))
    expect(p.locator("h1")).to_contain_text(username)
    return p.url.removeprefix(admin.server.url)


def _grant_on_page(admin: Session, resource_type: str, resource: str, permission: str) -> None:
    p = admin.page
    form = p.locator("#add-grant")
    form.get_by_label("Grant on", exact=True).select_option(label=resource_type)
    form.get_by_label("Name or ID", exact=True).fill(resource)
    form.get_by_label("permission", exact=True).select_option(permission)
    form.get_by_role("button", name="Grant", exact=True).click()
    p.wait_for_load_state()


def _grant_row(admin: Session, resource_type: str, resource_id: str) -> Any:
    return admin.page.locator(
        f'#grants tr[data-resource-type="{resource_type}"][data-resource-id="{resource_id}"]'
    )


def _csrf_post(
    http: requests.Session, server: ServerProcess, page: str, action: str, data: dict[str, str], auth: Any
) -> requests.Response:
    """Post a dashboard form without a browser: fetch the page first and send back its CSRF field and
    cookies, as a browser would (nothing to send while the field is a stub)."""
    got = http.get(server.url + page, auth=auth, timeout=30)
    field = re.search(r'<input[^>]*name="csrf_token"[^>]*>', got.text)
    if field is not None:
        value = re.search(r'value="([^"]*)"', field.group(0))
        data = {**data, "csrf_token": value.group(1) if value else ""}
    return http.post(
        server.url + action,
        data=data,
        auth=auth,
        headers={"Origin": server.url},
        allow_redirects=False,
        timeout=30,
    )


def _search(server: ServerProcess, **kw: Any) -> requests.Response:
    return requests.get(server.api("experiments/search"), params={"max_results": 1}, timeout=30, **kw)


def test_admin_creates_a_user_and_grants_shape_what_they_see(
    auth_server: ServerProcess, creds: Credentials, sessions: Any
) -> None:
    import mlflow
    from mlflow.exceptions import MlflowException

    client = mlflow.MlflowClient(auth_server.url)
    tag = uuid.uuid4().hex[:6]
    read_id = client.create_experiment(f"readable-{tag}")
    edit_id = client.create_experiment(f"editable-{tag}")
    deny_id = client.create_experiment(f"hidden-{tag}")
    model = f"model-{tag}"
    client.create_registered_model(model)
    username, password = f"dana-{tag}", "pw-" + uuid.uuid4().hex

    admin = sessions.admin()
    user_page = _create_user_on_page(admin, username, password)
    # Experiments by name and by id; the model by name.
    _grant_on_page(admin, "Experiment", f"readable-{tag}", "READ")
    _grant_on_page(admin, "Experiment", edit_id, "EDIT")
    _grant_on_page(admin, "Experiment", f"hidden-{tag}", "EDIT")
    _grant_on_page(admin, "Registered model", model, "MANAGE")
    expect(admin.page.locator("#grants tbody tr")).to_have_count(4)
    expect(_grant_row(admin, "experiment", edit_id)).to_contain_text(f"editable-{tag}")
    # Change one (its row's own form) and revoke another.
    row = _grant_row(admin, "experiment", deny_id)
    row.get_by_label(f"Permission on hidden-{tag}", exact=True).select_option("DENY")
    row.get_by_role("button", name=f"Change permission on hidden-{tag}", exact=True).click()
    admin.page.wait_for_load_state()
    expect(_grant_row(admin, "experiment", deny_id).locator("select")).to_have_value("DENY")
    _grant_row(admin, "registered_model", model).get_by_role(
        "button", name=f"Revoke permission on {model}", exact=True
    ).click()
    expect(admin.page.locator("#grants tbody tr")).to_have_count(3)
    # A grant on something that does not exist is refused on the page, and nothing is granted.
    _grant_on_page(admin, "Experiment", f"no-such-{tag}", "READ")
    expect(admin.page.locator("#form-error")).to_contain_text(f"No experiment is named 'no-such-{tag}'")
    expect(admin.page.locator("#grant-resource")).to_have_value(f"no-such-{tag}")
    expect(admin.page.locator("#grants tbody tr")).to_have_count(3)
    admin.goto(user_page)
    admin.shot("admin-user-grants")
    admin.clean()

    # The API sees the same grants the page shows.
    got = requests.get(
        auth_server.api("users/permissions/list", "3.0"),
        params={"username": username},
        auth=(ADMIN, ADMIN_PASSWORD),
        timeout=30,
    ).json()
    assert {(r["resource_pattern"], r["permission"]) for r in got["permissions"]} == {
        (read_id, "READ"),
        (edit_id, "EDIT"),
        (deny_id, "DENY"),
    }

    # The user, in their own browser, sees the READ and EDIT experiments and not the DENY one.
    user = sessions.as_user(username, password)
    user.goto("/experiments")
    names = user.page.locator("#experiments tbody th a")
    expect(names.filter(has_text=f"readable-{tag}")).to_have_count(1)
    expect(names.filter(has_text=f"editable-{tag}")).to_have_count(1)
    expect(names.filter(has_text=f"hidden-{tag}")).to_have_count(0)
    expect(user.page.get_by_role("link", name="Admin", exact=True)).to_have_count(0)
    expect(user.page.get_by_role("link", name="Account", exact=True)).to_have_count(1)
    user.shot("user-experiments")
    denied = user.goto(f"/experiments/{deny_id}")
    assert denied.status == 403
    expect(user.page.locator("h1")).to_have_text("Permission denied")
    user.clean()

    # And the stock client, as the user, may log to the EDIT experiment only.
    creds.basic(username, password)
    assert client.create_run(edit_id).info.experiment_id == edit_id
    with pytest.raises(MlflowException) as info:
        client.create_run(read_id)
    assert info.value.error_code == "PERMISSION_DENIED"


def test_a_token_made_on_the_account_page_is_shown_once_works_and_stops_when_revoked(
    auth_server: ServerProcess, creds: Credentials, sessions: Any
) -> None:
    import mlflow
    from mlflow.exceptions import MlflowException

    username, password = new_user(auth_server, "tok")
    user = sessions.as_user(username, password)
    user.context.grant_permissions(["clipboard-read", "clipboard-write"], origin=auth_server.base_url)
    p = user.page
    user.goto("/experiments")
    p.get_by_role("link", name="Account", exact=True).click()
    p.wait_for_url(re.compile(r"/account$"))
    expect(p.locator("#tokens")).to_contain_text("You have no tokens yet.")
    p.get_by_label("New token", exact=True).fill("laptop")
    p.get_by_label("expires in", exact=True).fill("30")
    p.get_by_role("button", name="Create token", exact=True).click()
    secret_field = p.locator("#new-token-value")
    expect(secret_field).to_be_visible()
    secret = secret_field.input_value()
    assert secret.startswith("tl_") and len(secret) > 40
    expect(p.locator("#new-token")).to_contain_text("it will not be shown again")
    p.get_by_role("button", name="Copy", exact=True).click()
    expect(p.locator('[data-copied-for="new-token-value"]')).to_have_text("Copied.")
    assert p.evaluate("navigator.clipboard.readText()") == secret
    row = p.locator("#tokens tbody tr").first
    expect(row).to_contain_text("laptop")
    expect(row).to_contain_text(secret[:10] + "…")
    expect(row).to_contain_text("active")
    user.shot("account-new-token")

    # Shown once: the page again (a plain GET) has the listing but not the secret.
    page_again = requests.get(auth_server.url + "/account", auth=(username, password), timeout=30)
    assert page_again.status_code == 200
    assert secret not in page_again.text and secret[:10] in page_again.text
    user.goto("/account")
    expect(p.locator("#new-token")).to_have_count(0)

    # The stock client signs in with it.
    creds.token(secret)
    client = mlflow.MlflowClient(auth_server.url)
    eid = client.create_experiment(f"by-token-{uuid.uuid4().hex[:6]}")
    assert client.get_experiment(eid).name.startswith("by-token-")

    # Revoked on the page: the client is refused at once (this server forgets the verdict it cached).
    p.get_by_role("button", name=f"Revoke token laptop ({secret[:10]}…)", exact=True).click()
    p.wait_for_url(re.compile(r"/account$"))
    expect(p.locator("#tokens tbody tr").first).to_contain_text("revoked")
    expect(p.get_by_role("button", name=re.compile("^Revoke token"))).to_have_count(0)
    user.shot("account-token-revoked")
    with pytest.raises(MlflowException) as info:
        client.search_experiments()
    assert "401" in str(info.value)
    user.clean()


def test_a_non_admin_gets_403_on_every_admin_page_and_cannot_post_admin_forms(
    auth_server: ServerProcess, sessions: Any
) -> None:
    username, password = new_user(auth_server, "plain")
    other, other_password = new_user(auth_server, "other")
    other_id = requests.get(
        auth_server.api("users/get"), params={"username": other}, auth=(ADMIN, ADMIN_PASSWORD), timeout=30
    ).json()["user"]["id"]
    auth = (username, password)
    for path in ("/admin", "/admin/users", f"/admin/users/{other_id}", "/admin/tokens"):
        got = requests.get(auth_server.url + path, auth=auth, timeout=30, allow_redirects=False)
        assert got.status_code == 403, path
        assert got.headers["content-type"].startswith("text/html") and "Permission denied" in got.text
    http = requests.Session()
    refused = [
        ("/admin/users/create", {"username": f"made-by-{username}", "password": "long-enough-1"}),
        (f"/admin/users/{other_id}/admin", {"is_admin": "true"}),
        (f"/admin/users/{other_id}/password", {"password": "taken-over-1"}),
        (f"/admin/users/{other_id}/delete", {}),
        (
            f"/admin/users/{other_id}/grants",
            {"resource_type": "experiment", "resource": "0", "permission": "DENY"},
        ),
    ]
    for action, data in refused:
        got = _csrf_post(http, auth_server, "/account", action, data, auth)
        assert got.status_code == 403, (action, got.text[:200])
    # Nothing changed: no new user, the other user is still a plain user with their password.
    listed = requests.get(auth_server.api("users/list"), auth=(ADMIN, ADMIN_PASSWORD), timeout=30).json()
    names = {u["username"]: u["is_admin"] for u in listed["users"]}
    assert f"made-by-{username}" not in names and names[other] is False
    assert _search(auth_server, auth=(other, other_password)).status_code == 200

    # In the browser: no Admin link, and the page says why.
    user = sessions.as_user(username, password)
    user.goto("/experiments")
    expect(user.page.get_by_role("link", name="Admin", exact=True)).to_have_count(0)
    assert user.goto("/admin/users").status == 403
    expect(user.page.locator("h1")).to_have_text("Permission denied")
    user.shot("non-admin-403")
    user.clean()


def test_admin_revokes_another_users_token_and_sees_every_token(
    auth_server: ServerProcess, sessions: Any
) -> None:
    username, password = new_user(auth_server, "owner")
    made = requests.post(
        auth_server.url + "/api/2.0/tracklight/tokens/create",
        json={"name": "ci-job", "expires_days": 7},
        auth=(username, password),
        timeout=30,
    )
    assert made.status_code == 200, made.text
    secret, info = made.json()["token"], made.json()["token_info"]
    bearer = {"Authorization": f"Bearer {secret}"}
    assert _search(auth_server, headers=bearer).status_code == 200

    admin = sessions.admin()
    p = admin.page
    admin.goto("/admin/users")
    expect(p.locator(f'#users tr[data-username="{username}"] td.num')).to_have_text("1")
    p.get_by_role("link", name="Tokens", exact=True).click()
    row = p.locator(f'#all-tokens tr[data-token-id="{info["id"]}"]')
    expect(row).to_contain_text(username)
    expect(row).to_contain_text("ci-job")
    expect(row).to_contain_text(info["prefix"] + "…")
    assert secret not in p.content()
    admin.shot("admin-tokens")
    row.get_by_role("button", name=re.compile("^Revoke token ci-job")).click()
    p.wait_for_url(re.compile(r"/admin/tokens$"))
    expect(p.locator(f'#all-tokens tr[data-token-id="{info["id"]}"]')).to_contain_text("revoked")
    assert _search(auth_server, headers=bearer).status_code == 401
    # The owner's page lists it as revoked too, from either side.
    p.locator(f'#all-tokens tr[data-token-id="{info["id"]}"]').get_by_role("link", name=username).click()
    expect(p.locator(f'#user-tokens tr[data-token-id="{info["id"]}"]')).to_contain_text("revoked")
    admin.clean()


def test_a_user_revokes_only_their_own_tokens(auth_server: ServerProcess) -> None:
    alice, alice_pw = new_user(auth_server, "alice")
    bob, bob_pw = new_user(auth_server, "bob")
    api = auth_server.url + "/api/2.0/tracklight/tokens/"
    made = requests.post(api + "create", json={"name": "mine"}, auth=(alice, alice_pw), timeout=30).json()
    token_id, secret = made["token_info"]["id"], made["token"]
    assert made["token_info"]["expires_time"] is None  # no lifetime given: it never expires
    # Bob cannot revoke it, neither over the API nor with the account page's form.
    refused = requests.post(api + "revoke", json={"token_id": token_id}, auth=(bob, bob_pw), timeout=30)
    assert refused.status_code == 404 and refused.json()["error_code"] == "RESOURCE_DOES_NOT_EXIST"
    page_refused = _csrf_post(
        requests.Session(), auth_server, "/account", f"/account/tokens/{token_id}/revoke", {}, (bob, bob_pw)
    )
    assert page_refused.status_code == 422 and f"Token {token_id} not found" in page_refused.text
    assert _search(auth_server, headers={"Authorization": f"Bearer {secret}"}).status_code == 200
    # Bob's list holds none of Alice's tokens; Alice's holds hers, without its secret.
    assert requests.get(api + "list", auth=(bob, bob_pw), timeout=30).json()["tokens"] == []
    listed = requests.get(api + "list", auth=(alice, alice_pw), timeout=30)
    assert [t["id"] for t in listed.json()["tokens"]] == [token_id] and secret not in listed.text
    # A token may revoke itself; then it is refused.
    done = requests.post(
        api + "revoke", json={"token_id": token_id}, headers={"Authorization": f"Bearer {secret}"}, timeout=30
    )
    assert done.status_code == 200 and done.json()["token_info"]["id"] == token_id
    assert _search(auth_server, headers={"Authorization": f"Bearer {secret}"}).status_code == 401
    # The operator's CLI still revokes anyone's token.
    other = cli_token(auth_server, bob, "--name", "cli")
    listed_cli = run_cli(
        ["tokens", "list", "--user", bob, "--backend-store-uri", auth_server.backend_store_uri]
    )
    other_id = listed_cli.stdout.split()[0]
    revoked = run_cli(["tokens", "revoke", other_id, "--backend-store-uri", auth_server.backend_store_uri])
    assert revoked.returncode == 0, revoked.stderr
    assert _search(auth_server, headers={"Authorization": f"Bearer {other}"}).status_code == 401


def test_passwords_own_and_set_by_an_admin(auth_server: ServerProcess, sessions: Any) -> None:
    username, password = new_user(auth_server, "pw")
    user = sessions.as_user(username, password)
    p = user.page
    user.goto("/account")
    form = p.locator("#password-form")
    form.get_by_label("Current password", exact=True).fill("not-my-password")
    form.get_by_label("New password", exact=True).fill("new-password-1")
    form.get_by_label("Repeat the new password", exact=True).fill("new-password-1")
    form.get_by_role("button", name="Change password", exact=True).click()
    expect(p.locator("#form-error")).to_have_text("The current password is wrong.")
    form.get_by_label("Current password", exact=True).fill(password)
    form.get_by_label("New password", exact=True).fill("new-password-1")
    form.get_by_label("Repeat the new password", exact=True).fill("new-password-2")
    form.get_by_role("button", name="Change password", exact=True).click()
    expect(p.locator("#form-error")).to_have_text("The new passwords differ.")
    assert _search(auth_server, auth=(username, password)).status_code == 200  # nothing changed yet
    form.get_by_label("Current password", exact=True).fill(password)
    form.get_by_label("New password", exact=True).fill("new-password-1")
    form.get_by_label("Repeat the new password", exact=True).fill("new-password-1")
    with p.expect_response(re.compile(r"/account\?changed=password$")) as after:
        form.get_by_role("button", name="Change password", exact=True).click()
    # A new password ends the user's sessions, this one too: the next page is the login page, which
    # comes back to the notice once the user signs in with the new password.
    assert after.value.status == 303
    p.wait_for_url(re.compile(r"/login\?next="))
    user.clean()
    assert _search(auth_server, auth=(username, password)).status_code == 401
    assert _search(auth_server, auth=(username, "new-password-1")).status_code == 200
    again = sessions.as_user(username, "new-password-1")
    assert again.goto("/account?changed=password").status == 200
    expect(again.page.locator("#form-notice")).to_have_text("Your password was changed.")
    again.shot("account-password-changed")
    again.clean()

    # An admin sets it from the user's page (no current password needed for someone else's).
    admin = sessions.admin()
    admin.goto("/admin/users")
    admin.page.get_by_role("link", name=username, exact=True).click()
    admin.page.get_by_label("New password", exact=True).fill("set-by-admin-1")
    admin.page.get_by_role("button", name="Set password", exact=True).click()
    admin.page.wait_for_load_state()
    expect(admin.page.locator("#form-error")).to_have_count(0)
    assert _search(auth_server, auth=(username, "new-password-1")).status_code == 401
    assert _search(auth_server, auth=(username, "set-by-admin-1")).status_code == 200
    # Too short: refused on the page, the password unchanged.
    admin.page.get_by_label("New password", exact=True).fill("short")
    admin.page.locator("#user-password").evaluate("e => e.removeAttribute('minlength')")
    admin.page.get_by_role("button", name="Set password", exact=True).click()
    expect(admin.page.locator("#form-error")).to_contain_text("at least 8 characters")
    assert _search(auth_server, auth=(username, "set-by-admin-1")).status_code == 200
    admin.clean()


def test_admin_flag_the_last_admin_and_deleting_a_user(auth_server: ServerProcess, sessions: Any) -> None:
    listed = requests.get(auth_server.api("users/list"), auth=(ADMIN, ADMIN_PASSWORD), timeout=30).json()
    assert [u["username"] for u in listed["users"] if u["is_admin"]] == [ADMIN]  # the tests add none for long
    admin = sessions.admin()
    p = admin.page
    # The only admin cannot drop their own flag (nobody could manage the server after).
    admin.goto("/admin/users")
    p.get_by_role("link", name=ADMIN, exact=True).click()
    expect(p.get_by_text(f"Delete {ADMIN}…")).to_have_count(0)  # no deleting yourself from the page
    p.get_by_role("button", name="Remove admin", exact=True).click()
    expect(p.locator("#form-error")).to_contain_text("it is the only admin")
    admin.shot("admin-last-admin-refused")

    # A second admin, made on the page, sees the Admin area; then loses it.
    tag = uuid.uuid4().hex[:6]
    username, password = f"helper-{tag}", "pw-" + uuid.uuid4().hex
    user_page = _create_user_on_page(admin, username, password)
    p.get_by_role("button", name="Make admin", exact=True).click()
    expect(p.locator("h1 .role-admin")).to_have_count(1)
    helper = sessions.as_user(username, password)
    helper.goto("/admin/users")
    expect(helper.page.get_by_role("link", name="Admin", exact=True)).to_have_count(1)
    expect(helper.page.locator(f'#users tr[data-username="{username}"]')).to_contain_text("admin")
    admin.goto(user_page)
    p.get_by_role("button", name="Remove admin", exact=True).click()
    expect(p.get_by_role("button", name="Make admin", exact=True)).to_have_count(1)
    # Losing the flag ends the helper's session; signed in again, the Admin area is refused.
    helper.goto("/admin/users")
    helper.page.wait_for_url(re.compile(r"/login\?next="))
    helper = sessions.as_user(username, password)
    assert helper.goto("/admin/users").status == 403

    # Deleting asks first (the button sits behind a disclosure that says what goes with the user).
    token = cli_token(auth_server, username)
    admin.goto(user_page)
    p.get_by_text(f"Delete {username}…", exact=True).click()
    expect(p.locator("#delete-user")).to_contain_text("1 token")
    admin.shot("admin-delete-user")
    p.get_by_role("button", name=f"Delete user {username}", exact=True).click()
    p.wait_for_url(re.compile(r"/admin/users$"))
    expect(p.locator(f'#users tr[data-username="{username}"]')).to_have_count(0)
    assert _search(auth_server, auth=(username, password)).status_code == 401
    assert _search(auth_server, headers={"Authorization": f"Bearer {token}"}).status_code == 401
    assert admin.goto(user_page).status == 404
    admin.clean()
    helper.clean()


def test_a_single_sign_on_user_is_marked_and_has_no_password_form(
    auth_server: ServerProcess, sessions: Any
) -> None:
    from tracklight.auth.permissions import Permission
    from tracklight.auth.versions import Versions
    from tracklight.services.users import Users
    from tracklight.store.engine import open_database

    # Provisioned as single sign-on does it on a first sign-in, against the server's database.
    username = f"sso-{uuid.uuid4().hex[:6]}"
    db = open_database(auth_server.backend_store_uri)
    try:
        Users(db, Versions(db), Permission.READ).provision(username)
    finally:
        db.engine.dispose()
    admin = sessions.admin()
    admin.goto("/admin/users")
    row = admin.page.locator(f'#users tr[data-username="{username}"]')
    expect(row).to_contain_text("single sign-on")
    expect(row).to_contain_text("no password")
    admin.clean()
    # With a token (they have no password), their account page offers tokens but no password change.
    sso = sessions.with_token(cli_token(auth_server, username))
    sso.goto("/account")
    expect(sso.page.locator("#account-name")).to_have_text(username)
    expect(sso.page.locator("#password-form")).to_have_count(0)
    expect(sso.page.locator("#no-password")).to_contain_text("single sign-on")
    expect(sso.page.locator("#tokens tbody tr")).to_have_count(1)
    sso.shot("account-sso")
    sso.clean()


def test_odd_names_are_escaped_and_bad_ids_are_plain_errors(
    auth_server: ServerProcess, sessions: Any
) -> None:
    tag = uuid.uuid4().hex[:6]
    odd = f'<img src=x onerror="window.__xss=1">/{tag} ü'
    made = requests.post(
        auth_server.api("users/create"),
        json={"username": odd, "password": "long-enough-1"},
        auth=(ADMIN, ADMIN_PASSWORD),
        timeout=30,
    )
    assert made.status_code == 200, made.text
    admin = sessions.admin()
    p = admin.page
    admin.goto("/admin/users")
    p.get_by_role("link", name=odd, exact=True).click()
    expect(p.locator("h1")).to_contain_text(odd)
    # A grant for a registered model whose name needs escaping, then the page again.
    model = f"m <b>{tag}<i> & ü"
    creds = {"auth": (ADMIN, ADMIN_PASSWORD), "timeout": 30}
    assert requests.post(auth_server.api("registered-models/create"), json={"name": model}, **creds).ok
    _grant_on_page(admin, "Registered model", model, "EDIT")
    expect(_grant_row(admin, "registered_model", model)).to_contain_text(model)
    assert p.evaluate("window.__xss") is None
    admin.clean()
    for path, status in (
        ("/admin/users/abc", 400),
        ("/admin/users/" + "9" * 30, 400),
        ("/admin/users/987654321", 404),
    ):
        got = requests.get(auth_server.url + path, **creds)
        assert got.status_code == status and got.headers["content-type"].startswith("text/html"), path
    user_id = p.url.rsplit("/", 1)[1]
    http = requests.Session()
    page = f"/admin/users/{user_id}"
    refused = [
        (
            f"{page}/grants",
            {"resource_type": "dataset", "resource": "x", "permission": "READ"},
            "resource_type",
        ),
        (
            f"{page}/grants",
            {"resource_type": "experiment", "resource": "0", "permission": "ALL"},
            "permission",
        ),
        (f"{page}/grants/revoke", {"resource_type": "experiment", "resource_id": "0"}, "has no grant"),
        ("/admin/tokens/abc/revoke", {}, "Invalid token id"),
        ("/admin/tokens/987654321/revoke", {}, "not found"),
        ("/admin/users/create", {"username": "a:b", "password": "long-enough-1"}, "1 to 256 characters"),
        ("/admin/users/create", {"username": odd, "password": "long-enough-1"}, "already exists"),
    ]
    for action, data, said in refused:
        got = _csrf_post(http, auth_server, page, action, data, (ADMIN, ADMIN_PASSWORD))
        assert got.status_code in (400, 404, 422), (action, data, got.status_code)
        assert said in got.text, (action, data, got.text[:300])
