"""The experiments list (search, run counts, last activity) and its create, rename, delete and restore forms."""

from __future__ import annotations

from starlette.responses import RedirectResponse, Response

from tracklight.dashboard.context import PageContext
from tracklight.dashboard.render import render
from tracklight.errors import TracklightError

PAGE_SIZE = 100
VIEWS = {"active": "ACTIVE_ONLY", "deleted": "DELETED_ONLY", "all": "ALL"}


def _like(text: str) -> str:
    """A search-grammar string literal matching names that contain `text` (quotes doubled)."""
    return "'%" + text.replace("'", "''") + "%'"


def experiments_page(ctx: PageContext, error: str = "", status: int = 200) -> Response:
    q = ctx.arg("q").strip()
    view = ctx.arg("view", "active")
    view = view if view in VIEWS else "active"
    found, next_token = ctx.services.experiments.search(
        filter_string=f"name ILIKE {_like(q)}" if q else None,
        view_type=VIEWS[view],
        order_by=["last_update_time DESC"],
        max_results=PAGE_SIZE,
        page_token=ctx.arg("page") or None,
    )
    activity = ctx.services.experiments.run_activity([e.experiment_id for e in found])
    rows = []
    for experiment in found:
        count, latest = activity.get(experiment.experiment_id, (0, None))
        last = max(experiment.last_update_time, latest or 0)
        rows.append({"experiment": experiment, "runs": count, "last_activity": last})
    return render(
        ctx,
        "experiments.html",
        status,
        title="Experiments",
        rows=rows,
        q=q,
        view=view,
        next_token=next_token,
        error=error,
        # Where the forms come back to: this list as it is filtered, whichever URL rendered it.
        list_url=ctx.url("/experiments", {"q": q, "view": view if view != "active" else ""}),
    )


def _back(ctx: PageContext) -> Response:
    """After a post, back to the list the form was on (only ever a path of ours)."""
    back = ctx.field("return_to")
    if not back.startswith(ctx.prefix + "/") or back.startswith("//"):
        back = ctx.url("/experiments")
    return RedirectResponse(back, status_code=303)


def _form_action(ctx: PageContext, action) -> Response:
    try:
        action()
    except TracklightError as exc:
        return experiments_page(ctx, error=exc.message, status=422)
    return _back(ctx)


def create_experiment(ctx: PageContext) -> Response:
    return _form_action(ctx, lambda: ctx.services.experiments.create(ctx.field("name").strip(), None, []))


def rename_experiment(ctx: PageContext, experiment_id: str) -> Response:
    return _form_action(
        ctx, lambda: ctx.services.experiments.rename(experiment_id, ctx.field("name").strip())
    )


def delete_experiment(ctx: PageContext, experiment_id: str) -> Response:
    return _form_action(ctx, lambda: ctx.services.experiments.set_lifecycle(experiment_id, "deleted"))


def restore_experiment(ctx: PageContext, experiment_id: str) -> Response:
    return _form_action(ctx, lambda: ctx.services.experiments.set_lifecycle(experiment_id, "active"))


ROUTES = [
    ("GET", "/", experiments_page),
    ("GET", "/experiments", experiments_page),
    ("POST", "/experiments/create", create_experiment),
    ("POST", "/experiments/{experiment_id}/rename", rename_experiment),
    ("POST", "/experiments/{experiment_id}/delete", delete_experiment),
    ("POST", "/experiments/{experiment_id}/restore", restore_experiment),
]
