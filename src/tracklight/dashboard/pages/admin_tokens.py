"""Admin: every user's personal access tokens, and revoking any of them."""

from __future__ import annotations

from starlette.responses import Response

from tracklight.dashboard.access import admin_only, users_of
from tracklight.dashboard.context import PageContext
from tracklight.dashboard.forms import apply_form
from tracklight.dashboard.pages.account import token_id, token_rows
from tracklight.dashboard.pages.admin_users import user_page
from tracklight.dashboard.render import render


@admin_only
def tokens_page(ctx: PageContext, error: str = "", status: int = 200) -> Response:
    users, _ = users_of(ctx)
    return render(
        ctx,
        "admin_tokens.html",
        status,
        title="Tokens · Admin",
        rows=token_rows(users.list_tokens()),
        error=error,
    )


@admin_only
def revoke_token(ctx: PageContext, token: str) -> Response:
    """Revoke, then back to where the button was: the tokens list, or the owner's page (`user` field)."""
    users, _ = users_of(ctx)
    owner = ctx.field("user")
    if owner.isdigit():
        return apply_form(
            lambda: users.revoke_token(token_id(token)),
            ctx.url(f"/admin/users/{int(owner)}"),
            lambda message: user_page(ctx, owner, error=message, status=422),
        )
    return apply_form(
        lambda: users.revoke_token(token_id(token)),
        ctx.url("/admin/tokens"),
        lambda message: tokens_page(ctx, error=message, status=422),
    )


ROUTES = [
    ("GET", "/admin/tokens", tokens_page),
    ("POST", "/admin/tokens/{token}/revoke", revoke_token),
]
