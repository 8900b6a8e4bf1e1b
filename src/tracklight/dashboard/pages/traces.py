"""An experiment's traces: the searchable list, a trace's page (span tree and timeline), one span's details."""

from __future__ import annotations

import contextlib
import json
from typing import Any

from starlette.responses import RedirectResponse, Response

from tracklight.dashboard.context import PageContext
from tracklight.dashboard.render import render
from tracklight.dashboard.traces_view import (
    PAGE_SIZES,
    SORTS,
    TracesView,
    assessment_value,
    format_ms,
    format_trace_ms,
    span_tree,
    trace_row,
)
from tracklight.errors import InvalidParameter

MAX_OUTLINE = 100_000  # spans of one trace read for its tree (names and times only)
SPAN_ROWS = 1000  # tree rows per page of a trace's spans: a 10,000-span trace renders in ten pages
MAX_VALUE_CHARS = 200_000  # of one input, output or attribute in the span details; the rest is cut
SPAN_INPUTS, SPAN_OUTPUTS, SPAN_TYPE = "mlflow.spanInputs", "mlflow.spanOutputs", "mlflow.spanType"


def traces_page(ctx: PageContext, experiment_id: str) -> Response:
    experiment = ctx.services.experiments.get(experiment_id)
    view = TracesView.from_query(ctx)
    error = ""
    try:
        found, next_token = ctx.services.traces.search(
            [str(experiment.experiment_id)],
            view.filter or None,
            view.size,
            view.order_by(),
            view.page_token or None,
        )
    except InvalidParameter as exc:
        found, next_token, error = [], None, exc.message  # a filter the grammar refuses: say why
    return render(
        ctx,
        "traces.html",
        400 if error else 200,
        title=f"Traces of {experiment.name}",
        experiment=experiment,
        view=view,
        rows=[trace_row(t) for t in found],
        sorts=SORTS,
        page_sizes=PAGE_SIZES,
        next_token=next_token,
        error=error,
        base=f"/experiments/{experiment.experiment_id}/traces",
        format_ms=format_ms,
        format_trace_ms=format_trace_ms,
    )


def _pretty(raw: Any) -> str:
    """A value stored as JSON text, indented when it is JSON; cut at MAX_VALUE_CHARS."""
    text = raw if isinstance(raw, str) else json.dumps(raw, ensure_ascii=False)
    with contextlib.suppress(ValueError):
        value = json.loads(text)
        if isinstance(value, str) and value[:1] in ("{", "["):
            # JSON sent as an OTel string attribute arrives stored as a JSON string of JSON: show the inside.
            with contextlib.suppress(ValueError):
                value = json.loads(value)
        text = json.dumps(value, indent=2, ensure_ascii=False)
    if len(text) > MAX_VALUE_CHARS:
        return text[:MAX_VALUE_CHARS] + f"\n… ({len(text) - MAX_VALUE_CHARS} more characters not shown)"
    return text


def _span_details(content: dict[str, Any]) -> dict[str, Any]:
    attributes = content.get("attributes") or {}
    attributes = attributes if isinstance(attributes, dict) else {}
    status = content.get("status") or {}
    start, end = content.get("start_time_unix_nano"), content.get("end_time_unix_nano")
    span_type = attributes.get(SPAN_TYPE)
    with contextlib.suppress(ValueError):
        span_type = json.loads(span_type) if isinstance(span_type, str) else span_type
    return {
        "name": content.get("name") or "",
        "type": span_type or "",
        "status": str(status.get("code", "")).removeprefix("STATUS_CODE_")
        if isinstance(status, dict)
        else "",
        "status_message": status.get("message", "") if isinstance(status, dict) else "",
        "start_ms": int(start) // 1_000_000 if isinstance(start, int) else None,
        "duration": format_ms((end - start) / 1e6) if isinstance(start, int) and isinstance(end, int) else "",
        "inputs": _pretty(attributes[SPAN_INPUTS]) if SPAN_INPUTS in attributes else None,
        "outputs": _pretty(attributes[SPAN_OUTPUTS]) if SPAN_OUTPUTS in attributes else None,
        "attributes": [
            (k, _pretty(v)) for k, v in sorted(attributes.items()) if k not in (SPAN_INPUTS, SPAN_OUTPUTS)
        ],
        "events": [
            {
                "name": e.get("name", ""),
                "time_ms": int(e.get("time_unix_nano") or 0) // 1_000_000,
                "attributes": [(k, _pretty(v)) for k, v in sorted((e.get("attributes") or {}).items())],
            }
            for e in content.get("events") or []
            if isinstance(e, dict)
        ],
    }


def _trace_url(experiment_id: object, trace_id: str) -> str:
    return f"/experiments/{experiment_id}/traces/{trace_id}"


def trace_page(ctx: PageContext, experiment_id: str, trace_id: str, span_id: str = "") -> Response:
    trace, in_store, outline = ctx.services.traces.outline(trace_id, MAX_OUTLINE)
    if str(trace.experiment_id) != experiment_id:
        return RedirectResponse(ctx.url(_trace_url(trace.experiment_id, trace.trace_id)), status_code=302)
    experiment = ctx.services.experiments.get(trace.experiment_id)
    nodes = span_tree(outline)
    span_id = span_id or ctx.arg("span")
    offset = ctx.arg("spans")
    start = int(offset) if offset.isdigit() and int(offset) < len(nodes) else 0
    if span_id and not offset:  # open the page of the tree that holds the chosen span
        at = next((i for i, n in enumerate(nodes) if n.span.span_id == span_id), 0)
        start = at - at % SPAN_ROWS
    selected = None
    if span_id:
        selected = _span_details(ctx.services.traces.span(trace_id, span_id))
    elif nodes:
        span_id = nodes[0].span.span_id
        selected = _span_details(ctx.services.traces.span(trace_id, span_id))
    base = _trace_url(trace.experiment_id, trace.trace_id)
    return render(
        ctx,
        "trace.html",
        title=trace.tags.get("mlflow.traceName") or trace.trace_id,
        experiment=experiment,
        trace=trace,
        row=trace_row(trace),
        in_store=in_store,
        nodes=nodes[start : start + SPAN_ROWS],
        span_count=len(nodes),
        truncated=len(outline) >= MAX_OUTLINE,
        first_row=start,
        span_rows=SPAN_ROWS,
        selected=selected,
        selected_id=span_id,
        assessments=[(a, assessment_value(a)) for a in trace.assessments],
        user_tags=sorted((k, v) for k, v in trace.tags.items() if not k.startswith("mlflow.")),
        system_tags=sorted((k, v) for k, v in trace.tags.items() if k.startswith("mlflow.")),
        base=base,
        format_ms=format_ms,
        format_trace_ms=format_trace_ms,
    )


def span_details(ctx: PageContext, experiment_id: str, trace_id: str, span_id: str) -> Response:
    """One span's inputs, outputs, attributes and events: the fragment a click on the tree loads, or the
    whole trace page with that span chosen when the address is opened on its own."""
    if not ctx.partial:
        return trace_page(ctx, experiment_id, trace_id, span_id)
    found = ctx.services.traces.span(trace_id, span_id)  # checks the caller may read the trace
    return render(ctx, "trace_span.html", selected=_span_details(found), selected_id=span_id)


ROUTES = [
    ("GET", "/experiments/{experiment_id}/traces", traces_page),
    ("GET", "/experiments/{experiment_id}/traces/{trace_id}", trace_page),
    ("GET", "/experiments/{experiment_id}/traces/{trace_id}/spans/{span_id}", span_details),
]
