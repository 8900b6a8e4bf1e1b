"""Personal access tokens: random secrets handed out once and stored only as their SHA-256.

A token carries 256 random bits, so its hash cannot be reversed by guessing: a plain SHA-256 is as
safe as a keyed one here, and needs no server secret that every replica would have to share.
"""

from __future__ import annotations

import hashlib
import secrets

TOKEN_PREFIX = "tl_"
SHOWN_PREFIX = 10  # characters kept in clear, so a user can tell their tokens apart in a listing


def new_token() -> str:
    return TOKEN_PREFIX + secrets.token_urlsafe(32)


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8", "surrogatepass")).hexdigest()


def shown_prefix(token: str) -> str:
    return token[:SHOWN_PREFIX]
