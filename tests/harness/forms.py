"""Dashboard form posts made the way a browser makes them: a page hands out the CSRF cookie, and the form
echoes its token in the hidden csrf_token field."""

from __future__ import annotations

import re
from typing import Any

import requests

CSRF_COOKIE = "tracklight_csrf"
CSRF_FIELD = "csrf_token"
_HIDDEN = re.compile(r'name="csrf_token" value="([A-Za-z0-9_-]+)"')


def csrf_token(session: requests.Session, page_url: str, **kwargs: Any) -> str:
    """The token a page of the server gives this session (kept in its cookie jar), read from the page's
    hidden field, as the form would carry it. Fetches `page_url` only when the jar holds none yet."""
    held = session.cookies.get(CSRF_COOKIE)
    if held:
        return held
    page = session.get(page_url, timeout=30, **kwargs)
    found = _HIDDEN.search(page.text)
    assert found is not None, f"no csrf_token field on {page_url}: {page.status_code} {page.text[:300]}"
    assert session.cookies.get(CSRF_COOKIE) == found.group(1), "the page's token is not its cookie's"
    return found.group(1)


def post_form(
    session: requests.Session, url: str, data: dict[str, Any], *, page_url: str, **kwargs: Any
) -> requests.Response:
    """POST `data` as a form of the page at `page_url` would: with the session's CSRF token."""
    token = csrf_token(session, page_url)
    kwargs.setdefault("timeout", 30)
    return session.post(url, data={**data, CSRF_FIELD: token}, **kwargs)
