"""Admin: grant, change and revoke a user's permission on an experiment (by name or id) or a registered model."""

from __future__ import annotations

from starlette.responses import Response

from tracklight.auth.permissions import EXPERIMENT, REGISTERED_MODEL, parse_resource_type
from tracklight.dashboard.access import admin_only, users_of
from tracklight.dashboard.context import PageContext
from tracklight.dashboard.pages.admin_users import parse_user_id, user_form
from tracklight.errors import InvalidParameter, NotFound


def resource_id(ctx: PageContext, resource_type: str, named: str) -> str:
    """The id a grant is stored under: an experiment's id (typed as its name or its id), a registered
    model's name (which must exist, so a typo is caught rather than granted)."""
    named = named.strip()
    if not named:
        raise InvalidParameter("Name the experiment or registered model to grant on.")
    if resource_type == REGISTERED_MODEL:
        return ctx.services.registry.get_model(named).name
    try:
        return str(ctx.services.experiments.get_by_name(named).experiment_id)
    except NotFound:
        pass
    # Not a name: an id, when it is one. A name wins, so an experiment named "12" is found by its name.
    if named.isdigit() and len(named) <= 18:
        try:
            return str(ctx.services.experiments.get(named).experiment_id)
        except NotFound:
            pass
    raise NotFound(f"No experiment is named {named!r}" + (" or has that id." if named.isdigit() else "."))


@admin_only
def grant(ctx: PageContext, user_id: str) -> Response:
    """Grant, or change an existing grant (the same form: a user has one permission per resource)."""
    users, _ = users_of(ctx)
    user = users.user_by_id(parse_user_id(user_id))

    def action() -> None:
        resource_type = parse_resource_type(ctx.field("resource_type") or None)
        # A row's own form names the stored id; the add form names the resource as a person would.
        stored = ctx.field("resource_id")
        target = stored if stored else resource_id(ctx, resource_type, ctx.field("resource"))
        users.grant(user.username, resource_type, target, ctx.field("permission"))

    return user_form(ctx, user_id, action)


@admin_only
def revoke(ctx: PageContext, user_id: str) -> Response:
    users, _ = users_of(ctx)
    user = users.user_by_id(parse_user_id(user_id))

    def action() -> None:
        resource_type = parse_resource_type(ctx.field("resource_type") or None)
        if not users.revoke(user.username, resource_type, ctx.field("resource_id")):
            kind = "experiment" if resource_type == EXPERIMENT else "registered model"
            raise NotFound(f"{user.username} has no grant on that {kind} (any more).")

    return user_form(ctx, user_id, action)


ROUTES = [
    ("POST", "/admin/users/{user_id}/grants", grant),
    ("POST", "/admin/users/{user_id}/grants/revoke", revoke),
]
