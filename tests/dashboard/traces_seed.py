"""Traces for the dashboard tests, made with the stock mlflow client (@mlflow.trace, log_feedback) or sent
over OTLP when there are too many spans for the client to make quickly."""

from __future__ import annotations

import contextlib
import os
from dataclasses import dataclass, field
from typing import Any

from harness.otlp_spans import export, span_tree

from dashboard.seed import XSS_IMG, XSS_SCRIPT

PLAIN_TRACES = 30  # traces besides the three named below: enough for two pages of 25


@dataclass
class SeededTraces:
    experiment_id: str
    run_id: str
    pipeline: str  # nested spans, in a run, with feedback, an expectation and a tag
    failed: str  # its root raised: state ERROR
    xss: str  # markup in its inputs, name and tag
    plain: list[str] = field(default_factory=list)
    spans: dict[str, str] = field(default_factory=dict)  # span name -> span id, of the pipeline trace


def seed_traces(mlflow: Any, tracking_uri: str, name: str) -> SeededTraces:
    """An experiment of traces: a nested pipeline inside a run, one that failed, one with markup, and
    PLAIN_TRACES small ones."""
    mlflow.set_tracking_uri(tracking_uri)
    experiment_id = mlflow.set_experiment(name).experiment_id

    @mlflow.trace(span_type="RETRIEVER")
    def retrieve(query: str) -> list[str]:
        return [f"doc about {query}", "another doc"]

    @mlflow.trace(span_type="LLM")
    def generate(query: str, docs: list[str]) -> str:
        return f"answer to {query} from {len(docs)} docs"

    @mlflow.trace(name="pipeline", span_type="CHAIN")
    def pipeline(query: str) -> str:
        mlflow.update_current_trace(tags={"env": "prod"})
        return generate(query, retrieve(query))

    @mlflow.trace(name="failing")
    def failing(x: int) -> int:
        raise ValueError(f"cannot handle {x}")

    @mlflow.trace(name="plain")
    def plain(i: int) -> int:
        return i * 2

    @mlflow.trace(name="xss" + XSS_SCRIPT)
    def marked(text: str) -> str:
        mlflow.update_current_trace(tags={"note": XSS_IMG})
        return text

    with mlflow.start_run() as run:
        pipeline("what is tracing?")
        pipeline_id = mlflow.get_last_active_trace_id()
    with contextlib.suppress(ValueError):
        failing(7)
    failed_id = mlflow.get_last_active_trace_id()
    marked(XSS_SCRIPT + XSS_IMG)
    xss_id = mlflow.get_last_active_trace_id()
    plain_ids = []
    for i in range(PLAIN_TRACES):
        plain(i)
        plain_ids.append(mlflow.get_last_active_trace_id())
    mlflow.flush_trace_async_logging()
    mlflow.log_feedback(
        trace_id=pipeline_id,
        name="correctness",
        value=True,
        rationale="cites both documents",
        source=mlflow.entities.AssessmentSource(source_type="HUMAN", source_id="reviewer-ann"),
    )
    mlflow.log_expectation(trace_id=pipeline_id, name="expected_answer", value="tracing records calls")
    spans = {s.name: s.span_id for s in mlflow.get_trace(pipeline_id).data.spans}
    return SeededTraces(
        experiment_id=experiment_id,
        run_id=run.info.run_id,
        pipeline=pipeline_id,
        failed=failed_id,
        xss=xss_id,
        plain=plain_ids,
        spans=spans,
    )


def send_wide_trace(
    url: str, experiment_id: str, count: int, *, headers: dict[str, str] | None = None
) -> str:
    """One trace of `count` spans over OTLP/JSON (in exports of 2000): a root, a few hundred children
    under it and the rest nested below them, each span carrying inputs. Returns the trace id."""
    trace_hex = os.urandom(16).hex()
    spans = span_tree(
        trace_hex,
        count,
        # Span i hangs under span (i - 1) // 3 (the root for the first ones): a tree some ten levels deep.
        parent=lambda i: (i - 1) // 3,
        child_name="step",
        attributes=lambda i: [
            {"key": "mlflow.spanInputs", "value": {"stringValue": f'{{"i": {i}, "pad": "{"x" * 200}"}}'}},
            {"key": "mlflow.spanOutputs", "value": {"stringValue": f'{{"ok": {i}}}'}},
        ],
    )
    for first in range(0, count, 2000):
        got = export(url, experiment_id, spans[first : first + 2000], headers=headers, timeout=300)
        assert got.status_code == 200, got.text[:300]
    return "tr-" + trace_hex
