"""Metric series for the charts, down-sampled on the server by the bulk-interval sampler, as JSON."""

from __future__ import annotations

import math

from starlette.responses import JSONResponse, Response

from tracklight.dashboard.context import PageContext
from tracklight.errors import InvalidParameter
from tracklight.services.runs import MAX_BULK_POINTS, MAX_BULK_RUNS

DEFAULT_POINTS = 1000


def _step(ctx: PageContext, name: str) -> int | None:
    text = ctx.arg(name).strip()
    if not text:
        return None
    try:
        return int(text)
    except ValueError:
        raise InvalidParameter(f"{name} must be an integer step, not {text!r}.") from None


def metric_series(ctx: PageContext) -> Response:
    """{key, series: [{run_id, steps, timestamps, values}]} for ?key=&run=…&points=[&start_step=&end_step=].

    A zoomed chart asks again for its step range only, so the same number of points covers less.
    """
    key = ctx.arg("key")
    run_ids = list(dict.fromkeys(ctx.args("run")))[:MAX_BULK_RUNS]
    if not key or not run_ids:
        raise InvalidParameter("A chart needs ?key= and at least one ?run=.")
    points = ctx.arg("points")
    limit = min(int(points), MAX_BULK_POINTS) if points.isdigit() and int(points) > 0 else DEFAULT_POINTS
    start, end = _step(ctx, "start_step"), _step(ctx, "end_step")
    sampled = ctx.services.runs.sampled_history(run_ids, key, limit, start, end)
    series: dict[str, dict[str, list]] = {r: {"steps": [], "timestamps": [], "values": []} for r in run_ids}
    for point in sampled:
        s = series.get(point.run_id or "")
        if s is None:
            continue
        s["steps"].append(point.step)
        s["timestamps"].append(point.timestamp)
        # JSON has no NaN or infinity: they become gaps in the line.
        s["values"].append(point.value if math.isfinite(point.value) else None)
    body = {"key": key, "series": [{"run_id": r, **s} for r, s in series.items()]}
    return JSONResponse(body, headers={"Cache-Control": "no-store", "X-Content-Type-Options": "nosniff"})


ROUTES = [("GET", "/dashboard-data/metric-series", metric_series)]
