"""The dashboard's cookies: one place decides their Secure flag, path and lifetime.

Every cookie is HttpOnly (no script of ours reads one) and scoped to the server's static prefix. Secure
is set when the browser's request was https: seen by the server itself, or named by a TLS-terminating
proxy in X-Forwarded-Proto or Forwarded. Trusting those headers here is safe: they can only add the
flag, which a plain-http browser would then drop, not take it away. TRACKLIGHT_AUTH_COOKIE_SECURE=always
sets it on every cookie. Over plain http (http://127.0.0.1 in the tests, a quick local try) the cookies
go without it, on purpose: browsers would otherwise keep them only for localhost.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Literal

from starlette.responses import Response

SameSite = Literal["lax", "strict"]


def https_request(scheme: str, headers: Mapping[str, str]) -> bool:
    """Whether the browser reached us over https (directly, or through a proxy that says so)."""
    if scheme == "https":
        return True
    forwarded_proto = headers.get("x-forwarded-proto", "").split(",")[0].strip().lower()
    if forwarded_proto == "https":
        return True
    first_hop = headers.get("forwarded", "").split(",")[0]
    return any(part.strip().lower() == "proto=https" for part in first_hop.split(";"))


def cookie_path(prefix: str) -> str:
    return prefix or "/"


def set_cookie(
    response: Response,
    name: str,
    value: str,
    *,
    path: str,
    secure: bool,
    samesite: SameSite,
    max_age: int | None = None,
) -> None:
    response.set_cookie(
        name, value, max_age=max_age, path=path, secure=secure, httponly=True, samesite=samesite
    )


def clear_cookie(response: Response, name: str, *, path: str, secure: bool, samesite: SameSite) -> None:
    response.set_cookie(name, "", max_age=0, path=path, secure=secure, httponly=True, samesite=samesite)
