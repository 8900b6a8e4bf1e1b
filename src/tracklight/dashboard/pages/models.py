"""Model registry pages: the models list, a model with its versions, one version with its edit forms."""

from __future__ import annotations

from collections.abc import Callable
from urllib.parse import quote

from starlette.responses import Response

from tracklight.dashboard.context import PageContext
from tracklight.dashboard.forms import apply_form
from tracklight.dashboard.render import render
from tracklight.errors import TracklightError

PAGE_SIZE = 100
STAGES = ("None", "Staging", "Production", "Archived")


def _literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def model_path(name: str) -> str:
    return "/models/" + quote(name, safe="")


def models_page(ctx: PageContext) -> Response:
    q = ctx.arg("q").strip()
    models, next_token = ctx.services.registry.search_models(
        filter_string=f"name ILIKE {_literal('%' + q + '%')}" if q else None,
        order_by=["name ASC"],
        max_results=PAGE_SIZE,
        page_token=ctx.arg("page") or None,
    )
    return render(
        ctx, "models.html", title="Models", models=models, q=q, next_token=next_token, model_path=model_path
    )


def model_page(ctx: PageContext, name: str) -> Response:
    model = ctx.services.registry.get_model(name)
    versions, _ = ctx.services.registry.search_versions(
        filter_string=f"name = {_literal(model.name)}",
        order_by=["version_number DESC"],
        max_results=PAGE_SIZE,
        page_token=None,
    )
    aliases: dict[int, list[str]] = {}
    for alias, version in model.aliases:
        aliases.setdefault(version, []).append(alias)
    return render(
        ctx,
        "model.html",
        title=model.name,
        model=model,
        versions=versions,
        aliases=aliases,
        model_path=model_path,
    )


def version_page(ctx: PageContext, name: str, version: str, error: str = "", status: int = 200) -> Response:
    found = ctx.services.registry.get_version(name, version)
    run = None
    if found.run_id:
        try:
            run = ctx.services.runs.get(found.run_id)
        except TracklightError:
            run = None
    logged = None
    if found.model_id:
        try:
            logged = ctx.services.logged_models.get(found.model_id, allow_deleted=True)
        except TracklightError:
            logged = None
    return render(
        ctx,
        "version.html",
        status,
        error=error,
        stages=STAGES,
        title=f"{found.name} v{found.version}",
        version=found,
        run=run,
        logged=logged,
        model_path=model_path,
    )


def _edit(ctx: PageContext, name: str, version: str, action: Callable[[], object]) -> Response:
    """Apply a version form, then back to the version page (or the page again, saying what was refused)."""
    return apply_form(
        action,
        ctx.url(f"{model_path(name)}/versions/{version}"),
        lambda message: version_page(ctx, name, version, error=message, status=422),
    )


def set_alias(ctx: PageContext, name: str, version: str) -> Response:
    alias = ctx.field("alias").strip()
    return _edit(ctx, name, version, lambda: ctx.services.registry.set_alias(name, alias, version))


def delete_alias(ctx: PageContext, name: str, version: str) -> Response:
    alias = ctx.field("alias")
    return _edit(ctx, name, version, lambda: ctx.services.registry.delete_alias(name, alias))


def transition_stage(ctx: PageContext, name: str, version: str) -> Response:
    stage = ctx.field("stage")
    archive = ctx.field("archive_existing") == "true"
    return _edit(
        ctx, name, version, lambda: ctx.services.registry.transition_stage(name, version, stage, archive)
    )


def set_version_tag(ctx: PageContext, name: str, version: str) -> Response:
    key, value = ctx.field("key").strip(), ctx.field("value")
    return _edit(ctx, name, version, lambda: ctx.services.registry.set_version_tag(name, version, key, value))


def delete_version_tag(ctx: PageContext, name: str, version: str) -> Response:
    key = ctx.field("key")
    return _edit(ctx, name, version, lambda: ctx.services.registry.delete_version_tag(name, version, key))


ROUTES = [
    ("GET", "/models", models_page),
    ("GET", "/models/{name}", model_page),
    ("GET", "/models/{name}/versions/{version}", version_page),
    ("POST", "/models/{name}/versions/{version}/alias", set_alias),
    ("POST", "/models/{name}/versions/{version}/alias/delete", delete_alias),
    ("POST", "/models/{name}/versions/{version}/stage", transition_stage),
    ("POST", "/models/{name}/versions/{version}/tags", set_version_tag),
    ("POST", "/models/{name}/versions/{version}/tags/delete", delete_version_tag),
]
