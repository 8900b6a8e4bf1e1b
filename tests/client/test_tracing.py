"""MLflow tracing through the stock client: @mlflow.trace on a function, a nested call tree and a coroutine,
then search, get, tags, links to runs and deletes; and a trace of thousands of spans sent over OTLP.

Under the 2.22 client the traces go through the legacy v2 API and a traces.json artifact; what that client
cannot do (links to runs, OTLP spans read back through the client) is skipped with the reason."""

from __future__ import annotations

import asyncio
import concurrent.futures
import json
import os
import random
import re
import threading
import time
from types import ModuleType
from typing import Any

import pytest
import requests
from harness.api import assert_error, get, is_mlflow3, ok, post
from harness.otlp_spans import export, otlp_span, span_tree
from harness.plugin import Tracking

TRACE_ID = re.compile(r"^tr-[0-9a-f]{32}$")


def _flush(mlflow: ModuleType) -> None:
    flush = getattr(mlflow, "flush_trace_async_logging", None)
    if flush is not None:
        flush()


def _last_trace_id(mlflow: ModuleType) -> str:
    if is_mlflow3():
        trace_id = mlflow.get_last_active_trace_id()
    else:
        last = mlflow.get_last_active_trace()
        # None if the OpenTelemetry SDK is too new for mlflow 2.22 (requirements/mlflow2.txt pins it).
        assert last is not None, "the 2.22 client exported no trace"
        trace_id = last.info.request_id
    assert trace_id is not None
    _flush(mlflow)
    return trace_id


def _info_id(info: Any) -> str:
    return info.trace_id if is_mlflow3() else info.request_id


def _search(tracking: Tracking, experiment_id: str, **kwargs: Any) -> Any:
    if is_mlflow3():
        return tracking.client.search_traces(locations=[experiment_id], **kwargs)
    return tracking.client.search_traces(experiment_ids=[experiment_id], **kwargs)


def _state(info: Any) -> str:
    return str(info.state if is_mlflow3() else info.status).rsplit(".", 1)[-1]


# -- /version and our own version -------------------------------------------------------------------------


def test_version_enables_otlp_spans_and_the_header_names_tracklight(tracking: Tracking) -> None:
    resp = requests.get(tracking.url + "/version", timeout=30)
    assert resp.status_code == 200
    # The 3.x client sends spans over OTLP only to servers of 3.4 or later.
    major, minor = (int(p) for p in resp.text.strip().split(".")[:2])
    assert (major, minor) >= (3, 4)
    assert re.fullmatch(r"\d+\.\d+\.\d+.*", resp.headers["x-tracklight-version"])
    assert resp.headers["x-tracklight-version"] != resp.text.strip()


# -- the client's workflows ----------------------------------------------------------------------------------


def test_trace_a_function(mlflow: ModuleType, tracking: Tracking) -> None:

    @mlflow.trace
    def add(a: int, b: int) -> int:
        return a + b

    assert add(2, 3) == 5
    trace_id = _last_trace_id(mlflow)
    assert TRACE_ID.match(trace_id)
    trace = tracking.client.get_trace(trace_id)
    assert _info_id(trace.info) == trace_id
    assert trace.info.experiment_id == tracking.experiment_id
    assert _state(trace.info) == "OK"
    assert [s.name for s in trace.data.spans] == ["add"]
    span = trace.data.spans[0]
    assert span.inputs == {"a": 2, "b": 3}
    assert span.outputs == 5
    assert span.parent_id is None
    if is_mlflow3():
        assert trace.info.request_time > 0
        assert trace.info.execution_duration is not None and trace.info.execution_duration >= 0
        assert '"a": 2' in (trace.info.request_preview or "")
        assert trace.info.response_preview == "5"


def test_trace_a_nested_call_tree(mlflow: ModuleType, tracking: Tracking) -> None:

    @mlflow.trace(span_type="TOOL")
    def leaf(i: int) -> int:
        return i * 10

    @mlflow.trace
    def step(i: int) -> int:
        return leaf(i) + 1

    @mlflow.trace(name="pipeline")
    def pipeline(n: int) -> list[int]:
        return [step(i) for i in range(n)]

    assert pipeline(3) == [1, 11, 21]
    trace_id = _last_trace_id(mlflow)
    trace = tracking.client.get_trace(trace_id)
    spans = trace.data.spans
    assert len(spans) == 7
    by_id = {s.span_id: s for s in spans}
    root = next(s for s in spans if s.parent_id is None)
    assert root.name == "pipeline" and root.outputs == [1, 11, 21]
    # The 2.22 client numbers repeated span names itself (step_1, step_2, ...); the 3.x client does not.
    steps = [s for s in spans if re.fullmatch(r"step(_\d+)?", s.name)]
    leaves = [s for s in spans if re.fullmatch(r"leaf(_\d+)?", s.name)]
    assert len(steps) == 3 and len(leaves) == 3
    assert all(s.parent_id == root.span_id for s in steps)
    assert all(by_id[s.parent_id] in steps for s in leaves)
    assert sorted(s.inputs["i"] for s in leaves) == [0, 1, 2]
    assert {s.span_type for s in leaves} == {"TOOL"}
    # The root comes first, the rest in start order.
    assert spans[0].span_id == root.span_id
    starts = [s.start_time_ns for s in spans[1:]]
    assert starts == sorted(starts)


def test_trace_an_async_function(mlflow: ModuleType, tracking: Tracking) -> None:

    @mlflow.trace
    async def fetch(x: int) -> int:
        await asyncio.sleep(0)
        return await double(x)

    @mlflow.trace
    async def double(x: int) -> int:
        return x * 2

    # A thread of its own: another test's client code (in this process) may have left an event loop
    # marked running on the main thread, where asyncio.run refuses to start.
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        assert pool.submit(asyncio.run, fetch(21)).result() == 42
    trace = tracking.client.get_trace(_last_trace_id(mlflow))
    names = sorted(s.name for s in trace.data.spans)
    assert names == ["double", "fetch"]
    root = next(s for s in trace.data.spans if s.parent_id is None)
    assert root.name == "fetch" and root.outputs == 42


def test_search_tags_and_delete(mlflow: ModuleType, tracking: Tracking) -> None:
    ids = []
    for label in ("first", "second", "third"):

        @mlflow.trace(name=label)
        def work(label: str = label) -> str:
            return label.upper()

        work()
        ids.append(_last_trace_id(mlflow))
        time.sleep(0.01)  # distinct start times, so that the newest-first order is determined
    exp = tracking.experiment_id
    assert exp is not None

    found = _search(tracking, exp)
    assert [_info_id(t.info) for t in found] == ids[::-1]  # newest first
    oldest_first = _search(tracking, exp, order_by=["timestamp ASC"])
    assert [_info_id(t.info) for t in oldest_first] == ids
    page = _search(tracking, exp, max_results=2)
    assert [_info_id(t.info) for t in page] == ids[:0:-1] and page.token
    rest = _search(tracking, exp, max_results=2, page_token=page.token)
    assert [_info_id(t.info) for t in rest] == ids[:1] and not rest.token
    # The spans come along with each trace the client lists.
    assert [s.name for s in found[0].data.spans] == ["third"]

    named = _search(tracking, exp, filter_string="trace.name = 'second'")
    assert [_info_id(t.info) for t in named] == [ids[1]]

    client = tracking.client
    client.set_trace_tag(ids[0], "reviewed", "yes")
    assert client.get_trace(ids[0]).info.tags["reviewed"] == "yes"
    tagged = _search(tracking, exp, filter_string="tags.reviewed = 'yes'")
    assert [_info_id(t.info) for t in tagged] == [ids[0]]
    client.delete_trace_tag(ids[0], "reviewed")
    assert "reviewed" not in client.get_trace(ids[0]).info.tags
    assert list(_search(tracking, exp, filter_string="tags.reviewed = 'yes'")) == []

    if is_mlflow3():
        deleted = client.delete_traces(exp, trace_ids=[ids[1]])
    else:
        deleted = client.delete_traces(exp, request_ids=[ids[1]])
    assert deleted == 1
    assert [_info_id(t.info) for t in _search(tracking, exp)] == [ids[2], ids[0]]
    assert client.delete_traces(exp, max_timestamp_millis=int(time.time() * 1000) + 60_000) == 2
    assert list(_search(tracking, exp)) == []
    from mlflow.exceptions import MlflowException

    with pytest.raises(MlflowException):
        client.get_trace(ids[0])


def test_traces_linked_to_runs(mlflow: ModuleType, tracking: Tracking) -> None:
    if not is_mlflow3():
        pytest.skip("the 2.22 client has no link_traces_to_run and searches no run_id")

    @mlflow.trace
    def answer(q: str) -> str:
        return q[::-1]

    with mlflow.start_run() as run:
        answer("made in the run")
        made_in_run = _last_trace_id(mlflow)
    answer("linked later")
    linked = _last_trace_id(mlflow)
    answer("not linked")
    unrelated = _last_trace_id(mlflow)
    tracking.client.link_traces_to_run(trace_ids=[linked], run_id=run.info.run_id)
    exp = tracking.experiment_id
    assert exp is not None

    in_run = _search(tracking, exp, filter_string=f"attribute.run_id = '{run.info.run_id}'")
    assert {t.info.trace_id for t in in_run} == {made_in_run, linked}
    everything = mlflow.search_traces(locations=[exp], return_type="list")
    assert {t.info.trace_id for t in everything} == {made_in_run, linked, unrelated}
    assert tracking.client.get_trace(made_in_run).info.trace_metadata["mlflow.sourceRun"] == run.info.run_id
    # A trace can be linked before its export arrives (the client links as soon as a trace ends).
    early = "tr-" + os.urandom(16).hex()
    tracking.client.link_traces_to_run(trace_ids=[early], run_id=run.info.run_id)
    # Linking to a run that does not exist is an error.
    from mlflow.exceptions import MlflowException

    with pytest.raises(MlflowException):
        tracking.client.link_traces_to_run(trace_ids=[linked], run_id="f" * 32)


def test_full_text_and_span_filters(mlflow: ModuleType, tracking: Tracking) -> None:
    if not is_mlflow3():
        pytest.skip(
            "span data is in traces.json artifacts under the 2.22 client; the server searches span rows"
        )

    @mlflow.trace(span_type="RETRIEVER")
    def retrieve(q: str) -> str:
        mlflow.get_current_active_span().set_attribute("model", "gpt-4o")
        return "documents about " + q

    @mlflow.trace
    def plain(q: str) -> str:
        return q

    retrieve("zebras")
    zebra = _last_trace_id(mlflow)
    plain("giraffes")
    giraffe = _last_trace_id(mlflow)
    exp = tracking.experiment_id
    assert exp is not None
    by_text = _search(tracking, exp, filter_string="trace.text LIKE '%zebras%'")
    assert [t.info.trace_id for t in by_text] == [zebra]
    by_type = _search(tracking, exp, filter_string="span.type = 'RETRIEVER'")
    assert [t.info.trace_id for t in by_type] == [zebra]
    by_name = _search(tracking, exp, filter_string="span.name = 'plain'")
    assert [t.info.trace_id for t in by_name] == [giraffe]
    for by_attribute, expected in (
        ("span.attributes.model LIKE '%gpt%'", [zebra]),
        ("span.attributes.model ILIKE '%GPT-4O%'", [zebra]),
        ("span.attributes.model RLIKE '^gpt-4'", [zebra]),
        ("span.attributes.model RLIKE '^4o'", []),
        ("span.attributes.model RLIKE '4o$'", [zebra]),
        ("span.attributes.`mlflow.spanType` RLIKE 'RETRIEVER$'", [zebra]),
        ("span.status RLIKE '^O'", [zebra, giraffe]),
    ):
        found = _search(tracking, exp, filter_string=by_attribute)
        assert sorted(t.info.trace_id for t in found) == sorted(expected), by_attribute
    location = [{"type": "MLFLOW_EXPERIMENT", "mlflow_experiment": {"experiment_id": exp}}]
    search = tracking.api("traces/search", "3.0")
    for bad in ("span.attributes.model = 'x'", "span.attributes. LIKE 'x'", "span.nope.model LIKE 'x'"):
        assert_error(post(search, {"locations": location, "filter": bad}), 400, "INVALID_PARAMETER_VALUE")


def test_legacy_trace_api_of_the_2x_client(tracking: Tracking) -> None:
    """What the 2.22 client sends for a trace (StartTrace, the traces.json upload to the trace's artifact
    location, EndTrace), through its own client code, then read back, searched, tagged and deleted."""
    if is_mlflow3():
        pytest.skip("the 3.x client's legacy calls are MLflow's own test_legacy_start_and_end_trace_v2")
    from mlflow.entities import Span, TraceData
    from mlflow.entities.trace_status import TraceStatus

    client = tracking.client
    exp = client.create_experiment(tracking.new_name())
    start = int(time.time() * 1000)
    info = client._start_tracked_trace(
        experiment_id=exp, timestamp_ms=start, request_metadata={"m": "1"}, tags={"team": "a"}
    )
    assert TRACE_ID.match(info.request_id) and info.status == TraceStatus.IN_PROGRESS
    assert info.tags["mlflow.artifactLocation"].endswith(f"{exp}/traces/{info.request_id}/artifacts")
    span = Span.from_dict(
        {
            "name": "legacy",
            "context": {"trace_id": os.urandom(16).hex(), "span_id": os.urandom(8).hex()},
            "parent_id": None,
            "start_time": start * 1_000_000,
            "end_time": (start + 5) * 1_000_000,
            "status_code": "OK",
            "status_message": "",
            "attributes": {"mlflow.traceRequestId": f'"{info.request_id}"', "mlflow.spanInputs": '{"q": 1}'},
            "events": [],
        }
    )
    client._upload_trace_data(info, TraceData(spans=[span]))
    info.status, info.execution_time_ms = TraceStatus.OK, 5
    info.tags["mlflow.traceName"] = "legacy"
    ended = client._upload_ended_trace_info(info)
    assert (ended.status, ended.execution_time_ms, ended.request_metadata) == (TraceStatus.OK, 5, {"m": "1"})

    trace = client.get_trace(info.request_id)
    assert [s.name for s in trace.data.spans] == ["legacy"] and trace.data.spans[0].inputs == {"q": 1}
    found = client.search_traces(experiment_ids=[exp], filter_string="tags.team = 'a'")
    assert [t.info.request_id for t in found] == [info.request_id]
    assert list(client.search_traces(experiment_ids=[exp], filter_string="trace.status = 'ERROR'")) == []
    client.set_trace_tag(info.request_id, "k", "v")
    assert client.get_trace(info.request_id).info.tags["k"] == "v"
    client.delete_trace_tag(info.request_id, "k")
    assert "k" not in client.get_trace(info.request_id).info.tags
    # get-trace-artifact serves the uploaded traces.json when the spans are not in the database.
    artifact = get(tracking.ajax("get-trace-artifact"), {"request_id": info.request_id})
    assert artifact.status_code == 200 and artifact.json()["spans"][0]["name"] == "legacy"
    assert client.delete_traces(exp, request_ids=[info.request_id]) == 1
    assert list(client.search_traces(experiment_ids=[exp])) == []


def test_prompts_linked_to_a_trace(mlflow: ModuleType, tracking: Tracking) -> None:
    if not is_mlflow3():
        pytest.skip("the 2.22 client has no traces/link-prompts")

    @mlflow.trace
    def ask(q: str) -> str:
        return q

    ask("which prompt?")
    trace_id = _last_trace_id(mlflow)
    ask("no prompt")
    other = _last_trace_id(mlflow)
    url = tracking.api("traces/link-prompts")
    for version in ("1", "2", "1"):
        body = {"trace_id": trace_id, "prompt_versions": [{"name": "qa_prompt", "version": version}]}
        ok(post(url, body))
    tags = tracking.client.get_trace(trace_id).info.tags
    assert json.loads(tags["mlflow.linkedPrompts"]) == [
        {"name": "qa_prompt", "version": "1"},
        {"name": "qa_prompt", "version": "2"},
    ]
    exp = tracking.experiment_id
    assert exp is not None
    found = _search(tracking, exp, filter_string="trace.prompt = 'qa_prompt/2'")
    assert [t.info.trace_id for t in found] == [trace_id]
    assert list(_search(tracking, exp, filter_string="trace.prompt = 'qa_prompt/3'")) == []
    assert {t.info.trace_id for t in _search(tracking, exp)} == {trace_id, other}
    assert_error(post(url, {"trace_id": trace_id, "prompt_versions": []}), 400, "INVALID_PARAMETER_VALUE")


# -- OTLP -------------------------------------------------------------------------------------------------


def _otlp_json_spans(trace_hex: str, count: int) -> tuple[list[dict[str, Any]], dict[str, str | None]]:
    """`count` spans of one trace as OTLP/JSON (hex ids): a root, and each other span under a random
    earlier one; with their parents, by span id."""
    spans = span_tree(
        trace_hex,
        count,
        parent=random.randrange,
        child_name="child",
        attributes=lambda i: [
            {"key": "index", "value": {"intValue": str(i)}},
            {
                "key": "mlflow.spanInputs",
                "value": {"kvlistValue": {"values": [{"key": "i", "value": {"intValue": i}}]}},
            },
        ],
    )
    return spans, {s["spanId"]: s.get("parentSpanId") for s in spans}


def test_a_trace_of_thousands_of_spans_over_otlp_comes_back_whole(tracking: Tracking) -> None:
    exp = tracking.client.create_experiment(tracking.new_name())
    trace_hex = os.urandom(16).hex()
    spans, parents = _otlp_json_spans(trace_hex, 2000)
    # Sent in two exports, as a batching exporter would, the root last.
    assert export(tracking.url, exp, spans[1000:]).status_code == 200
    assert export(tracking.url, exp, spans[:1000]).status_code == 200
    trace_id = "tr-" + trace_hex

    artifact = requests.get(tracking.ajax("get-trace-artifact"), params={"request_id": trace_id}, timeout=120)
    assert artifact.status_code == 200, artifact.text[:300]
    assert artifact.headers["Content-Disposition"] == "attachment; filename=traces.json"
    data = artifact.json()["spans"]
    assert len(data) == 2000
    assert data[0]["name"] == "root" and data[0]["parent_span_id"] is None

    # The same document where a client's artifact repository looks for the trace's data.
    via_repo = get(
        f"{tracking.url}/api/2.0/mlflow-artifacts/artifacts/{exp}/traces/{trace_id}/artifacts/traces.json"
    )
    assert via_repo.status_code == 200 and via_repo.json()["spans"] == data

    info = ok(get(tracking.api(f"traces/{trace_id}", "3.0")))["trace"]["trace_info"]
    assert info["state"] == "OK"
    assert info["tags"]["mlflow.trace.spansLocation"] == "TRACKING_STORE"
    assert info["request_preview"] == '{"i": 0}'

    if not is_mlflow3():
        pytest.skip("the 2.22 client reads spans only in its own (v2) traces.json format")
    trace = tracking.client.get_trace(trace_id)
    got = trace.data.spans
    assert len(got) == 2000
    assert {s.span_id: s.parent_id for s in got} == parents
    assert sorted(s.get_attribute("index") for s in got) == list(range(2000))
    assert got[0].name == "root"


def _json_span(
    trace_hex: str, span_id: str, parent: str | None, start_s: int, end_s: int, **extra: Any
) -> dict[str, Any]:
    name = extra.pop("name", span_id)
    return otlp_span(
        trace_hex, span_id, parent, name, start_s * 1_000_000_000, end_s * 1_000_000_000, **extra
    )


def test_one_export_of_several_traces(tracking: Tracking) -> None:
    """A batching exporter sends spans of many traces in one request: each trace gets its own times,
    state, previews and tags, whatever else the request carries."""
    exp = tracking.client.create_experiment(tracking.new_name())
    done, failed, partial, known = (os.urandom(16).hex() for _ in range(4))
    # `known` was started by the client (StartTraceV3) before its spans: its times are the client's.
    ok(
        post(
            tracking.api("traces", "3.0"),
            {
                "trace": {
                    "trace_info": {
                        "trace_id": "tr-" + known,
                        "trace_location": {
                            "type": "MLFLOW_EXPERIMENT",
                            "mlflow_experiment": {"experiment_id": exp},
                        },
                        "request_time": "1970-01-01T00:01:40Z",
                        "execution_duration": "7s",
                        "state": "OK",
                    }
                }
            },
        )
    )
    q = {"kvlistValue": {"values": [{"key": "q", "value": {"stringValue": "hi"}}]}}
    inputs = {"key": "mlflow.spanInputs", "value": q}
    outputs = {"key": "mlflow.spanOutputs", "value": {"stringValue": "hello"}}
    tag = {"key": "mlflow.traceTag.env", "value": {"stringValue": "prod"}}
    spans = [
        _json_span(done, "00000000000000a1", None, 10, 20, attributes=[inputs, outputs, tag]),
        _json_span(failed, "00000000000000b1", None, 30, 45, status=2, attributes=[inputs]),
        _json_span(done, "00000000000000a2", "00000000000000a1", 11, 12),
        _json_span(partial, "00000000000000c2", "00000000000000c1", 50, 52),
        _json_span(failed, "00000000000000b2", "00000000000000b1", 31, 44),
        _json_span(partial, "00000000000000c3", "00000000000000c1", 49, 51),
        _json_span(known, "00000000000000d1", None, 1, 500),
    ]
    assert export(tracking.url, exp, spans).status_code == 200
    # A span sent again replaces the one stored.
    again = _json_span(done, "00000000000000a2", "00000000000000a1", 11, 13, name="renamed")
    assert export(tracking.url, exp, [again]).status_code == 200

    def info(trace_hex: str) -> dict[str, Any]:
        return ok(get(tracking.api(f"traces/tr-{trace_hex}", "3.0")))["trace"]["trace_info"]

    got = {
        name: info(h)
        for name, h in (("done", done), ("failed", failed), ("partial", partial), ("known", known))
    }
    assert [got[n]["state"] for n in ("done", "failed", "partial", "known")] == [
        "OK",
        "ERROR",
        "IN_PROGRESS",
        "OK",
    ]
    assert (got["done"]["request_time"], got["done"]["execution_duration"]) == ("1970-01-01T00:00:10Z", "10s")
    assert (got["failed"]["request_time"], got["failed"]["execution_duration"]) == (
        "1970-01-01T00:00:30Z",
        "15s",
    )
    assert (got["partial"]["request_time"], got["partial"]["execution_duration"]) == (
        "1970-01-01T00:00:49Z",
        "3s",
    )
    assert (got["known"]["request_time"], got["known"]["execution_duration"]) == (
        "1970-01-01T00:01:40Z",
        "7s",
    )
    assert (got["done"]["request_preview"], got["done"]["response_preview"]) == ('{"q": "hi"}', '"hello"')
    assert got["failed"]["request_preview"] == '{"q": "hi"}' and not got["failed"].get("response_preview")
    assert got["done"]["tags"]["env"] == "prod" and "env" not in got["failed"]["tags"]
    for one in got.values():
        assert one["tags"]["mlflow.trace.spansLocation"] == "TRACKING_STORE"
        assert one["tags"]["mlflow.artifactLocation"].endswith("/traces/" + one["trace_id"] + "/artifacts")
    served = ok(get(tracking.api("traces/get", "3.0"), {"trace_id": "tr-" + done}))["trace"]["spans"]
    assert sorted(s["name"] for s in served) == ["00000000000000a1", "renamed"]
    found = ok(
        post(
            tracking.api("traces/search", "3.0"),
            {
                "locations": [{"type": "MLFLOW_EXPERIMENT", "mlflow_experiment": {"experiment_id": exp}}],
                "filter": "tag.env = 'prod'",
            },
        )
    )["traces"]
    assert [t["trace_id"] for t in found] == ["tr-" + done]


def test_spans_of_new_traces_sent_at_once_by_many_senders(tracking: Tracking) -> None:
    """Exports that each carry part of traces the server has not seen yet, in flight at the same time:
    whichever creates a trace, the others' spans, times, root state, preview and tags all land on it."""
    exp = tracking.client.create_experiment(tracking.new_name())
    traces = [os.urandom(16).hex() for _ in range(3)]
    root_inputs = {"key": "mlflow.spanInputs", "value": {"stringValue": "question"}}
    tag = {"key": "mlflow.traceTag.team", "value": {"stringValue": "search"}}
    filler = [{"key": "mlflow.spanOutputs", "value": {"stringValue": "x" * 1000}}]
    senders = 8
    exports: list[list[dict[str, Any]]] = [[] for _ in range(senders)]
    for t in traces:
        # The root (10 s to 100 s, an error) goes in the first export.
        exports[0].append(
            _json_span(t, "0000000000000001", None, 10, 100, status=2, attributes=[root_inputs, tag])
        )
        for i, spans in enumerate(exports):
            # Export i stretches the trace to start 10 - i s and end 100 + 8 - i s: the earliest start
            # and the latest end come from different exports, so whichever creates the trace, another
            # one's times must be merged into it.
            spans.append(_json_span(t, f"{i + 2:016x}", "0000000000000001", 10 - i, 100 + senders - i))
            # Enough spans that the exports' transactions overlap.
            spans += [
                _json_span(t, f"{1000 * (i + 1) + k:016x}", "0000000000000001", 20, 30, attributes=filler)
                for k in range(200)
            ]
    barrier = threading.Barrier(senders)

    def send(spans: list[dict[str, Any]]) -> int:
        barrier.wait()
        return export(tracking.url, exp, spans).status_code

    with concurrent.futures.ThreadPoolExecutor(senders) as pool:
        assert list(pool.map(send, exports)) == [200] * senders
    for t in traces:
        info = ok(get(tracking.api(f"traces/tr-{t}", "3.0")))["trace"]["trace_info"]
        assert (info["request_time"], info["execution_duration"]) == ("1970-01-01T00:00:03Z", "105s")
        assert (info["state"], info["request_preview"]) == ("ERROR", '"question"')
        assert info["tags"]["team"] == "search"
        assert info["tags"]["mlflow.artifactLocation"].endswith(f"/traces/tr-{t}/artifacts")
        assert info["trace_location"]["mlflow_experiment"]["experiment_id"] == exp
        served = ok(get(tracking.api("traces/get", "3.0"), {"trace_id": "tr-" + t}))["trace"]["spans"]
        assert len(served) == 1 + senders * 201


def test_otlp_protobuf_export(tracking: Tracking) -> None:
    pytest.importorskip("opentelemetry.proto", reason="opentelemetry-proto is not installed in this venv")
    from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

    exp = tracking.client.create_experiment(tracking.new_name())
    request = ExportTraceServiceRequest()
    span = request.resource_spans.add().scope_spans.add().spans.add()
    trace_bytes = os.urandom(16)
    span.trace_id, span.span_id, span.name = trace_bytes, os.urandom(8), "proto-root"
    span.start_time_unix_nano, span.end_time_unix_nano = 1_000_000_000, 3_500_000_000
    span.status.code = 2  # ERROR
    attr = span.attributes.add()
    attr.key, attr.value.string_value = "fruit", "apple"
    resp = requests.post(
        tracking.url + "/v1/traces",
        data=request.SerializeToString(),
        headers={"Content-Type": "application/x-protobuf", "x-mlflow-experiment-id": exp},
        timeout=60,
    )
    assert resp.status_code == 200, resp.text
    trace_id = "tr-" + trace_bytes.hex()
    got = ok(get(tracking.api("traces/get", "3.0"), {"trace_id": trace_id}))["trace"]
    assert got["trace_info"]["state"] == "ERROR"
    assert got["trace_info"]["request_time"] == "1970-01-01T00:00:01Z"
    assert got["trace_info"]["execution_duration"] == "2.500s"
    assert {"key": "fruit", "value": {"string_value": "apple"}} in got["spans"][0]["attributes"]

    # Wrong content type, missing header, a body that is not OTLP, an unknown experiment.
    url = tracking.url + "/v1/traces"
    headers = {"x-mlflow-experiment-id": exp}
    assert (
        requests.post(
            url, data=b"x", headers={**headers, "Content-Type": "text/plain"}, timeout=30
        ).status_code
        == 400
    )
    no_header = requests.post(
        url, data=request.SerializeToString(), headers={"Content-Type": "application/x-protobuf"}, timeout=30
    )
    assert no_header.status_code == 400
    garbage = requests.post(
        url,
        data=b"\xff\x00garbage",
        headers={**headers, "Content-Type": "application/x-protobuf"},
        timeout=30,
    )
    assert garbage.status_code == 400
    unknown = requests.post(
        url,
        data=request.SerializeToString(),
        headers={"Content-Type": "application/x-protobuf", "x-mlflow-experiment-id": "987654321"},
        timeout=30,
    )
    # The trace exists already (in `exp`): its spans go to it. A new trace in no experiment is refused.
    assert unknown.status_code == 200
    span.trace_id = os.urandom(16)
    missing = requests.post(
        url,
        data=request.SerializeToString(),
        headers={"Content-Type": "application/x-protobuf", "x-mlflow-experiment-id": "987654321"},
        timeout=30,
    )
    assert missing.status_code == 404


# -- the wire, for what the client does not show -----------------------------------------------------------


def test_search_validation_and_errors(tracking: Tracking) -> None:
    exp = tracking.client.create_experiment(tracking.new_name())
    search = tracking.api("traces/search", "3.0")
    location = [{"type": "MLFLOW_EXPERIMENT", "mlflow_experiment": {"experiment_id": exp}}]
    assert ok(post(search, {"locations": location})) == {}
    assert_error(post(search, {"locations": location, "max_results": 501}), 400, "INVALID_PARAMETER_VALUE")
    assert_error(
        post(search, {"locations": location, "filter": "nope.x = 'y'"}), 400, "INVALID_PARAMETER_VALUE"
    )
    assert_error(
        post(search, {"locations": location, "filter": "trace.status = 1"}), 400, "INVALID_PARAMETER_VALUE"
    )
    assert_error(post(search, {"locations": location, "page_token": "bogus"}), 400, "INVALID_PARAMETER_VALUE")
    assert_error(post(search, {}), 400, "INVALID_PARAMETER_VALUE")
    assert_error(get(tracking.api("traces/tr-" + "0" * 32, "3.0")), 404, "RESOURCE_DOES_NOT_EXIST")
    assert_error(
        get(tracking.api("traces/get", "3.0"), {"trace_id": "tr-" + "0" * 32}), 404, "RESOURCE_DOES_NOT_EXIST"
    )
    delete = tracking.api("traces/delete-traces", "3.0")
    assert_error(post(delete, {"experiment_id": exp}), 400, "INVALID_PARAMETER_VALUE")
    assert ok(post(delete, {"experiment_id": exp, "max_timestamp_millis": 1})) == {"traces_deleted": 0}


def test_get_without_allow_partial_waits_for_spans_still_on_their_way(tracking: Tracking) -> None:
    """The client sends a trace's info and its spans apart; a read that wants the whole trace waits a little
    for spans its size stats still miss, as MLflow's server does, then answers 404."""
    exp = tracking.client.create_experiment(tracking.new_name())

    def started(spans: list[dict[str, Any]]) -> str:
        trace_hex = spans[0]["traceId"]
        assert export(tracking.url, exp, spans[1:]).status_code == 200  # the root is still to come
        info = {
            "trace_id": "tr-" + trace_hex,
            "trace_location": {"type": "MLFLOW_EXPERIMENT", "mlflow_experiment": {"experiment_id": exp}},
            "request_time": "2026-01-01T00:00:00Z",
            "state": "OK",
            "trace_metadata": {"mlflow.trace.sizeStats": json.dumps({"num_spans": len(spans)})},
        }
        ok(post(tracking.api("traces", "3.0"), {"trace": {"trace_info": info}}))
        return "tr-" + trace_hex

    spans, _ = _otlp_json_spans(os.urandom(16).hex(), 3)
    trace_id = started(spans)
    partial = ok(get(tracking.api("traces/get", "3.0"), {"trace_id": trace_id, "allow_partial": "true"}))
    assert len(partial["trace"]["spans"]) == 2

    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        late_root = pool.submit(lambda: (time.sleep(0.5), export(tracking.url, exp, spans[:1]))[1])
        whole = ok(get(tracking.api("traces/get", "3.0"), {"trace_id": trace_id}))
        assert late_root.result().status_code == 200
    assert len(whole["trace"]["spans"]) == 3

    never = started(_otlp_json_spans(os.urandom(16).hex(), 2)[0])
    assert_error(get(tracking.api("traces/get", "3.0"), {"trace_id": never}), 404, "RESOURCE_DOES_NOT_EXIST")
