"""A delivery's body and headers as MLflow's receivers read them: JSON, HMAC-SHA256 over id.timestamp.body."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from datetime import UTC, datetime
from typing import Any

SIGNATURE_HEADER = "X-MLflow-Signature"
TIMESTAMP_HEADER = "X-MLflow-Timestamp"
DELIVERY_ID_HEADER = "X-MLflow-Delivery-Id"
SIGNATURE_VERSION = "v1"


def body(entity: str, action: str, data: Any, event_time_ms: int) -> str:
    """The JSON a receiver gets: the event, when it happened (ISO 8601, UTC) and its data."""
    when = datetime.fromtimestamp(event_time_ms / 1000, tz=UTC).isoformat()
    return json.dumps({"entity": entity, "action": action, "timestamp": when, "data": data})


def signature(secret: str, delivery_id: str, timestamp: str, payload: str) -> str:
    """`v1,<base64 HMAC-SHA256>` of "<delivery id>.<unix seconds>.<body>", keyed with the secret."""
    digest = hmac.new(
        secret.encode(), f"{delivery_id}.{timestamp}.{payload}".encode(), hashlib.sha256
    ).digest()
    return f"{SIGNATURE_VERSION},{base64.b64encode(digest).decode()}"


def headers(delivery_id: str, payload: str, secret: str | None, now_s: float) -> dict[str, str]:
    """Headers of one attempt. The timestamp is the attempt's (receivers refuse stale ones as replays);
    the delivery id stays the same on every attempt, so a receiver can tell a retry from a new event."""
    timestamp = str(int(now_s))
    out = {
        "Content-Type": "application/json",
        DELIVERY_ID_HEADER: delivery_id,
        TIMESTAMP_HEADER: timestamp,
    }
    if secret:
        out[SIGNATURE_HEADER] = signature(secret, delivery_id, timestamp, payload)
    return out
