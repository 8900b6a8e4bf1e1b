"""Assessments of traces: feedback, expectations and issue references, created, read, updated, overridden
and deleted. An assessment's permission is its trace's experiment's (READ to get, EDIT to change).

Creating an assessment that overrides another marks the other invalid; deleting the overriding one makes
the other valid again.
"""

from __future__ import annotations

import json
import time
import uuid
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Connection

from tracklight.auth import gate
from tracklight.auth.permissions import EXPERIMENT, Permission
from tracklight.errors import InvalidParameter, NotFound
from tracklight.store import assessments as store
from tracklight.store import traces as trace_store
from tracklight.store.assessments import AssessmentRecord
from tracklight.store.engine import Database
from tracklight.store.transactions import in_transaction

KINDS = ("feedback", "expectation", "issue")
SOURCE_TYPES = ("SOURCE_TYPE_UNSPECIFIED", "HUMAN", "LLM_JUDGE", "CODE")  # by their enum numbers
MAX_NAME_LENGTH = 250
MAX_SOURCE_ID_LENGTH = 250


def _now() -> int:
    return int(time.time() * 1000)


@dataclass(frozen=True, slots=True)
class AssessmentIn:
    """An assessment as a client sends it to create one."""

    name: str
    kind: str
    body: dict[str, Any]  # the feedback, expectation or issue part of the message
    source_type: str
    source_id: str | None = None
    span_id: str | None = None
    rationale: str | None = None
    metadata: dict[str, str] = field(default_factory=dict)
    overrides: str | None = None
    valid: bool = True
    create_time_ms: int | None = None


@dataclass(frozen=True, slots=True)
class AssessmentChange:
    """What an update sets: only the fields named in its update mask are given."""

    name: str | None = None
    kind: str | None = None
    body: dict[str, Any] | None = None
    rationale: str | None = None
    metadata: dict[str, str] | None = None
    valid: bool | None = None


def _name(name: str) -> str:
    if not name or len(name) > MAX_NAME_LENGTH:
        raise InvalidParameter(f"Invalid assessment name {name!r}: 1 to {MAX_NAME_LENGTH} characters")
    return name


def _source(source_type: str, source_id: str | None) -> tuple[str, str | None]:
    if source_type not in SOURCE_TYPES:
        raise InvalidParameter(
            f"Invalid assessment source type {source_type!r}: use one of {SOURCE_TYPES[1:]}"
        )
    if source_id is not None and len(source_id) > MAX_SOURCE_ID_LENGTH:
        raise InvalidParameter(f"Invalid assessment source id: at most {MAX_SOURCE_ID_LENGTH} characters")
    return source_type, source_id


def _json(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


def searchable_value(kind: str, body: dict[str, Any]) -> str | None:
    """The value trace searches compare, as JSON spelled the way MLflow stores it (`"yes"`, `5`, `true`)."""
    if kind == "issue":
        return None
    value = body.get("value")
    serialized = body.get("serialized_value")
    if isinstance(serialized, dict) and isinstance(serialized.get("value"), str):
        try:
            value = json.loads(serialized["value"])
        except ValueError:
            value = serialized["value"]
    return json.dumps(value, ensure_ascii=False)


class Assessments:
    """Assessment rules over the store; each call checks the caller's permission on the trace's experiment."""

    def __init__(self, db: Database) -> None:
        self.db = db

    def _check_trace(self, trace_id: str, need: Permission) -> None:
        experiment_id = in_transaction(self.db, lambda c: trace_store.experiment_of(c, trace_id), write=False)
        if experiment_id is None:
            raise NotFound(f"Trace with ID '{trace_id}' not found.")
        gate.check(EXPERIMENT, experiment_id, need)

    @staticmethod
    def _load(conn: Connection, trace_id: str, assessment_id: str) -> AssessmentRecord:
        found = store.load(conn, trace_id, assessment_id)
        if found is None:
            raise NotFound(f"Assessment with ID '{assessment_id}' not found for trace '{trace_id}'")
        return found

    def create(self, trace_id: str, a: AssessmentIn) -> AssessmentRecord:
        if a.kind not in KINDS:
            raise InvalidParameter("An assessment must hold one of feedback, expectation or issue.")
        source_type, source_id = _source(a.source_type, a.source_id)
        self._check_trace(trace_id, Permission.EDIT)
        now = _now()
        created = a.create_time_ms if a.create_time_ms is not None else now
        row = {
            "id": "a-" + uuid.uuid4().hex,
            "trace_id": trace_id,
            "name": _name(a.name),
            "kind": a.kind,
            "body": _json(a.body),
            "value": searchable_value(a.kind, a.body),
            "source_type": source_type,
            "source_id": source_id,
            "span_id": a.span_id or None,
            "rationale": a.rationale,
            "metadata": _json(a.metadata) if a.metadata else None,
            "overrides": a.overrides or None,
            "valid": a.valid,
            "create_time_ms": created,
            "last_update_time_ms": created,
        }

        def work(conn: Connection) -> AssessmentRecord:
            if a.overrides and not store.set_valid(conn, trace_id, a.overrides, False):
                raise NotFound(f"Assessment with ID '{a.overrides}' not found for trace '{trace_id}'")
            store.insert(conn, row)
            return self._load(conn, trace_id, row["id"])

        return in_transaction(self.db, work)

    def get(self, trace_id: str, assessment_id: str) -> AssessmentRecord:
        self._check_trace(trace_id, Permission.READ)
        return in_transaction(self.db, lambda c: self._load(c, trace_id, assessment_id), write=False)

    def update(self, trace_id: str, assessment_id: str, change: AssessmentChange) -> AssessmentRecord:
        """Set what the change names; metadata is merged into what the assessment has. Its source, span and
        kind stay (a feedback's value cannot become an expectation's)."""
        self._check_trace(trace_id, Permission.EDIT)

        def work(conn: Connection) -> AssessmentRecord:
            existing = self._load(conn, trace_id, assessment_id)
            values: dict[str, Any] = {"last_update_time_ms": max(_now(), existing.create_time_ms)}
            if change.name is not None:
                values["name"] = _name(change.name)
            if change.body is not None:
                if change.kind != existing.kind:
                    raise InvalidParameter(
                        f"Cannot update the {change.kind} value of a {existing.kind} assessment."
                    )
                values["body"] = _json(change.body)
                values["value"] = searchable_value(existing.kind, change.body)
            if change.rationale is not None:
                values["rationale"] = change.rationale
            if change.metadata is not None:
                merged = json.loads(existing.metadata) if existing.metadata else {}
                merged.update(change.metadata)
                values["metadata"] = _json(merged) if merged else None
            if change.valid is not None:
                values["valid"] = change.valid
            store.update(conn, trace_id, assessment_id, values)
            return self._load(conn, trace_id, assessment_id)

        return in_transaction(self.db, work)

    def delete(self, trace_id: str, assessment_id: str) -> None:
        """Delete the assessment (nothing happens if it is gone already); the one it overrode is valid
        again."""
        self._check_trace(trace_id, Permission.EDIT)

        def work(conn: Connection) -> None:
            existing = store.load(conn, trace_id, assessment_id)
            if existing is None:
                return
            if existing.overrides:
                store.set_valid(conn, trace_id, existing.overrides, True)
            store.delete(conn, trace_id, assessment_id)

        in_transaction(self.db, work)
