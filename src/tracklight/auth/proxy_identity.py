"""Who the authenticating proxy in front says is calling: asked at the edge before any credentials.

A verified assertion is remembered (under an HMAC of it) until it expires, so its signature is checked
once, not per request; the user it names is found or created (Users.provision) and remembered like a
password verdict: for VERDICT_TTL_S, and only while the user's auth_version stays the one seen, so an
admin change or a deletion is noticed within seconds. An assertion that is absent, untrusted or invalid
leaves the request to the usual Basic/Bearer handling; an invalid one is logged, without the token.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import secrets
import time
from dataclasses import dataclass

from tracklight.auth.authenticate import VERDICT_TTL_S
from tracklight.auth.memo import Memo
from tracklight.auth.principal import Principal
from tracklight.auth.proxy_assertions import Assertions, Rejected, TrustedHeader
from tracklight.auth.versions import Versions
from tracklight.config import Settings
from tracklight.errors import InvalidParameter
from tracklight.services.users import Users

_MAX_ENTRIES = 100_000

log = logging.getLogger("tracklight.auth")


@dataclass(slots=True)
class _Resolved:
    user_id: int
    username: str
    is_admin: bool
    auth_version: int
    expires_at: float  # monotonic

    def principal(self) -> Principal:
        return Principal(self.user_id, self.username, self.is_admin, self.auth_version)


class ProxyIdentity:
    """The configured proxy's assertion turned into a Principal, or None (then credentials decide)."""

    def __init__(self, assertions: Assertions, users: Users, versions: Versions) -> None:
        self.assertions = assertions
        self.header = assertions.header.encode("latin-1")
        self.trusted = assertions if isinstance(assertions, TrustedHeader) else None
        self.users = users
        self.versions = versions
        self._key = secrets.token_bytes(32)
        # HMAC(assertion) -> (username, its expiry in epoch seconds)
        self._verified: Memo[bytes, tuple[str, float]] = Memo(_MAX_ENTRIES, lambda e: e[1] < time.time())
        self._resolved: Memo[str, _Resolved] = Memo(  # by verified username
            _MAX_ENTRIES, lambda r: r.expires_at < time.monotonic()
        )

    def claim(self, headers: list[tuple[bytes, bytes]], peer: str) -> str | None:
        """The assertion this request carries, if it is one to consider (a plain header only from a
        trusted peer); None sends the request to the usual credentials."""
        for name, value in headers:
            if name == self.header:
                if self.trusted is not None and not self.trusted.trusts(peer):
                    return None
                try:
                    return value.decode("utf-8")  # a user name may be any Unicode; a JWT is ASCII
                except UnicodeDecodeError:
                    return None
        return None

    def _digest(self, claim: str) -> bytes:
        return hmac.new(self._key, claim.encode("utf-8"), hashlib.sha256).digest()

    def _username(self, claim: str) -> str | None:
        """Who an assertion names, if known without verifying it again (a plain header: itself)."""
        if self.trusted is not None:
            return claim.strip() or None
        entry = self._verified.get(self._digest(claim))
        if entry is None or entry[1] < time.time():
            return None
        return entry[0]

    def cached(self, claim: str) -> Principal | None:
        """The fast path, without I/O: a verified assertion whose user was resolved at their current version."""
        username = self._username(claim)
        resolved = self._resolved.get(username) if username is not None else None
        if resolved is None or resolved.expires_at < time.monotonic():
            return None
        if self.versions.cached(resolved.user_id) != resolved.auth_version:
            return None
        return resolved.principal()

    def resolve(self, claim: str, peer: str) -> Principal | None:
        """The slow path (maybe a key fetch, the database): run it off the event loop."""
        username = self._username(claim)
        if username is None:
            try:
                username, expires = self.assertions.username(claim)
            except Rejected as exc:
                log.warning("proxy identity refused (%s from %s): %s", self.assertions.header, peer, exc)
                return None
            if self.trusted is None:
                self._verified.put(self._digest(claim), (username, expires))
        resolved = self._resolved.get(username)
        if (
            resolved is not None
            and resolved.expires_at >= time.monotonic()
            and self.versions.read(resolved.user_id) == resolved.auth_version
        ):
            return resolved.principal()
        try:
            user = self.users.provision(username)
        except InvalidParameter as exc:
            log.warning("proxy identity refused (%s from %s): %s", self.assertions.header, peer, exc.message)
            return None
        self.versions.read(user.id)  # so the next request's fast path has a fresh version to compare
        resolved = _Resolved(
            user.id, user.username, user.is_admin, user.auth_version, time.monotonic() + VERDICT_TTL_S
        )
        self._resolved.put(username, resolved)
        return resolved.principal()


def proxy_identity(settings: Settings, users: Users, versions: Versions) -> ProxyIdentity | None:
    """The proxy identity the settings ask for (config checked them), or None."""
    assertions: Assertions
    if settings.auth_proxy in ("iap", "alb"):
        from tracklight.auth.proxy_keys import JwkSet, PemKeys
        from tracklight.auth.proxy_signed import AlbAssertions, IapAssertions
    if settings.auth_proxy == "iap":
        assertions = IapAssertions(settings.auth_proxy_iap_audience, JwkSet(settings.auth_proxy_iap_keys_url))
    elif settings.auth_proxy == "alb":
        assertions = AlbAssertions(
            settings.auth_proxy_alb_arn,
            settings.auth_proxy_alb_claim.strip(),
            PemKeys(settings.auth_proxy_alb_keys_url),
        )
    elif settings.auth_proxy == "header":
        assertions = TrustedHeader(settings.auth_proxy_header, settings.auth_proxy_trusted)
    else:
        return None
    return ProxyIdentity(assertions, users, versions)
