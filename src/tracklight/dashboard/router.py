"""Which dashboard page answers a path; static files; error pages. The server tries its API routes first."""

from __future__ import annotations

import functools
import gzip
import logging
import mimetypes
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from importlib import resources
from typing import Any
from urllib.parse import parse_qs

from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response

from tracklight.auth.principal import current_principal
from tracklight.auth.sessions import SESSION_SCOPE_KEY
from tracklight.dashboard import csrf, pages
from tracklight.dashboard.context import PageContext, Services
from tracklight.dashboard.cookies import cookie_path, https_request, set_cookie
from tracklight.dashboard.pages import signin
from tracklight.dashboard.render import render
from tracklight.errors import (
    InvalidParameter,
    NotFound,
    PermissionDenied,
    StoreUnavailable,
    TracklightError,
)
from tracklight.http.responses import error_response
from tracklight.http.workers import in_worker

log = logging.getLogger("tracklight.dashboard")

PageHandler = Callable[..., Response]
_MAX_FORM_BYTES = 64 * 1024


@dataclass(frozen=True, slots=True)
class StaticFile:
    """A file under static/: its bytes, media type, and a gzip copy when that is smaller."""

    body: bytes
    media: str
    gzipped: bytes | None


def _compressed(body: bytes, media: str) -> bytes | None:
    """Text compresses well (the vendored scripts to about a third); do it once, at startup."""
    textual = media.startswith(("text/", "application/javascript", "application/json", "image/svg+xml"))
    if not textual or len(body) < 1024:
        return None
    packed = gzip.compress(body, compresslevel=9, mtime=0)
    return packed if len(packed) < len(body) else None


def accepts_gzip(header: str) -> bool:
    """Whether an Accept-Encoding value allows gzip (named, or `*`, with a non-zero q)."""
    for item in header.split(","):
        name, _, rest = item.strip().partition(";")
        if name.strip().lower() not in ("gzip", "*"):
            continue
        q = rest.strip().lower()
        if q.startswith("q="):
            try:
                if float(q[2:]) <= 0:
                    continue
            except ValueError:
                continue
        return True
    return False


def _static_files() -> dict[str, StaticFile]:
    """Every file under static/, read (and compressed) once, by its path below static/."""
    files: dict[str, StaticFile] = {}

    def walk(node: Any, prefix: str) -> None:
        for child in node.iterdir():
            name = prefix + child.name
            if child.is_dir():
                walk(child, name + "/")
            elif not child.name.startswith("."):
                media = mimetypes.guess_type(child.name)[0] or "application/octet-stream"
                if media.startswith("text/") or media == "application/javascript":
                    media += "; charset=utf-8"
                body = child.read_bytes()
                files[name] = StaticFile(body, media, _compressed(body, media))

    walk(resources.files("tracklight.dashboard") / "static", "")
    return files


class Dashboard:
    """The dashboard's route table; `route` answers None for paths that are not its own."""

    def __init__(self, services: Services, prefix: str, *, secure_cookies: bool = False) -> None:
        self.services = services
        self.prefix = prefix
        self.secure_cookies = secure_cookies  # TRACKLIGHT_AUTH_COOKIE_SECURE=always
        self.static = _static_files()
        self.static_prefix = prefix + "/static/"
        self.data_prefix = prefix + "/dashboard-data/"
        self.pages: list[tuple[str, re.Pattern[str], PageHandler]] = []
        routes = list(pages.ROUTES)
        if services.signin is not None:  # the login page exists where there is someone to sign in as
            routes += signin.ROUTES
            if services.signin.oidc is not None:
                routes += signin.OIDC_ROUTES
        self.templates = [(method, prefix + template) for method, template, _ in routes]
        for method, template, handler in routes:
            regex = re.sub(
                r"\{(\w+)\}", r"(?P<\1>[^/]+)", re.escape(template).replace("\\{", "{").replace("\\}", "}")
            )
            self.pages.append((method, re.compile(f"^{re.escape(prefix)}{regex}$"), handler))

    def route_templates(self) -> list[tuple[str, str]]:
        """(method, path template) of every page and data route, and of the static files."""
        return [*self.templates, ("GET", self.static_prefix + "{path:path}")]

    def kind(self, path: str) -> str | None:
        """What the dashboard serves at `path`: "page" (HTML), "data" (the charts' JSON), "static", or
        None when the path is not the dashboard's."""
        if path.startswith(self.static_prefix):
            return "static" if path[len(self.static_prefix) :] in self.static else None
        if any(pattern.match(path) for _, pattern, _ in self.pages):
            return "data" if path.startswith(self.data_prefix) else "page"
        return None

    def route(self, request: Request) -> Callable[[], Awaitable[Response]] | None:
        path: str = request.scope["path"]
        if path.startswith(self.static_prefix):
            found = self.static.get(path[len(self.static_prefix) :])
            if found is None:
                return None
            headers = {"Cache-Control": "public, max-age=3600"}
            body = found.body
            if found.gzipped is not None:
                headers["Vary"] = "Accept-Encoding"
                if accepts_gzip(request.headers.get("accept-encoding", "")):
                    body = found.gzipped
                    headers["Content-Encoding"] = "gzip"
            return lambda: _ready(Response(body, media_type=found.media, headers=headers))
        for method, pattern, handler in self.pages:
            match = pattern.match(path)
            if match is not None and method == request.method:
                params = match.groupdict()
                return lambda: self._page(request, handler, params)  # noqa: B023 - returned at once
        return None

    async def _page(self, request: Request, handler: PageHandler, params: dict[str, str]) -> Response:
        headers = request.headers
        form: dict[str, list[str]] = {}
        if request.method == "POST":
            if csrf.cross_site(headers):  # refused before the body is even read
                return PlainTextResponse("Requests from other sites are refused.", status_code=403)
            body = await request.body()
            if len(body) > _MAX_FORM_BYTES:
                return PlainTextResponse("Form too large.", status_code=413)
            form = parse_qs(body.decode("utf-8", "replace"), keep_blank_values=True)
        cookies = request.cookies
        held = cookies.get(csrf.CSRF_COOKIE)
        principal = current_principal()
        scheme = request.scope.get("scheme", "http")
        secure = self.secure_cookies or https_request(scheme, headers)
        ctx = PageContext(
            services=self.services,
            prefix=self.prefix,
            path=request.scope["path"],
            query=parse_qs(
                request.scope.get("query_string", b"").decode("utf-8", "replace"), keep_blank_values=True
            ),
            form=form,
            partial=headers.get("hx-request") == "true",
            csrf_token=held if held is not None and csrf.well_formed(held) else csrf.new_token(),
            by_session=bool(request.scope.get(SESSION_SCOPE_KEY)),
            cookies=dict(cookies),
            client=request.client.host if request.client else "",
            secure=secure,
            origin=("https" if https_request(scheme, headers) else scheme) + "://" + headers.get("host", ""),
            principal=principal,
            method=request.method,
        )
        echoed = form[csrf.CSRF_FIELD][0] if csrf.CSRF_FIELD in form else headers.get(csrf.CSRF_HEADER)
        refused = csrf.refusal(request.method, headers, held, echoed)
        if refused is not None:
            response = render(ctx, "error.html", 403, title="Refused", message=refused)
        else:
            response = await self._answer(ctx, handler, params)
        if ctx.csrf_token != held:
            set_cookie(
                response,
                csrf.CSRF_COOKIE,
                ctx.csrf_token,
                path=cookie_path(self.prefix),
                secure=secure,
                samesite="strict",
            )
        return response

    async def _answer(self, ctx: PageContext, handler: PageHandler, params: dict[str, str]) -> Response:
        try:
            _refuse_nul(params, ctx)
            return await in_worker(functools.partial(handler, ctx, **params))
        except TracklightError as exc:
            if ctx.path.startswith(self.data_prefix):
                # The charts' data routes answer JSON, errors included: MLflow's error shape.
                return error_response(exc.error_code, exc.message)
            if isinstance(exc, NotFound):
                return render(ctx, "error.html", 404, title="Not found", message=exc.message)
            if isinstance(exc, PermissionDenied):
                return render(
                    ctx,
                    "error.html",
                    403,
                    title="Permission denied",
                    message="You may not see this page; ask an owner of it for access.",
                )
            return render(ctx, "error.html", 400, title="Bad request", message=exc.message)
        except StoreUnavailable:
            return render(
                ctx,
                "error.html",
                503,
                title="Unavailable",
                message="The database is unavailable; retry later.",
            )


def _refuse_nul(params: dict[str, str], ctx: PageContext) -> None:
    """U+0000 in a path segment, query or form value: refused, as the API refuses it (PostgreSQL text
    cannot hold it, and its driver raises on a statement that carries one)."""
    values = [*params.values(), *(v for vs in ctx.query.values() for v in vs)]
    values += [v for vs in ctx.form.values() for v in vs]
    if any("\x00" in v for v in values):
        raise InvalidParameter("A value contains the NUL character (U+0000), which is not allowed.")


async def _ready(response: Response) -> Response:
    return response


def dashboard_routes(services: dict[str, Any], prefix: str, *, secure_cookies: bool = False) -> Dashboard:
    """The dashboard over the server's services, answering under `prefix`."""
    return Dashboard(Services.from_mapping(services), prefix, secure_cookies=secure_cookies)
