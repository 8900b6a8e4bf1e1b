"""Queries on registry webhooks, their subscribed events, and the outbox of their deliveries."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field

from sqlalchemy import Connection, and_, delete, func, insert, or_, select, tuple_, update

from tracklight.errors import NotFound
from tracklight.store import schema as s

_w, _e, _d = s.webhooks, s.webhook_events, s.webhook_deliveries
PENDING, DELIVERED, FAILED = "pending", "delivered", "failed"
_ERROR_LENGTH = 1000


@dataclass(slots=True)
class WebhookRow:
    webhook_id: str
    name: str
    description: str | None
    url: str
    status: str
    secret: str | None  # the stored (encrypted) form
    creation_time: int
    last_updated_time: int
    events: list[tuple[str, str]] = field(default_factory=list)  # (entity, action), sorted


@dataclass(frozen=True, slots=True)
class Delivery:
    """An outbox row claimed for sending, with what its webhook says now."""

    id: int
    delivery_id: str
    entity: str
    action: str
    payload: str
    event_time: int
    attempts: int  # this one included
    url: str
    secret: str | None
    webhook_status: str


def not_found(webhook_id: str) -> NotFound:
    return NotFound(f"Webhook with ID {webhook_id} not found.")


# -- webhooks ------------------------------------------------------------------------------------


def insert_webhook(conn: Connection, row: WebhookRow) -> None:
    conn.execute(
        insert(_w).values(
            webhook_id=row.webhook_id,
            name=row.name,
            description=row.description,
            url=row.url,
            status=row.status,
            secret=row.secret,
            creation_time=row.creation_time,
            last_updated_time=row.last_updated_time,
        )
    )
    set_events(conn, row.webhook_id, row.events)


def set_events(conn: Connection, webhook_id: str, events: list[tuple[str, str]]) -> None:
    conn.execute(delete(_e).where(_e.c.webhook_id == webhook_id))
    if events:
        conn.execute(
            insert(_e), [{"webhook_id": webhook_id, "entity": en, "action": ac} for en, ac in events]
        )


def update_webhook(conn: Connection, webhook_id: str, **values: object) -> None:
    conn.execute(update(_w).where(_w.c.webhook_id == webhook_id).values(**values))


def delete_webhook(conn: Connection, webhook_id: str) -> None:
    """The webhook with its subscriptions and its deliveries, sent or not (children first, for the FKs)."""
    conn.execute(delete(_d).where(_d.c.webhook_id == webhook_id))
    conn.execute(delete(_e).where(_e.c.webhook_id == webhook_id))
    conn.execute(delete(_w).where(_w.c.webhook_id == webhook_id))


def get_webhook(conn: Connection, webhook_id: str, *, for_update: bool = False) -> WebhookRow:
    stmt = select(_w).where(_w.c.webhook_id == webhook_id)
    if for_update:
        stmt = stmt.with_for_update()
    row = conn.execute(stmt).first()
    if row is None:
        raise not_found(webhook_id)
    return _with_events(conn, [row])[0]


def list_webhooks(conn: Connection, after: tuple[int, str] | None, limit: int) -> list[WebhookRow]:
    """Newest first, in (creation_time, webhook_id) order; `after` is the last row of the previous page."""
    stmt = select(_w).order_by(_w.c.creation_time.desc(), _w.c.webhook_id.desc()).limit(limit)
    if after is not None:
        stmt = stmt.where(tuple_(_w.c.creation_time, _w.c.webhook_id) < tuple_(*after))
    return _with_events(conn, conn.execute(stmt).all())


def _with_events(conn: Connection, rows: list) -> list[WebhookRow]:
    found = {
        r.webhook_id: WebhookRow(
            r.webhook_id,
            r.name,
            r.description,
            r.url,
            r.status,
            r.secret,
            r.creation_time,
            r.last_updated_time,
        )
        for r in rows
    }
    if found:
        stmt = select(_e).where(_e.c.webhook_id.in_(list(found))).order_by(_e.c.entity, _e.c.action)
        for event in conn.execute(stmt):
            found[event.webhook_id].events.append((event.entity, event.action))
    return list(found.values())


# -- the outbox ----------------------------------------------------------------------------------


def enqueue(conn: Connection, entity: str, action: str, payload: str, now: int) -> int:
    """One pending delivery for each active webhook subscribed to (entity, action), in the caller's
    transaction: the change and its deliveries are committed together or not at all. Returns how many."""
    subscribed = (
        select(_w.c.webhook_id)
        .join(_e, _e.c.webhook_id == _w.c.webhook_id)
        .where(_e.c.entity == entity, _e.c.action == action, _w.c.status == "ACTIVE")
    )
    webhook_ids = [str(r[0]) for r in conn.execute(subscribed)]
    if webhook_ids:
        conn.execute(
            insert(_d),
            [
                {
                    "webhook_id": webhook_id,
                    "delivery_id": str(uuid.uuid4()),
                    "entity": entity,
                    "action": action,
                    "payload": payload,
                    "event_time": now,
                    "status": PENDING,
                    "attempts": 0,
                    "next_attempt_time": now,
                }
                for webhook_id in webhook_ids
            ],
        )
    return len(webhook_ids)


def _due(now: int):  # noqa: ANN202 - a SQL expression
    free = or_(_d.c.claim_expires_time.is_(None), _d.c.claim_expires_time < now)
    return and_(_d.c.status == PENDING, _d.c.next_attempt_time <= now, free)


def any_due(conn: Connection, now: int) -> bool:
    """Whether some delivery is due: an indexed read, before anything is claimed."""
    return conn.execute(select(_d.c.id).where(_due(now)).limit(1)).first() is not None


def claim_due(conn: Connection, worker: str, now: int, lease_ms: int, limit: int) -> list[Delivery]:
    """Claim up to `limit` due deliveries for `worker` until now + lease_ms, counting the attempt.

    A row is due when it is pending, its next attempt has come, and nobody's claim on it holds. On
    PostgreSQL and MariaDB the rows are locked with SKIP LOCKED, so replicas claiming at the same moment
    take different rows without waiting on each other; SQLite has a single writer. The UPDATE repeats
    the conditions, so a row is claimed by one worker whatever the isolation level.
    """
    due = _due(now)
    ids = [
        int(r[0])
        for r in conn.execute(
            select(_d.c.id).where(due).order_by(_d.c.id).limit(limit).with_for_update(skip_locked=True)
        )
    ]
    claimed = []
    for delivery_id in ids:
        result = conn.execute(
            update(_d)
            .where(_d.c.id == delivery_id, due)
            .values(claimed_by=worker, claim_expires_time=now + lease_ms, attempts=_d.c.attempts + 1)
        )
        if result.rowcount == 1:
            claimed.append(delivery_id)
    if not claimed:
        return []
    rows = conn.execute(
        select(_d, _w.c.url, _w.c.secret, _w.c.status.label("webhook_status"))
        .join(_w, _w.c.webhook_id == _d.c.webhook_id)
        .where(_d.c.id.in_(claimed))
        .order_by(_d.c.id)
    )
    return [
        Delivery(
            r.id,
            r.delivery_id,
            r.entity,
            r.action,
            r.payload,
            r.event_time,
            r.attempts,
            r.url,
            r.secret,
            r.webhook_status,
        )
        for r in rows
    ]


def record_outcome(
    conn: Connection,
    delivery_row: int,
    worker: str,
    *,
    status: str,
    status_code: int | None,
    error: str | None,
    next_attempt_time: int,
    now: int,
) -> bool:
    """Release the claim with the attempt's outcome; False when the claim had run out and another
    worker took the row (its outcome is then that worker's to record)."""
    values: dict[str, object] = {
        "status": status,
        "claimed_by": None,
        "claim_expires_time": None,
        "last_status_code": status_code,
        "last_error": None if error is None else error[:_ERROR_LENGTH],
        "next_attempt_time": next_attempt_time,
    }
    if status != PENDING:
        values["finished_time"] = now
    result = conn.execute(
        update(_d).where(_d.c.id == delivery_row, _d.c.claimed_by == worker).values(**values)
    )
    return result.rowcount == 1


def prune_finished(conn: Connection, before: int) -> int:
    """Forget delivered and failed deliveries that finished before `before`."""
    result = conn.execute(delete(_d).where(_d.c.status.in_([DELIVERED, FAILED]), _d.c.finished_time < before))
    return int(result.rowcount or 0)


def delivery_counts(conn: Connection) -> dict[str, int]:
    """How many deliveries are in each status (for the log and for tests)."""
    rows = conn.execute(select(_d.c.status, func.count()).group_by(_d.c.status))
    return {str(r[0]): int(r[1]) for r in rows}
