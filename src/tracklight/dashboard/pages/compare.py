"""Selected runs side by side: their attributes, params and latest metrics, and overlaid metric charts."""

from __future__ import annotations

import math

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
    scatter = {
        "runs": [
            {
                "name": r.run_name or r.run_id,
                "params": r.params,
                # JSON has no NaN or infinity; such a run is left off that axis.
                "metrics": {k: v for k, v in latest[r.run_id].items() if math.isfinite(v)},
            }
            for r in runs
        ]
    }
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
        scatter=scatter,
        # The plot opens on a param that differs (else the first) against the first metric.
        scatter_x=next((k for k in params if k in differs), params[0] if params else ""),
    )


ROUTES = [("GET", "/compare", compare_page)]
