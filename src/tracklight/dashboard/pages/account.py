"""The signed-in user's own account: their personal access tokens (a new one shown once) and password."""

from __future__ import annotations

from dataclasses import dataclass

from starlette.responses import RedirectResponse, Response

from tracklight.auth.passwords import NO_PASSWORD
from tracklight.dashboard.access import signed_in, users_of
from tracklight.dashboard.context import PageContext
from tracklight.dashboard.forms import apply_form
from tracklight.dashboard.render import render
from tracklight.errors import InvalidParameter, TracklightError
from tracklight.store.auth import TokenRecord, now_ms

DEFAULT_LIFETIME_DAYS = 90  # what the form offers; the CLI's default too


@dataclass(frozen=True, slots=True)
class TokenRow:
    """A token as the tables list it: the record and whether it still opens anything."""

    token: TokenRecord
    state: str  # active, expired or revoked

    @property
    def active(self) -> bool:
        return self.state == "active"


def token_rows(tokens: list[TokenRecord]) -> list[TokenRow]:
    """Newest first, each with its state as of now."""
    now = now_ms()
    rows = []
    for t in sorted(tokens, key=lambda t: t.id, reverse=True):
        if t.revoked_time is not None:
            state = "revoked"
        elif t.expires_time is not None and t.expires_time <= now:
            state = "expired"
        else:
            state = "active"
        rows.append(TokenRow(t, state))
    return rows


def lifetime_days(text: str) -> int | None:
    """The form's lifetime field: empty means the token never expires."""
    text = text.strip()
    if not text:
        return None
    if not text.isdigit():
        raise InvalidParameter("A token's lifetime must be a whole number of days (or empty: never expires).")
    return int(text)


@signed_in
def account_page(
    ctx: PageContext,
    error: str = "",
    notice: str = "",
    status: int = 200,
    created: tuple[str, TokenRecord] | None = None,
) -> Response:
    users, _ = users_of(ctx)
    me = users.current_user()
    if not notice and not error and ctx.arg("changed") == "password":
        notice = "Your password was changed."
    return render(
        ctx,
        "account.html",
        status,
        title="Account",
        me=me,
        has_password=me.password_hash != NO_PASSWORD,
        rows=token_rows(users.list_tokens(me.username)),
        created=created,
        error=error,
        notice=notice,
        default_days=DEFAULT_LIFETIME_DAYS,
    )


@signed_in
def create_token(ctx: PageContext) -> Response:
    users, principal = users_of(ctx)
    try:
        created = users.create_token(
            principal.username, ctx.field("name").strip(), lifetime_days(ctx.field("expires_days"))
        )
    except TracklightError as exc:
        return account_page(ctx, error=exc.message, status=422)
    # Rendered, not redirected: the secret exists only in this response (no-store), never in a URL.
    return account_page(ctx, created=created)


@signed_in
def revoke_token(ctx: PageContext, token: str) -> Response:
    users, _ = users_of(ctx)
    return apply_form(
        lambda: users.revoke_token(token_id(token)),
        ctx.url("/account"),
        lambda message: account_page(ctx, error=message, status=422),
    )


@signed_in
def change_password(ctx: PageContext) -> Response:
    users, _ = users_of(ctx)
    try:
        if ctx.field("password") != ctx.field("repeat"):
            raise InvalidParameter("The new passwords differ.")
        users.change_password(ctx.field("current_password"), ctx.field("password"))
    except TracklightError as exc:
        return account_page(ctx, error=exc.message, status=422)
    # Redirected, not rendered: a browser signed in with Basic credentials still holds the old password,
    # so even this page's stylesheet would be refused; the next page load asks for the new one.
    return RedirectResponse(ctx.url("/account", {"changed": "password"}), status_code=303)


def token_id(text: str) -> int:
    if not text.isdigit() or len(text) > 18:
        raise InvalidParameter(f"Invalid token id {text!r}.")
    return int(text)


ROUTES = [
    ("GET", "/account", account_page),
    ("POST", "/account/tokens", create_token),
    ("POST", "/account/tokens/{token}/revoke", revoke_token),
    ("POST", "/account/password", change_password),
]
