"""Login throttling: after too many failures for one username or one client address, refuse for a while."""

from __future__ import annotations

import threading
import time
from collections import deque

MAX_FAILURES = 10  # within WINDOW_S, per username and per client address
WINDOW_S = 300.0
MAX_TRACKED = 100_000  # keys remembered; beyond that the oldest are forgotten (memory stays bounded)


class Throttle:
    """Failure counts in this process; each replica throttles on its own (a bound, not an exact count)."""

    def __init__(self, max_failures: int = MAX_FAILURES, window_s: float = WINDOW_S) -> None:
        self.max_failures = max_failures
        self.window_s = window_s
        self._failures: dict[str, deque[float]] = {}
        self._lock = threading.Lock()

    def _recent(self, key: str, now: float) -> deque[float] | None:
        times = self._failures.get(key)
        if times is None:
            return None
        while times and times[0] <= now - self.window_s:
            times.popleft()
        if not times:
            del self._failures[key]
            return None
        return times

    def retry_after(self, *keys: str) -> float:
        """Seconds until a blocked key is let through again; 0 when none of them is blocked."""
        now = time.monotonic()
        wait = 0.0
        with self._lock:
            for key in keys:
                times = self._recent(key, now)
                if times is not None and len(times) >= self.max_failures:
                    wait = max(wait, times[0] + self.window_s - now)
        return wait

    def failed(self, *keys: str) -> None:
        now = time.monotonic()
        with self._lock:
            for key in keys:
                times = self._recent(key, now)
                if times is None:
                    if len(self._failures) >= MAX_TRACKED:
                        self._failures.pop(next(iter(self._failures)))
                    times = self._failures[key] = deque(maxlen=self.max_failures)
                times.append(now)
