"""The registry's side of webhooks: an event becomes outbox rows inside the transaction that made the change."""

from __future__ import annotations

import json
import threading
import time
from typing import Any

from sqlalchemy import Connection

from tracklight.store import webhooks as store


class Outbox:
    """Records events for delivery and wakes this process's delivery worker once they are committed.

    Nothing is sent from here: a request only writes rows, which the delivery workers of every replica
    send (tracklight.services.webhook_delivery). Without subscribers an event costs one indexed read.
    """

    def __init__(self) -> None:
        self._wake = threading.Event()
        # Set by add, read after the commit; work may run on another thread (SQLite's group commit), so
        # this is one flag for the process: at worst the worker wakes once for nothing.
        self._added = False

    def add(self, conn: Connection, entity: str, action: str, data: dict[str, Any]) -> None:
        """Within the caller's transaction: one pending delivery for each active webhook on the event."""
        if store.enqueue(conn, entity, action, json.dumps(data), int(time.time() * 1000)):
            self._added = True

    def committed(self) -> None:
        """After the caller's transaction committed: wake the worker if it has something to send."""
        if self._added:
            self._added = False
            self._wake.set()

    def wait(self, timeout_s: float) -> None:
        """For the worker: return when woken, or after timeout_s."""
        self._wake.wait(timeout_s)
        self._wake.clear()

    def wake(self) -> None:
        self._wake.set()
