"""Authentication at the edge: every request but the probes and the login page must carry credentials;
the principal they resolve to is made the request's caller, for the services to authorize against.

Credentials are an Authorization header (Basic or Bearer) anywhere, or, on the dashboard's own routes
only, the session cookie the login page hands out. The cookie never opens the JSON API, artifacts or
GraphQL: a browser sends it along to those too, and they must not act on it. A browser without
credentials on a dashboard page is sent to the login page instead of being asked for a password.
"""

from __future__ import annotations

from collections.abc import Callable
from urllib.parse import quote, urlsplit

from starlette.requests import cookie_parser
from starlette.responses import PlainTextResponse, RedirectResponse, Response
from starlette.types import ASGIApp, Receive, Scope, Send

from tracklight.auth.authenticate import Authenticator, Refusal
from tracklight.auth.principal import Principal, acting_as, restore
from tracklight.auth.proxy_identity import ProxyIdentity
from tracklight.auth.sessions import SESSION_COOKIE, SESSION_SCOPE_KEY, Sessions
from tracklight.http.edge import ROUTE_KEY
from tracklight.http.workers import in_worker

REALM = 'Basic realm="tracklight"'
# The login page's routes (dashboard.pages.signin) and the static files it loads.
LOGIN_PATHS = ("/login", "/login/oidc", "/login/oidc/callback")
LOGIN_ASSETS = ("/static/app.css", "/static/theme.js", "/static/favicon.svg")
_NO_CREDENTIALS = Refusal(
    401, "You are not authenticated. Please provide valid credentials (Basic or Bearer)."
)


def public_paths(prefix: str, sign_in: bool = False) -> frozenset[str]:
    """The only paths served without credentials: the probes and server-info (which the client reads
    before it knows whether to authenticate); with sign-in, the login page and its stylesheet and icon."""
    paths = ["/health", "/ready", "/api/3.0/mlflow/server-info", "/ajax-api/3.0/mlflow/server-info"]
    if sign_in:
        paths += [*LOGIN_PATHS, *LOGIN_ASSETS]
    return frozenset(prefix + path for path in paths)


def _refusal(refusal: Refusal) -> PlainTextResponse:
    if refusal.status == 429:
        return PlainTextResponse(
            refusal.message, status_code=429, headers={"Retry-After": str(refusal.retry_after_s)}
        )
    return PlainTextResponse(refusal.message, status_code=401, headers={"WWW-Authenticate": REALM})


async def _proxied(proxy: ProxyIdentity, scope: Scope) -> Principal | None:
    """The user the proxy in front vouches for; None: no (valid) assertion, so credentials decide."""
    client = scope.get("client")
    address = client[0] if client else ""
    claim = proxy.claim(scope["headers"], address)
    if claim is None:
        return None
    return proxy.cached(claim) or await in_worker(proxy.resolve, claim, address)


def _header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope["headers"]:
        if key == name:
            return value.decode("latin-1")
    return None


class Authentication:
    """Wraps the router: resolve the proxy's assertion, else the Authorization header, else the
    dashboard's session cookie to a Principal, or answer 401/429 (or, on a dashboard page, the way to
    the login page) itself."""

    def __init__(
        self,
        app: ASGIApp,
        authenticator: Authenticator,
        prefix: str,
        sessions: Sessions | None = None,
        dashboard_kind: Callable[[str], str | None] | None = None,
        proxy: ProxyIdentity | None = None,
    ) -> None:
        self.app = app
        self.authenticator = authenticator
        self.prefix = prefix
        self.sessions = sessions
        self.proxy = proxy
        # What the dashboard serves at a path ("page", "data", "static"), None for every other route.
        self.dashboard_kind = dashboard_kind if sessions is not None else None
        self.public = public_paths(prefix, sign_in=self.dashboard_kind is not None)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] in self.public:
            await self.app(scope, receive, send)
            return
        principal = await _proxied(self.proxy, scope) if self.proxy is not None else None
        if principal is None:
            header = _header(scope, b"authorization")
            if header:
                principal = await self._credentials(scope, receive, send, header)
            else:
                principal = await self._session(scope, receive, send)
        if principal is None:
            return  # already answered
        token = acting_as(principal)
        try:
            await self.app(scope, receive, send)
        finally:
            restore(token)

    async def _credentials(self, scope: Scope, receive: Receive, send: Send, header: str) -> Principal | None:
        principal = self.authenticator.cached(header)
        if principal is not None:
            return principal
        client = scope.get("client")
        address = client[0] if client else ""
        outcome = await in_worker(self.authenticator.authenticate, header, address)
        if isinstance(outcome, Refusal):
            scope[ROUTE_KEY] = "unauthenticated" if outcome.status == 401 else "throttled"
            await _refusal(outcome)(scope, receive, send)
            return None
        return outcome

    async def _session(self, scope: Scope, receive: Receive, send: Send) -> Principal | None:
        """No Authorization header: a dashboard route may be signed in by its session cookie."""
        kind = self.dashboard_kind(scope["path"]) if self.dashboard_kind is not None else None
        if kind is None or self.sessions is None:
            scope[ROUTE_KEY] = "unauthenticated"
            await _refusal(_NO_CREDENTIALS)(scope, receive, send)
            return None
        secret = cookie_parser(_header(scope, b"cookie") or "").get(SESSION_COOKIE)
        principal = None
        if secret:
            principal = self.sessions.cached(secret) or await in_worker(self.sessions.resolve, secret)
        if principal is None:
            scope[ROUTE_KEY] = "unauthenticated"
            await self._to_login(scope, kind)(scope, receive, send)
            return None
        scope[SESSION_SCOPE_KEY] = True
        return principal

    def _to_login(self, scope: Scope, kind: str) -> Response:
        """A browser that is not signed in: a page goes to the login page (which comes back here after);
        htmx is told to go there (HX-Redirect) instead of swapping the login page into a fragment; the
        charts' data and static files just answer 401 (no Basic prompt: the login page is the way in)."""
        login = self.prefix + "/login"
        if _header(scope, b"hx-request") == "true":
            current = urlsplit(_header(scope, b"hx-current-url") or "")
            here = current.path + ("?" + current.query if current.query else "")
            target = login + ("?next=" + quote(here, safe="/") if here else "")
            return PlainTextResponse("Sign in first.", status_code=401, headers={"HX-Redirect": target})
        if kind != "page":
            return PlainTextResponse("Sign in first.", status_code=401)
        if scope["method"] not in ("GET", "HEAD"):
            return RedirectResponse(login, status_code=303)
        query = scope.get("query_string", b"").decode("latin-1")
        here = scope["path"] + ("?" + query if query else "")
        return RedirectResponse(login + "?next=" + quote(here, safe="/"), status_code=303)


_NO_CREDENTIALS = Refusal(
    401, "You are not authenticated. Please provide valid credentials (Basic or Bearer)."
)
