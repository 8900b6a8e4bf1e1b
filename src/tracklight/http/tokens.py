"""Tracklight's own API for the caller's personal access tokens: create (the secret answered once), list, revoke.

MLflow has no such API; these live under /api/2.0/tracklight/ so they never shadow one of its paths.
"""

from __future__ import annotations

from typing import Any

from tracklight.errors import InvalidParameter
from tracklight.http.request import Fields
from tracklight.services.users import Users
from tracklight.store.auth import TokenRecord

Json = dict[str, Any]


def _token(t: TokenRecord) -> Json:
    return {
        "id": t.id,
        "username": t.username,
        "name": t.name,
        "prefix": t.prefix,
        "created_time": t.created_time,
        "expires_time": t.expires_time,
        "last_used_time": t.last_used_time,
        "revoked_time": t.revoked_time,
    }


def create_token(f: Fields, users: Users) -> Json:
    secret, record = users.create_token(
        users.current_user().username, f.required_str("name"), f.int("expires_days")
    )
    return {"token": secret, "token_info": _token(record)}


def list_tokens(f: Fields, users: Users) -> Json:
    return {"tokens": [_token(t) for t in users.list_tokens(users.current_user().username)]}


def revoke_token(f: Fields, users: Users) -> Json:
    token_id = f.int("token_id", required=True)
    if token_id is None or token_id <= 0:
        raise InvalidParameter("Invalid value for parameter 'token_id': a token's id is a positive integer.")
    return {"token_info": _token(users.revoke_token(token_id))}


# (methods, path under /api/2.0/tracklight/, handler, service); served only with auth on.
TOKEN_API: list[tuple[tuple[str, ...], str, Any, str]] = [
    (("POST",), "tokens/create", create_token, "users"),
    (("GET",), "tokens/list", list_tokens, "users"),
    (("POST",), "tokens/revoke", revoke_token, "users"),
]
