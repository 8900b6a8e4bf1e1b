"""The delivery worker: a thread per server process that claims due outbox rows, sends them, records how it went."""

from __future__ import annotations

import json
import logging
import os
import random
import socket
import threading
import time
import uuid
from dataclasses import dataclass

from tracklight.services import webhook_signing as signing
from tracklight.services.sealed_secrets import SealedSecrets, SecretUnreadable
from tracklight.services.webhook_outbox import Outbox
from tracklight.services.webhook_requests import MAX_REDIRECTS, Outcome, post
from tracklight.store import webhooks as store
from tracklight.store.engine import Database
from tracklight.store.transactions import in_transaction

log = logging.getLogger("tracklight.webhooks")

POLL_S = 1.0  # how often an idle worker looks for due rows (other replicas' events, retries that came due)
SENDERS = 4  # deliveries in flight per process; a row is claimed only when a sender is free for it
MAX_BACKOFF_S = 3600.0
KEEP_FINISHED_S = 7 * 24 * 3600  # delivered and failed rows are kept this long, then pruned
PRUNE_EVERY_S = 3600.0


@dataclass(frozen=True, slots=True)
class DeliverySettings:
    max_attempts: int
    retry_s: float
    timeout_s: float
    allow_private: bool


def _now() -> int:
    return int(time.time() * 1000)


def backoff_s(attempts: int, retry_s: float) -> float:
    """The wait after the `attempts`-th failed attempt: retry_s, doubled each time, capped, plus up to a
    quarter more at random so that receivers coming back are not hit by every retry at once."""
    base = min(retry_s * 2 ** (attempts - 1), MAX_BACKOFF_S)
    return base * (1 + random.random() / 4)


class DeliveryWorker:
    """Sends what the outbox holds. Each replica runs one; a row is claimed by one of them at a time
    (store.webhooks.claim_due) for a lease long enough for every attempt's timeouts, so a replica that
    dies mid-send leaves its rows to be claimed again once the lease runs out."""

    def __init__(
        self, db: Database, outbox: Outbox, secrets: SealedSecrets, settings: DeliverySettings
    ) -> None:
        self.db = db
        self.outbox = outbox
        self.secrets = secrets
        self.settings = settings
        self.worker_id = f"{socket.gethostname()[:30]}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
        # A connect and a read timeout per hop, a minute to spare for the database.
        self.lease_ms = int((2 * settings.timeout_s * (MAX_REDIRECTS + 1) + 60) * 1000)
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()
        self._in_flight = 0
        self._next_prune = 0.0

    def start(self) -> None:
        if self._thread is not None:
            return
        self._stopping.clear()
        self._thread = threading.Thread(target=self._run, name="tracklight-webhooks", daemon=True)
        self._thread.start()

    def stop(self, timeout_s: float = 5.0) -> None:
        """Stop claiming. Sends in flight are not waited for: their daemon threads end with the process,
        and any replica claims their rows again once the lease runs out."""
        thread, self._thread = self._thread, None
        if thread is None:
            return
        self._stopping.set()
        self.outbox.wake()
        thread.join(timeout_s)

    def _run(self) -> None:
        while not self._stopping.is_set():
            try:
                claimed = self.claim_and_send()
                self._prune()
            except Exception as exc:  # noqa: BLE001 - the database may be away for a while; keep trying
                log.warning("webhook delivery: %s: %s", type(exc).__name__, exc)
                claimed = 0
            if not claimed:
                self.outbox.wait(POLL_S)  # woken early by a commit here, or by a send finishing

    def claim_and_send(self) -> int:
        """Claim as many due rows as there are free senders and start sending each on its own thread
        (one slow receiver does not hold up the others); how many were claimed."""
        with self._lock:
            free = SENDERS - self._in_flight
        if free <= 0:
            return 0
        now = _now()
        if not in_transaction(self.db, lambda c: store.any_due(c, now), write=False):
            return 0  # a read: idle replicas do not take SQLite's write lock every second
        claimed = in_transaction(
            self.db, lambda c: store.claim_due(c, self.worker_id, now, self.lease_ms, free)
        )
        for delivery in claimed:
            with self._lock:
                self._in_flight += 1
            threading.Thread(
                target=self._send_and_release, args=(delivery,), name="tracklight-webhook-send", daemon=True
            ).start()
        return len(claimed)

    def _send_and_release(self, delivery: store.Delivery) -> None:
        try:
            self._deliver(delivery)
        except Exception as exc:  # noqa: BLE001 - recording failed; the lease brings the row back
            log.warning("webhook delivery %s: %s: %s", delivery.delivery_id, type(exc).__name__, exc)
        finally:
            with self._lock:
                self._in_flight -= 1
            self.outbox.wake()

    def _deliver(self, delivery: store.Delivery) -> None:
        outcome = self._send(delivery)
        settings = self.settings
        if outcome.success:
            status, next_time = store.DELIVERED, _now()
        elif outcome.retryable and delivery.attempts < settings.max_attempts:
            status = store.PENDING
            next_time = _now() + int(backoff_s(delivery.attempts, settings.retry_s) * 1000)
        else:
            status, next_time = store.FAILED, _now()
        kept = in_transaction(
            self.db,
            lambda c: store.record_outcome(
                c,
                delivery.id,
                self.worker_id,
                status=status,
                status_code=outcome.status_code,
                error=outcome.error,
                next_attempt_time=next_time,
                now=_now(),
            ),
        )
        event = f"{delivery.entity}.{delivery.action}"
        if not kept:
            log.warning(
                "webhook delivery %s (%s): the claim ran out before its outcome", delivery.delivery_id, event
            )
        elif status == store.DELIVERED:
            log.info(
                "webhook delivery %s (%s) delivered, attempt %d",
                delivery.delivery_id,
                event,
                delivery.attempts,
            )
        else:
            log.warning(
                "webhook delivery %s (%s) attempt %d of %d: %s%s",
                delivery.delivery_id,
                event,
                delivery.attempts,
                settings.max_attempts,
                outcome.error,
                "; will retry" if status == store.PENDING else "; given up",
            )

    def _send(self, delivery: store.Delivery) -> Outcome:
        if delivery.webhook_status != "ACTIVE":
            return Outcome(None, None, "the webhook was disabled before this delivery", False)
        try:
            secret = self.secrets.open(delivery.secret) if delivery.secret else None
        except SecretUnreadable as exc:
            return Outcome(None, None, str(exc), False)
        payload = signing.body(
            delivery.entity, delivery.action, json.loads(delivery.payload), delivery.event_time
        )
        headers = signing.headers(delivery.delivery_id, payload, secret, time.time())
        try:
            return post(
                delivery.url,
                payload.encode(),
                headers,
                timeout_s=self.settings.timeout_s,
                allow_private=self.settings.allow_private,
            )
        except Exception as exc:  # noqa: BLE001 - a failed attempt, recorded like any other
            return Outcome(None, None, f"{type(exc).__name__}: {exc}", True)

    def _prune(self) -> None:
        if time.monotonic() < self._next_prune:
            return
        self._next_prune = time.monotonic() + PRUNE_EVERY_S
        cutoff = _now() - KEEP_FINISHED_S * 1000
        in_transaction(self.db, lambda c: store.prune_finished(c, cutoff))
