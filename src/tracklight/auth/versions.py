"""Each user's auth_version as last read from the database, re-read when older than a couple of seconds.

Every change that must reach other replicas (password, admin flag, deletion, grants, token revocation)
bumps the user's version in the database; a replica notices within FRESH_S and drops what it cached.
"""

from __future__ import annotations

import threading
import time

from tracklight.store import auth as auth_store
from tracklight.store.engine import Database
from tracklight.store.transactions import in_transaction

FRESH_S = 2.0
_MISSING = -1  # the user no longer exists


class Versions:
    def __init__(self, db: Database, fresh_s: float = FRESH_S) -> None:
        self.db = db
        self.fresh_s = fresh_s
        self._seen: dict[int, tuple[int, float]] = {}
        self._lock = threading.Lock()

    def cached(self, user_id: int) -> int | None:
        """The version if read recently (-1: the user is gone); None when it must be re-read."""
        entry = self._seen.get(user_id)
        if entry is None or time.monotonic() - entry[1] > self.fresh_s:
            return None
        return entry[0]

    def read(self, user_id: int) -> int:
        """Re-read the version from the database (-1 when the user is gone)."""
        version = in_transaction(self.db, lambda c: auth_store.auth_version(c, user_id), write=False)
        value = _MISSING if version is None else version
        with self._lock:
            self._seen[user_id] = (value, time.monotonic())
        return value

    def current(self, user_id: int) -> int:
        cached = self.cached(user_id)
        return cached if cached is not None else self.read(user_id)

    def forget(self, user_id: int) -> None:
        """A change made here: this replica re-reads at once instead of within FRESH_S."""
        with self._lock:
            self._seen.pop(user_id, None)

    def forget_all(self) -> None:
        with self._lock:
            self._seen.clear()
