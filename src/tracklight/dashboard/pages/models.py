"""Model registry pages: the models list with search, a model with its versions, one version."""

from __future__ import annotations

from urllib.parse import quote

from starlette.responses import Response

from tracklight.dashboard.context import PageContext
from tracklight.dashboard.render import render
from tracklight.errors import TracklightError

PAGE_SIZE = 100


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


def version_page(ctx: PageContext, name: str, version: str) -> Response:
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
        title=f"{found.name} v{found.version}",
        version=found,
        run=run,
        logged=logged,
        model_path=model_path,
    )


ROUTES = [
    ("GET", "/models", models_page),
    ("GET", "/models/{name}", model_page),
    ("GET", "/models/{name}/versions/{version}", version_page),
]
