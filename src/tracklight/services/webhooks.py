"""Registry webhooks: create, list, get, update, delete and test them (admins only when auth is on)."""

from __future__ import annotations

import base64
import binascii
import re
import time
import uuid
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection

from tracklight.auth import gate
from tracklight.errors import InvalidParameter
from tracklight.services import webhook_events as catalogue
from tracklight.services import webhook_signing as signing
from tracklight.services.sealed_secrets import SealedSecrets, SecretUnreadable
from tracklight.services.webhook_addresses import check_url
from tracklight.services.webhook_requests import Outcome, post
from tracklight.store import webhooks as store
from tracklight.store.engine import Database
from tracklight.store.transactions import in_transaction
from tracklight.store.webhooks import WebhookRow

MAX_PAGE, DEFAULT_PAGE = 1000, 100
MAX_DESCRIPTION = 1000
MAX_SECRET = 512
STATUSES = {"ACTIVE": "ACTIVE", "DISABLED": "DISABLED", 1: "ACTIVE", 2: "DISABLED"}
# 1 to 63 characters: letters, digits, dots, underscores and hyphens, starting and ending alphanumeric.
_NAME = re.compile(r"(?=.{1,63}\Z)[a-z0-9]([a-z0-9._-]*[a-z0-9])?\Z", re.IGNORECASE)


@dataclass(frozen=True, slots=True)
class WebhookSettings:
    allow_private: bool
    timeout_s: float


def _now() -> int:
    return int(time.time() * 1000)


def check_name(name: Any) -> str:
    if not isinstance(name, str) or not _NAME.match(name):
        raise InvalidParameter(
            f"Webhook name {name!r} is invalid. It must start and end with a letter or digit, be at most 63 "
            "characters long, and contain only letters, digits, dots (.), underscores (_) and hyphens (-)."
        )
    return name


def check_status(status: Any) -> str:
    found = None
    if isinstance(status, str):
        found = STATUSES.get(status.upper())
    elif isinstance(status, int) and not isinstance(status, bool):
        found = STATUSES.get(status)
    if found is None:
        raise InvalidParameter(f"Invalid webhook status {status!r}. Valid values are: ACTIVE, DISABLED.")
    return found


def check_description(description: str | None) -> str | None:
    if description is not None and len(description) > MAX_DESCRIPTION:
        raise InvalidParameter(
            f"Webhook description exceeds the maximum length of {MAX_DESCRIPTION} characters."
        )
    return description


def check_secret(secret: str) -> str:
    if len(secret) > MAX_SECRET:
        raise InvalidParameter(f"Webhook secret exceeds the maximum length of {MAX_SECRET} characters.")
    return secret


def _encode_position(row: WebhookRow) -> str:
    return base64.urlsafe_b64encode(f"{row.creation_time}:{row.webhook_id}".encode()).decode()


def _decode_position(token: str) -> tuple[int, str]:
    try:
        created, webhook_id = base64.urlsafe_b64decode(token.encode()).decode().split(":", 1)
        return int(created), webhook_id
    except (ValueError, binascii.Error, UnicodeDecodeError):
        raise InvalidParameter(f"Invalid page token {token!r}") from None


class Webhooks:
    """Webhook rules over the store. Secrets go in sealed and never come back out on the wire."""

    def __init__(self, db: Database, secrets: SealedSecrets, settings: WebhookSettings) -> None:
        self.db = db
        self.secrets = secrets
        self.settings = settings

    def _url(self, url: Any) -> str:
        return check_url(url, allow_private=self.settings.allow_private)

    def create(
        self,
        *,
        name: Any,
        url: Any,
        events: Any,
        description: str | None,
        secret: str | None,
        status: Any,
    ) -> WebhookRow:
        gate.require_admin()  # webhooks are server-wide, as in MLflow's auth app
        now = _now()
        row = WebhookRow(
            webhook_id=str(uuid.uuid4()),
            name=check_name(name),
            description=check_description(description or None),
            url=self._url(url),
            status=check_status(status) if status is not None else "ACTIVE",
            secret=self.secrets.seal(check_secret(secret)) if secret else None,
            creation_time=now,
            last_updated_time=now,
            events=catalogue.parse_events(events),
        )
        in_transaction(self.db, lambda c: store.insert_webhook(c, row))
        return row

    def get(self, webhook_id: str) -> WebhookRow:
        gate.require_admin()
        return in_transaction(self.db, lambda c: store.get_webhook(c, webhook_id), write=False)

    def list(self, *, max_results: int | None, page_token: str | None) -> tuple[list[WebhookRow], str | None]:
        gate.require_admin()
        limit = max_results or DEFAULT_PAGE  # 0, the proto's unset value, as MLflow takes it
        if not 1 <= limit <= MAX_PAGE:
            raise InvalidParameter(f"max_results must be between 1 and {MAX_PAGE}.")
        after = _decode_position(page_token) if page_token else None

        def work(conn: Connection) -> tuple[list[WebhookRow], str | None]:
            rows = store.list_webhooks(conn, after, limit + 1)
            if len(rows) <= limit:
                return rows, None
            return rows[:limit], _encode_position(rows[limit - 1])

        return in_transaction(self.db, work, write=False)

    def update(
        self,
        webhook_id: str,
        *,
        name: Any,
        url: Any,
        events: Any,
        description: str | None,
        secret: str | None,
        status: Any,
    ) -> WebhookRow:
        """Change the fields given; as in MLflow, an empty value leaves its field as it was."""
        gate.require_admin()
        values: dict[str, object] = {}
        if name:
            values["name"] = check_name(name)
        if url:
            values["url"] = self._url(url)
        if description:
            values["description"] = check_description(description)
        if secret:
            values["secret"] = self.secrets.seal(check_secret(secret))
        if status is not None and status != "":
            values["status"] = check_status(status)
        new_events = catalogue.parse_events(events) if events else None

        def work(conn: Connection) -> WebhookRow:
            before = store.get_webhook(conn, webhook_id, for_update=True)
            # Strictly later than the last change, even within one millisecond of it.
            values["last_updated_time"] = max(_now(), before.last_updated_time + 1)
            store.update_webhook(conn, webhook_id, **values)
            if new_events is not None:
                store.set_events(conn, webhook_id, new_events)
            return store.get_webhook(conn, webhook_id)

        return in_transaction(self.db, work)

    def delete(self, webhook_id: str) -> None:
        """The webhook, and its deliveries not yet sent with it."""
        gate.require_admin()

        def work(conn: Connection) -> None:
            store.get_webhook(conn, webhook_id, for_update=True)  # 404 when there is none
            store.delete_webhook(conn, webhook_id)

        in_transaction(self.db, work)

    def test(self, webhook_id: str, event: Any) -> Outcome:
        """Send the example payload of `event` (else of the webhook's first event) now, once, and say
        what the receiver answered. The one delivery made on a request's path: asking for it is the point."""
        gate.require_admin()
        row = self.get(webhook_id)
        entity, action = catalogue.parse_event(event) if event else row.events[0]
        payload = signing.body(entity, action, catalogue.EXAMPLES[(entity, action)], _now())
        try:
            secret = self.secrets.open(row.secret) if row.secret else None
        except SecretUnreadable as exc:
            return Outcome(None, None, f"Failed to test webhook: {exc}", False)
        headers = signing.headers(str(uuid.uuid4()), payload, secret, time.time())
        return post(
            row.url,
            payload.encode(),
            headers,
            timeout_s=self.settings.timeout_s,
            allow_private=self.settings.allow_private,
        )
