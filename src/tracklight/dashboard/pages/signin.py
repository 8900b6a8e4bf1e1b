"""The login page: password sign-in, single sign-on's two legs (to the provider and back), and sign-out.

These pages are public (the edge lets them through without credentials, see http.auth) and, like every
dashboard post, CSRF-checked: a forged login could otherwise sign a victim in as the attacker.
"""

from __future__ import annotations

import time
from urllib.parse import urlsplit

from starlette.responses import RedirectResponse, Response

from tracklight.auth.authenticate import Refusal
from tracklight.auth.oidc import PENDING_TTL_S, PendingSignIn, SignInFailed
from tracklight.auth.sessions import SESSION_COOKIE
from tracklight.dashboard import csrf
from tracklight.dashboard.context import PageContext
from tracklight.dashboard.cookies import clear_cookie, cookie_path, set_cookie
from tracklight.dashboard.render import allow_form_targets, render
from tracklight.services.signin import SignedIn, SignIn

LOGIN, LOGOUT, OIDC_START, OIDC_CALLBACK = "/login", "/logout", "/login/oidc", "/login/oidc/callback"
OIDC_COOKIE = "tracklight_oidc"  # the pending sign-in, scoped to the OIDC paths
_MAX_NEXT = 2048


def safe_next(value: str, prefix: str) -> str:
    """Where to go after signing in: a path on this server under its prefix, never another site (an
    absolute URL, //host, a backslash that some browsers read as a slash) and never the login pages."""
    fallback = prefix + "/"
    if not value or len(value) > _MAX_NEXT or not value.startswith("/") or value.startswith("//"):
        return fallback
    if "\\" in value or any(ord(c) < 32 or ord(c) == 127 for c in value):
        return fallback
    parts = urlsplit(value)
    if parts.scheme or parts.netloc:
        return fallback
    path = parts.path
    if prefix and path != prefix and not path.startswith(prefix + "/"):
        return fallback
    if path.startswith((prefix + LOGIN, prefix + LOGOUT)):
        return fallback
    return value


def _signin(ctx: PageContext) -> SignIn:
    signin = ctx.services.signin
    assert signin is not None  # these routes exist only when sign-in does (Dashboard)
    return signin


def _callback_url(ctx: PageContext) -> str:
    """The redirect URI the provider sends the browser back to (registered with the provider)."""
    return ctx.origin + ctx.prefix + OIDC_CALLBACK


def _cookie_kwargs(ctx: PageContext, path: str | None = None) -> dict:
    return {"path": path or cookie_path(ctx.prefix), "secure": ctx.secure}


def _signed_in(ctx: PageContext, signed: SignedIn, next_path: str) -> Response:
    """Off to where the user was going, with the session cookie; and a fresh CSRF token, so a token
    planted before sign-in is worth nothing after it."""
    response = RedirectResponse(next_path, status_code=303)
    max_age = max(1, int(signed.expires_ms / 1000 - time.time()))
    set_cookie(
        response, SESSION_COOKIE, signed.secret, samesite="lax", max_age=max_age, **_cookie_kwargs(ctx)
    )
    ctx.csrf_token = csrf.new_token()
    return response


def login_page(
    ctx: PageContext, error: str = "", status: int = 200, next_path: str | None = None
) -> Response:
    signin = _signin(ctx)
    next_path = next_path or safe_next(ctx.arg("next") or ctx.field("next"), ctx.prefix)
    page = render(
        ctx,
        "login.html",
        status,
        title="Sign in",
        next=next_path,
        error=error,
        username=ctx.field("username"),
        password_login=signin.password_login,
        oidc=signin.oidc is not None,
        provider=signin.provider_name,
    )
    return allow_form_targets(page, signin.oidc.origins() if signin.oidc is not None else [])


def show_login(ctx: PageContext) -> Response:
    secret = ctx.cookies.get(SESSION_COOKIE)
    if secret and _signin(ctx).sessions.resolve(secret) is not None:  # signed in already: go on
        return RedirectResponse(safe_next(ctx.arg("next"), ctx.prefix), status_code=303)
    return login_page(ctx)


def password_login(ctx: PageContext) -> Response:
    next_path = safe_next(ctx.field("next"), ctx.prefix)
    outcome = _signin(ctx).with_password(ctx.field("username"), ctx.field("password"), ctx.client)
    if not isinstance(outcome, Refusal):
        return _signed_in(ctx, outcome, next_path)
    if outcome.status == 429:
        message = f"Too many failed sign-ins; try again in {outcome.retry_after_s} seconds."
        response = login_page(ctx, message, 429, next_path)
        response.headers["Retry-After"] = str(outcome.retry_after_s)
        return response
    message = "Wrong username or password." if _signin(ctx).password_login else outcome.message
    return login_page(ctx, message, 401, next_path)


def oidc_start(ctx: PageContext) -> Response:
    """To the provider, with state, nonce and the PKCE verifier kept in a cookie for the way back."""
    next_path = safe_next(ctx.field("next"), ctx.prefix)
    try:
        url, pending = _signin(ctx).begin_oidc(_callback_url(ctx), next_path)
    except SignInFailed as exc:
        return login_page(ctx, exc.message, exc.status, next_path)
    response = RedirectResponse(url, status_code=303)
    # Lax, not Strict: the provider's redirect back is a cross-site navigation, which must carry it.
    set_cookie(
        response,
        OIDC_COOKIE,
        pending.encode(),
        samesite="lax",
        max_age=PENDING_TTL_S,
        **_cookie_kwargs(ctx, ctx.prefix + OIDC_START),
    )
    return response


def oidc_callback(ctx: PageContext) -> Response:
    """Back from the provider: check everything, then sign the user in. The pending cookie is spent
    either way, so a callback URL cannot be replayed."""
    pending = PendingSignIn.decode(ctx.cookies.get(OIDC_COOKIE))
    params = {name: ctx.arg(name) for name in ("state", "code", "error")}
    try:
        signed = _signin(ctx).finish_oidc(pending, params, _callback_url(ctx))
        response = _signed_in(ctx, signed, pending.next if pending else ctx.prefix + "/")
    except SignInFailed as exc:
        response = login_page(ctx, exc.message, exc.status, pending.next if pending else None)
    clear_cookie(response, OIDC_COOKIE, samesite="lax", **_cookie_kwargs(ctx, ctx.prefix + OIDC_START))
    return response


def logout(ctx: PageContext) -> Response:
    secret = ctx.cookies.get(SESSION_COOKIE)
    if secret:
        _signin(ctx).sign_out(secret)
    response = RedirectResponse(ctx.prefix + LOGIN, status_code=303)
    clear_cookie(response, SESSION_COOKIE, samesite="lax", **_cookie_kwargs(ctx))
    ctx.csrf_token = csrf.new_token()
    return response


ROUTES = [
    ("GET", LOGIN, show_login),
    ("POST", LOGIN, password_login),
    ("POST", LOGOUT, logout),
]
OIDC_ROUTES = [
    ("POST", OIDC_START, oidc_start),
    ("GET", OIDC_CALLBACK, oidc_callback),
]
