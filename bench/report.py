"""The results table: one row per measure, one column per server, ratios and PASS/FAIL against the targets."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

OURS = "tracklight"


@dataclass(frozen=True)
class Target:
    """`ours <op> factor * peer` (peer None: `ours <op> factor` as an absolute bound)."""

    peer: str | None
    op: str  # "<=" or ">="
    factor: float
    backends: tuple[str, ...] | None = None  # None: every backend

    def applies(self, backend: str | None) -> bool:
        return self.backends is None or backend is None or backend in self.backends

    def describe(self) -> str:
        if self.peer is None:
            return f"{self.op} {self.factor:g}"
        return f"{self.op} {self.factor:g}× {self.peer}"

    def check(self, figures: dict[str, float | None]) -> bool | None:
        ours = figures.get(OURS)
        ref = self.factor if self.peer is None else figures.get(self.peer)
        if ours is None or ref is None:
            return None
        bound = ref if self.peer is None else self.factor * ref
        return ours <= bound if self.op == "<=" else ours >= bound


@dataclass(frozen=True)
class Measure:
    key: str
    label: str
    digits: int
    targets: tuple[Target, ...] = ()


MEASURES: tuple[Measure, ...] = (
    Measure("start_s", "start → first 200 on /health, s (median of 3)", 2, (Target(None, "<=", 1.0),)),
    Measure("idle_rss_mb", "idle RSS, MB (process tree)", 0, (Target(None, "<=", 120.0),)),
    Measure(
        "ingest_pps",
        "ingest, points/s (log-batch ×1000, 4 threads)",
        0,
        (Target("fml", ">=", 2.0), Target("mlflow", ">=", 8.0)),
    ),
    Measure("cpu_per_1k", "server+DB CPU s per 1000 points", 4, (Target("fml", "<=", 0.5),)),
    Measure("loaded_rss_mb", "peak RSS during ingest, MB", 0),
    Measure("create_1t_rps", "runs/create, runs/s (1 thread, 1900 runs)", 0, (Target("fml", ">=", 1.5),)),
    Measure("create_8t_rps", "runs/create, runs/s (8 threads, 1900 runs)", 0, (Target("fml", ">=", 1.5),)),
    Measure("log_metric_p50_ms", "log-metric p50, ms (500 sequential)", 2, (Target("fml", "<=", 0.8),)),
    Measure("log_metric_p99_ms", "log-metric p99, ms", 2),
    Measure(
        "search_p50_ms",
        "filtered search p50, ms (100 of 2000+ runs, no ANALYZE)",
        1,
        (Target("fml", "<=", 0.7, ("postgresql",)), Target("fml", "<=", 1.0, ("sqlite", "mysql"))),
    ),
    Measure(
        "search_analyzed_p50_ms",
        "filtered search p50 after ANALYZE, ms (PostgreSQL)",
        1,
        (Target("fml", "<=", 1.0, ("postgresql",)),),
    ),
    Measure("listing_p50_ms", "full listing p50, ms (HTTP, pages of 1000)", 1, (Target("fml", "<=", 1.0),)),
    Measure(
        "client_listing_p50_ms",
        "full listing p50, ms (MlflowClient.search_runs)",
        1,
        (Target("fml", "<=", 1.0),),
    ),
    Measure(
        "history_p50_ms", "get-history 100k points p50, ms (pages of 25000)", 1, (Target("fml", "<=", 0.5),)
    ),
    Measure(
        "bulk_p50_ms", "get-history-bulk-interval p50, ms (10 runs, 320)", 2, (Target("mlflow", "<=", 0.2),)
    ),
    Measure("bytes_per_point", "store bytes per metric point", 1, (Target("mlflow", "<=", 0.5),)),
)


def _fmt(value: float | None, digits: int) -> str:
    if value is None:
        return "n/a"
    if digits == 0 or abs(value) >= 10000:
        return f"{value:,.0f}"
    return f"{value:.{digits}f}"


def _ratio(a: float | None, b: float | None) -> str:
    if a is None or b is None or b == 0:
        return "n/a"
    r = a / b
    return f"{r:.2f}" if r < 100 else f"{r:.0f}"


def verdict(m: Measure, figures: dict[str, float | None], backend: str | None = None) -> tuple[str, str]:
    """('PASS'|'FAIL'|'n/a'|'', target text); a partly checkable target gets a '?' mark."""
    targets = [t for t in m.targets if t.applies(backend)]
    if not targets:
        return "", ""
    results = [t.check(figures) for t in targets]
    text = " and ".join(t.describe() for t in targets)
    checked = [r for r in results if r is not None]
    if not checked:
        return "n/a", text
    word = "PASS" if all(checked) else "FAIL"
    return (word if len(checked) == len(results) else f"{word}?"), text


def rows(
    servers: list[str],
    figures: dict[str, dict[str, float | None]],
    measures: tuple[Measure, ...] = MEASURES,
    backend: str | None = None,
) -> list[dict[str, Any]]:
    """One dict per measure: the figures, the two ratios, the target (for this backend) and the verdict."""
    out = []
    for m in measures:
        per = {s: figures.get(s, {}).get(m.key) for s in servers}
        ours = per.get(OURS)
        word, target = verdict(m, per, backend)
        out.append(
            {
                "measure": m.key,
                "label": m.label,
                "figures": per,
                "cells": [_fmt(per[s], m.digits) for s in servers],
                **{f"{OURS}/{s}": _ratio(ours, per.get(s)) for s in {"fml", "mlflow", *servers} - {OURS}},
                "target": target,
                "verdict": word,
            }
        )
    return out


def markdown_table(
    servers: list[str], table: list[dict[str, Any]], peers: tuple[str, ...] = ("fml", "mlflow")
) -> str:
    """A Markdown table padded into columns, readable in a terminal and pasteable into the README."""
    ratios = [f"{OURS}/{p}" for p in peers]
    header = ["measure", *servers, *ratios, "target (tracklight)", "result"]
    body = [[r["label"], *r["cells"], *(r[k] for k in ratios), r["target"], r["verdict"]] for r in table]
    widths = [max(len(row[i]) for row in [header, *body]) for i in range(len(header))]

    def line(cells: list[str]) -> str:
        padded = [c.ljust(widths[0]) if i == 0 else c.rjust(widths[i]) for i, c in enumerate(cells)]
        return "| " + " | ".join(padded) + " |"

    sep = "|" + "|".join(("-" * (w + 1) + ":") if i else ("-" * (w + 2)) for i, w in enumerate(widths)) + "|"
    return "\n".join([line(header), sep, *(line(r) for r in body)])
