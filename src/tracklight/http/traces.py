"""MLflow traces on the wire: the v3 API, the legacy v2 API the 2.22 client uses, and the streamed reads
(traces/get, traces/batchGet, get-trace-artifact) whose spans are sent page by page from the database."""

from __future__ import annotations

import asyncio
import functools
import re
import time
from collections.abc import AsyncIterator, Callable
from datetime import datetime
from typing import Any

import orjson
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse

from tracklight.artifacts.paths import artifact_path
from tracklight.errors import InvalidParameter, NotFound
from tracklight.http.artifacts import ArtifactHandler, content_disposition, download, stream_file
from tracklight.http.assessments import assessment_json
from tracklight.http.encode import wire_float
from tracklight.http.request import Fields, read_fields
from tracklight.http.workers import in_worker
from tracklight.services.artifacts import Artifacts
from tracklight.services.traces import (
    SPANS_LOCATION_TAG,
    TRACKING_STORE,
    TraceIn,
    TraceNotExported,
    Traces,
    parse_state,
)
from tracklight.store.trace_metrics import Aggregation
from tracklight.store.traces import SpanKey, TraceRecord, span_key

Json = dict[str, Any]
TRACE_DATA_FILE = "traces.json"
# Spans read per database round trip while streaming a trace out.
SPAN_PAGE = 500
_EXPORT_WAITS = (1.0, 2.0)  # seconds; MLflow's server waits as long for a trace's spans
_AGGREGATIONS = ("COUNT", "SUM", "AVG", "PERCENTILE", "MIN", "MAX")  # by enum number - 1
_VIEW_TYPES = ("TRACES", "SPANS", "ASSESSMENTS")
# The last millisecond of year 9999, the largest time RFC 3339 (and protobuf's Timestamp) can write.
MAX_TIMESTAMP_MS = 253_402_300_799_999
_RFC3339 = re.compile(r"^(\d{4}-\d{2}-\d{2})[Tt ](\d{2}:\d{2}:\d{2})(?:\.(\d+))?([Zz]|[+-]\d{2}:\d{2})$")
# Where a client's artifact repository reads and writes a trace's data, under mlflow-artifacts.
_TRACE_DATA_PATH = re.compile(r"^(\d+)/traces/([^/]+)/artifacts/traces\.json$")
_DURATION = re.compile(r"^(-?)(\d+)(?:\.(\d{1,9}))?s$")


# -- wire types ---------------------------------------------------------------------------------------------


def rfc3339(ms: int) -> str:
    """Milliseconds since the epoch as protobuf's JSON Timestamp: UTC, 'Z', fraction only when nonzero."""
    ms = min(max(ms, 0), MAX_TIMESTAMP_MS)  # stored before the range was checked: shown at its bound
    minute, ms_of_minute = divmod(ms, 60_000)
    seconds, millis = divmod(ms_of_minute, 1000)
    if millis:
        return f"{_minute_text(minute)}{seconds:02d}.{millis:03d}Z"
    return f"{_minute_text(minute)}{seconds:02d}Z"


@functools.lru_cache(maxsize=4096)
def _minute_text(minute: int) -> str:
    """'YYYY-MM-DDTHH:MM:' of a minute since the epoch: a search page formats a time per trace, and
    traces close in time share their minute (time.gmtime and strftime cost three times as much)."""
    return time.strftime("%Y-%m-%dT%H:%M:", time.gmtime(minute * 60))


def duration(ms: int) -> str:
    """Milliseconds as protobuf's JSON Duration ("2s", "0.123s")."""
    sign, ms = ("-", -ms) if ms < 0 else ("", ms)
    return f"{sign}{ms // 1000}.{ms % 1000:03d}s" if ms % 1000 else f"{sign}{ms // 1000}s"


def parse_timestamp(name: str, value: Any) -> int:
    """An RFC 3339 timestamp (or milliseconds as a number) as milliseconds since the epoch."""
    if isinstance(value, int) and not isinstance(value, bool):
        return _in_range(name, value)
    match = _RFC3339.match(value) if isinstance(value, str) else None
    if match is None:
        raise InvalidParameter(f"Invalid value {value!r} for '{name}': expected an RFC 3339 timestamp")
    day, clock, fraction, zone = match.groups()
    offset = "+00:00" if zone in ("Z", "z") else zone
    try:
        moment = datetime.fromisoformat(f"{day}T{clock}{offset}")
    except ValueError as exc:
        raise InvalidParameter(f"Invalid value {value!r} for '{name}': {exc}") from None
    millis = int((fraction or "0")[:3].ljust(3, "0"))
    return _in_range(name, int(moment.timestamp()) * 1000 + millis)


def _in_range(name: str, ms: int) -> int:
    if not 0 <= ms <= MAX_TIMESTAMP_MS:
        raise InvalidParameter(f"Invalid value {ms} for '{name}': a time from 1970 to the end of year 9999")
    return ms


def parse_duration(name: str, value: Any) -> int:
    """A protobuf JSON Duration ("1.5s") as milliseconds."""
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    match = _DURATION.match(value.strip()) if isinstance(value, str) else None
    if match is None:
        raise InvalidParameter(f"Invalid value {value!r} for '{name}': expected a duration such as '1.5s'")
    sign, seconds, fraction = match.groups()
    ms = int(seconds) * 1000 + int((fraction or "0")[:3].ljust(3, "0"))
    return -ms if sign else ms


def trace_info_v3(t: TraceRecord) -> Json:
    out: Json = {
        "trace_id": t.trace_id,
        "trace_location": _experiment_location(t.experiment_id),
        "request_time": rfc3339(t.timestamp_ms),
        "state": t.state,
        "trace_metadata": t.metadata,
        "tags": t.tags,
        "assessments": [assessment_json(a) for a in t.assessments] if t.assessments else [],
    }
    # A search page encodes a hundred of these: plain ifs, not a loop over the optional fields.
    if t.execution_time_ms is not None:
        out["execution_duration"] = duration(t.execution_time_ms)
    if t.client_request_id is not None:
        out["client_request_id"] = t.client_request_id
    if t.request_preview is not None:
        out["request_preview"] = t.request_preview
    if t.response_preview is not None:
        out["response_preview"] = t.response_preview
    return out


@functools.lru_cache(maxsize=1024)
def _experiment_location(experiment_id: int) -> Json:
    """A trace location in an experiment; one object per experiment, shared by every trace info encoded
    (they are only ever serialized, never changed)."""
    return {"type": "MLFLOW_EXPERIMENT", "mlflow_experiment": {"experiment_id": str(experiment_id)}}


def trace_info_v2(t: TraceRecord) -> Json:
    out: Json = {
        "request_id": t.trace_id,
        "experiment_id": str(t.experiment_id),
        "timestamp_ms": t.timestamp_ms,
        "status": "TRACE_STATUS_UNSPECIFIED" if t.state == "STATE_UNSPECIFIED" else t.state,
    }
    if t.execution_time_ms is not None:
        out["execution_time_ms"] = t.execution_time_ms
    if t.metadata:
        out["request_metadata"] = [{"key": k, "value": v} for k, v in t.metadata.items()]
    if t.tags:
        out["tags"] = [{"key": k, "value": v} for k, v in t.tags.items()]
    return out


def _string_map(name: str, value: Any) -> dict[str, str]:
    """A proto map<string, string> in JSON; a list of {key, value} is taken too."""
    if value is None:
        return {}
    if isinstance(value, list):
        return dict(Fields({name: value}).pairs(name))
    if not isinstance(value, dict) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in value.items()
    ):
        raise InvalidParameter(f"Invalid value for '{name}': expected an object of string values")
    if any("\x00" in k or "\x00" in v for k, v in value.items()):
        # PostgreSQL text cannot hold U+0000, so no backend takes it (as in http.request).
        raise InvalidParameter(f"Invalid value for '{name}': the NUL character (U+0000) is not allowed")
    return value


def _experiment_of_location(location: Any, name: str) -> str:
    if not isinstance(location, dict):
        raise InvalidParameter(f"Invalid value for '{name}': expected a trace location object")
    experiment = location.get("mlflow_experiment")
    if not isinstance(experiment, dict) or not experiment.get("experiment_id"):
        raise InvalidParameter(
            f"Invalid value for '{name}': only MLFLOW_EXPERIMENT locations with an experiment_id are supported"
        )
    return str(experiment["experiment_id"])


def parse_trace_in(f: Fields) -> TraceIn:
    trace = f.raw("trace")
    if not isinstance(trace, dict):
        raise InvalidParameter(
            "Missing value for required parameter 'trace'. See the API docs for more information."
        )
    info_raw = trace.get("trace_info")
    if not isinstance(info_raw, dict):
        raise InvalidParameter("Missing value for required parameter 'trace.trace_info'.")
    info = Fields(info_raw, path="trace.trace_info")
    request_time = info.raw("request_time")
    execution = info.raw("execution_duration")
    return TraceIn(
        trace_id=info.required_str("trace_id"),
        experiment_id=_experiment_of_location(info.raw("trace_location"), "trace.trace_info.trace_location"),
        request_time_ms=parse_timestamp("request_time", request_time) if request_time is not None else 0,
        execution_time_ms=parse_duration("execution_duration", execution) if execution is not None else None,
        state=parse_state(info.raw("state") if info.raw("state") is not None else "STATE_UNSPECIFIED"),
        client_request_id=info.str("client_request_id"),
        request_preview=info.str("request_preview"),
        response_preview=info.str("response_preview"),
        metadata=_string_map("trace_metadata", info.raw("trace_metadata")),
        tags=_string_map("tags", info.raw("tags")),
    )


# -- the v3 API -----------------------------------------------------------------------------------------------


def start_trace_v3(f: Fields, traces: Traces) -> Json:
    return {"trace": {"trace_info": trace_info_v3(traces.start(parse_trace_in(f)))}}


def get_trace_info_v3(f: Fields, traces: Traces) -> Json:
    return {"trace": {"trace_info": trace_info_v3(traces.get(f.required_str("trace_id")))}}


def batch_get_trace_infos(f: Fields, traces: Traces) -> Json:
    found = traces.get_many(f.strings("trace_ids"), f.strings("experiment_ids"))
    return {"trace_infos": [trace_info_v3(t) for t in found]} if found else {}


def _locations(f: Fields) -> list[str]:
    raw = f.raw("locations")
    if not isinstance(raw, list) or not raw:
        raise InvalidParameter(
            "Missing value for required parameter 'locations'. See the API docs for more information."
        )
    return [_experiment_of_location(item, "locations") for item in raw]


def search_traces_v3(f: Fields, traces: Traces) -> Json:
    return _search_page(f, traces, _locations(f), trace_info_v3)


def _search_page(
    f: Fields, traces: Traces, experiment_ids: list[str], encode: Callable[[TraceRecord], Json]
) -> Json:
    """One page of a trace search, each trace in the API version's shape (v2 and v3 differ only there)."""
    found, token = traces.search(
        experiment_ids,
        f.str("filter"),
        f.int("max_results"),
        f.strings("order_by"),
        f.str("page_token") or None,
    )
    out: Json = {}
    if found:
        out["traces"] = [encode(t) for t in found]
    if token:
        out["next_page_token"] = token
    return out


def delete_traces(f: Fields, traces: Traces) -> Json:
    deleted = traces.delete(
        f.required_str("experiment_id"),
        max_timestamp_millis=f.int("max_timestamp_millis"),
        max_traces=f.int("max_traces"),
        trace_ids=f.strings("request_ids"),
    )
    return {"traces_deleted": deleted}


def _trace_id(f: Fields) -> str:
    return f.str("trace_id") or f.str("request_id") or f.required_str("trace_id")


def set_trace_tag(f: Fields, traces: Traces) -> Json:
    traces.set_tag(_trace_id(f), f.required_str("key"), f.str("value") or "")
    return {}


def delete_trace_tag(f: Fields, traces: Traces) -> Json:
    traces.delete_tag(_trace_id(f), f.required_str("key"))
    return {}


def link_traces_to_run(f: Fields, traces: Traces) -> Json:
    trace_ids = f.strings("trace_ids")
    if not trace_ids:
        raise InvalidParameter(
            "Missing value for required parameter 'trace_ids'. See the API docs for more information."
        )
    traces.link_to_run(trace_ids, f.required_str("run_id"))
    return {}


def link_prompts_to_trace(f: Fields, traces: Traces) -> Json:
    versions = []
    for ref in f.objects("prompt_versions"):
        version = ref.raw("version")
        if isinstance(version, int) and not isinstance(version, bool):
            version = str(version)
        if not isinstance(version, str) or not version:
            raise InvalidParameter("Each prompt version needs a name and a version")
        versions.append((ref.required_str("name"), version))
    if not versions:
        raise InvalidParameter(
            "Missing value for required parameter 'prompt_versions'. See the API docs for more information."
        )
    traces.link_prompts(f.required_str("trace_id"), versions)
    return {}


def calculate_filter_correlation(f: Fields, traces: Traces) -> Json:
    result = traces.correlation(
        f.strings("experiment_ids"),
        f.required_str("filter_string1"),
        f.required_str("filter_string2"),
        f.str("base_filter"),
    )
    return {
        "npmi": wire_float(result.npmi),
        "npmi_smoothed": wire_float(result.npmi_smoothed),
        "filter1_count": result.filter1_count,
        "filter2_count": result.filter2_count,
        "joint_count": result.joint_count,
        "total_count": result.total_count,
    }


def _enum_name(value: Any, names: tuple[str, ...], what: str) -> str:
    if isinstance(value, int) and not isinstance(value, bool) and 1 <= value <= len(names):
        return names[value - 1]
    if isinstance(value, str) and value in names:
        return value
    raise InvalidParameter(f"Invalid {what} {value!r}: use one of {list(names)}")


def query_trace_metrics(f: Fields, traces: Traces) -> Json:
    aggregations = []
    for a in f.objects("aggregations"):
        kind = _enum_name(a.raw("aggregation_type"), _AGGREGATIONS, "aggregation_type")
        percentile = a.float("percentile_value")
        if kind == "PERCENTILE" and (percentile is None or not 0 <= percentile <= 100):
            raise InvalidParameter("A PERCENTILE aggregation needs a percentile_value between 0 and 100")
        aggregations.append(Aggregation(kind, percentile if kind == "PERCENTILE" else None))
    points = traces.metrics(
        experiment_ids=f.strings("experiment_ids"),
        view_type=_enum_name(f.raw("view_type"), _VIEW_TYPES, "view_type"),
        metric_name=f.required_str("metric_name"),
        aggregations=aggregations,
        dimensions=f.strings("dimensions"),
        filters=f.strings("filters"),
        time_interval_seconds=f.int("time_interval_seconds"),
        start_time_ms=f.int("start_time_ms"),
        end_time_ms=f.int("end_time_ms"),
        max_results=f.int("max_results"),
    )
    metric = f.required_str("metric_name")
    if not points:
        return {}
    return {
        "data_points": [
            {
                "metric_name": metric,
                "dimensions": p.dimensions,
                "values": {k: wire_float(val) for k, val in p.values.items()},
            }
            for p in points
        ]
    }


# -- the legacy v2 API ------------------------------------------------------------------------------------------


def _v2_pairs(f: Fields, name: str) -> dict[str, str]:
    return dict(f.pairs(name))


def start_trace_v2(f: Fields, traces: Traces) -> Json:
    timestamp = f.int("timestamp_ms")
    trace = traces.start_v2(
        f.required_str("experiment_id"),
        _in_range("timestamp_ms", timestamp) if timestamp is not None else 0,
        _v2_pairs(f, "request_metadata"),
        _v2_pairs(f, "tags"),
    )
    return {"trace_info": trace_info_v2(trace)}


def end_trace_v2(f: Fields, traces: Traces) -> Json:
    status = f.raw("status")
    trace = traces.end_v2(
        f.required_str("request_id"),
        _in_range("timestamp_ms", f.int("timestamp_ms", required=True) or 0),
        parse_state(status if status is not None else "STATE_UNSPECIFIED", "status"),
        _v2_pairs(f, "request_metadata"),
        _v2_pairs(f, "tags"),
    )
    return {"trace_info": trace_info_v2(trace)}


def get_trace_info_v2(f: Fields, traces: Traces) -> Json:
    return {"trace_info": trace_info_v2(traces.get(f.required_str("request_id")))}


def search_traces_v2(f: Fields, traces: Traces) -> Json:
    return _search_page(f, traces, f.strings("experiment_ids"), trace_info_v2)


# -- streamed reads --------------------------------------------------------------------------------------------


async def _span_pages(traces: Traces, trace_id: str, encode: Callable[[str], bytes]) -> AsyncIterator[bytes]:
    """The trace's spans, each encoded and comma-separated, a page at a time: never the whole trace."""

    def page(after: SpanKey | None) -> tuple[bytes, SpanKey | None, bool]:
        rows = traces.span_page(trace_id, after, SPAN_PAGE)
        body = b",".join(encode(r.content) for r in rows)
        return body, (span_key(rows[-1]) if rows else None), len(rows) == SPAN_PAGE

    after: SpanKey | None = None
    first = True
    while True:
        body, after, more = await in_worker(page, after)
        if body:
            yield body if first else b"," + body
            first = False
        if not more:
            return


def _otel_span(content: str) -> bytes:
    from tracklight.http.otlp import otel_span_json  # see routes._otlp_export: loaded on first use

    return orjson.dumps(otel_span_json(content))


def _verbatim(content: str) -> bytes:
    return content.encode()


async def _trace_message(traces: Traces, trace: TraceRecord, in_store: bool) -> AsyncIterator[bytes]:
    """One Trace message: its info, then its spans when they are stored here."""
    info = orjson.dumps(trace_info_v3(trace))
    yield b'{"trace_info":' + info + b',"spans":['
    if in_store:
        async for chunk in _span_pages(traces, trace.trace_id, _otel_span):
            yield chunk
    yield b"]}"


async def get_trace(request: Request, services: Any, _: dict[str, str]) -> Response:
    """GET traces/get?trace_id=&allow_partial=: the trace with its spans, streamed."""
    fields = await read_fields(request)
    traces: Traces = services["traces"]
    trace_id = fields.required_str("trace_id")
    allow_partial = bool(fields.bool("allow_partial"))
    # As MLflow does, a trace whose spans are still on their way is waited for, 1 s then 2 s, before
    # the 404; the waits hold no worker thread.
    for pause in (*_EXPORT_WAITS, None):
        try:
            trace, in_store = await in_worker(traces.open_trace, trace_id, allow_partial)
            break
        except TraceNotExported:
            if pause is None:
                raise
            await asyncio.sleep(pause)

    async def body() -> AsyncIterator[bytes]:
        yield b'{"trace":'
        async for chunk in _trace_message(traces, trace, in_store):
            yield chunk
        yield b"}"

    return StreamingResponse(body(), media_type="application/json")


async def batch_get_traces(request: Request, services: Any, _: dict[str, str]) -> Response:
    """GET traces/batchGet?trace_ids=...: the traces that exist, each with its spans, streamed."""
    fields = await read_fields(request)
    traces: Traces = services["traces"]
    found = await in_worker(traces.get_many, fields.strings("trace_ids"), fields.strings("experiment_ids"))

    async def body() -> AsyncIterator[bytes]:
        yield b'{"traces":['
        for index, trace in enumerate(found):
            if index:
                yield b","
            async for chunk in _trace_message(
                traces, trace, trace.tags.get(SPANS_LOCATION_TAG) == TRACKING_STORE
            ):
                yield chunk
        yield b"]}"

    return StreamingResponse(body(), media_type="application/json")


def _trace_data(traces: Traces, trace_id: str) -> Response:
    """A trace's spans as traces.json ({"spans": [...]}, each as the client wrote it), streamed."""

    async def body() -> AsyncIterator[bytes]:
        yield b'{"spans":['
        async for chunk in _span_pages(traces, trace_id, _verbatim):
            yield chunk
        yield b"]}"

    headers = {
        "Content-Disposition": content_disposition(TRACE_DATA_FILE),
        "X-Content-Type-Options": "nosniff",
    }
    return StreamingResponse(body(), media_type="application/octet-stream", headers=headers)


async def get_trace_artifact(request: Request, services: Any, _: dict[str, str]) -> Response:
    """GET get-trace-artifact?request_id=: the trace's data as traces.json, from the span rows when they
    are stored here, else the traces.json the client uploaded."""
    fields = await read_fields(request)
    request_id = fields.str("request_id")
    if not request_id:
        raise InvalidParameter('Request must include the "request_id" query parameter.')
    traces: Traces = services["traces"]
    trace, in_store = await in_worker(traces.open_trace, request_id, True)
    if in_store:
        return _trace_data(traces, request_id)
    location = traces.artifact_location(trace)
    if location is None:
        raise NotFound(f"Trace with ID '{request_id}' has no trace data")
    store, base = await in_worker(services["artifacts"].roots.resolve, location)
    return await stream_file(request, store, f"{base}/{TRACE_DATA_FILE}" if base else TRACE_DATA_FILE)


def is_trace_data_path(path: str) -> bool:
    return _TRACE_DATA_PATH.match(path) is not None


def trace_data_download(traces: Traces) -> ArtifactHandler:
    """The mlflow-artifacts download of <experiment>/traces/<trace id>/artifacts/traces.json: the file when
    a client uploaded one, else the spans stored here. A client that reads trace data from its artifact
    repository (the 2.x client, or a 3.x one handed a trace from an older server) then finds the spans a
    3.x client sent over OTLP."""

    async def serve(request: Request, artifacts: Artifacts, path: str) -> Response:
        target = artifact_path(path, allow_root=False)
        match = _TRACE_DATA_PATH.match(target)
        if match is not None and await in_worker(artifacts.destination.size, target) is None:
            try:
                trace, in_store = await in_worker(traces.open_trace, match.group(2), True)
            except NotFound:
                in_store = False
            if in_store and str(trace.experiment_id) == match.group(1):
                return _trace_data(traces, trace.trace_id)
        artifacts.refuse_proxied(upload=False)  # the spans stored here may pass; a file in the bucket may not
        return await download(request, artifacts, path)

    return serve


# (methods, path under /mlflow/, handler, service name), as in tracklight.http.routes.
TRACE_ROUTES_2_0: list[tuple[tuple[str, ...], str, Any, str]] = [
    (("POST",), "traces", start_trace_v2, "traces"),
    (("GET",), "traces", search_traces_v2, "traces"),
    (("PATCH",), "traces/{request_id}", end_trace_v2, "traces"),
    (("GET",), "traces/{request_id}/info", get_trace_info_v2, "traces"),
    (("PATCH",), "traces/{request_id}/tags", set_trace_tag, "traces"),
    (("DELETE",), "traces/{request_id}/tags", delete_trace_tag, "traces"),
    (("POST",), "traces/delete-traces", delete_traces, "traces"),
    (("POST",), "traces/link-to-run", link_traces_to_run, "traces"),
    (("POST",), "traces/link-prompts", link_prompts_to_trace, "traces"),
]
TRACE_ROUTES_3_0: list[tuple[tuple[str, ...], str, Any, str]] = [
    (("POST",), "traces", start_trace_v3, "traces"),
    (("GET",), "traces/{trace_id}", get_trace_info_v3, "traces"),
    (("POST",), "traces/batchGetInfos", batch_get_trace_infos, "traces"),
    (("POST",), "traces/search", search_traces_v3, "traces"),
    (("POST",), "traces/delete-traces", delete_traces, "traces"),
    (("PATCH",), "traces/{trace_id}/tags", set_trace_tag, "traces"),
    (("DELETE",), "traces/{trace_id}/tags", delete_trace_tag, "traces"),
    (("POST",), "traces/link-to-run", link_traces_to_run, "traces"),
    (("POST",), "traces/metrics", query_trace_metrics, "traces"),
    (("POST",), "traces/calculate-filter-correlation", calculate_filter_correlation, "traces"),
]
