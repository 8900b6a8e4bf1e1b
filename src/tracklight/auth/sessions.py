"""Dashboard sessions: a random cookie secret, stored in the database only as its SHA-256, with an expiry.

Sessions live in the database, so any replica behind a load balancer checks any session and a sign-out
ends it everywhere. As with credentials (auth.authenticate), a session once checked is kept in memory
and trusted while its user's auth_version stays put (re-read every couple of seconds, auth.versions).
When the version moves, the session row and the user are read again: a sign-out or a deletion (the row
is gone), a new password or another admin flag (the row keeps what the session rested on) ends the
session; a change that is none of these, a grant say, leaves it be.
"""

from __future__ import annotations

import hashlib
import secrets
import time
from dataclasses import dataclass

from sqlalchemy import Connection

from tracklight.auth.memo import Memo
from tracklight.auth.principal import Principal
from tracklight.auth.tokens import token_hash
from tracklight.auth.versions import Versions
from tracklight.store import auth as auth_store
from tracklight.store.auth import UserRecord
from tracklight.store.engine import Database
from tracklight.store.transactions import in_transaction

SESSION_COOKIE = "tracklight_session"
# Set in the ASGI scope by the edge when a session cookie (not Authorization) signed the request in.
SESSION_SCOPE_KEY = "tracklight.session"
CHECK_TTL_S = 120.0  # a checked session is looked up in the database again after this long
_MAX_CHECKED = 100_000


def new_secret() -> str:
    """256 random bits: the cookie's value. Unguessable, so a plain SHA-256 of it is a safe lookup key."""
    return secrets.token_urlsafe(32)


def credential_hash(password_hash: str) -> str:
    """What a session keeps of the password it rests on: enough to see it changed, nothing to guess from."""
    return hashlib.sha256(password_hash.encode("utf-8")).hexdigest()


def _now_ms() -> int:
    return int(time.time() * 1000)


@dataclass(slots=True)
class _Checked:
    """A session found valid: whose, at which auth_version, until when."""

    session_id: int
    user_id: int
    username: str
    is_admin: bool
    auth_version: int
    expires_ms: int  # the session's own end (wall clock)
    recheck_at: float  # monotonic: look it up again after this

    def principal(self) -> Principal:
        return Principal(self.user_id, self.username, self.is_admin, self.auth_version)


class Sessions:
    """Starts, checks and ends dashboard sessions."""

    def __init__(self, db: Database, versions: Versions, lifetime_s: float) -> None:
        self.db = db
        self.versions = versions
        self.lifetime_s = lifetime_s
        self._checked: Memo[str, _Checked] = Memo(_MAX_CHECKED, lambda c: c.recheck_at < time.monotonic())

    def start(self, user: UserRecord, method: str) -> tuple[str, int]:
        """A new session for `user` (who signed in by `method`): (cookie secret, expiry in ms)."""
        secret = new_secret()
        now = _now_ms()
        expires = now + int(self.lifetime_s * 1000)
        in_transaction(
            self.db,
            lambda c: auth_store.create_session(
                c,
                user.id,
                token_hash(secret),
                credential_hash(user.password_hash),
                user.is_admin,
                method,
                expires,
            ),
        )
        # Expired rows are swept here, at sign-in: rare enough to cost nothing, often enough to bound them.
        in_transaction(self.db, lambda c: auth_store.delete_expired_sessions(c, now))
        return secret, expires

    def cached(self, secret: str) -> Principal | None:
        """The fast path, without I/O: a recently checked session whose user's version is unchanged."""
        checked = self._checked.get(token_hash(secret))
        if checked is None or checked.recheck_at < time.monotonic() or checked.expires_ms <= _now_ms():
            return None
        if self.versions.cached(checked.user_id) != checked.auth_version:
            return None
        return checked.principal()

    def resolve(self, secret: str) -> Principal | None:
        """The slow path (database): run it off the event loop. None: no such session, or it has ended."""
        key = token_hash(secret)
        checked = self._checked.get(key)
        if (
            checked is not None
            and checked.recheck_at >= time.monotonic()
            and checked.expires_ms > _now_ms()
            and self.versions.read(checked.user_id) == checked.auth_version
        ):
            return checked.principal()
        record = in_transaction(self.db, lambda c: auth_store.session_by_hash(c, key), write=False)
        if record is None or record.expires_time <= _now_ms():
            self._forget(key)
            return None
        user = in_transaction(self.db, lambda c: auth_store.user_by_id(c, record.user_id), write=False)
        if (
            user is None
            or credential_hash(user.password_hash) != record.credential_hash
            or user.is_admin != record.is_admin
        ):
            self._forget(key)
            return None
        self.versions.read(user.id)  # a newer version than the user's read here sends the next call back here
        checked = _Checked(
            record.id,
            user.id,
            user.username,
            user.is_admin,
            user.auth_version,
            record.expires_time,
            time.monotonic() + CHECK_TTL_S,
        )
        self._remember(key, checked)
        return checked.principal()

    def end(self, secret: str) -> None:
        """Sign out: the row goes, and the user's version moves so other replicas drop their copy."""
        key = token_hash(secret)

        def end(c: Connection) -> int | None:
            user_id = auth_store.delete_session(c, key)
            if user_id is not None:
                auth_store.bump_version(c, user_id)
            return user_id

        user_id = in_transaction(self.db, end)
        self._forget(key)
        if user_id is not None:
            self.versions.forget(user_id)

    def _remember(self, key: str, checked: _Checked) -> None:
        self._checked.put(key, checked)

    def _forget(self, key: str) -> None:
        self._checked.forget(key)
