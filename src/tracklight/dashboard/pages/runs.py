"""Runs tables: one experiment's, or several experiments' side by side; server-side pages, nested, sortable."""

from __future__ import annotations

from starlette.responses import JSONResponse, Response

from tracklight.dashboard.context import PageContext
from tracklight.dashboard.render import render
from tracklight.dashboard.runs_view import (
    ATTRIBUTES,
    LIFECYCLES,
    PAGE_SIZES,
    RunsView,
    key_columns,
    nest,
)
from tracklight.errors import InvalidParameter
from tracklight.store.records import Experiment, Run

MAX_EXPERIMENTS = 20  # experiments one table spans
MAX_CHILDREN = 500  # children fetched for the parents on a page
CHOOSER_KEYS = 1000  # keys of each kind offered as columns
COMPLETION_KEYS = 5000  # keys of each kind offered while typing a filter


def _children_elsewhere(
    ctx: PageContext, experiment_ids: list[str], view: RunsView, found: list[Run]
) -> list[Run]:
    """The children of the page's runs that the page itself does not hold (same filter and lifecycle)."""
    on_page = {r.run_id for r in found}
    ids = ctx.services.runs.child_ids(
        [r.run_id for r in found], experiment_ids, LIFECYCLES[view.lifecycle], MAX_CHILDREN
    )
    missing = [i for i in ids if i not in on_page]
    if not missing:
        return []
    # Run ids are hex, so quoting them needs no escaping; the user's filter still applies to children.
    wanted = "attributes.run_id IN (" + ",".join(f"'{i}'" for i in missing) + ")"
    children, _ = ctx.services.runs.search(
        experiment_ids=experiment_ids,
        filter_string=f"{wanted} and {view.filter}" if view.filter else wanted,
        run_view_type=LIFECYCLES[view.lifecycle],
        order_by=["attributes.start_time ASC"],
        max_results=len(missing),
        page_token=None,
    )
    return children


def _table(ctx: PageContext, experiments: list[Experiment], base: str, view: RunsView) -> Response:
    experiment_ids = [str(e.experiment_id) for e in experiments]
    error = ""
    children: list[Run] = []
    try:
        found, next_token = ctx.services.runs.search(
            experiment_ids=experiment_ids,
            filter_string=view.filter or None,
            run_view_type=LIFECYCLES[view.lifecycle],
            order_by=view.order_by(),
            max_results=view.size,
            page_token=view.page_token or None,
        )
        children = _children_elsewhere(ctx, experiment_ids, view, found)
    except InvalidParameter as exc:
        # A filter the grammar refuses (or a stale page token): show why, with an empty table.
        found, next_token, error = [], None, exc.message
    params, metrics, tags = key_columns(found, view)
    all_params, all_metrics, all_tags = ctx.services.runs.keys(experiment_ids, CHOOSER_KEYS)
    multi = len(experiments) > 1
    return render(
        ctx,
        "runs.html",
        400 if error else 200,
        title=experiments[0].name if not multi else f"Runs of {len(experiments)} experiments",
        experiments=experiments,
        experiment_names={e.experiment_id: e.name for e in experiments},
        multi=multi,
        view=view,
        rows=nest(found, children),
        attributes=ATTRIBUTES,
        params=params,
        metrics=metrics,
        tags=tags,
        all_params=sorted(set(all_params) | set(params)),
        all_metrics=sorted(set(all_metrics) | set(metrics)),
        all_tags=sorted({k for k in all_tags if not k.startswith("mlflow.")} | set(tags)),
        next_token=next_token,
        page_sizes=PAGE_SIZES,
        error=error,
        base=base,
        keys_url=ctx.url("/dashboard-data/run-keys", [("experiment", e) for e in experiment_ids]),
    )


def runs_page(ctx: PageContext, experiment_id: str) -> Response:
    experiment = ctx.services.experiments.get(experiment_id)
    return _table(ctx, [experiment], f"/experiments/{experiment.experiment_id}", RunsView.from_query(ctx))


def _experiments(ctx: PageContext) -> list[Experiment]:
    ids = list(dict.fromkeys(ctx.args("experiment")))
    if not ids:
        raise InvalidParameter("Choose at least one experiment (?experiment=ID, repeated).")
    if len(ids) > MAX_EXPERIMENTS:
        raise InvalidParameter(f"A runs table spans at most {MAX_EXPERIMENTS} experiments.")
    return [ctx.services.experiments.get(i) for i in ids]


def several_experiments_page(ctx: PageContext) -> Response:
    experiments = _experiments(ctx)
    view = RunsView.from_query(ctx)
    if len(experiments) == 1:
        view.scope = []
        return _table(ctx, experiments, f"/experiments/{experiments[0].experiment_id}", view)
    view.scope = [str(e.experiment_id) for e in experiments]
    return _table(ctx, experiments, "/runs", view)


def run_keys(ctx: PageContext) -> Response:
    """{params, metrics, tags}: the keys in use in the experiments, for completing a filter as it is typed."""
    experiments = _experiments(ctx)
    params, metrics, tags = ctx.services.runs.keys(
        [str(e.experiment_id) for e in experiments], COMPLETION_KEYS
    )
    return JSONResponse(
        {"params": params, "metrics": metrics, "tags": tags},
        headers={"Cache-Control": "no-store", "X-Content-Type-Options": "nosniff"},
    )


ROUTES = [
    ("GET", "/experiments/{experiment_id}", runs_page),
    ("GET", "/runs", several_experiments_page),
    ("GET", "/dashboard-data/run-keys", run_keys),
]
