"""The registry webhook routes (MLflow 3.3+): create, list, get, update, delete and test."""

from __future__ import annotations

from typing import Any

from tracklight.http.request import Fields
from tracklight.services.webhook_events import wire_event
from tracklight.services.webhook_requests import Outcome
from tracklight.services.webhooks import Webhooks
from tracklight.store.webhooks import WebhookRow

Json = dict[str, Any]


def webhook(row: WebhookRow) -> Json:
    """A Webhook message. The secret is write-only: it is never part of an answer."""
    out: Json = {"webhook_id": row.webhook_id, "name": row.name}
    if row.description:
        out["description"] = row.description
    out["url"] = row.url
    out["events"] = [wire_event(e) for e in row.events]
    out["status"] = row.status
    out["creation_timestamp"] = row.creation_time
    out["last_updated_timestamp"] = row.last_updated_time
    return out


def webhook_test_result(outcome: Outcome) -> Json:
    """A WebhookTestResult: the receiver's answer, or why there was none."""
    out: Json = {"success": outcome.success}
    if outcome.status_code is not None:
        out["response_status"] = outcome.status_code
        if outcome.body is not None:
            out["response_body"] = outcome.body
    elif outcome.error is not None:
        out["error_message"] = f"Failed to test webhook: {outcome.error}"
    return out


def _status(f: Fields) -> Any:
    value = f.raw("status")
    return value[-1] if isinstance(value, list) and f.from_query else value


def create_webhook(f: Fields, webhooks: Webhooks) -> Json:
    row = webhooks.create(
        name=f.required_str("name"),
        url=f.required_str("url"),
        events=f.raw("events"),
        description=f.str("description"),
        secret=f.str("secret"),
        status=_status(f),
    )
    return {"webhook": webhook(row)}


def list_webhooks(f: Fields, webhooks: Webhooks) -> Json:
    rows, token = webhooks.list(max_results=f.int("max_results"), page_token=f.str("page_token"))
    out: Json = {}
    if rows:
        out["webhooks"] = [webhook(row) for row in rows]
    if token:
        out["next_page_token"] = token
    return out


def get_webhook(f: Fields, webhooks: Webhooks) -> Json:
    return {"webhook": webhook(webhooks.get(f.required_str("webhook_id")))}


def update_webhook(f: Fields, webhooks: Webhooks) -> Json:
    row = webhooks.update(
        f.required_str("webhook_id"),
        name=f.str("name"),
        url=f.str("url"),
        events=f.raw("events"),
        description=f.str("description"),
        secret=f.str("secret"),
        status=_status(f),
    )
    return {"webhook": webhook(row)}


def delete_webhook(f: Fields, webhooks: Webhooks) -> Json:
    webhooks.delete(f.required_str("webhook_id"))
    return {}


def try_webhook(f: Fields, webhooks: Webhooks) -> Json:
    return {"result": webhook_test_result(webhooks.test(f.required_str("webhook_id"), f.raw("event")))}


# (methods, path under /mlflow/, handler, service name), as in tracklight.http.routes.
WEBHOOK_ROUTES: list[tuple[tuple[str, ...], str, Any, str]] = [
    (("POST",), "webhooks", create_webhook, "webhooks"),
    (("GET",), "webhooks", list_webhooks, "webhooks"),
    (("GET",), "webhooks/{webhook_id}", get_webhook, "webhooks"),
    (("PATCH",), "webhooks/{webhook_id}", update_webhook, "webhooks"),
    (("DELETE",), "webhooks/{webhook_id}", delete_webhook, "webhooks"),
    (("POST",), "webhooks/{webhook_id}/test", try_webhook, "webhooks"),
]
