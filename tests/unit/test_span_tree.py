"""The trace page's span tree: each span after its parent, siblings by start, subtree sizes for folding,
timeline bars scaled to the trace; spans whose parent is missing or who form a cycle are still shown."""

from __future__ import annotations

from tracklight.dashboard.traces_view import TIMELINE_WIDTH, span_tree
from tracklight.store.traces import SpanOutline


def span(span_id: str, parent: str | None, start: int, end: int | None) -> SpanOutline:
    return SpanOutline(span_id, parent, span_id, None, "OK", start, end)


def test_tree_order_depths_and_subtree_sizes() -> None:
    # By start time, as the store reads them: a root, two children, a grandchild under the first.
    outline = [
        span("r", None, 0, 100),
        span("a", "r", 10, 50),
        span("b", "r", 20, 90),
        span("a1", "a", 30, 40),
    ]
    nodes = span_tree(outline)
    assert [(n.span.span_id, n.depth, n.descendants) for n in nodes] == [
        ("r", 0, 3),
        ("a", 1, 1),
        ("a1", 2, 0),
        ("b", 1, 0),
    ]
    root, a = nodes[0], nodes[1]
    assert (root.bar_x, root.bar_width) == (0, TIMELINE_WIDTH)
    assert (a.bar_x, a.bar_width) == (100, 400)
    assert a.duration_ms == 40 / 1e6


def test_missing_parents_cycles_and_open_spans() -> None:
    outline = [span("x", "gone", 0, 10), span("p", "q", 5, 6), span("q", "p", 6, None)]
    nodes = span_tree(outline)
    assert sorted(n.span.span_id for n in nodes) == ["p", "q", "x"]
    assert nodes[0].span.span_id == "x" and nodes[0].depth == 0  # its parent never arrived: a root
    still_open = next(n for n in nodes if n.span.span_id == "q")
    assert still_open.duration_ms is None and still_open.bar_width == 1


def test_a_chain_ten_thousand_deep() -> None:
    outline = [span(f"{i:05d}", f"{i - 1:05d}" if i else None, i, 20_000 - i) for i in range(10_000)]
    nodes = span_tree(outline)
    assert [n.depth for n in nodes] == list(range(10_000))
    assert nodes[0].descendants == 9_999 and nodes[-1].descendants == 0
    assert nodes[-1].indent == 24  # indented no further than the stylesheet goes
