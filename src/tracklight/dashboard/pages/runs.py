"""An experiment's runs table: server-side pages of the runs search, nested, sortable, filterable."""

from __future__ import annotations

from starlette.responses import Response

from tracklight.dashboard.context import PageContext
from tracklight.dashboard.render import render
from tracklight.dashboard.runs_view import (
    ATTRIBUTES,
    LIFECYCLES,
    PAGE_SIZES,
    RunsView,
    key_columns,
    keys_on_page,
    nest,
)
from tracklight.errors import InvalidParameter


def runs_page(ctx: PageContext, experiment_id: str) -> Response:
    experiment = ctx.services.experiments.get(experiment_id)
    view = RunsView.from_query(ctx)
    error = ""
    try:
        found, next_token = ctx.services.runs.search(
            experiment_ids=[str(experiment.experiment_id)],
            filter_string=view.filter or None,
            run_view_type=LIFECYCLES[view.lifecycle],
            order_by=view.order_by(),
            max_results=view.size,
            page_token=view.page_token or None,
        )
    except InvalidParameter as exc:
        # A filter the grammar refuses (or a stale page token): show why, with an empty table.
        found, next_token, error = [], None, exc.message
    params, metrics, tags = key_columns(found, view)
    all_params, all_metrics, all_tags = keys_on_page(found)
    return render(
        ctx,
        "runs.html",
        400 if error else 200,
        title=experiment.name,
        experiment=experiment,
        view=view,
        rows=nest(found),
        attributes=ATTRIBUTES,
        params=params,
        metrics=metrics,
        tags=tags,
        all_params=sorted(set(all_params) | set(params)),
        all_metrics=sorted(set(all_metrics) | set(metrics)),
        all_tags=sorted(set(all_tags) | set(tags)),
        next_token=next_token,
        page_sizes=PAGE_SIZES,
        error=error,
        base=f"/experiments/{experiment.experiment_id}",
    )


ROUTES = [("GET", "/experiments/{experiment_id}", runs_page)]
