"""The outbox's claims on every backend: a due row goes to one worker at a time, a lapsed lease frees it for
another, and the worker whose claim lapsed cannot record over the new one. Times are passed in, not waited for."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator

import pytest
from harness.databases import BackendURI
from harness.server import db_upgrade

from tracklight.store import webhooks as store
from tracklight.store.engine import Database, open_database
from tracklight.store.migrate import upgrade
from tracklight.store.transactions import in_transaction
from tracklight.store.webhooks import WebhookRow

NOW = 1_800_000_000_000
LEASE = 60_000


@pytest.fixture
def db(backend: BackendURI) -> Iterator[Database]:
    if backend.needs_upgrade:
        db_upgrade(backend)
    opened = open_database(str(backend))
    upgrade(opened)
    try:
        yield opened
    finally:
        opened.dispose()


def _hook(db: Database, status: str = "ACTIVE", events: list[tuple[str, str]] | None = None) -> str:
    import uuid

    row = WebhookRow(
        str(uuid.uuid4()),
        "h",
        None,
        "https://example.com/h",
        status,
        None,
        NOW,
        NOW,
        events or [("model_version_alias", "created")],
    )
    in_transaction(db, lambda c: store.insert_webhook(c, row))
    return row.webhook_id


def _enqueue(db: Database, count: int) -> None:
    for index in range(count):
        data = json.dumps({"name": "m", "alias": f"a{index}", "version": "1"})
        in_transaction(db, lambda c, d=data: store.enqueue(c, "model_version_alias", "created", d, NOW))


def _claim(db: Database, worker: str, now: int, limit: int = 100) -> list[store.Delivery]:
    return in_transaction(db, lambda c: store.claim_due(c, worker, now, LEASE, limit))


def test_only_active_subscribers_get_rows(db: Database) -> None:
    _hook(db)
    _hook(db, status="DISABLED")
    _hook(db, events=[("model_version_alias", "deleted")])
    _enqueue(db, 1)
    assert in_transaction(db, store.delivery_counts, write=False) == {"pending": 1}


def test_a_claim_holds_until_its_lease_runs_out(db: Database) -> None:
    _hook(db)
    _enqueue(db, 3)
    first = _claim(db, "worker-a", NOW)
    assert len(first) == 3 and all(d.attempts == 1 for d in first)
    assert _claim(db, "worker-b", NOW + LEASE - 1) == []
    # worker-a died: once its lease has run out the rows are claimed again, as another attempt.
    second = _claim(db, "worker-b", NOW + LEASE + 1)
    assert [d.id for d in second] == [d.id for d in first]
    assert all(d.attempts == 2 for d in second)

    def record(worker: str, delivery: store.Delivery) -> bool:
        return in_transaction(
            db,
            lambda c: store.record_outcome(
                c,
                delivery.id,
                worker,
                status=store.DELIVERED,
                status_code=200,
                error=None,
                next_attempt_time=NOW,
                now=NOW,
            ),
        )

    assert record("worker-a", first[0]) is False  # its claim is gone
    assert record("worker-b", second[0]) is True
    counts = in_transaction(db, store.delivery_counts, write=False)
    assert counts == {"delivered": 1, "pending": 2}
    # The delivered row is never claimed again; the others are, once worker-b's lease has run out too.
    third = _claim(db, "worker-c", NOW + 10 * LEASE)
    assert [d.id for d in third] == [d.id for d in second[1:]]


def test_concurrent_claimers_never_share_a_row(db: Database) -> None:
    _hook(db)
    _enqueue(db, 60)
    claimed: dict[str, list[int]] = {}
    errors: list[BaseException] = []

    def claimer(name: str) -> None:
        mine: list[int] = []
        try:
            while True:
                got = _claim(db, name, NOW, limit=4)
                if not got:
                    break
                mine += [d.id for d in got]
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)
        claimed[name] = mine

    threads = [threading.Thread(target=claimer, args=(f"w{i}",)) for i in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    every = [row for rows in claimed.values() for row in rows]
    assert len(every) == 60 == len(set(every))
