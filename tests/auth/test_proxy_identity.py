"""Identity from an authenticating proxy (TRACKLIGHT_AUTH_PROXY): Google IAP's and AWS ALB's signed headers,
verified against keys a tiny HTTP server on 127.0.0.1 publishes (made here: EC P-256), and a plain header
believed only from trusted peers. The real server process, the stock admin client, a real browser."""

from __future__ import annotations

import base64
import json
import threading
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import jwt
import pytest
import requests
from cli.test_cli import assert_one_line_error
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature
from harness.server import ServerProcess, run_cli

from .conftest import ADMIN, ADMIN_PASSWORD, CLIENT_ENV, eventually, start_auth_server
from .test_permissions import grant

IAP_HEADER = "x-goog-iap-jwt-assertion"
ALB_HEADER = "x-amzn-oidc-data"
IAP_ISSUER = "https://cloud.google.com/iap"
IAP_AUDIENCE = "/projects/123456789012/locations/europe-west1/services/tracklight"
IAP_KID = "iap-key-1"
ALB_REGION = "eu-west-1"
ALB_ARN = (
    f"arn:aws:elasticloadbalancing:{ALB_REGION}:123456789012:loadbalancer/app/tracklight/50dc6c495c0c9188"
)
OTHER_ARN = ALB_ARN.replace("50dc6c495c0c9188", "0123456789abcdef")
ALB_KID = str(uuid.uuid4())


def _key() -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(ec.SECP256R1())


class KeyServer:
    """Publishes IAP's JWK set at /iap/jwk and ALB's PEM keys at /alb/<region>/<kid>; counts the fetches."""

    def __init__(self) -> None:
        self.iap = _key()
        self.alb = _key()
        self.other = _key()  # published nowhere: signs the forgeries
        self.hits: Counter[str] = Counter()
        jwk = json.loads(jwt.algorithms.ECAlgorithm.to_jwk(self.iap.public_key()))
        self.jwks = json.dumps({"keys": [{**jwk, "kid": IAP_KID, "alg": "ES256", "use": "sig"}]}).encode()
        self.pem = self.alb.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                owner.hits[self.path] += 1
                if self.path == "/iap/jwk":
                    self._send(200, owner.jwks, "application/json")
                elif self.path == f"/alb/{ALB_REGION}/{ALB_KID}":
                    self._send(200, owner.pem, "application/x-pem-file")
                else:
                    self._send(404, b"no such key", "text/plain")

            def _send(self, status: int, body: bytes, kind: str) -> None:
                self.send_response(status)
                self.send_header("Content-Type", kind)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: Any) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


def iap_token(
    key: ec.EllipticCurvePrivateKey,
    email: str,
    *,
    kid: str = IAP_KID,
    audience: str = IAP_AUDIENCE,
    issuer: str = IAP_ISSUER,
    expires_in: int = 600,
    issued: int = 0,
) -> str:
    now = int(time.time())
    claims = {
        "aud": audience,
        "iss": issuer,
        "iat": now + issued,
        "exp": now + expires_in,
        "sub": "accounts.google.com:1234567890",
        "email": email,
        "hd": "example.com",
    }
    return jwt.encode(claims, key, algorithm="ES256", headers={"kid": kid})


def _padded(data: dict[str, Any] | bytes) -> str:
    raw = data if isinstance(data, bytes) else json.dumps(data).encode()
    return base64.urlsafe_b64encode(raw).decode()  # with '=' padding, as ALB sends it


def alb_token(
    key: ec.EllipticCurvePrivateKey,
    claims: dict[str, Any],
    *,
    kid: str = ALB_KID,
    signer: str = ALB_ARN,
    expires_in: int = 120,
) -> str:
    """The ALB's x-amzn-oidc-data: base64url parts WITH padding, signed as padded (not RFC 7515)."""
    exp = int(time.time()) + expires_in
    header = {"alg": "ES256", "kid": kid, "signer": signer, "iss": "https://idp.example.com", "exp": exp}
    for pad in range(3):  # make sure every part carries padding, so the quirk is exercised
        body = {"sub": "idp-user", "exp": exp, "iss": "https://idp.example.com", **claims, "x": "p" * pad}
        signing_input = f"{_padded(header)}.{_padded(body)}"
        if signing_input.split(".")[1].endswith("="):
            break
    r, s = decode_dss_signature(key.sign(signing_input.encode(), ec.ECDSA(hashes.SHA256())))
    token = f"{signing_input}.{_padded(r.to_bytes(32, 'big') + s.to_bytes(32, 'big'))}"
    assert all(part.endswith("=") for part in token.split(".")[1:]), token
    return token


def email(label: str = "person") -> str:
    return f"{label}-{uuid.uuid4().hex[:8]}@example.com"


# -- fixtures ---------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def keys() -> Iterator[KeyServer]:
    server = KeyServer()
    try:
        yield server
    finally:
        server.close()


def _proxy_server(auth_db: str, workdir: Path, env: dict[str, str]) -> Iterator[ServerProcess]:
    server = start_auth_server(auth_db, workdir, env=env)
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="module")
def iap_server(
    auth_db: str, keys: KeyServer, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[ServerProcess]:
    env = {
        "TRACKLIGHT_AUTH_PROXY": "iap",
        "TRACKLIGHT_AUTH_PROXY_IAP_AUDIENCE": f"/projects/1/global/backendServices/2,{IAP_AUDIENCE}",
        "TRACKLIGHT_AUTH_PROXY_IAP_KEYS_URL": f"{keys.url}/iap/jwk",
    }
    yield from _proxy_server(auth_db, tmp_path_factory.mktemp("iap"), env)


@pytest.fixture(scope="module")
def alb_server(
    auth_db: str, keys: KeyServer, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[ServerProcess]:
    env = {
        "TRACKLIGHT_AUTH_PROXY": "alb",
        "TRACKLIGHT_AUTH_PROXY_ALB_ARN": ALB_ARN,
        "TRACKLIGHT_AUTH_PROXY_ALB_KEYS_URL": f"{keys.url}/alb/{{region}}",
        "TRACKLIGHT_AUTH_PROXY_ALB_CLAIM": "preferred_username",
    }
    yield from _proxy_server(auth_db, tmp_path_factory.mktemp("alb"), env)


@pytest.fixture(scope="module")
def header_server(auth_db: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    env = {"TRACKLIGHT_AUTH_PROXY": "header", "TRACKLIGHT_AUTH_PROXY_TRUSTED": "::1,127.0.0.0/8"}
    yield from _proxy_server(auth_db, tmp_path_factory.mktemp("header"), env)


@pytest.fixture(scope="module")
def untrusting_server(auth_db: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    env = {
        "TRACKLIGHT_AUTH_PROXY": "header",
        "TRACKLIGHT_AUTH_PROXY_HEADER": "X-Auth-Request-User",
        "TRACKLIGHT_AUTH_PROXY_TRUSTED": "10.0.0.0/8",
    }
    yield from _proxy_server(auth_db, tmp_path_factory.mktemp("untrusting"), env)


@pytest.fixture
def admin_client_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """The stock admin client, acting as the admin (it reads its credentials from the environment)."""
    for key, value in CLIENT_ENV.items():
        monkeypatch.setenv(key, value)
    monkeypatch.delenv("MLFLOW_TRACKING_TOKEN", raising=False)
    monkeypatch.setenv("MLFLOW_TRACKING_USERNAME", ADMIN)
    monkeypatch.setenv("MLFLOW_TRACKING_PASSWORD", ADMIN_PASSWORD)


# -- helpers ----------------------------------------------------------------------------------------------


def whoami(server: ServerProcess, headers: dict[str, str], **kw: Any) -> requests.Response:
    return requests.get(server.api("users/current"), headers=headers, timeout=30, **kw)


def username_of(response: requests.Response) -> str:
    assert response.status_code == 200, response.text
    return response.json()["user"]["username"]


def exists(server: ServerProcess, username: str) -> bool:
    got = requests.get(
        server.api("users/get"), params={"username": username}, auth=(ADMIN, ADMIN_PASSWORD), timeout=30
    )
    assert got.status_code in (200, 404), got.text
    return got.status_code == 200


def admin_view(server: ServerProcess, username: str) -> Any:
    from mlflow.server import get_app_client

    return get_app_client("basic-auth", tracking_uri=server.url).get_user(username)


def refused(server: ServerProcess, header: str, token: str, username: str) -> None:
    """The assertion gets a 401 (with no other credentials), is logged without the token, creates nobody."""
    since = server.log_size()
    got = whoami(server, {header: token})
    assert got.status_code == 401, got.text
    assert 'Basic realm="tracklight"' in got.headers.get("WWW-Authenticate", "")
    assert not exists(server, username)
    log = server.log_text(since)
    assert "proxy identity refused" in log, log
    assert token not in log and token.split(".")[2] not in log


# -- settings ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("env", "needle"),
    [
        ({"TRACKLIGHT_AUTH_PROXY": "iap"}, "needs --auth"),
        ({"TRACKLIGHT_AUTH": "true", "TRACKLIGHT_AUTH_PROXY": "iap"}, "TRACKLIGHT_AUTH_PROXY_IAP_AUDIENCE"),
        (
            {
                "TRACKLIGHT_AUTH": "true",
                "TRACKLIGHT_AUTH_PROXY": "iap",
                "TRACKLIGHT_AUTH_PROXY_IAP_AUDIENCE": "my-service",
            },
            "TRACKLIGHT_AUTH_PROXY_IAP_AUDIENCE",
        ),
        (
            {
                "TRACKLIGHT_AUTH": "true",
                "TRACKLIGHT_AUTH_PROXY": "alb",
                "TRACKLIGHT_AUTH_PROXY_ALB_ARN": "my-alb",
            },
            "TRACKLIGHT_AUTH_PROXY_ALB_ARN",
        ),
        ({"TRACKLIGHT_AUTH": "true", "TRACKLIGHT_AUTH_PROXY": "header"}, "TRACKLIGHT_AUTH_PROXY_TRUSTED"),
        (
            {
                "TRACKLIGHT_AUTH": "true",
                "TRACKLIGHT_AUTH_PROXY": "header",
                "TRACKLIGHT_AUTH_PROXY_TRUSTED": "proxy.internal",
            },
            "TRACKLIGHT_AUTH_PROXY_TRUSTED",
        ),
        (
            {"TRACKLIGHT_AUTH": "true", "TRACKLIGHT_AUTH_PROXY": "oauth2"},
            "must be none or iap or alb or header",
        ),
    ],
)
def test_incomplete_proxy_settings_are_one_line_errors(
    env: dict[str, str], needle: str, tmp_path: Path
) -> None:
    result = run_cli(["server", "--port", "1"], env=env, cwd=tmp_path, timeout=60)
    assert_one_line_error(result, needle)


# -- Google IAP -------------------------------------------------------------------------------------------


def test_iap_signs_in_and_creates_the_user_on_the_first_request(
    iap_server: ServerProcess, keys: KeyServer, admin_client_env: None
) -> None:
    person = email("iap")
    assert not exists(iap_server, person)
    assert username_of(whoami(iap_server, {IAP_HEADER: iap_token(keys.iap, person)})) == person
    user = admin_view(iap_server, person)
    assert user.username == person and user.is_admin is False

    # Keys are fetched once and kept: fresh tokens (each verified anew) fetch nothing more.
    fetched = keys.hits["/iap/jwk"]
    assert fetched >= 1
    for _ in range(5):
        assert username_of(whoami(iap_server, {IAP_HEADER: iap_token(keys.iap, person)})) == person
    assert keys.hits["/iap/jwk"] == fetched
    # Still one user of that name.
    listed = requests.get(iap_server.api("users/list"), auth=(ADMIN, ADMIN_PASSWORD), timeout=30).json()
    assert [u["username"] for u in listed["users"]].count(person) == 1


@pytest.mark.parametrize(
    "forgery",
    [
        "wrong audience",
        "expired",
        "issued in the future",
        "wrong issuer",
        "bad signature",
        "unknown key",
        "HS256",
    ],
)
def test_iap_refuses_what_does_not_verify(iap_server: ServerProcess, keys: KeyServer, forgery: str) -> None:
    person = email("forged")
    token = {
        "wrong audience": lambda: iap_token(keys.iap, person, audience="/projects/1/apps/someone-else"),
        "expired": lambda: iap_token(keys.iap, person, expires_in=-120, issued=-720),
        "issued in the future": lambda: iap_token(keys.iap, person, issued=600, expires_in=1200),
        "wrong issuer": lambda: iap_token(keys.iap, person, issuer="https://accounts.google.com"),
        "bad signature": lambda: iap_token(keys.other, person),
        "unknown key": lambda: iap_token(keys.other, person, kid="rotated-in-by-nobody"),
        "HS256": lambda: jwt.encode(
            {"aud": IAP_AUDIENCE, "iss": IAP_ISSUER, "email": person, "exp": int(time.time()) + 600},
            "a-shared-secret-of-32-bytes-or-more!",
            algorithm="HS256",
            headers={"kid": IAP_KID},
        ),
    }[forgery]()
    refused(iap_server, IAP_HEADER, token, person)


def test_iap_falls_back_to_credentials(iap_server: ServerProcess, keys: KeyServer) -> None:
    """SDK clients behind IAP use their password or token: no assertion, or an invalid one, is not fatal."""
    assert username_of(whoami(iap_server, {}, auth=(ADMIN, ADMIN_PASSWORD))) == ADMIN
    forged = iap_token(keys.other, email("forged"))
    assert username_of(whoami(iap_server, {IAP_HEADER: forged}, auth=(ADMIN, ADMIN_PASSWORD))) == ADMIN
    assert whoami(iap_server, {}).status_code == 401
    # A valid assertion is asked first, whatever credentials come with it.
    person = email("both")
    got = whoami(iap_server, {IAP_HEADER: iap_token(keys.iap, person)}, auth=(ADMIN, "wrong password"))
    assert username_of(got) == person


def test_permissions_apply_to_a_proxy_user_in_the_api_and_the_dashboard(
    iap_server: ServerProcess, keys: KeyServer, admin_client_env: None
) -> None:
    from mlflow import MlflowClient

    person = email("denied")
    headers = {IAP_HEADER: iap_token(keys.iap, person)}
    assert username_of(whoami(iap_server, headers)) == person  # signs in: the user now exists
    admin = MlflowClient(iap_server.url)
    suffix = uuid.uuid4().hex[:8]
    hidden = admin.create_experiment(f"hidden-{suffix}")
    admin.create_experiment(f"shown-{suffix}")
    grant(iap_server.url, person, "experiment", hidden, "NO_PERMISSIONS")

    def names() -> list[str]:
        got = requests.post(
            iap_server.api("experiments/search"), json={"max_results": 1000}, headers=headers, timeout=30
        )
        assert got.status_code == 200, got.text
        return [e["name"] for e in got.json()["experiments"]]

    assert f"shown-{suffix}" in names() and f"hidden-{suffix}" not in names()
    got = requests.get(
        iap_server.api("experiments/get"), params={"experiment_id": hidden}, headers=headers, timeout=30
    )
    assert got.status_code == 403, got.text

    _dashboard_shows(iap_server, headers, person, shown=f"shown-{suffix}", hidden=f"hidden-{suffix}")


def _dashboard_shows(
    server: ServerProcess, headers: dict[str, str], person: str, shown: str, hidden: str
) -> None:
    """A real browser whose every request carries the proxy's header, as behind IAP: no login prompt, the
    signed-in user in the page header, and only the experiments the user may read."""
    from dashboard.conftest import launched_chromium
    from playwright.sync_api import expect

    for browser in launched_chromium():
        context = browser.new_context(extra_http_headers=headers)
        page = context.new_page()
        response = page.goto(server.url + "/")
        assert response is not None and response.status == 200
        expect(page.locator("header .account .who strong")).to_have_text(person, timeout=20_000)
        expect(page.get_by_role("link", name=shown, exact=True)).to_be_visible(timeout=20_000)
        expect(page.get_by_role("link", name=hidden, exact=True)).to_have_count(0)


def test_admin_changes_reach_a_signed_in_proxy_user(
    iap_server: ServerProcess, keys: KeyServer, admin_client_env: None
) -> None:
    """The resolved user is cached, but only at the auth_version it was read at."""
    from mlflow.server import get_app_client

    person = email("promoted")
    headers = {IAP_HEADER: iap_token(keys.iap, person)}

    def lists_users() -> bool:
        return requests.get(iap_server.api("users/list"), headers=headers, timeout=30).status_code == 200

    assert username_of(whoami(iap_server, headers)) == person
    assert not lists_users()
    get_app_client("basic-auth", tracking_uri=iap_server.url).update_user_admin(person, True)
    assert eventually(lists_users)


# -- AWS ALB ----------------------------------------------------------------------------------------------


def test_alb_signs_in_with_its_padded_token_and_the_configured_claim(
    alb_server: ServerProcess, keys: KeyServer, admin_client_env: None
) -> None:
    name = f"alb-{uuid.uuid4().hex[:8]}"
    token = alb_token(keys.alb, {"preferred_username": name, "email": email()})
    assert "=" in token
    assert username_of(whoami(alb_server, {ALB_HEADER: token})) == name
    assert admin_view(alb_server, name).username == name
    # The key was read from the signer's region, by key id, once.
    fetched = keys.hits[f"/alb/{ALB_REGION}/{ALB_KID}"]
    assert fetched >= 1
    for _ in range(3):
        fresh = alb_token(keys.alb, {"preferred_username": name})
        assert username_of(whoami(alb_server, {ALB_HEADER: fresh})) == name
    assert keys.hits[f"/alb/{ALB_REGION}/{ALB_KID}"] == fetched


@pytest.mark.parametrize(
    "forgery", ["wrong signer", "expired", "bad signature", "unknown key", "no such claim"]
)
def test_alb_refuses_what_does_not_verify(alb_server: ServerProcess, keys: KeyServer, forgery: str) -> None:
    name = f"forged-{uuid.uuid4().hex[:8]}"
    claims = {"preferred_username": name}
    token = {
        "wrong signer": lambda: alb_token(keys.alb, claims, signer=OTHER_ARN),
        "expired": lambda: alb_token(keys.alb, claims, expires_in=-300),
        "bad signature": lambda: alb_token(keys.other, claims),
        "unknown key": lambda: alb_token(keys.other, claims, kid=str(uuid.uuid4())),
        "no such claim": lambda: alb_token(keys.alb, {"email": name}),
    }[forgery]()
    refused(alb_server, ALB_HEADER, token, name)


def test_alb_does_not_fetch_keys_for_another_signer(alb_server: ServerProcess, keys: KeyServer) -> None:
    kid = str(uuid.uuid4())
    token = alb_token(keys.other, {"preferred_username": "nobody"}, kid=kid, signer=OTHER_ARN)
    assert whoami(alb_server, {ALB_HEADER: token}).status_code == 401
    assert not [path for path in keys.hits if kid in path]


def test_alb_falls_back_to_credentials(alb_server: ServerProcess, keys: KeyServer) -> None:
    forged = alb_token(keys.alb, {"preferred_username": "x"}, signer=OTHER_ARN)
    assert username_of(whoami(alb_server, {ALB_HEADER: forged}, auth=(ADMIN, ADMIN_PASSWORD))) == ADMIN


# -- a plain header from trusted proxies ------------------------------------------------------------------


def test_header_from_a_trusted_peer_signs_in(header_server: ServerProcess, admin_client_env: None) -> None:
    person = email("header")
    assert username_of(whoami(header_server, {"X-Forwarded-Email": person})) == person
    assert admin_view(header_server, person).username == person
    # The Authorization header, when there is one too, does not override the proxy's word.
    got = whoami(header_server, {"X-Forwarded-Email": person}, auth=(ADMIN, ADMIN_PASSWORD))
    assert username_of(got) == person


def test_header_from_an_untrusted_peer_is_ignored(untrusting_server: ServerProcess) -> None:
    person = email("spoofed")
    for headers in (
        {"X-Auth-Request-User": person},
        # uvicorn would take a loopback peer's X-Forwarded-For as the client address: not in this mode.
        {"X-Auth-Request-User": person, "X-Forwarded-For": "10.1.2.3", "X-Real-IP": "10.1.2.3"},
    ):
        assert whoami(untrusting_server, headers).status_code == 401
        assert username_of(whoami(untrusting_server, headers, auth=(ADMIN, ADMIN_PASSWORD))) == ADMIN
    assert not exists(untrusting_server, person)
