"""Selected runs side by side: their attributes, params and latest metrics, and overlaid metric charts."""

from __future__ import annotations

from starlette.responses import Response

from tracklight.dashboard.context import PageContext
from tracklight.dashboard.render import render
from tracklight.errors import InvalidParameter, TracklightError

MAX_COMPARED = 100


def compare_page(ctx: PageContext) -> Response:
    run_ids = list(dict.fromkeys(ctx.args("run")))
    if not run_ids:
        raise InvalidParameter("Select at least one run to compare.")
    if len(run_ids) > MAX_COMPARED:
        raise InvalidParameter(f"Compare at most {MAX_COMPARED} runs at once.")
    runs = []
    missing = []
    for run_id in run_ids:
        try:
            runs.append(ctx.services.runs.get(run_id))
        except TracklightError:
            missing.append(run_id)
    params = sorted({k for r in runs for k in r.params})
    metric_keys = sorted({m.key for r in runs for m in r.metrics})
    latest = {r.run_id: {m.key: m.value for m in r.metrics} for r in runs}
    differs = {k for k in params if len({r.params.get(k) for r in runs}) > 1}
    return render(
        ctx,
        "compare.html",
        title="Compare runs",
        runs=runs,
        missing=missing,
        params=params,
        metric_keys=metric_keys,
        latest=latest,
        differs=differs,
        names={r.run_id: r.run_name or r.run_id for r in runs},
    )


ROUTES = [("GET", "/compare", compare_page)]
