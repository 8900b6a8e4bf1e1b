"""Admin: the users list and a user's page (admin flag, password, deletion, their grants and tokens)."""

from __future__ import annotations

from dataclasses import dataclass

from starlette.responses import RedirectResponse, Response

from tracklight.auth.passwords import NO_PASSWORD
from tracklight.auth.permissions import EXPERIMENT, Permission
from tracklight.dashboard.access import admin_only, users_of
from tracklight.dashboard.context import PageContext
from tracklight.dashboard.forms import apply_form
from tracklight.dashboard.pages.account import token_rows
from tracklight.dashboard.pages.models import model_path
from tracklight.dashboard.render import render
from tracklight.errors import InvalidParameter, TracklightError
from tracklight.store.auth import GrantRecord, UserRecord

# What the grant forms offer, weakest first; NO_PERMISSIONS (2.x's name for a veto) is listed only on a
# grant that already has it.
OFFERED = ("READ", "USE", "EDIT", "MANAGE", "DENY")


@dataclass(frozen=True, slots=True)
class GrantRow:
    """A grant as the user's page lists it: for an experiment, its name beside the id."""

    grant: GrantRecord
    label: str  # the experiment's name, or the registered model's
    found: bool  # False: the resource no longer exists (or cannot be read)


def user_path(user: UserRecord) -> str:
    return f"/admin/users/{user.id}"


def parse_user_id(text: str) -> int:
    if not text.isdigit() or len(text) > 18:
        raise InvalidParameter(f"Invalid user id {text!r}.")
    return int(text)


@admin_only
def admin_home(ctx: PageContext) -> Response:
    return RedirectResponse(ctx.url("/admin/users"), status_code=303)


@admin_only
def users_page(ctx: PageContext, error: str = "", status: int = 200) -> Response:
    users, principal = users_of(ctx)
    everyone = users.list_users()
    active: dict[int, int] = {}
    for row in token_rows(users.list_tokens()):
        if row.active:
            active[row.token.user_id] = active.get(row.token.user_id, 0) + 1
    return render(
        ctx,
        "admin_users.html",
        status,
        title="Users · Admin",
        users=everyone,
        active_tokens=active,
        no_password=NO_PASSWORD,
        me=principal,
        error=error,
        user_path=user_path,
        # A refused create shows the form again as it was typed (bar the password).
        typed_name=ctx.field("username") if error else "",
        typed_admin=ctx.field("is_admin") == "true" if error else False,
    )


@admin_only
def create_user(ctx: PageContext) -> Response:
    users, _ = users_of(ctx)
    try:
        user = users.create_user(
            ctx.field("username").strip(), ctx.field("password"), is_admin=ctx.field("is_admin") == "true"
        )
    except TracklightError as exc:
        return users_page(ctx, error=exc.message, status=422)
    return RedirectResponse(ctx.url(user_path(user)), status_code=303)


def _grant_rows(ctx: PageContext, grants: list[GrantRecord]) -> list[GrantRow]:
    rows = []
    for g in grants:
        if g.resource_type != EXPERIMENT:
            rows.append(GrantRow(g, g.resource_id, True))
            continue
        try:
            rows.append(GrantRow(g, ctx.services.experiments.get(g.resource_id).name, True))
        except TracklightError:
            rows.append(GrantRow(g, "", False))
    # Experiments first (by name), then registered models (by name).
    return sorted(
        rows, key=lambda r: (r.grant.resource_type != EXPERIMENT, r.label.lower(), r.grant.resource_id)
    )


@admin_only
def user_page(ctx: PageContext, user_id: str, error: str = "", status: int = 200) -> Response:
    users, principal = users_of(ctx)
    user = users.user_by_id(parse_user_id(user_id))
    _, grants = users.grants(user.username)
    return render(
        ctx,
        "admin_user.html",
        status,
        title=f"{user.username} · Admin",
        user=user,
        me=principal,
        has_password=user.password_hash != NO_PASSWORD,
        grants=_grant_rows(ctx, grants),
        rows=token_rows(users.list_tokens(user.username)),
        default=users.default.name,
        offered=OFFERED,
        permissions=[p.name for p in Permission],
        error=error,
        user_path=user_path,
        model_path=model_path,
        # A refused grant shows its form again as it was typed.
        typed=ctx.form if error else {},
    )


def user_form(ctx: PageContext, user_id: str, action: object) -> Response:
    """Apply a form of the user's page, then back to it (or the page again, saying what was refused)."""
    return apply_form(
        action,  # type: ignore[arg-type]
        ctx.url(f"/admin/users/{parse_user_id(user_id)}"),
        lambda message: user_page(ctx, user_id, error=message, status=422),
    )


@admin_only
def set_password(ctx: PageContext, user_id: str) -> Response:
    users, _ = users_of(ctx)
    user = users.user_by_id(parse_user_id(user_id))
    return user_form(ctx, user_id, lambda: users.update_password(user.username, ctx.field("password")))


@admin_only
def set_admin(ctx: PageContext, user_id: str) -> Response:
    users, _ = users_of(ctx)
    user = users.user_by_id(parse_user_id(user_id))
    return user_form(ctx, user_id, lambda: users.update_admin(user.username, ctx.field("is_admin") == "true"))


@admin_only
def delete_user(ctx: PageContext, user_id: str) -> Response:
    users, _ = users_of(ctx)
    user = users.user_by_id(parse_user_id(user_id))
    return apply_form(
        lambda: users.delete_user(user.username),
        ctx.url("/admin/users"),
        lambda message: user_page(ctx, user_id, error=message, status=422),
    )


ROUTES = [
    ("GET", "/admin", admin_home),
    ("GET", "/admin/users", users_page),
    ("POST", "/admin/users/create", create_user),
    ("GET", "/admin/users/{user_id}", user_page),
    ("POST", "/admin/users/{user_id}/password", set_password),
    ("POST", "/admin/users/{user_id}/admin", set_admin),
    ("POST", "/admin/users/{user_id}/delete", delete_user),
]
