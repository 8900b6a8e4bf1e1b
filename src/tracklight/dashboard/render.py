"""Jinja2 rendering with autoescaping, the page headers (CSP and friends) and the value formats pages share."""

from __future__ import annotations

import hashlib
import json
import math
import time
from typing import Any

from jinja2 import Environment, PackageLoader, StrictUndefined, pass_context, select_autoescape
from jinja2.runtime import Context
from markupsafe import Markup
from starlette.responses import HTMLResponse, Response

from tracklight import __version__
from tracklight.dashboard.context import PageContext
from tracklight.dashboard.csrf import CSRF_FIELD

# No inline script or style anywhere: every script and stylesheet is a file under /static.
CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; frame-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'self'"
)
PAGE_HEADERS = {
    "Content-Security-Policy": CSP,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "Cache-Control": "no-store",
}


def format_time(ms: int | None) -> str:
    if ms is None:
        return ""
    return time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(ms / 1000))


def format_duration(start: int | None, end: int | None) -> str:
    if start is None or end is None or end < start:
        return ""
    seconds = (end - start) / 1000
    if seconds < 60:
        return f"{seconds:.1f}s"
    minutes, sec = divmod(int(seconds), 60)
    if minutes < 60:
        return f"{minutes}m {sec}s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h {minutes}m"


def format_number(value: float | None) -> str:
    if value is None:
        return ""
    if math.isnan(value):
        return "NaN"
    if value == int(value) and abs(value) < 1e15:
        return str(int(value))
    return f"{value:.6g}"


def _json_attr(value: Any) -> str:
    """JSON for a data- attribute; autoescaping makes it safe inside the quotes."""
    return json.dumps(value, separators=(",", ":"))


def chart_anchor(key: str) -> str:
    """A chart's element id from its metric key: stable, so a refreshed page and its links agree."""
    return "chart-" + hashlib.sha1(key.encode("utf-8")).hexdigest()[:12]  # noqa: S324 - not security


def _anchor_pair(key: str) -> list[str]:
    return [key, chart_anchor(key)]


@pass_context
def csrf_input(context: Context) -> Markup:
    """The hidden field every form that changes something carries: `{{ csrf_input() }}` in the form."""
    token = context["ctx"].csrf_token
    return Markup('<input type="hidden" name="{}" value="{}">').format(CSRF_FIELD, token)


_env = Environment(
    loader=PackageLoader("tracklight.dashboard", "templates"),
    autoescape=select_autoescape(default=True, default_for_string=True),
    undefined=StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
)
_env.filters.update(
    time=format_time,
    number=format_number,
    json_attr=_json_attr,
    anchor=chart_anchor,
    anchor_pair=_anchor_pair,
)
_env.globals.update(duration=format_duration, csrf_input=csrf_input, tracklight_version=__version__)


def allow_form_targets(response: Response, origins: list[str]) -> Response:
    """Let this page's forms lead to other origins too (the login page's button goes to the identity
    provider: the browser holds a form's redirect to the CSP's form-action)."""
    if origins:
        response.headers["Content-Security-Policy"] = CSP.replace(
            "form-action 'self'", "form-action 'self' " + " ".join(origins)
        )
    return response


def allow_images_from(response: Response, origin: str) -> Response:
    """Let this page show images from one more origin (an artifact read straight from its bucket)."""
    csp = response.headers.get("Content-Security-Policy", CSP)
    response.headers["Content-Security-Policy"] = csp.replace(
        "img-src 'self' data:", f"img-src 'self' data: {origin}"
    )
    return response


def render(ctx: PageContext, template: str, status: int = 200, **values: Any) -> Response:
    html = _env.get_template(template).render(ctx=ctx, url=ctx.url, **values)
    return HTMLResponse(html, status_code=status, headers=PAGE_HEADERS)
