"""Cross-site request forgery: a state-changing dashboard request must come from one of our own pages.

Two checks, both needed. Browsers send Origin and Sec-Fetch-Site on every post; a request another site
made the browser send is refused on either. And a double-submit token: a random value lives in a
SameSite=Strict, HttpOnly cookie, every page echoes it (a hidden `csrf_token` field in each form, an
X-CSRF-Token header on every htmx request), and a post whose echo does not match its cookie, compared in
constant time, is refused: another site can make the browser send the cookie but cannot read it. There is
no server secret, so any replica checks any token. The checks apply whether or not sign-in is on: a
server on localhost is a target too.
"""

from __future__ import annotations

import hmac
import re
import secrets
from collections.abc import Mapping
from urllib.parse import urlsplit

CSRF_COOKIE = "tracklight_csrf"
CSRF_FIELD = "csrf_token"
CSRF_HEADER = "x-csrf-token"
_TOKEN = re.compile(r"^[A-Za-z0-9_-]{43}$")  # secrets.token_urlsafe(32)
SAFE_METHODS = ("GET", "HEAD")


def new_token() -> str:
    return secrets.token_urlsafe(32)


def well_formed(token: str | None) -> bool:
    """A token we could have issued (pages echo it into HTML and a header, so nothing else is kept)."""
    return token is not None and _TOKEN.match(token) is not None


def cross_site(headers: Mapping[str, str]) -> bool:
    """Whether the browser says another site sent this request (Sec-Fetch-Site, or an Origin that is
    not this server's own). Requests without either header are not from a browser that could be misled."""
    if headers.get("sec-fetch-site", "same-origin") not in ("same-origin", "none"):
        return True  # cross-site, or same-site: a sibling subdomain is not this server either
    origin = headers.get("origin")
    if origin is None:
        return False
    # Host, not the scheme: behind a TLS-terminating proxy the server itself sees http.
    return urlsplit(origin).netloc.lower() != headers.get("host", "").lower()


def refusal(method: str, headers: Mapping[str, str], cookie: str | None, echoed: str | None) -> str | None:
    """Why this request is refused, or None when it may go ahead."""
    if method in SAFE_METHODS:
        return None
    if cross_site(headers):
        return "Requests from other sites are refused."
    if cookie is None or not well_formed(cookie) or echoed is None:
        return "This form has no security token (or cookies are off); reload the page and try again."
    if not hmac.compare_digest(cookie.encode(), echoed.encode("utf-8", "replace")):
        return "This form's security token is stale; reload the page and try again."
    return None
