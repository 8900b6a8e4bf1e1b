"""OTLP/HTTP span ingest (/v1/traces) and the OpenTelemetry span JSON the trace APIs answer with.

A span is stored as the dictionary MLflow's client writes into traces.json (ids base64, attributes as
JSON text each, status code names), so get-trace-artifact serves stored spans verbatim and traces/get
turns each into an OpenTelemetry Span message on the way out.
"""

from __future__ import annotations

import base64
import contextlib
import gzip
import io
import json
import math
import zlib
from typing import Any

import orjson
from google.protobuf import json_format
from google.protobuf.message import DecodeError
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.proto.common.v1.common_pb2 import AnyValue
from opentelemetry.proto.trace.v1.trace_pb2 import Span, Status
from starlette.requests import Request
from starlette.responses import Response

from tracklight.errors import InvalidParameter
from tracklight.http.workers import in_worker
from tracklight.services.traces import SpanIn, Traces

EXPERIMENT_HEADER = "x-mlflow-experiment-id"
REQUEST_ID_ATTRIBUTE = "mlflow.traceRequestId"
SPAN_TYPE_ATTRIBUTE = "mlflow.spanType"
TRACE_TAG_PREFIX = "mlflow.traceTag."
_STATUS_NAMES = {
    Status.STATUS_CODE_UNSET: "STATUS_CODE_UNSET",
    Status.STATUS_CODE_OK: "STATUS_CODE_OK",
    Status.STATUS_CODE_ERROR: "STATUS_CODE_ERROR",
}
_SHORT_STATUS = {"STATUS_CODE_UNSET": "UNSET", "STATUS_CODE_OK": "OK", "STATUS_CODE_ERROR": "ERROR"}
_HEX_ID_FIELDS = ("traceId", "spanId", "parentSpanId", "trace_id", "span_id", "parent_span_id")
_MAX_NANOS = 2**63 - 1  # the columns are signed 64-bit; OTLP's fixed64 can hold more
# An OTLP body larger than this, once decompressed, is refused (a gzip bomb would otherwise fill memory).
MAX_BODY = 256 * 1024 * 1024


def _b64(raw: bytes) -> str:
    return base64.b64encode(raw).decode("ascii")


def decode_any(value: AnyValue) -> Any:
    """An OpenTelemetry AnyValue as plain JSON-able Python (bytes as base64 text)."""
    kind = value.WhichOneof("value")
    if kind is None:
        return None
    if kind == "array_value":
        return [decode_any(v) for v in value.array_value.values]
    if kind == "kvlist_value":
        return {kv.key: decode_any(kv.value) for kv in value.kvlist_value.values}
    if kind == "bytes_value":
        return _b64(value.bytes_value)
    return getattr(value, kind)


def _attribute_text(value: Any) -> str:
    # MLflow keeps every span attribute as JSON text written by Python's json (spaces after separators,
    # non-ASCII kept): the client compares a trace's spans with its own, so the text must match.
    if type(value) is str:
        # Most attributes are strings (the client sends inputs and outputs as JSON text): orjson
        # writes a string exactly as json does with ensure_ascii=False (checked for every code point
        # in tests/unit/test_trace_wire.py), eight times faster.
        return orjson.dumps(value).decode()
    return json.dumps(value, ensure_ascii=False, default=str)


def span_record(span: Span) -> SpanIn:
    """One OTLP span as it is stored; ValueError when its ids are missing or malformed."""
    if len(span.trace_id) != 16 or len(span.span_id) != 8:
        raise ValueError("a span needs a 16-byte trace_id and an 8-byte span_id")
    if span.parent_span_id and len(span.parent_span_id) != 8:
        raise ValueError("a parent_span_id has 8 bytes")
    if max(span.start_time_unix_nano, span.end_time_unix_nano) > _MAX_NANOS:
        raise ValueError("span times must fit in a signed 64-bit integer")
    trace_id = "tr-" + span.trace_id.hex()
    parent = span.parent_span_id.hex() if span.parent_span_id else None
    attributes = {kv.key: _attribute_text(decode_any(kv.value)) for kv in span.attributes}
    # The trace id comes from the span's own id, never from what the sender wrote in the attribute.
    attributes[REQUEST_ID_ATTRIBUTE] = _attribute_text(trace_id)
    status = _STATUS_NAMES.get(span.status.code, "STATUS_CODE_UNSET")
    content = {
        "trace_id": _b64(span.trace_id),
        "span_id": _b64(span.span_id),
        "parent_span_id": _b64(span.parent_span_id) if parent else None,
        "name": span.name,
        "start_time_unix_nano": span.start_time_unix_nano,
        "end_time_unix_nano": span.end_time_unix_nano or None,
        "events": [
            {
                "name": e.name,
                "time_unix_nano": e.time_unix_nano,
                "attributes": {kv.key: decode_any(kv.value) for kv in e.attributes},
            }
            for e in span.events
        ],
        "status": {"code": status, "message": span.status.message},
        "attributes": attributes,
        "links": [
            {
                "trace_id": "tr-" + link.trace_id.hex(),
                "span_id": link.span_id.hex(),
                "attributes": {kv.key: decode_any(kv.value) for kv in link.attributes},
            }
            for link in span.links
        ],
    }
    span_type = None
    if raw_type := attributes.get(SPAN_TYPE_ATTRIBUTE):
        decoded = json.loads(raw_type)
        span_type = decoded if isinstance(decoded, str) else raw_type
    tags = {}
    if parent is None:
        for key, text in attributes.items():
            if key.startswith(TRACE_TAG_PREFIX):
                decoded = json.loads(text)
                tags[key[len(TRACE_TAG_PREFIX) :]] = decoded if isinstance(decoded, str) else text
    return SpanIn(
        trace_id=trace_id,
        span_id=span.span_id.hex(),
        parent_span_id=parent,
        name=_column_text(span.name),
        span_type=_column_text(span_type[:500]) if span_type else None,
        status=_SHORT_STATUS[status],
        start_time_unix_nano=span.start_time_unix_nano,
        end_time_unix_nano=span.end_time_unix_nano or None,
        content=orjson.dumps(content).decode(),
        attributes=attributes,
        trace_tags={_column_text(k): _column_text(v) for k, v in tags.items()},
    )


def _column_text(text: str) -> str:
    # PostgreSQL text cannot hold U+0000; the span's JSON keeps it (escaped), the searchable columns
    # get the replacement character.
    return text.replace("\x00", "\ufffd")


def _hex_ids_to_base64(node: Any) -> None:
    """OTLP/JSON writes ids as hex; protobuf's JSON mapping reads bytes as base64."""
    if isinstance(node, dict):
        for key, value in node.items():
            if key in _HEX_ID_FIELDS and isinstance(value, str) and value:
                with contextlib.suppress(ValueError):  # not hex: taken as base64 already
                    node[key] = _b64(bytes.fromhex(value))
            else:
                _hex_ids_to_base64(value)
    elif isinstance(node, list):
        for item in node:
            _hex_ids_to_base64(item)


def _decompressed(body: bytes, encoding: str | None) -> bytes:
    if not encoding or encoding == "identity":
        return body
    try:
        if encoding == "gzip":
            with gzip.GzipFile(fileobj=io.BytesIO(body)) as f:
                data = f.read(MAX_BODY + 1)
        elif encoding == "deflate":
            try:
                decoder = zlib.decompressobj()
                data = decoder.decompress(body, MAX_BODY + 1)
            except zlib.error:
                decoder = zlib.decompressobj(-zlib.MAX_WBITS)  # raw deflate, as some senders write it
                data = decoder.decompress(body, MAX_BODY + 1)
        else:
            raise InvalidParameter(f"Unsupported Content-Encoding: {encoding}")
    except (OSError, EOFError, zlib.error) as exc:
        raise InvalidParameter(f"The request body could not be decompressed ({encoding})") from exc
    if len(data) > MAX_BODY:
        raise InvalidParameter(f"The decompressed request body is larger than {MAX_BODY} bytes")
    return data


def parse_export(body: bytes, media_type: str) -> list[SpanIn]:
    """The spans of an ExportTraceServiceRequest, protobuf or OTLP/JSON."""
    message = ExportTraceServiceRequest()
    try:
        if media_type == "application/json":
            data = orjson.loads(body)
            _hex_ids_to_base64(data)
            json_format.ParseDict(data, message, ignore_unknown_fields=True)
        else:
            message.ParseFromString(body)
    except (
        DecodeError,
        json_format.ParseError,
        orjson.JSONDecodeError,
        ValueError,
        TypeError,
        RecursionError,
    ) as exc:
        raise InvalidParameter(f"Invalid OpenTelemetry format: {str(exc)[:200]}") from exc
    if not message.resource_spans:
        raise InvalidParameter("Invalid OpenTelemetry format - no spans found")
    out = []
    for resource_spans in message.resource_spans:
        for scope_spans in resource_spans.scope_spans:
            for span in scope_spans.spans:
                try:
                    out.append(span_record(span))
                except (ValueError, TypeError) as exc:
                    raise InvalidParameter(f"Cannot convert an OpenTelemetry span: {exc}") from exc
    return out


async def export_traces(request: Request, services: Any, _: dict[str, str]) -> Response:
    """POST /v1/traces: store the spans in the experiment the x-mlflow-experiment-id header names."""
    content_type = request.headers.get("content-type") or ""
    media_type = content_type.split(";")[0].strip().lower()
    if media_type not in ("application/x-protobuf", "application/json"):
        raise InvalidParameter(
            f"Invalid Content-Type: {content_type}. Expected: application/x-protobuf or application/json"
        )
    experiment_id = request.headers.get(EXPERIMENT_HEADER)
    if not experiment_id:
        raise InvalidParameter(f"Missing required header: {EXPERIMENT_HEADER}")
    body = _decompressed(await request.body(), (request.headers.get("content-encoding") or "").lower())
    traces: Traces = services["traces"]

    def store() -> None:
        spans = parse_export(body, media_type)
        traces.log_spans(experiment_id, spans)

    await in_worker(store)
    # An empty ExportTraceServiceResponse: full success.
    return Response(b"", media_type="application/x-protobuf")


def _any_value(value: Any) -> dict[str, Any]:
    """Plain JSON as an AnyValue in protobuf's JSON mapping (int64 as a number: the client takes both)."""
    if value is None:
        return {}
    if isinstance(value, bool):
        return {"bool_value": value}
    if isinstance(value, str):
        return {"string_value": value}
    if isinstance(value, int):
        return {"int_value": value}
    if isinstance(value, float):
        if math.isnan(value) or math.isinf(value):
            return {
                "double_value": "NaN" if math.isnan(value) else ("Infinity" if value > 0 else "-Infinity")
            }
        return {"double_value": value}
    if isinstance(value, (list, tuple)):
        return {"array_value": {"values": [_any_value(v) for v in value]}}
    if isinstance(value, dict):
        return {
            "kvlist_value": {"values": [{"key": str(k), "value": _any_value(v)} for k, v in value.items()]}
        }
    return {"string_value": str(value)}


def _parsed_attribute(text: Any) -> Any:
    if not isinstance(text, str):
        return text
    try:
        return json.loads(text)
    except ValueError:
        return text


def _hex_to_b64(hex_id: str) -> str:
    return _b64(bytes.fromhex(hex_id))


def otel_span_json(content: str) -> dict[str, Any]:
    """A stored span as an OpenTelemetry Span message in protobuf's JSON mapping (snake_case names)."""
    span = orjson.loads(content)
    status = span.get("status") or {}
    out: dict[str, Any] = {
        "trace_id": span["trace_id"],
        "span_id": span["span_id"],
        "name": span.get("name") or "",
        "start_time_unix_nano": int(span.get("start_time_unix_nano") or 0),
        "status": {"code": status.get("code") or "STATUS_CODE_UNSET", "message": status.get("message") or ""},
        "attributes": [
            {"key": k, "value": _any_value(_parsed_attribute(v))}
            for k, v in (span.get("attributes") or {}).items()
        ],
    }
    if span.get("parent_span_id"):
        out["parent_span_id"] = span["parent_span_id"]
    if span.get("end_time_unix_nano"):
        out["end_time_unix_nano"] = int(span["end_time_unix_nano"])
    if events := span.get("events"):
        out["events"] = [
            {
                "name": e.get("name") or "",
                "time_unix_nano": int(e.get("time_unix_nano") or 0),
                "attributes": [
                    {"key": k, "value": _any_value(v)} for k, v in (e.get("attributes") or {}).items()
                ],
            }
            for e in events
        ]
    links = []
    for link in span.get("links") or []:
        try:
            trace_hex = str(link["trace_id"]).rsplit("/", 1)[-1].removeprefix("tr-")
            links.append(
                {
                    "trace_id": _hex_to_b64(trace_hex),
                    "span_id": _hex_to_b64(str(link["span_id"])),
                    "attributes": [
                        {"key": k, "value": _any_value(v)} for k, v in (link.get("attributes") or {}).items()
                    ],
                }
            )
        except (KeyError, ValueError):
            continue  # a link whose ids are not OpenTelemetry's cannot be carried in the message
    if links:
        out["links"] = links
    return out
