"""The sign-in checks that need no server: the ID token's verification against tokens signed here (wrong
issuer, audience, nonce, expiry, key or algorithm), the pending sign-in cookie, where `next` may lead, the
group rules, and the CSRF comparison."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from joserfc import jwt
from joserfc.errors import JoseError
from joserfc.jwk import KeySet, OctKey, RSAKey

from tracklight.auth.oidc import PendingSignIn, verify_id_token
from tracklight.dashboard import csrf
from tracklight.dashboard.pages.signin import safe_next
from tracklight.services.signin import GroupRules

ISSUER, CLIENT, NONCE = "https://idp.example", "tracklight", "n-0123456789"


@pytest.fixture(scope="module")
def key() -> RSAKey:
    return RSAKey.generate_key(2048, parameters={"kid": "k1"})


def _jwks(key: RSAKey) -> dict[str, Any]:
    return KeySet([key]).as_dict(private=False)


def _claims(**changes: Any) -> dict[str, Any]:
    now = int(time.time())
    claims = {"iss": ISSUER, "sub": "u1", "aud": CLIENT, "iat": now, "exp": now + 300, "nonce": NONCE}
    claims.update(changes)
    return {k: v for k, v in claims.items() if v is not None}


def _verify(token: str, key: RSAKey, **overrides: Any) -> dict[str, Any]:
    check: dict[str, Any] = {"issuer": ISSUER, "client_id": CLIENT, "nonce": NONCE, "algorithms": ["RS256"]}
    check.update(overrides)
    return verify_id_token(token, _jwks(key), **check)


def test_a_good_token_passes(key: RSAKey) -> None:
    token = jwt.encode({"alg": "RS256", "kid": "k1"}, _claims(email="a@example.com"), key)
    assert _verify(token, key)["email"] == "a@example.com"


@pytest.mark.parametrize(
    "claims",
    [
        _claims(iss="https://elsewhere.example"),
        _claims(aud="another-client"),
        _claims(aud=["another-client"]),
        _claims(nonce="a-replayed-nonce"),
        _claims(nonce=None),
        _claims(exp=int(time.time()) - 3600, iat=int(time.time()) - 7200),
        _claims(exp=None),
        _claims(iat=int(time.time()) + 3600, exp=int(time.time()) + 7200),
        _claims(azp="another-client"),
    ],
    ids=["issuer", "audience", "audience-list", "nonce", "no-nonce", "expired", "no-exp", "future", "azp"],
)
def test_claims_that_do_not_fit_are_refused(key: RSAKey, claims: dict[str, Any]) -> None:
    token = jwt.encode({"alg": "RS256", "kid": "k1"}, claims, key)
    with pytest.raises(JoseError):
        _verify(token, key)


def test_a_token_signed_by_another_key_is_refused(key: RSAKey) -> None:
    stranger = RSAKey.generate_key(2048, parameters={"kid": "k1"})
    token = jwt.encode({"alg": "RS256", "kid": "k1"}, _claims(), stranger)
    with pytest.raises(JoseError):
        _verify(token, key)


def test_symmetric_and_unsigned_tokens_are_refused(key: RSAKey) -> None:
    shared = OctKey.import_key("a-client-secret-that-is-long-enough-for-hs256")
    hs256 = jwt.encode({"alg": "HS256"}, _claims(), shared)
    with pytest.raises((JoseError, ValueError)):
        _verify(hs256, key)
    header = "eyJhbGciOiJub25lIn0"  # {"alg":"none"}
    unsigned = header + "." + hs256.split(".")[1] + "."
    with pytest.raises((JoseError, ValueError)):
        _verify(unsigned, key)
    # An algorithm the issuer did not announce is refused even with the right key.
    rs512 = jwt.encode({"alg": "RS512", "kid": "k1"}, _claims(), key, algorithms=["RS512"])
    with pytest.raises(JoseError):
        _verify(rs512, key)


def test_pending_sign_in_round_trips_and_expires() -> None:
    pending = PendingSignIn("s" * 43, "n" * 43, "v" * 64, "/experiments", int(time.time()))
    assert PendingSignIn.decode(pending.encode()) == pending
    old = PendingSignIn("s", "n", "v", "/", int(time.time()) - 3600)
    assert PendingSignIn.decode(old.encode()) is None
    for broken in (None, "", "!!!", "e30", pending.encode()[:-5], "x" * 5000):
        assert PendingSignIn.decode(broken) is None, broken


@pytest.mark.parametrize(
    ("value", "prefix", "expected"),
    [
        ("/experiments/1?view=all", "", "/experiments/1?view=all"),
        ("/tl/models", "/tl", "/tl/models"),
        ("/models", "/tl", "/tl/"),
        ("/tl", "/tl", "/tl"),
        ("//evil.example", "", "/"),
        ("/\\evil.example", "", "/"),
        ("https://evil.example/x", "", "/"),
        ("javascript:alert(1)", "", "/"),
        ("/x\r\nSet-Cookie: a=b", "", "/"),
        ("/login", "", "/"),
        ("/logout", "", "/"),
        ("/tl/login/oidc", "/tl", "/tl/"),
        ("", "", "/"),
    ],
)
def test_next_stays_on_this_server(value: str, prefix: str, expected: str) -> None:
    assert safe_next(value, prefix) == expected


def test_group_rules() -> None:
    open_door = GroupRules()
    assert open_door.admits(frozenset()) and open_door.is_admin(frozenset({"x"})) is None
    rules = GroupRules(admin=frozenset({"admins"}), allowed=frozenset({"staff", "admins"}))
    assert rules.admits(frozenset({"staff"})) and not rules.admits(frozenset({"guests"}))
    assert rules.is_admin(frozenset({"admins", "staff"})) is True
    assert rules.is_admin(frozenset({"staff"})) is False


def test_csrf_refusals() -> None:
    token = csrf.new_token()
    same = {"host": "tl.example", "origin": "https://tl.example", "sec-fetch-site": "same-origin"}
    assert csrf.refusal("POST", same, token, token) is None
    assert csrf.refusal("GET", {"sec-fetch-site": "cross-site"}, None, None) is None  # reads are not checked
    assert csrf.refusal("POST", same, token, None) is not None
    assert csrf.refusal("POST", same, None, token) is not None
    assert csrf.refusal("POST", same, token, csrf.new_token()) is not None
    assert csrf.refusal("POST", same, "short", "short") is not None  # not a token we could have issued
    assert csrf.refusal("POST", {**same, "origin": "https://evil.example"}, token, token) is not None
    assert csrf.refusal("POST", {**same, "origin": "null"}, token, token) is not None
    assert csrf.refusal("POST", {**same, "sec-fetch-site": "same-site"}, token, token) is not None
    assert csrf.refusal("DELETE", {"host": "tl.example"}, token, token) is None  # no browser headers at all


def test_a_server_with_an_issuer_starts_without_loading_the_oidc_libraries(tmp_path: Path) -> None:
    """Authlib, joserfc and requests wait for the first single sign-on: start-up time stays as it was."""
    program = (
        "import sys\n"
        "from tracklight.config import load_settings\n"
        "from tracklight.startup import start\n"
        f"settings = load_settings(backend_store_uri='sqlite:///{tmp_path / 't.db'}',"
        f" artifacts_destination='{tmp_path / 'a'}', auth=True)\n"
        "start(settings)\n"
        "print(sorted(m for m in ('authlib', 'joserfc', 'requests') if m in sys.modules))\n"
    )
    env = {
        **os.environ,
        "TRACKLIGHT_ADMIN_PASSWORD": "start-up-only",
        "TRACKLIGHT_AUTH_OIDC_ISSUER": "https://idp.example",
        "TRACKLIGHT_AUTH_OIDC_CLIENT_ID": "tl",
    }
    result = subprocess.run(
        [sys.executable, "-c", program], env=env, capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().splitlines()[-1] == "[]"
