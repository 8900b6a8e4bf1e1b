"""Opaque page tokens: url-safe base64 of a small JSON document, tagged with what they page through."""

from __future__ import annotations

import base64
import binascii
import json
from typing import Any

from tracklight.errors import InvalidParameter


def encode_token(kind: str, position: Any) -> str:
    raw = json.dumps({"k": kind, "p": position}, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode()


def decode_token(token: str | None, kind: str) -> Any:
    """The position stored in a token, or None for no token; anything malformed is a 400."""
    if not token:
        return None
    try:
        doc = json.loads(base64.urlsafe_b64decode(token.encode()))
    except (binascii.Error, ValueError, UnicodeError):
        raise InvalidParameter("Invalid page token, could not base64-decode") from None
    if not isinstance(doc, dict) or doc.get("k") != kind or "p" not in doc:
        raise InvalidParameter("Invalid page token: it does not belong to this request")
    return doc["p"]
