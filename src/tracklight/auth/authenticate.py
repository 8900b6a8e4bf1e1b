"""Who is calling: Basic (username and password) or Bearer (personal access token) credentials.

A password is verified with argon2 once; the verdict is then kept in memory for VERDICT_TTL_S, keyed
by an HMAC of the credentials under a key drawn at start (never the password itself). A token is
found by its SHA-256 on an indexed column. Either way the user's auth_version is re-read every couple
of seconds (auth.versions), and a change sends the request down the slow path again: a new password,
a lost admin flag, a deletion or a revoked token takes effect on every replica within seconds.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import secrets
import time
from dataclasses import dataclass

from tracklight.auth import tokens
from tracklight.auth.memo import Memo
from tracklight.auth.passwords import verify_password
from tracklight.auth.principal import Principal
from tracklight.auth.throttle import Throttle
from tracklight.auth.versions import Versions
from tracklight.store import auth as auth_store
from tracklight.store.auth import UserRecord
from tracklight.store.engine import Database
from tracklight.store.transactions import in_transaction

VERDICT_TTL_S = 120.0
TOUCH_EVERY_MS = 60_000  # a token's last_used_time is written at most this often
_MAX_VERDICTS = 100_000


@dataclass(slots=True)
class Verdict:
    """A successful check, cached: who it was, at which auth_version, and what it rested on."""

    user_id: int
    username: str
    is_admin: bool
    auth_version: int
    expires_at: float  # monotonic
    password_hash: str | None = None  # Basic: the hash the password was checked against
    token_id: int | None = None  # Bearer
    token_expires_ms: int | None = None
    touched_ms: int = 0


@dataclass(frozen=True, slots=True)
class Refusal:
    status: int  # 401, or 429 while throttled
    message: str
    retry_after_s: int = 0


_UNAUTHENTICATED = Refusal(
    401, "You are not authenticated. Please provide valid credentials (Basic or Bearer)."
)


def _now_ms() -> int:
    return int(time.time() * 1000)


class Authenticator:
    """Turns an Authorization header into a Principal, or a Refusal."""

    def __init__(self, db: Database, versions: Versions) -> None:
        self.db = db
        self.versions = versions
        self._key = secrets.token_bytes(32)  # per process: a verdict key means nothing anywhere else
        self._verdicts: Memo[bytes, Verdict] = Memo(_MAX_VERDICTS, lambda v: v.expires_at < time.monotonic())
        self.users = Throttle(max_failures=10)
        self.addresses = Throttle(max_failures=50)

    def _verdict_key(self, header: str) -> bytes:
        return hmac.new(self._key, header.encode("utf-8", "surrogatepass"), hashlib.sha256).digest()

    def cached(self, header: str) -> Principal | None:
        """The fast path, without I/O: a live verdict at the user's current, recently read version."""
        verdict = self._verdicts.get(self._verdict_key(header))
        if verdict is None or verdict.expires_at < time.monotonic():
            return None
        if verdict.token_expires_ms is not None and verdict.token_expires_ms <= _now_ms():
            return None
        if self.versions.cached(verdict.user_id) != verdict.auth_version:
            return None
        return Principal(verdict.user_id, verdict.username, verdict.is_admin, verdict.auth_version)

    def authenticate(self, header: str | None, client: str) -> Principal | Refusal:
        """The slow path (database, maybe argon2): run it off the event loop."""
        if not header:
            return _UNAUTHENTICATED
        scheme, _, value = header.strip().partition(" ")
        value = value.strip()
        key = self._verdict_key(header)
        verdict = self._verdicts.get(key)
        if verdict is not None and verdict.expires_at >= time.monotonic():
            principal = self._revalidate(key, verdict)
            if principal is not None:
                return principal
        scheme = scheme.lower()
        if scheme == "basic":
            return self._basic(key, value, client)
        if scheme == "bearer" and value:
            return self._bearer(key, value, client)
        return _UNAUTHENTICATED

    def _remember(self, key: bytes, verdict: Verdict) -> Principal:
        self._verdicts.put(key, verdict)
        return Principal(verdict.user_id, verdict.username, verdict.is_admin, verdict.auth_version)

    def _forget(self, key: bytes) -> None:
        self._verdicts.forget(key)

    def _revalidate(self, key: bytes, verdict: Verdict) -> Principal | None:
        """A cached verdict whose user's version changed (or was not read lately): still good if what it
        rested on is unchanged (same password hash; token neither revoked nor expired)."""
        version = self.versions.read(verdict.user_id)
        if version == verdict.auth_version:
            self._touch(verdict)
            return Principal(verdict.user_id, verdict.username, verdict.is_admin, verdict.auth_version)
        user = in_transaction(self.db, lambda c: auth_store.user_by_id(c, verdict.user_id), write=False)
        if user is None:
            self._forget(key)
            return None
        if verdict.token_id is not None:
            token_id = verdict.token_id
            record = in_transaction(self.db, lambda c: auth_store.token_by_id(c, token_id), write=False)
            if (
                record is None
                or record.revoked_time is not None
                or (record.expires_time is not None and record.expires_time <= _now_ms())
            ):
                self._forget(key)
                return None
            verdict.token_expires_ms = record.expires_time
        elif verdict.password_hash != user.password_hash:
            self._forget(key)
            return None
        verdict.is_admin = user.is_admin
        verdict.auth_version = user.auth_version
        verdict.username = user.username
        return self._remember(key, verdict)

    def _touch(self, verdict: Verdict) -> None:
        """Record a token's use, at most once a minute (never a write per request)."""
        if verdict.token_id is None:
            return
        now = _now_ms()
        if now - verdict.touched_ms >= TOUCH_EVERY_MS:
            verdict.touched_ms = now
            token_id = verdict.token_id
            in_transaction(self.db, lambda c: auth_store.touch_token(c, token_id, now))

    def _throttled(self, *keys: str) -> Refusal | None:
        wait = max(self.users.retry_after(*keys[:1]), self.addresses.retry_after(*keys[1:]))
        if wait > 0:
            return Refusal(429, "Too many failed logins; try again later.", max(1, int(wait + 0.999)))
        return None

    def _failed(self, user_key: str, address_key: str) -> Refusal:
        self.users.failed(user_key)
        self.addresses.failed(address_key)
        return _UNAUTHENTICATED

    def _basic(self, key: bytes, value: str, client: str) -> Principal | Refusal:
        try:
            decoded = base64.b64decode(value, validate=True).decode("utf-8")
        except (binascii.Error, UnicodeDecodeError):
            return _UNAUTHENTICATED
        username, sep, password = decoded.partition(":")
        if not sep or not username:
            return _UNAUTHENTICATED
        user = self.check_password(username, password, client)
        if isinstance(user, Refusal):
            return user
        self.versions.read(user.id)  # so the next request's fast path has a fresh version to compare
        return self._remember(
            key,
            Verdict(
                user.id,
                user.username,
                user.is_admin,
                user.auth_version,
                time.monotonic() + VERDICT_TTL_S,
                password_hash=user.password_hash,
            ),
        )

    def check_password(self, username: str, password: str, client: str) -> UserRecord | Refusal:
        """The user whose password this is, under the login throttle (argon2: run it off the event loop).
        Basic credentials and the dashboard's login form both come through here."""
        if not username:
            return _UNAUTHENTICATED
        user_key, address_key = "user:" + username, "addr:" + client
        refusal = self._throttled(user_key, address_key)
        if refusal is not None:
            return refusal
        user = in_transaction(self.db, lambda c: auth_store.find_user(c, username), write=False)
        # An unknown user is checked against a stand-in hash: the answer takes as long either way.
        if not verify_password(user.password_hash if user else None, password) or user is None:
            return self._failed(user_key, address_key)
        return user

    def _bearer(self, key: bytes, value: str, client: str) -> Principal | Refusal:
        address_key = "addr:" + client
        refusal = self._throttled("", address_key)
        if refusal is not None:
            return refusal
        record = in_transaction(
            self.db, lambda c: auth_store.token_by_hash(c, tokens.token_hash(value)), write=False
        )
        now = _now_ms()
        if (
            record is None
            or record.revoked_time is not None
            or (record.expires_time is not None and record.expires_time <= now)
        ):
            self.addresses.failed(address_key)
            return _UNAUTHENTICATED
        user = in_transaction(self.db, lambda c: auth_store.user_by_id(c, record.user_id), write=False)
        if user is None:
            return _UNAUTHENTICATED
        self.versions.read(user.id)
        verdict = Verdict(
            user.id,
            user.username,
            user.is_admin,
            user.auth_version,
            time.monotonic() + VERDICT_TTL_S,
            token_id=record.id,
            token_expires_ms=record.expires_time,
        )
        self._touch(verdict)
        return self._remember(key, verdict)
