"""Queries on MLflow 3 issues: insert, load, update, and which experiment an issue belongs to."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, insert, select, update

from tracklight.store import schema as s

_i = s.issues.c


@dataclass(slots=True)
class Issue:
    issue_id: str
    experiment_id: int
    name: str
    description: str
    status: str
    severity: str | None
    root_causes: list[str] | None
    categories: list[str] | None
    source_run_id: str | None
    created_by: str | None
    created_timestamp: int
    last_updated_timestamp: int


def _list_text(values: list[str] | None) -> str | None:
    """A list column's JSON text; an empty list is stored as NULL, as the reference stores it."""
    return json.dumps(values) if values else None


ISSUE_COLUMNS = (
    _i.id,
    _i.experiment_id,
    _i.name,
    _i.description,
    _i.status,
    _i.severity,
    _i.root_causes,
    _i.categories,
    _i.source_run_id,
    _i.created_by,
    _i.created_timestamp,
    _i.last_updated_timestamp,
)


def issue_from_row(row: Any) -> Issue:
    return Issue(
        issue_id=row[0],
        experiment_id=int(row[1]),
        name=row[2],
        description=row[3],
        status=row[4],
        severity=row[5],
        root_causes=json.loads(row[6]) if row[6] else None,
        categories=json.loads(row[7]) if row[7] else None,
        source_run_id=row[8],
        created_by=row[9],
        created_timestamp=int(row[10]),
        last_updated_timestamp=int(row[11]),
    )


def insert_issue(conn: Connection, issue: Issue, severity_rank: int) -> None:
    conn.execute(
        insert(s.issues).values(
            id=issue.issue_id,
            experiment_id=issue.experiment_id,
            name=issue.name,
            description=issue.description,
            status=issue.status,
            severity=issue.severity,
            severity_rank=severity_rank,
            root_causes=_list_text(issue.root_causes),
            categories=_list_text(issue.categories),
            source_run_id=issue.source_run_id,
            created_by=issue.created_by,
            created_timestamp=issue.created_timestamp,
            last_updated_timestamp=issue.last_updated_timestamp,
        )
    )


def load_issue(conn: Connection, issue_id: str, *, lock: bool = False) -> Issue | None:
    stmt = select(*ISSUE_COLUMNS).where(_i.id == issue_id)
    if lock:
        stmt = stmt.with_for_update()
    row = conn.execute(stmt).first()
    return issue_from_row(row) if row is not None else None


def experiment_of(conn: Connection, issue_id: str) -> int | None:
    """The experiment the issue belongs to; None if there is no such issue."""
    found = conn.execute(select(_i.experiment_id).where(_i.id == issue_id)).scalar()
    return int(found) if found is not None else None


def update_issue(conn: Connection, issue_id: str, **values: Any) -> None:
    conn.execute(update(s.issues).where(_i.id == issue_id).values(**values))


def run_exists(conn: Connection, run_id: str) -> bool:
    """Whether a run (in any lifecycle stage but purging) has this id."""
    return conn.execute(select(s.runs.c.id).where(s.runs.c.run_uuid == run_id)).first() is not None
