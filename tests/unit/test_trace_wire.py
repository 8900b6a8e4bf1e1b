"""Trace wire types: protobuf JSON times, an OTLP span as stored and as served again, and the NPMI score."""

from __future__ import annotations

import json
import math
from datetime import UTC, datetime

import orjson
import pytest
from opentelemetry.proto.trace.v1.trace_pb2 import Span, Status

from tracklight.errors import InvalidParameter
from tracklight.http.otlp import _attribute_text, otel_span_json, parse_export, span_record
from tracklight.http.traces import duration, parse_duration, parse_timestamp, rfc3339
from tracklight.services.traces import _npmi


def test_rfc3339_matches_datetime_across_minutes_days_and_bounds() -> None:
    """rfc3339 keeps each minute's text: the same instant must read the same however it was reached."""

    def reference(ms: int) -> str:
        moment = datetime.fromtimestamp(ms // 1000, tz=UTC).strftime("%Y-%m-%dT%H:%M:%S")
        return f"{moment}.{ms % 1000:03d}Z" if ms % 1000 else f"{moment}Z"

    points = [0, 1, 999, 59_999, 60_000, 86_399_999, 86_400_000, 951_782_400_000, 253_402_300_799_999]
    points += [1_733_500_000_000 + step * 7_919 for step in range(5_000)]  # across minutes and a day
    for ms in points:
        assert rfc3339(ms) == reference(ms)
    assert rfc3339(-5) == "1970-01-01T00:00:00Z" and rfc3339(10**18) == "9999-12-31T23:59:59.999Z"


def test_times_round_trip() -> None:
    for ms in (0, 1000, 1_733_500_000_123, 253_402_300_799_999):
        assert parse_timestamp("t", rfc3339(ms)) == ms
    assert rfc3339(1000) == "1970-01-01T00:00:01Z"
    assert rfc3339(1_733_500_000_120) == "2024-12-06T15:46:40.120Z"
    assert parse_timestamp("t", "2024-12-06T16:46:40.123456789+01:00") == 1_733_500_000_123
    for ms in (0, 5, 2000, 123_456):
        assert parse_duration("d", duration(ms)) == ms
    assert (duration(2000), duration(123)) == ("2s", "0.123s")
    for bad in ("yesterday", "2024-13-01T00:00:00Z", "10000-01-01T00:00:00Z", 1.5, None):
        with pytest.raises(InvalidParameter):
            parse_timestamp("t", bad)
    with pytest.raises(InvalidParameter):
        parse_duration("d", "5 minutes")


def _span() -> Span:
    span = Span()
    span.trace_id, span.span_id, span.parent_span_id = bytes(range(16)), bytes(range(8)), bytes([9] * 8)
    span.name, span.start_time_unix_nano, span.end_time_unix_nano = "ünïcode", 10, 20
    span.status.code = Status.STATUS_CODE_OK
    for key, setter in (
        ("s", lambda v: setattr(v, "string_value", "x")),
        ("i", lambda v: setattr(v, "int_value", 7)),
        ("d", lambda v: setattr(v, "double_value", 0.5)),
        ("b", lambda v: setattr(v, "bool_value", True)),
        ("mlflow.spanType", lambda v: setattr(v, "string_value", "LLM")),
        ("mlflow.traceRequestId", lambda v: setattr(v, "string_value", "tr-forged")),
    ):
        attr = span.attributes.add()
        attr.key = key
        setter(attr.value)
    nested = span.attributes.add()
    nested.key = "mlflow.spanInputs"
    kv = nested.value.kvlist_value.values.add()
    kv.key, kv.value.string_value = "q", "día"
    event = span.events.add()
    event.name, event.time_unix_nano = "e", 15
    e_attr = event.attributes.add()
    e_attr.key, e_attr.value.string_value = "foo", "bar"
    return span


def test_a_string_attribute_is_written_as_pythons_json_writes_it() -> None:
    """The fast path for string attributes must give the client's text for every character."""
    for first in range(0, 0x110000, 0x800):
        chars = "".join(chr(c) for c in range(first, first + 0x800) if not 0xD800 <= c < 0xE000)
        text = f'a"\\{chars}\n'
        assert _attribute_text(text) == json.dumps(text, ensure_ascii=False)
    assert _attribute_text({"q": "ü"}) == '{"q": "ü"}'


def test_an_otlp_span_is_stored_as_the_client_writes_traces_json() -> None:
    record = span_record(_span())
    assert record.trace_id == "tr-" + bytes(range(16)).hex()
    assert (record.span_id, record.parent_span_id) == (bytes(range(8)).hex(), "09" * 8)
    assert (record.span_type, record.status) == ("LLM", "OK")
    content = json.loads(record.content)
    # Attribute values are JSON text as Python's json writes it; the trace id comes from the span's id.
    assert content["attributes"]["mlflow.spanInputs"] == '{"q": "día"}'
    assert content["attributes"]["mlflow.traceRequestId"] == json.dumps(record.trace_id)
    assert content["attributes"]["i"] == "7" and content["attributes"]["b"] == "true"
    assert content["status"] == {"code": "STATUS_CODE_OK", "message": ""}
    assert content["events"] == [{"name": "e", "time_unix_nano": 15, "attributes": {"foo": "bar"}}]
    assert content["name"] == "ünïcode"


def test_a_stored_span_is_served_as_an_opentelemetry_message() -> None:
    served = otel_span_json(span_record(_span()).content)
    attributes = {a["key"]: a["value"] for a in served["attributes"]}
    assert attributes["s"] == {"string_value": "x"}
    assert attributes["i"] == {"int_value": 7}
    assert attributes["d"] == {"double_value": 0.5}
    assert attributes["mlflow.spanInputs"] == {
        "kvlist_value": {"values": [{"key": "q", "value": {"string_value": "día"}}]}
    }
    assert served["status"]["code"] == "STATUS_CODE_OK"
    assert served["events"][0]["attributes"] == [{"key": "foo", "value": {"string_value": "bar"}}]
    # The message parses as the OpenTelemetry Span it claims to be.
    from google.protobuf import json_format

    parsed = json_format.ParseDict(served, Span())
    assert parsed.trace_id == bytes(range(16)) and parsed.parent_span_id == bytes([9] * 8)


def test_otlp_json_takes_hex_ids() -> None:
    body = {
        "resourceSpans": [
            {
                "scopeSpans": [
                    {
                        "spans": [
                            {"traceId": "ab" * 16, "spanId": "cd" * 8, "name": "n", "startTimeUnixNano": "5"}
                        ]
                    }
                ]
            }
        ]
    }
    (record,) = parse_export(orjson.dumps(body), "application/json")
    assert record.trace_id == "tr-" + "ab" * 16 and record.span_id == "cd" * 8
    for bad in (b"{}", b"not json", orjson.dumps({"resourceSpans": [{"scopeSpans": [{"spans": [{}]}]}]})):
        with pytest.raises(InvalidParameter):
            parse_export(bad, "application/json")


def test_npmi() -> None:
    assert 0.6 < _npmi(6, 6, 7, 10) < 0.8
    assert _npmi(3, 4, 3, 10) > 0.5
    assert math.isnan(_npmi(0, 0, 7, 10))
    assert _npmi(0, 3, 3, 10) == -1.0
    assert _npmi(10, 10, 10, 10) == 1.0
