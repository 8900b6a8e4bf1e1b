"""A logged model's page: what it is, where it came from, its params, metrics and tags, and its files."""

from __future__ import annotations

from starlette.responses import Response

from tracklight.dashboard.context import PageContext
from tracklight.dashboard.render import render
from tracklight.errors import TracklightError


def logged_model_page(ctx: PageContext, model_id: str) -> Response:
    model = ctx.services.logged_models.get(model_id, allow_deleted=True)
    experiment = ctx.services.experiments.get(str(model.experiment_id))
    run = None
    if model.source_run_id:
        try:
            run = ctx.services.runs.get(model.source_run_id)
        except TracklightError:
            run = None
    metrics = sorted(model.metrics, key=lambda m: (m.key, m.dataset_name or "", m.step, m.timestamp))
    return render(
        ctx,
        "logged_model.html",
        title=model.name or model.model_id,
        model=model,
        experiment=experiment,
        run=run,
        metrics=metrics,
        user_tags={k: v for k, v in sorted(model.tags.items()) if not k.startswith("mlflow.")},
        system_tags={k: v for k, v in sorted(model.tags.items()) if k.startswith("mlflow.")},
        base=f"/logged-models/{model.model_id}",
    )


ROUTES = [("GET", "/logged-models/{model_id}", logged_model_page)]
