"""The traces list's state as the URL carries it, the summary of each row, and a trace's span tree."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar

from tracklight.dashboard.context import PageContext
from tracklight.dashboard.table_view import SortedPagesView
from tracklight.store.assessments import AssessmentRecord
from tracklight.store.traces import SpanOutline, TraceRecord

PAGE_SIZES = (25, 50, 100, 250)
DEFAULT_PAGE_SIZE = 50
MAX_BACK = 100  # pages remembered for "previous"
DEFAULT_SORT = "timestamp_ms"
# Sortable columns: the trace search's order_by key, and the header's label.
SORTS = {
    "name": "Name",
    "status": "Status",
    "timestamp_ms": "Request time",
    "execution_time_ms": "Execution time",
}
TRACE_NAME_TAG = "mlflow.traceName"
PREVIEW_CHARS = 160  # of the request and response previews in a list row
TIMELINE_WIDTH = 1000  # the timeline bars' coordinate space (an SVG viewBox)
MAX_DEPTH_CLASS = 24  # deeper spans are indented as this depth (the CSS has classes up to it)


@dataclass(slots=True)
class TracesView(SortedPagesView):
    """What the URL asks the traces list to show: filter, order, page size, page and the pages before it."""

    default_sort: ClassVar[str] = DEFAULT_SORT

    filter: str = ""
    sort: str = DEFAULT_SORT
    descending: bool = True
    size: int = DEFAULT_PAGE_SIZE
    page_token: str = ""
    back: list[str] = field(default_factory=list)

    @classmethod
    def from_query(cls, ctx: PageContext) -> TracesView:
        view = cls(filter=ctx.arg("filter").strip(), page_token=ctx.arg("page"))
        view.back = ctx.args("back")[-MAX_BACK:] if view.page_token else []
        sort = ctx.arg("sort")
        view.sort = sort if sort in SORTS else DEFAULT_SORT
        view.descending = ctx.arg("dir", "desc") != "asc"
        size = ctx.arg("size")
        view.size = int(size) if size.isdigit() and int(size) in PAGE_SIZES else DEFAULT_PAGE_SIZE
        return view

    def order_by(self) -> list[str]:
        # The id breaks ties in the same direction, so newest first reads the (experiment, time, id)
        # index backwards with no sort (MySQL cannot mix directions within one index scan).
        direction = "DESC" if self.descending else "ASC"
        return [f"{self.sort} {direction}", f"request_id {direction}"]

    def query(self, back: Sequence[str] = (), **changes: object) -> list[tuple[str, object]]:
        """This view's query pairs with some changed; changing anything but the page starts from the first."""
        values: dict[str, object] = {
            "filter": self.filter,
            "sort": self.sort if self.sort != DEFAULT_SORT else "",
            "dir": "" if self.descending else "asc",
            "size": self.size if self.size != DEFAULT_PAGE_SIZE else "",
            "page": "",
        }
        values.update(changes)
        pairs = [(k, v) for k, v in values.items() if v not in ("", None)]
        if values["page"]:
            pairs += [("back", token) for token in back]
        return pairs


def short(text: str | None, limit: int = PREVIEW_CHARS) -> str:
    if not text:
        return ""
    return text if len(text) <= limit else text[: limit - 1] + "…"


def unwrapped(text: str | None) -> str:
    """A preview as a person reads it: JSON that an OTel string attribute carried arrives as a JSON string
    of JSON, shown here as the JSON inside."""
    if not text or not text.startswith('"'):
        return text or ""
    try:
        inner = json.loads(text)
    except ValueError:
        return text
    return inner if isinstance(inner, str) and inner[:1] in ("{", "[") else text


def _shown(value: Any) -> str:
    """An assessment value as a cell shows it: strings bare, anything else as compact JSON."""
    if isinstance(value, str):
        return value
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def assessment_value(a: AssessmentRecord) -> str:
    """What an assessment says: a feedback's value (or its error), an expectation's value, an issue's name."""
    try:
        body = json.loads(a.body)
    except ValueError:
        return a.body
    if not isinstance(body, dict):
        return _shown(body)
    if a.kind == "issue":
        return str(body.get("issue_name", ""))
    if "value" in body:
        return _shown(body["value"])
    serialized = body.get("serialized_value")
    if isinstance(serialized, dict) and "value" in serialized:
        return str(serialized["value"])
    error = body.get("error")
    if isinstance(error, dict):
        return "error: " + str(error.get("error_message") or error.get("error_code") or "")
    return ""


@dataclass(frozen=True, slots=True)
class TraceRow:
    """One row of the traces list."""

    trace: TraceRecord
    name: str
    request: str  # the previews, unwrapped and shortened for a list row
    response: str
    request_full: str  # unwrapped, as the server keeps them (up to 1000 characters)
    response_full: str
    tags: list[tuple[str, str]]
    assessments: list[tuple[str, str]]  # (name, value) of the valid ones


def trace_row(trace: TraceRecord) -> TraceRow:
    return TraceRow(
        trace=trace,
        name=trace.tags.get(TRACE_NAME_TAG, ""),
        request=short(unwrapped(trace.request_preview)),
        response=short(unwrapped(trace.response_preview)),
        request_full=unwrapped(trace.request_preview),
        response_full=unwrapped(trace.response_preview),
        tags=sorted((k, short(v, 60)) for k, v in trace.tags.items() if not k.startswith("mlflow.")),
        assessments=[(a.name, short(assessment_value(a), 40)) for a in trace.assessments if a.valid],
    )


@dataclass(frozen=True, slots=True)
class SpanNode:
    """A span as a row of the tree: its depth, how many rows below belong to it, and its timeline bar."""

    span: SpanOutline
    depth: int
    descendants: int
    bar_x: int
    bar_width: int
    duration_ms: float | None

    @property
    def indent(self) -> int:
        return min(self.depth, MAX_DEPTH_CLASS)


def span_tree(outline: Sequence[SpanOutline]) -> list[SpanNode]:
    """The spans in tree order (each after its parent, siblings by start time), with timeline bars scaled
    to the trace. A span whose parent is missing is shown as a root; iterative, so any depth is fine."""
    if not outline:
        return []
    start = min(s.start_time_unix_nano for s in outline)
    end = max(max(s.end_time_unix_nano or s.start_time_unix_nano, s.start_time_unix_nano) for s in outline)
    scale = TIMELINE_WIDTH / max(end - start, 1)
    ids = {s.span_id for s in outline}
    children: dict[str | None, list[SpanOutline]] = {}
    for s in outline:  # already by start time, so each child list is too
        parent = s.parent_span_id if s.parent_span_id in ids and s.parent_span_id != s.span_id else None
        children.setdefault(parent, []).append(s)
    order: list[tuple[SpanOutline, int]] = []
    seen: set[str] = set()
    stack = [(s, 0) for s in reversed(children.get(None, []))]
    while stack:
        span, depth = stack.pop()
        if span.span_id in seen:
            continue
        seen.add(span.span_id)
        order.append((span, depth))
        stack += [(c, depth + 1) for c in reversed(children.get(span.span_id, []))]
    order += [(s, 0) for s in outline if s.span_id not in seen]  # cycles of parent ids: shown flat
    # How many rows follow each span at a greater depth: its subtree, which the page can fold.
    descendants = [0] * len(order)
    open_rows: list[int] = []
    for i, (_, depth) in enumerate(order + [(None, -1)]):  # type: ignore[list-item] - a sentinel closes all
        while open_rows and order[open_rows[-1]][1] >= depth:
            j = open_rows.pop()
            descendants[j] = i - j - 1
        open_rows.append(i)
    nodes = []
    for i, (s, depth) in enumerate(order):
        stop = s.end_time_unix_nano if s.end_time_unix_nano is not None else s.start_time_unix_nano
        x = int((s.start_time_unix_nano - start) * scale)
        width = max(int((max(stop, s.start_time_unix_nano) - s.start_time_unix_nano) * scale), 1)
        duration = None if s.end_time_unix_nano is None else (stop - s.start_time_unix_nano) / 1e6
        nodes.append(SpanNode(s, depth, descendants[i], min(x, TIMELINE_WIDTH - 1), width, duration))
    return nodes


def format_trace_ms(ms: int | None) -> str:
    """A trace's execution time, which the store keeps in whole milliseconds: 0 means under one."""
    return "< 1ms" if ms == 0 else format_ms(ms)


def format_ms(ms: float | None) -> str:
    """A span's or trace's duration: ms below a second, else seconds."""
    if ms is None:
        return ""
    if ms == 0:
        return "0ms"
    if ms < 1:
        return f"{ms:.2f}ms"
    if ms < 1000:
        return f"{ms:.0f}ms"
    return f"{ms / 1000:.2f}s"
