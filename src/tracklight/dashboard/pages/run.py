"""A run's page: overview, params, metrics, tags, datasets, logged models, charts and the artifact browser."""

from __future__ import annotations

import json
from collections.abc import Callable

from starlette.responses import RedirectResponse, Response

from tracklight.dashboard.context import PageContext
from tracklight.dashboard.forms import apply_form
from tracklight.dashboard.render import render
from tracklight.dashboard.runs_view import PARENT_TAG
from tracklight.errors import TracklightError
from tracklight.store.records import ModelOrder, Run

CHILDREN_SHOWN = 100
MODELS_SHOWN = 100
POLL_SECONDS = 3  # how often a running run's page refreshes its metrics
_SOURCE_TAGS = ("mlflow.source.name", "mlflow.source.type", "mlflow.source.git.commit", "mlflow.user")


def _logged_models(ctx: PageContext, model_ids: list[str]) -> list[dict[str, object]]:
    out = []
    for model_id in model_ids:
        try:
            model = ctx.services.logged_models.get(model_id, allow_deleted=True)
            out.append({"model_id": model_id, "name": model.name, "status": model.status})
        except TracklightError:
            out.append({"model_id": model_id, "name": "", "status": "missing"})
    return out


def _models_from_run(ctx: PageContext, run: Run) -> list[str]:
    """Ids of the logged models whose source is this run (the first page of them)."""
    found, _ = ctx.services.logged_models.search(
        experiment_ids=[str(run.experiment_id)],
        filter_string=f"source_run_id = '{run.run_id}'",  # run ids are hex: nothing to escape
        datasets=[],
        order_by=[ModelOrder("creation_time", True, None)],
        max_results=MODELS_SHOWN,
        page_token=None,
    )
    return [m.model_id for m in found]


def _history_models(tags: dict[str, str]) -> list[dict[str, str]]:
    """Models the 2.x client logged: the run's mlflow.log-model.history tag, a JSON list."""
    try:
        history = json.loads(tags.get("mlflow.log-model.history", "[]"))
    except ValueError:
        return []
    if not isinstance(history, list):
        return []
    return [
        {
            "artifact_path": str(m.get("artifact_path", "")),
            "flavors": ", ".join(map(str, m.get("flavors", {}))),
        }
        for m in history
        if isinstance(m, dict)
    ]


def run_page(
    ctx: PageContext, experiment_id: str, run_id: str, error: str = "", status: int = 200
) -> Response:
    run = ctx.services.runs.get(run_id)
    if str(run.experiment_id) != experiment_id:
        return RedirectResponse(
            ctx.url(f"/experiments/{run.experiment_id}/runs/{run.run_id}"), status_code=302
        )
    experiment = ctx.services.experiments.get(run.experiment_id)
    parent = None
    parent_id = run.tags.get(PARENT_TAG)
    if parent_id:
        try:
            parent = ctx.services.runs.get(parent_id)
        except TracklightError:
            parent = None
    children, more_children = ctx.services.runs.search(
        experiment_ids=[str(run.experiment_id)],
        filter_string=f"tags.`{PARENT_TAG}` = '{run.run_id}'",
        run_view_type="ACTIVE_ONLY",
        order_by=["attributes.start_time DESC"],
        max_results=CHILDREN_SHOWN,
        page_token=None,
    )
    metrics = sorted(run.metrics, key=lambda m: m.key)
    user_tags = {k: v for k, v in sorted(run.tags.items()) if not k.startswith("mlflow.")}
    system_tags = {k: v for k, v in sorted(run.tags.items()) if k.startswith("mlflow.")}
    outputs = [m for m, _ in run.model_outputs]
    # MLflow 3 models logged from the run name it as their source without a recorded output link.
    outputs += [m for m in _models_from_run(ctx, run) if m not in outputs]
    # Traces linked to the run, or made in it; the link appears when there is at least one.
    linked, _ = ctx.services.traces.search([str(run.experiment_id)], f"run_id = '{run.run_id}'", 1, [], None)
    return render(
        ctx,
        "run.html",
        status,
        error=error,
        title=run.run_name or run.run_id,
        experiment=experiment,
        run=run,
        parent=parent,
        parent_id=parent_id,
        children=children,
        more_children=more_children is not None,
        metrics=metrics,
        user_tags=user_tags,
        system_tags=system_tags,
        source={k: run.tags.get(k, "") for k in _SOURCE_TAGS},
        logged_outputs=_logged_models(ctx, outputs),
        logged_inputs=_logged_models(ctx, [m for m in run.model_inputs if m not in outputs]),
        history_models=_history_models(run.tags),
        base=f"/experiments/{run.experiment_id}/runs/{run.run_id}",
        poll_seconds=POLL_SECONDS,
        traces_filter=f"run_id = '{run.run_id}'" if linked else "",
    )


def run_live(ctx: PageContext, experiment_id: str, run_id: str) -> Response:
    """The metrics section and status of a run, polled by its page while it runs; polling stops once not."""
    run = ctx.services.runs.get(run_id)
    return render(
        ctx,
        "run_live_partial.html",
        run=run,
        metrics=sorted(run.metrics, key=lambda m: m.key),
        base=f"/experiments/{run.experiment_id}/runs/{run.run_id}",
        poll_seconds=POLL_SECONDS,
    )


def _edit_tags(ctx: PageContext, experiment_id: str, run_id: str, action: Callable[[], object]) -> Response:
    """Apply a tag form, then back to the run's page (or the page again, saying what was refused)."""
    return apply_form(
        action,
        ctx.url(f"/experiments/{experiment_id}/runs/{run_id}#tags-heading"),
        lambda message: run_page(ctx, experiment_id, run_id, error=message, status=422),
    )


def set_run_tag(ctx: PageContext, experiment_id: str, run_id: str) -> Response:
    key, value = ctx.field("key").strip(), ctx.field("value")
    return _edit_tags(ctx, experiment_id, run_id, lambda: ctx.services.runs.set_tag(run_id, key, value))


def delete_run_tag(ctx: PageContext, experiment_id: str, run_id: str) -> Response:
    key = ctx.field("key")
    return _edit_tags(ctx, experiment_id, run_id, lambda: ctx.services.runs.delete_tag(run_id, key))


ROUTES = [
    ("GET", "/experiments/{experiment_id}/runs/{run_id}", run_page),
    ("GET", "/experiments/{experiment_id}/runs/{run_id}/live", run_live),
    ("POST", "/experiments/{experiment_id}/runs/{run_id}/tags", set_run_tag),
    ("POST", "/experiments/{experiment_id}/runs/{run_id}/tags/delete", delete_run_tag),
]
