"""Authentication at the edge: every request but the probes must carry credentials; the principal they
resolve to is made the request's caller, for the services to authorize against."""

from __future__ import annotations

from starlette.responses import PlainTextResponse
from starlette.types import ASGIApp, Receive, Scope, Send

from tracklight.auth.authenticate import Authenticator, Refusal
from tracklight.auth.principal import Principal, acting_as, restore
from tracklight.auth.proxy_identity import ProxyIdentity
from tracklight.http.edge import ROUTE_KEY
from tracklight.http.workers import in_worker

REALM = 'Basic realm="tracklight"'


def public_paths(prefix: str) -> frozenset[str]:
    """The only paths served without credentials: the probes and server-info (which the client reads
    before it knows whether to authenticate)."""
    return frozenset(
        prefix + path
        for path in ("/health", "/ready", "/api/3.0/mlflow/server-info", "/ajax-api/3.0/mlflow/server-info")
    )


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


class Authentication:
    """Wraps the router: resolve the proxy's assertion, else the Authorization header, to a Principal, or
    answer 401/429 itself."""

    def __init__(
        self, app: ASGIApp, authenticator: Authenticator, prefix: str, proxy: ProxyIdentity | None = None
    ) -> None:
        self.app = app
        self.authenticator = authenticator
        self.public = public_paths(prefix)
        self.proxy = proxy

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] in self.public:
            await self.app(scope, receive, send)
            return
        principal = await _proxied(self.proxy, scope) if self.proxy is not None else None
        header = None
        for name, value in scope["headers"]:
            if name == b"authorization":
                header = value.decode("latin-1")
                break
        if principal is None:
            principal = self.authenticator.cached(header) if header else None
        if principal is None:
            client = scope.get("client")
            address = client[0] if client else ""
            outcome = await in_worker(self.authenticator.authenticate, header, address)
            if isinstance(outcome, Refusal):
                scope[ROUTE_KEY] = "unauthenticated" if outcome.status == 401 else "throttled"
                await _refusal(outcome)(scope, receive, send)
                return
            principal = outcome
        token = acting_as(principal)
        try:
            await self.app(scope, receive, send)
        finally:
            restore(token)
