"""Assessments of traces on the wire (/api/3.0/mlflow/traces/{trace_id}/assessments): their JSON, and
the create, get, update (with an update mask) and delete calls."""

from __future__ import annotations

import json
import re
from typing import Any

from tracklight.errors import InvalidParameter
from tracklight.http.request import Fields
from tracklight.services.assessments import (
    KINDS,
    SOURCE_TYPES,
    AssessmentChange,
    AssessmentIn,
    Assessments,
)
from tracklight.store.assessments import AssessmentRecord

Json = dict[str, Any]
# The paths an update mask may name, as MLflow's server takes them (other paths are ignored, as there).
_MASKABLE = ("assessment_name", "expectation", "feedback", "rationale", "metadata", "valid")
JSON_FORMAT = "JSON_FORMAT"
_CAMEL = re.compile(r"(?<!^)([A-Z])")


def assessment_json(a: AssessmentRecord) -> Json:
    """An Assessment message (mlflow/protos/assessments.proto) as JSON."""
    # Imported here: http.traces encodes trace infos with this function (its assessments).
    from tracklight.http.traces import rfc3339

    out: Json = {
        "assessment_id": a.assessment_id,
        "assessment_name": a.name,
        "trace_id": a.trace_id,
        "source": {"source_type": a.source_type, **({"source_id": a.source_id} if a.source_id else {})},
        "create_time": rfc3339(a.create_time_ms),
        "last_update_time": rfc3339(a.last_update_time_ms),
        a.kind: json.loads(a.body),
        "valid": a.valid,
    }
    for name, value in (("span_id", a.span_id), ("rationale", a.rationale), ("overrides", a.overrides)):
        if value is not None:
            out[name] = value
    if a.metadata:
        out["metadata"] = json.loads(a.metadata)
    return out


def _object(value: Any, name: str) -> Json:
    if not isinstance(value, dict):
        raise InvalidParameter(f"Invalid value for '{name}': expected an object")
    return value


def _metadata(value: Any) -> dict[str, str]:
    if value is None:
        return {}
    if not isinstance(value, dict) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in value.items()
    ):
        raise InvalidParameter("Invalid value for 'assessment.metadata': expected an object of string values")
    return value


def _kind_and_body(raw: Json) -> tuple[str, Json] | None:
    """Which of feedback, expectation or issue the message holds, and that part; None for none."""
    given = [kind for kind in KINDS if raw.get(kind) is not None]
    if len(given) > 1:
        raise InvalidParameter(f"An assessment holds one of {list(KINDS)}, not {given}")
    if not given:
        return None
    kind = given[0]
    body = _object(raw[kind], f"assessment.{kind}")
    if kind == "issue" and not isinstance(body.get("issue_name"), str):
        raise InvalidParameter("Missing value for required parameter 'assessment.issue.issue_name'.")
    if kind == "expectation" and body.get("serialized_value") is not None:
        _object(body["serialized_value"], "assessment.expectation.serialized_value")
    elif kind == "expectation" and isinstance(body.get("value"), dict | list):
        # Kept as MLflow keeps an expectation that is not a plain value: as JSON text, which is how its
        # clients expect to read it back.
        serialized = {"serialization_format": JSON_FORMAT, "value": json.dumps(body["value"])}
        body = {"serialized_value": serialized}
    if kind == "feedback" and body.get("error") is not None:
        _object(body["error"], "assessment.feedback.error")
    return kind, body


def _source_type(value: Any) -> str:
    if isinstance(value, int) and not isinstance(value, bool) and 0 <= value < len(SOURCE_TYPES):
        return SOURCE_TYPES[value]
    if isinstance(value, str) and value in SOURCE_TYPES:
        return value
    raise InvalidParameter(f"Invalid assessment source type {value!r}: use one of {list(SOURCE_TYPES[1:])}")


def _assessment(f: Fields) -> tuple[Json, Fields]:
    raw = f.raw("assessment")
    if not isinstance(raw, dict):
        raise InvalidParameter(
            "Missing value for required parameter 'assessment'. See the API docs for more information."
        )
    return raw, Fields(raw, path="assessment")


def create_assessment(f: Fields, assessments: Assessments) -> Json:
    # Imported here for the same reason as in assessment_json.
    from tracklight.http.traces import parse_timestamp

    raw, a = _assessment(f)
    found = _kind_and_body(raw)
    if found is None:
        raise InvalidParameter("An assessment must hold one of feedback, expectation or issue.")
    kind, body = found
    if kind == "feedback" and raw.get("error") is not None and body.get("error") is None:
        body = {**body, "error": _object(raw["error"], "assessment.error")}  # the deprecated place
    source = Fields(_object(a.raw("source"), "assessment.source"), path="assessment.source")
    created = a.raw("create_time")
    record = assessments.create(
        f.required_str("trace_id"),
        AssessmentIn(
            name=a.required_str("assessment_name"),
            kind=kind,
            body=body,
            source_type=_source_type(source.raw("source_type")),
            source_id=source.str("source_id"),
            span_id=a.str("span_id"),
            rationale=a.str("rationale"),
            metadata=_metadata(a.raw("metadata")),
            overrides=a.str("overrides"),
            valid=a.bool("valid") is not False,
            create_time_ms=parse_timestamp("create_time", created) if created is not None else None,
        ),
    )
    return {"assessment": assessment_json(record)}


def get_assessment(f: Fields, assessments: Assessments) -> Json:
    record = assessments.get(f.required_str("trace_id"), f.required_str("assessment_id"))
    return {"assessment": assessment_json(record)}


def _mask_paths(value: Any) -> list[str]:
    """A FieldMask: JSON's comma-separated lowerCamelCase string, or an object of `paths`."""
    if isinstance(value, str):
        paths = [p.strip() for p in value.split(",") if p.strip()]
    elif isinstance(value, dict) and isinstance(value.get("paths"), list):
        paths = [p for p in value["paths"] if isinstance(p, str)]
    else:
        raise InvalidParameter(
            "Missing value for required parameter 'update_mask'. See the API docs for more information."
        )
    return [_CAMEL.sub(r"_\1", p).lower() for p in paths]


def update_assessment(f: Fields, assessments: Assessments) -> Json:
    raw, a = _assessment(f)
    paths = [p for p in _mask_paths(f.raw("update_mask")) if p in _MASKABLE]
    change: dict[str, Any] = {}
    if "assessment_name" in paths:
        change["name"] = a.required_str("assessment_name")
    for kind in ("feedback", "expectation"):
        if kind in paths:
            if "body" in change:
                raise InvalidParameter("Cannot update both `expectation` and `feedback`.")
            found = _kind_and_body(raw)
            body = found[1] if found is not None and found[0] == kind else {}
            change["kind"], change["body"] = kind, body
    if "rationale" in paths:
        change["rationale"] = a.str("rationale") or ""
    if "metadata" in paths:
        change["metadata"] = _metadata(a.raw("metadata"))
    if "valid" in paths:
        change["valid"] = a.bool("valid") is not False
    record = assessments.update(
        f.required_str("trace_id"), f.required_str("assessment_id"), AssessmentChange(**change)
    )
    return {"assessment": assessment_json(record)}


def delete_assessment(f: Fields, assessments: Assessments) -> Json:
    assessments.delete(f.required_str("trace_id"), f.required_str("assessment_id"))
    return {}


# (methods, path under /mlflow/, handler, service name), as in tracklight.http.routes.
ASSESSMENT_ROUTES: list[tuple[tuple[str, ...], str, Any, str]] = [
    (("POST",), "traces/{trace_id}/assessments", create_assessment, "assessments"),
    (("GET",), "traces/{trace_id}/assessments/{assessment_id}", get_assessment, "assessments"),
    (("PATCH",), "traces/{trace_id}/assessments/{assessment_id}", update_assessment, "assessments"),
    (("DELETE",), "traces/{trace_id}/assessments/{assessment_id}", delete_assessment, "assessments"),
]
