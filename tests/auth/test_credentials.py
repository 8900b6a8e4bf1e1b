"""Credentials: the first admin, tokens, throttling, changes that reach every replica within seconds,
and secrets that never reach the log."""

from __future__ import annotations

import base64
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import requests
from harness.server import ServerProcess, run_cli
from sqlalchemy import create_engine, text

from .conftest import ADMIN, ADMIN_PASSWORD, cli_token, eventually, new_user, start_auth_server


def _search(server: ServerProcess, **kw: object) -> requests.Response:
    return requests.get(server.api("experiments/search"), params={"max_results": 1}, timeout=30, **kw)


def _bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def test_no_admin_and_no_password_refuses_to_start(auth_db: str, tmp_path: Path) -> None:
    fresh = f"sqlite:///{tmp_path / 'fresh.db'}"
    result = run_cli(["server", "--auth", "--backend-store-uri", fresh, "--port", "1"], timeout=120)
    assert result.returncode == 2
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and "no admin user yet" in lines[0] and "TRACKLIGHT_ADMIN_PASSWORD" in lines[0]


def test_replicas_starting_together_create_the_admin_once(auth_db: str, tmp_path: Path) -> None:
    with ThreadPoolExecutor(3) as pool:
        servers = list(pool.map(lambda i: start_auth_server(auth_db, tmp_path / f"r{i}"), range(3)))
    try:
        for server in servers:
            assert _search(server, auth=(ADMIN, ADMIN_PASSWORD)).status_code == 200
        engine = create_engine(str(auth_db).replace("postgresql://", "postgresql+psycopg2://"))
        with engine.connect() as conn:
            count = conn.execute(text("SELECT COUNT(*) FROM auth_users WHERE username = 'admin'")).scalar()
        engine.dispose()
        assert count == 1
    finally:
        for server in servers:
            server.stop()


def test_tokens_work_list_without_secret_and_revoke_everywhere(
    auth_server: ServerProcess, auth_db: str, tmp_path: Path
) -> None:
    replica = start_auth_server(auth_db, tmp_path)
    try:
        username, _ = new_user(auth_server, "tok")
        token = cli_token(auth_server, username, "--name", "ci")
        for server in (auth_server, replica):
            assert _search(server, headers=_bearer(token)).status_code == 200
        listed = run_cli(
            ["tokens", "list", "--user", username, "--backend-store-uri", auth_server.backend_store_uri]
        )
        assert listed.returncode == 0, listed.stderr
        assert token not in listed.stdout and token[:10] in listed.stdout and "active" in listed.stdout
        token_id = listed.stdout.split()[0]
        revoked = run_cli(
            ["tokens", "revoke", token_id, "--backend-store-uri", auth_server.backend_store_uri]
        )
        assert revoked.returncode == 0, revoked.stderr
        for server in (auth_server, replica):
            assert eventually(lambda s=server: _search(s, headers=_bearer(token)).status_code == 401)
        assert (
            _search(auth_server, headers=_bearer(token[:-1] + ("A" if token[-1] != "A" else "B"))).status_code
            == 401
        )
    finally:
        replica.stop()


def test_password_change_admin_flag_and_deletion_reach_every_replica(
    auth_server: ServerProcess, auth_db: str, tmp_path: Path
) -> None:
    replica = start_auth_server(auth_db, tmp_path)
    try:
        username, password = new_user(auth_server, "pw")
        for server in (auth_server, replica):
            assert _search(server, auth=(username, password)).status_code == 200  # verdicts cached on both
        users_url = replica.api("users/list")
        assert requests.get(users_url, auth=(username, password), timeout=30).status_code == 403
        made = requests.patch(
            auth_server.api("users/update-admin"),
            json={"username": username, "is_admin": True},
            auth=(ADMIN, ADMIN_PASSWORD),
            timeout=30,
        )
        assert made.status_code == 200, made.text
        assert eventually(
            lambda: requests.get(users_url, auth=(username, password), timeout=30).status_code == 200
        )
        changed = requests.patch(
            auth_server.api("users/update-password"),
            json={"username": username, "password": "the-new-password"},
            auth=(ADMIN, ADMIN_PASSWORD),
            timeout=30,
        )
        assert changed.status_code == 200, changed.text
        for server in (auth_server, replica):
            assert eventually(lambda s=server: _search(s, auth=(username, password)).status_code == 401)
            assert _search(server, auth=(username, "the-new-password")).status_code == 200
        deleted = requests.delete(
            auth_server.api("users/delete"),
            json={"username": username},
            auth=(ADMIN, ADMIN_PASSWORD),
            timeout=30,
        )
        assert deleted.status_code == 200, deleted.text
        for server in (auth_server, replica):
            assert eventually(
                lambda s=server: _search(s, auth=(username, "the-new-password")).status_code == 401
            )
    finally:
        replica.stop()


def test_expired_token_is_refused(auth_server: ServerProcess, auth_db: str) -> None:
    username, _ = new_user(auth_server, "exp")
    token = cli_token(auth_server, username)
    assert _search(auth_server, headers=_bearer(token)).status_code == 200
    engine = create_engine(str(auth_db).replace("postgresql://", "postgresql+psycopg2://"))
    with engine.begin() as conn:
        conn.execute(text("UPDATE auth_tokens SET expires_time = 1000 WHERE prefix = :p"), {"p": token[:10]})
        # Bump the version, as any change does, so the cached verdict is looked at again.
        conn.execute(
            text("UPDATE auth_users SET auth_version = auth_version + 1 WHERE username = :u"), {"u": username}
        )
    engine.dispose()
    assert eventually(lambda: _search(auth_server, headers=_bearer(token)).status_code == 401)


def test_failed_logins_are_throttled_per_username(auth_server: ServerProcess) -> None:
    username, password = new_user(auth_server, "throttle")
    other, other_pw = new_user(auth_server, "bystander")
    statuses = [_search(auth_server, auth=(username, f"wrong-{i}")).status_code for i in range(12)]
    assert statuses[:10] == [401] * 10 and statuses[10:] == [429, 429], statuses
    blocked = _search(auth_server, auth=(username, password))
    assert blocked.status_code == 429 and int(blocked.headers["Retry-After"]) > 0
    assert _search(auth_server, auth=(other, other_pw)).status_code == 200  # others are not locked out


def test_secrets_never_reach_the_log(auth_server: ServerProcess) -> None:
    since = auth_server.log_size()
    username, password = new_user(auth_server, "secret")
    token = cli_token(auth_server, username)
    wrong = "wrong-" + uuid.uuid4().hex
    for auth in ((username, password), (username, wrong)):
        _search(auth_server, auth=auth)
    _search(auth_server, headers=_bearer(token))
    _search(auth_server, headers=_bearer(token + "x"))
    requests.get(
        auth_server.api("experiments/get") + f"?experiment_id={token}", headers=_bearer(token), timeout=30
    )
    requests.post(
        auth_server.api("users/create"),
        json={"username": "x", "password": wrong},
        headers=_bearer(token),
        timeout=30,
    )
    log = auth_server.log_text(since)
    assert "GET /api/2.0/mlflow/experiments/search" in log  # the log was written, and read
    for secret in (password, wrong, token, base64.b64encode(f"{username}:{password}".encode()).decode()):
        assert secret not in log


def test_users_cli_manages_users_in_the_configured_database(auth_server: ServerProcess) -> None:
    uri = ["--backend-store-uri", auth_server.backend_store_uri]
    name = f"cli-{uuid.uuid4().hex[:8]}"

    def cli(*args: str, password: str | None = None) -> str:
        env = {"TRACKLIGHT_NEW_PASSWORD": password} if password else None
        result = run_cli(["users", *args, *uri], env=env, timeout=120)
        assert result.returncode == 0, result.stderr
        return result.stdout

    cli("create", name, "--admin", password="first-password")
    assert f"{name}\tadmin" in cli("list")
    assert (
        requests.get(auth_server.api("users/list"), auth=(name, "first-password"), timeout=30).status_code
        == 200
    )
    cli("make-admin", name, "--revoke")
    assert eventually(
        lambda: (
            requests.get(auth_server.api("users/list"), auth=(name, "first-password"), timeout=30).status_code
            == 403
        )
    )
    cli("set-password", name, password="second-password")
    assert eventually(lambda: _search(auth_server, auth=(name, "first-password")).status_code == 401)
    assert _search(auth_server, auth=(name, "second-password")).status_code == 200
    cli("delete", name)
    assert name not in cli("list")
    again = run_cli(["users", "delete", name, *uri], timeout=120)
    assert again.returncode == 2 and "not found" in again.stderr and "Traceback" not in again.stderr
