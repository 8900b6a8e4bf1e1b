"""A bounded in-memory cache shared by threads, for what authentication has already checked."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Generic, TypeVar

K = TypeVar("K")
V = TypeVar("V")


class Memo(Generic[K, V]):
    """A dict with a lock and a size limit. When full, lapsed entries go first; if that frees nothing,
    everything goes (rare, and cheap: each entry is only checked again)."""

    def __init__(self, limit: int, lapsed: Callable[[V], bool]) -> None:
        self.limit = limit
        self.lapsed = lapsed
        self._entries: dict[K, V] = {}
        self._lock = threading.Lock()

    def get(self, key: K) -> V | None:
        return self._entries.get(key)

    def put(self, key: K, value: V) -> None:
        with self._lock:
            if len(self._entries) >= self.limit:
                for stale in [k for k, v in self._entries.items() if self.lapsed(v)]:
                    del self._entries[stale]
                if len(self._entries) >= self.limit:
                    self._entries.clear()
            self._entries[key] = value

    def forget(self, key: K) -> None:
        with self._lock:
            self._entries.pop(key, None)
