"""SQL for assessments: the feedback, expectations and issue references attached to traces."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy import Connection

from tracklight.store.schema import assessments

# Traces per statement when reading or deleting the assessments of many at once.
_CHUNK = 500


@dataclass(frozen=True, slots=True)
class AssessmentRecord:
    assessment_id: str
    trace_id: str
    name: str
    kind: str  # feedback, expectation or issue
    body: str  # the JSON of that part of the wire message
    source_type: str
    source_id: str | None
    span_id: str | None
    rationale: str | None
    metadata: str | None  # a JSON object of strings
    overrides: str | None
    valid: bool
    create_time_ms: int
    last_update_time_ms: int


_COLUMNS = (
    assessments.c.id,
    assessments.c.trace_id,
    assessments.c.name,
    assessments.c.kind,
    assessments.c.body,
    assessments.c.source_type,
    assessments.c.source_id,
    assessments.c.span_id,
    assessments.c.rationale,
    assessments.c.metadata,
    assessments.c.overrides,
    assessments.c.valid,
    assessments.c.create_time_ms,
    assessments.c.last_update_time_ms,
)


def _record(r: Any) -> AssessmentRecord:
    return AssessmentRecord(
        assessment_id=r.id,
        trace_id=r.trace_id,
        name=r.name,
        kind=r.kind,
        body=r.body,
        source_type=r.source_type,
        source_id=r.source_id,
        span_id=r.span_id,
        rationale=r.rationale,
        metadata=r.metadata,
        overrides=r.overrides,
        valid=bool(r.valid),
        create_time_ms=int(r.create_time_ms),
        last_update_time_ms=int(r.last_update_time_ms),
    )


def insert(conn: Connection, row: dict[str, Any]) -> None:
    conn.execute(sa.insert(assessments).values(row))


def load(conn: Connection, trace_id: str, assessment_id: str) -> AssessmentRecord | None:
    stmt = sa.select(*_COLUMNS).where(assessments.c.trace_id == trace_id, assessments.c.id == assessment_id)
    row = conn.execute(stmt).first()
    return None if row is None else _record(row)


def of_traces(conn: Connection, trace_ids: Sequence[str]) -> dict[str, list[AssessmentRecord]]:
    """The assessments of each of these traces, oldest first."""
    out: dict[str, list[AssessmentRecord]] = {}
    ids = list(dict.fromkeys(trace_ids))
    for i in range(0, len(ids), _CHUNK):
        stmt = (
            sa.select(*_COLUMNS)
            .where(assessments.c.trace_id.in_(ids[i : i + _CHUNK]))
            .order_by(assessments.c.trace_id, assessments.c.create_time_ms, assessments.c.id)
        )
        for row in conn.execute(stmt):
            out.setdefault(row.trace_id, []).append(_record(row))
    return out


def update(conn: Connection, trace_id: str, assessment_id: str, values: dict[str, Any]) -> None:
    stmt = sa.update(assessments).where(assessments.c.trace_id == trace_id, assessments.c.id == assessment_id)
    conn.execute(stmt.values(values))


def set_valid(conn: Connection, trace_id: str, assessment_id: str, valid: bool) -> bool:
    """Mark an assessment of the trace valid or not; whether there was one."""
    stmt = sa.update(assessments).where(assessments.c.trace_id == trace_id, assessments.c.id == assessment_id)
    return conn.execute(stmt.values(valid=valid)).rowcount > 0


def delete(conn: Connection, trace_id: str, assessment_id: str) -> None:
    stmt = sa.delete(assessments).where(assessments.c.trace_id == trace_id, assessments.c.id == assessment_id)
    conn.execute(stmt)


def delete_of_traces(conn: Connection, trace_ids: Sequence[str]) -> None:
    """Remove every assessment of these traces (before the traces themselves go)."""
    ids = list(trace_ids)
    for i in range(0, len(ids), _CHUNK):
        conn.execute(sa.delete(assessments).where(assessments.c.trace_id.in_(ids[i : i + _CHUNK])))


def trace_counts_of_issues(conn: Connection, issue_ids: Sequence[str]) -> dict[str, int]:
    """How many distinct traces reference each of these issues through an issue assessment."""
    if not issue_ids:
        return {}
    stmt = (
        sa.select(assessments.c.name, sa.func.count(sa.distinct(assessments.c.trace_id)))
        .where(assessments.c.kind == "issue", assessments.c.name.in_(list(issue_ids)))
        .group_by(assessments.c.name)
    )
    return {name: int(count) for name, count in conn.execute(stmt)}
