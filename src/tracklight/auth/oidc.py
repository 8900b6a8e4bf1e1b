"""Single sign-on with OpenID Connect: the authorization code flow with PKCE, against any issuer found
through its /.well-known/openid-configuration.

authlib builds the authorization request (state, nonce, S256 code challenge), redeems the code and
checks the ID token's claims (issuer, audience, expiry, nonce, authorized party, access-token hash);
joserfc checks its signature against the issuer's published keys. What must survive the round trip
through the provider (state, nonce, PKCE verifier, where to go next) travels in a short-lived cookie
(PendingSignIn), so the callback may land on any replica. authlib, joserfc and requests are imported at
first use: a server without an issuer never loads them.
"""

from __future__ import annotations

import base64
import binascii
import hmac
import json
import logging
import re
import secrets
import threading
import time
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

if TYPE_CHECKING:
    from authlib.integrations.requests_client import OAuth2Session

log = logging.getLogger("tracklight.auth")

METADATA_TTL_S = 3600.0  # discovery and keys are fetched again after this long (keys also on an unknown kid)
KEYS_REFRESH_MIN_S = 60.0  # an unknown kid fetches the keys again at most this often
HTTP_TIMEOUT_S = 10.0
PENDING_TTL_S = 600  # the user has this long at the provider
LEEWAY_S = 60  # clock skew tolerated on the ID token's times
# Signature algorithms checked with the issuer's public keys. Never HS*: a shared-secret signature
# would let anyone holding the client secret mint tokens, and never "none".
ASYMMETRIC = ("RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA")


class SignInFailed(Exception):
    """Single sign-on did not produce a user; the message is safe to show on the login page."""

    def __init__(self, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.message = message
        self.status = status


@dataclass(frozen=True, slots=True)
class OidcSettings:
    issuer: str
    client_id: str
    client_secret: str | None
    scopes: tuple[str, ...]
    username_claim: str
    groups_claim: str


@dataclass(frozen=True, slots=True)
class PendingSignIn:
    """A sign-in on its way through the provider: kept in an HttpOnly cookie until the callback."""

    state: str
    nonce: str
    verifier: str  # the PKCE code verifier: only its S256 hash went to the provider
    next: str  # where to go once signed in (already checked to be a path of ours)
    started: int  # epoch seconds

    def encode(self) -> str:
        raw = json.dumps(asdict(self), separators=(",", ":")).encode()
        return base64.urlsafe_b64encode(raw).decode().rstrip("=")

    @classmethod
    def decode(cls, text: str | None) -> PendingSignIn | None:
        """The cookie's pending sign-in, or None if it is missing, malformed or too old."""
        if not text or len(text) > 2048:
            return None
        try:
            data = json.loads(base64.urlsafe_b64decode(text + "=" * (-len(text) % 4)))
            pending = cls(**data)
        except (ValueError, TypeError, binascii.Error):
            return None
        fields = (pending.state, pending.nonce, pending.verifier, pending.next)
        if not all(isinstance(v, str) and v for v in fields) or not isinstance(pending.started, int):
            return None
        if not 0 <= time.time() - pending.started <= PENDING_TTL_S:
            return None
        return pending


@dataclass(frozen=True, slots=True)
class Identity:
    """Who the provider says signed in."""

    username: str
    groups: frozenset[str]


def verify_id_token(
    id_token: str,
    jwks: dict[str, Any],
    *,
    issuer: str,
    client_id: str,
    nonce: str,
    algorithms: list[str],
    access_token: str | None = None,
) -> dict[str, Any]:
    """The ID token's claims, once its signature (by one of the issuer's keys, with an asymmetric
    algorithm the issuer announced), issuer, audience, expiry and nonce are checked; raises otherwise
    (joserfc's InvalidKeyIdError when no key has the token's kid: the keys may have rotated)."""
    from authlib.oidc.core import CodeIDToken
    from joserfc import jwt
    from joserfc.jwk import KeySet
    from joserfc.jws import JWSRegistry

    token = jwt.decode(
        id_token,
        KeySet.import_key_set(jwks),
        registry=JWSRegistry(algorithms=algorithms, strict_check_header=False),
    )
    claims = CodeIDToken(
        token.claims,
        token.header,
        {"iss": {"essential": True, "value": issuer}, "aud": {"essential": True, "value": client_id}},
        {"nonce": nonce, "client_id": client_id, "access_token": access_token},
    )
    claims.validate(leeway=LEEWAY_S)
    return dict(claims)


_ORIGIN = re.compile(r"^https?://[A-Za-z0-9.\-\[\]:]+$")


def _origin(url: str) -> str:
    """scheme://host[:port] of a URL, or "" when it is not one a CSP source list can carry as is."""
    parts = urlsplit(url)
    origin = f"{parts.scheme}://{parts.netloc}"
    return origin if _ORIGIN.match(origin) else ""


def _groups(value: object) -> frozenset[str]:
    """A groups claim as a set: a list of names, or one name (some providers send a lone string)."""
    if isinstance(value, str):
        return frozenset([value])
    if isinstance(value, list):
        return frozenset(v for v in value if isinstance(v, str))
    return frozenset()


class OidcClient:
    """One configured issuer: its discovery document and keys (cached), and the two legs of a sign-in."""

    def __init__(self, settings: OidcSettings) -> None:
        self.settings = settings
        self._metadata: dict[str, Any] | None = None
        self._metadata_at = 0.0
        self._jwks: dict[str, Any] | None = None
        self._jwks_at = 0.0
        self._lock = threading.Lock()

    # -- the provider's documents -----------------------------------------------------------------

    def _get_json(self, url: str) -> dict[str, Any]:
        import requests

        try:
            response = requests.get(url, timeout=HTTP_TIMEOUT_S, headers={"Accept": "application/json"})
            response.raise_for_status()
            body = response.json()
        except (requests.RequestException, ValueError) as exc:
            log.warning("single sign-on: %s failed: %s", url, exc)
            raise SignInFailed("The identity provider could not be reached; try again later.", 502) from None
        if not isinstance(body, dict):
            raise SignInFailed("The identity provider answered something unexpected.", 502)
        return body

    def metadata(self) -> dict[str, Any]:
        """The issuer's discovery document, fetched at first use and again after METADATA_TTL_S."""
        with self._lock:
            if self._metadata is not None and time.monotonic() - self._metadata_at < METADATA_TTL_S:
                return self._metadata
        issuer = self.settings.issuer
        found = self._get_json(issuer.rstrip("/") + "/.well-known/openid-configuration")
        # The document must be the issuer's own (OpenID Connect Discovery 1.0, section 4.3).
        if str(found.get("issuer", "")).rstrip("/") != issuer.rstrip("/"):
            log.warning("single sign-on: discovery names issuer %r, not %r", found.get("issuer"), issuer)
            raise SignInFailed("The identity provider's configuration names another issuer.", 502)
        for name in ("authorization_endpoint", "token_endpoint", "jwks_uri"):
            if not isinstance(found.get(name), str):
                raise SignInFailed(f"The identity provider's configuration has no {name}.", 502)
        with self._lock:
            self._metadata, self._metadata_at = found, time.monotonic()
        return found

    def _keys(self, refresh: bool = False) -> dict[str, Any]:
        with self._lock:
            age = time.monotonic() - self._jwks_at
            if (
                self._jwks is not None
                and age < METADATA_TTL_S
                and not (refresh and age >= KEYS_REFRESH_MIN_S)
            ):
                return self._jwks
        keys = self._get_json(self.metadata()["jwks_uri"])
        with self._lock:
            self._jwks, self._jwks_at = keys, time.monotonic()
        return keys

    def _algorithms(self, metadata: dict[str, Any]) -> list[str]:
        announced = metadata.get("id_token_signing_alg_values_supported") or ["RS256"]
        return [a for a in announced if a in ASYMMETRIC] or ["RS256"]

    def _session(self, redirect_uri: str, metadata: dict[str, Any]) -> OAuth2Session:
        from authlib.integrations.requests_client import OAuth2Session

        secret = self.settings.client_secret
        if secret:
            methods = metadata.get("token_endpoint_auth_methods_supported") or ["client_secret_basic"]
            auth_method = "client_secret_basic" if "client_secret_basic" in methods else "client_secret_post"
        else:
            auth_method = "none"  # a public client: PKCE is what binds the code to this browser
        return OAuth2Session(
            client_id=self.settings.client_id,
            client_secret=secret,
            scope=" ".join(self.settings.scopes),
            redirect_uri=redirect_uri,
            code_challenge_method="S256",
            token_endpoint_auth_method=auth_method,
        )

    def origins(self) -> list[str]:
        """Where the login page's sign-in button may send the browser (its CSP form-action must allow
        it, redirects included): the issuer's origin, and the authorization endpoint's once discovery
        has named it (the same origin at every provider we know of). No network here."""
        found = [_origin(self.settings.issuer)]
        with self._lock:
            endpoint = self._metadata.get("authorization_endpoint") if self._metadata else None
        if isinstance(endpoint, str):
            found.append(_origin(endpoint))
        return sorted({o for o in found if o})

    # -- the two legs -----------------------------------------------------------------------------

    def begin(self, redirect_uri: str, next_path: str) -> tuple[str, PendingSignIn]:
        """The provider's authorization URL to send the browser to, and what to keep for the callback."""
        metadata = self.metadata()
        pending = PendingSignIn(
            state=secrets.token_urlsafe(32),
            nonce=secrets.token_urlsafe(32),
            verifier=secrets.token_urlsafe(48),  # 64 characters: within PKCE's 43 to 128
            next=next_path,
            started=int(time.time()),
        )
        with self._session(redirect_uri, metadata) as session:
            url, _ = session.create_authorization_url(
                metadata["authorization_endpoint"],
                state=pending.state,
                nonce=pending.nonce,
                code_verifier=pending.verifier,
            )
        return url, pending

    def finish(self, pending: PendingSignIn | None, params: dict[str, str], redirect_uri: str) -> Identity:
        """The callback: check the state, redeem the code, check the ID token; who signed in."""
        if pending is None:
            raise SignInFailed("The sign-in took too long or was started elsewhere; please sign in again.")
        state = params.get("state", "")
        if not hmac.compare_digest(state.encode(), pending.state.encode()):
            raise SignInFailed("The sign-in could not be matched to this browser; please sign in again.")
        if params.get("error"):
            log.info("single sign-on: the provider answered %s", params.get("error"))
            raise SignInFailed("The identity provider did not sign you in.", 403)
        code = params.get("code", "")
        if not code:
            raise SignInFailed("The identity provider sent no authorization code.")
        metadata = self.metadata()
        with self._session(redirect_uri, metadata) as session:
            try:
                token = session.fetch_token(
                    metadata["token_endpoint"],
                    grant_type="authorization_code",
                    code=code,
                    code_verifier=pending.verifier,
                    timeout=HTTP_TIMEOUT_S,
                )
            except Exception as exc:  # an OAuth error answer, or the network
                log.warning("single sign-on: redeeming the code failed: %s", exc)
                raise SignInFailed(
                    "The identity provider refused the sign-in; please try again.", 502
                ) from None
            claims = self._id_claims(token, pending, metadata)
            claims = self._with_userinfo(session, claims, metadata)
        return self._identity(claims)

    def _id_claims(
        self, token: dict[str, Any], pending: PendingSignIn, metadata: dict[str, Any]
    ) -> dict[str, Any]:
        from joserfc.errors import InvalidKeyIdError, JoseError

        id_token = token.get("id_token")
        if not isinstance(id_token, str):
            raise SignInFailed("The identity provider sent no ID token (is the openid scope allowed?).", 502)
        check = {
            "issuer": metadata["issuer"],
            "client_id": self.settings.client_id,
            "nonce": pending.nonce,
            "algorithms": self._algorithms(metadata),
            "access_token": token.get("access_token"),
        }
        try:
            try:
                return verify_id_token(id_token, self._keys(), **check)
            except InvalidKeyIdError:  # the provider may have rotated its keys since we fetched them
                return verify_id_token(id_token, self._keys(refresh=True), **check)
        except (JoseError, ValueError) as exc:
            log.warning("single sign-on: ID token refused: %s", exc)
            raise SignInFailed("The identity provider's ID token did not check out.", 403) from None

    def _with_userinfo(
        self, session: OAuth2Session, claims: dict[str, Any], metadata: dict[str, Any]
    ) -> dict[str, Any]:
        """Providers may leave the user name or groups out of the ID token and answer them at the userinfo
        endpoint instead; those claims are taken from there, and only for the same subject."""
        wanted = (self.settings.username_claim, self.settings.groups_claim)
        endpoint = metadata.get("userinfo_endpoint")
        if all(name in claims for name in wanted) or not isinstance(endpoint, str):
            return claims
        import requests

        try:
            response = session.get(endpoint, timeout=HTTP_TIMEOUT_S)
            response.raise_for_status()
            info = response.json()
        except (requests.RequestException, ValueError) as exc:
            log.warning("single sign-on: userinfo failed: %s", exc)
            return claims
        if not isinstance(info, dict) or info.get("sub") != claims.get("sub"):
            return claims
        return {**{k: v for k, v in info.items() if k in wanted}, **claims}

    def _identity(self, claims: dict[str, Any]) -> Identity:
        name_claim = self.settings.username_claim
        username = claims.get(name_claim)
        if not isinstance(username, str) or not username.strip():
            raise SignInFailed(
                f"The identity provider did not say who you are (no {name_claim!r} claim).", 403
            )
        # An address the provider has not verified could be anyone's: not a name to sign in under.
        if name_claim == "email" and claims.get("email_verified") is False:
            raise SignInFailed("Your email address is not verified at the identity provider.", 403)
        return Identity(username.strip(), _groups(claims.get(self.settings.groups_claim)))
