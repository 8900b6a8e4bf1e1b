"""The runs table's state as the URL carries it (filter, sort, columns, page), and the rows it shows."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import ClassVar

from tracklight.dashboard.context import PageContext
from tracklight.dashboard.table_view import SortedPagesView
from tracklight.store.records import Run

PAGE_SIZES = (25, 50, 100, 250)
DEFAULT_PAGE_SIZE = 50
LIFECYCLES = {"active": "ACTIVE_ONLY", "deleted": "DELETED_ONLY", "all": "ALL"}
MAX_BACK = 100  # pages remembered for "previous"; further back, "first page" still works
DEFAULT_KEY_COLUMNS = 8  # params or metrics shown when the URL names none
PARENT_TAG = "mlflow.parentRunId"

# Attribute columns: (sort key in the search grammar, or None when it cannot sort, label).
ATTRIBUTES: list[tuple[str, str | None, str]] = [
    ("run_name", "attributes.run_name", "Name"),
    ("status", "attributes.status", "Status"),
    ("start_time", "attributes.start_time", "Started"),
    ("duration", None, "Duration"),
    ("user_id", "attributes.user_id", "User"),
]


def _quoted(key: str) -> str:
    return "`" + key.replace("`", "``") + "`"


def sort_expression(column: str) -> str | None:
    """`params.lr` → "params.`lr`" for order_by; attributes pass through; anything else is refused."""
    kind, _, key = column.partition(".")
    if kind == "attributes":
        return column if any(sort == column for _, sort, _ in ATTRIBUTES) else None
    if kind in ("params", "metrics", "tags") and key:
        return f"{kind}.{_quoted(key)}"
    return None


@dataclass(slots=True)
class RunsView(SortedPagesView):
    """What the URL asks the runs table to show."""

    default_sort: ClassVar[str] = "attributes.start_time"

    filter: str = ""
    sort: str = "attributes.start_time"
    descending: bool = True
    lifecycle: str = "active"
    size: int = DEFAULT_PAGE_SIZE
    page_token: str = ""
    back: list[str] = field(default_factory=list)  # the tokens of the pages before this one, oldest first
    scope: list[str] = field(default_factory=list)  # experiment ids when the table spans several (/runs)
    params: list[str] = field(default_factory=list)
    metrics: list[str] = field(default_factory=list)
    tags: list[str] = field(default_factory=list)
    chosen: bool = False  # the URL chose the key columns (possibly none)

    @classmethod
    def from_query(cls, ctx: PageContext) -> RunsView:
        view = cls(filter=ctx.arg("filter").strip(), page_token=ctx.arg("page"))
        view.back = ctx.args("back")[-MAX_BACK:] if view.page_token else []
        sort = ctx.arg("sort")
        if sort and sort_expression(sort) is not None:
            view.sort = sort
        view.descending = ctx.arg("dir", "desc") != "asc"
        lifecycle = ctx.arg("lifecycle")
        view.lifecycle = lifecycle if lifecycle in LIFECYCLES else "active"
        size = ctx.arg("size")
        view.size = int(size) if size.isdigit() and int(size) in PAGE_SIZES else DEFAULT_PAGE_SIZE
        view.params, view.metrics, view.tags = ctx.args("param"), ctx.args("metric"), ctx.args("tag")
        view.chosen = ctx.arg("cols") == "1" or bool(view.params or view.metrics or view.tags)
        return view

    def order_by(self) -> list[str]:
        expression = sort_expression(self.sort) or "attributes.start_time"
        return [f"{expression} {'DESC' if self.descending else 'ASC'}"]

    def query(self, back: Sequence[str] = (), **changes: object) -> list[tuple[str, object]]:
        """This view's query string pairs with some changed; a change of anything but the page restarts paging.

        `back` is the stack of earlier pages' tokens that a page link carries for "previous".
        """
        values: dict[str, object] = {
            "filter": self.filter,
            "sort": self.sort if self.sort != "attributes.start_time" else "",
            "dir": "" if self.descending else "asc",
            "lifecycle": self.lifecycle if self.lifecycle != "active" else "",
            "size": self.size if self.size != DEFAULT_PAGE_SIZE else "",
            "page": "",
        }
        values.update(changes)
        pairs: list[tuple[str, object]] = [("experiment", e) for e in self.scope]
        pairs += [(k, v) for k, v in values.items() if v not in ("", None)]
        if values["page"]:
            pairs += [("back", token) for token in back]
        if self.chosen:
            pairs.append(("cols", "1"))
            pairs += [("param", k) for k in self.params]
            pairs += [("metric", k) for k in self.metrics]
            pairs += [("tag", k) for k in self.tags]
        return pairs


@dataclass(slots=True)
class RunRow:
    """One table row: the run, its place in the tree of parents on this page, how many children follow."""

    run: Run
    depth: int = 0
    children: int = 0
    parent_elsewhere: str | None = None  # the parent's id when the parent is not on this page
    ancestors: list[str] = field(default_factory=list)  # parents on this page, nearest last
    fetched: bool = False  # a child shown under its parent though the page itself did not hold it
    latest: dict[str, float] = field(default_factory=dict)


def nest(runs: list[Run], extra_children: Sequence[Run] = ()) -> list[RunRow]:
    """Order a page so each run follows its parent (when the parent is on the page), indented.

    `extra_children` are children of the page's runs that the page did not hold; they are shown
    under their parent, and dropped when their parent is not on the page.
    """
    on_page = {r.run_id for r in runs}
    fetched = {r.run_id for r in extra_children if r.run_id not in on_page}
    everyone = [*runs, *(r for r in extra_children if r.run_id in fetched)]
    by_id = {r.run_id: r for r in everyone}
    children: dict[str, list[Run]] = {}
    roots: list[Run] = []
    for run in everyone:
        parent = run.tags.get(PARENT_TAG)
        if parent and parent in by_id and parent != run.run_id:
            children.setdefault(parent, []).append(run)
        elif run.run_id not in fetched:
            roots.append(run)
    rows: list[RunRow] = []
    seen: set[str] = set()

    def add(run: Run, ancestors: list[str]) -> None:
        if run.run_id in seen:
            return
        seen.add(run.run_id)
        parent = run.tags.get(PARENT_TAG)
        row = RunRow(
            run=run,
            depth=min(len(ancestors), 6),
            children=len(children.get(run.run_id, [])),
            parent_elsewhere=parent if parent and parent not in by_id else None,
            ancestors=ancestors,
            fetched=run.run_id in fetched,
            latest={m.key: m.value for m in run.metrics},
        )
        rows.append(row)
        for child in children.get(run.run_id, []):
            add(child, [*ancestors, run.run_id])

    for run in roots:
        add(run, [])
    for run in runs:  # a cycle of parent tags leaves runs unreached; show them anyway
        add(run, [])
    return rows


def key_columns(runs: list[Run], view: RunsView) -> tuple[list[str], list[str], list[str]]:
    """The param, metric and tag columns: those the URL chose, else the first keys seen on the page."""
    if view.chosen:
        return view.params, view.metrics, view.tags
    params: dict[str, None] = {}
    metrics: dict[str, None] = {}
    for run in runs:
        params.update(dict.fromkeys(run.params))
        metrics.update(dict.fromkeys(m.key for m in run.metrics))
    return sorted(params)[:DEFAULT_KEY_COLUMNS], sorted(metrics)[:DEFAULT_KEY_COLUMNS], []
