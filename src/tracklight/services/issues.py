"""MLflow 3 issues: quality problems found in an experiment's traces, created, updated and searched.

An issue belongs to its experiment and takes its permissions: READ to get and search, EDIT to create
and update. Status and severity take the reference's values (lowercase); a new issue is pending.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Sequence
from typing import Any

from sqlalchemy import Connection

from tracklight.auth import gate
from tracklight.auth.permissions import EXPERIMENT, Permission
from tracklight.errors import InvalidParameter, NotFound
from tracklight.services import validation as v
from tracklight.services.experiments import parse_experiment_id
from tracklight.store import assessments as assessment_store
from tracklight.store import issues as store
from tracklight.store.engine import Database
from tracklight.store.experiments import experiment_state, missing
from tracklight.store.issues import Issue
from tracklight.store.search.issues import search_issues
from tracklight.store.transactions import in_transaction

STATUSES = ("pending", "rejected", "resolved")
SEVERITIES = ("not_an_issue", "low", "medium", "high")  # lowest to highest: a severity's rank is its index
NO_SEVERITY_RANK = -1
DEFAULT_STATUS = "pending"
MAX_NAME_LENGTH = 250
MAX_CREATED_BY_LENGTH = 255
MAX_RUN_ID_LENGTH = 32
MAX_LIST_ITEMS = 1000
DEFAULT_SEARCH_RESULTS = 100  # the reference's default
MAX_SEARCH_RESULTS = 50000


def _now() -> int:
    return int(time.time() * 1000)


def _not_found(issue_id: str) -> NotFound:
    return NotFound(f"Issue with ID '{issue_id}' not found")


def _choice(value: str, allowed: Sequence[str], what: str) -> str:
    if value not in allowed:
        raise InvalidParameter(f"Invalid issue {what} '{value}'. Valid values: {list(allowed)}")
    return value


def severity_rank(severity: str | None) -> int:
    return SEVERITIES.index(severity) if severity is not None else NO_SEVERITY_RANK


def _text(value: str, what: str, limit: int | None = None) -> str:
    if not value:
        raise InvalidParameter(f"Missing value for required parameter '{what}'.")
    if limit is not None and len(value) > limit:
        raise InvalidParameter(f"The issue's {what} exceeds the maximum length of {limit} characters.")
    return value


def _strings(values: Sequence[str], what: str) -> list[str] | None:
    if len(values) > MAX_LIST_ITEMS:
        raise InvalidParameter(f"An issue may list at most {MAX_LIST_ITEMS} {what}.")
    return list(values) or None


class Issues:
    """Issue rules over the store."""

    def __init__(self, db: Database) -> None:
        self.db = db

    @gate.requires(Permission.EDIT, EXPERIMENT, "experiment_id")
    def create(
        self,
        *,
        experiment_id: str,
        name: str,
        description: str,
        status: str | None,
        severity: str | None,
        root_causes: Sequence[str],
        categories: Sequence[str],
        source_run_id: str | None,
        created_by: str | None,
    ) -> Issue:
        eid = parse_experiment_id(experiment_id)
        now = _now()
        issue = Issue(
            issue_id=f"iss-{uuid.uuid4().hex}",
            experiment_id=eid,
            name=_text(name, "name", MAX_NAME_LENGTH),
            description=_text(description, "description"),
            status=_choice(status, STATUSES, "status") if status is not None else DEFAULT_STATUS,
            severity=_choice(severity, SEVERITIES, "severity") if severity is not None else None,
            root_causes=_strings(root_causes, "root causes"),
            categories=_strings(categories, "categories"),
            source_run_id=source_run_id or None,
            created_by=created_by or None,
            created_timestamp=now,
            last_updated_timestamp=now,
        )
        if issue.created_by is not None and len(issue.created_by) > MAX_CREATED_BY_LENGTH:
            raise InvalidParameter(
                f"created_by exceeds the maximum length of {MAX_CREATED_BY_LENGTH} characters."
            )

        def work(conn: Connection) -> Issue:
            # A deleted experiment takes no new issues: the reference looks among active ones only.
            try:
                _, stage = experiment_state(conn, eid)
            except NotFound:
                stage = None
            if stage != "active":
                raise missing(eid)
            if issue.source_run_id is not None and (
                len(issue.source_run_id) > MAX_RUN_ID_LENGTH
                or not store.run_exists(conn, issue.source_run_id)
            ):
                raise NotFound(f"Run with id={issue.source_run_id} not found")
            store.insert_issue(conn, issue, severity_rank(issue.severity))
            return issue

        return in_transaction(self.db, work)

    def _check(self, issue_id: str, need: Permission) -> None:
        """`need` on the issue's experiment; an unknown issue is left to the caller's own not-found."""
        if gate.enforcing():
            experiment = in_transaction(self.db, lambda c: store.experiment_of(c, issue_id), write=False)
            if experiment is not None:
                gate.check(EXPERIMENT, experiment, need)

    def get(self, issue_id: str) -> Issue:
        self._check(issue_id, Permission.READ)
        found = in_transaction(self.db, lambda c: store.load_issue(c, issue_id), write=False)
        if found is None:
            raise _not_found(issue_id)
        return found

    def update(
        self,
        issue_id: str,
        *,
        name: str | None,
        description: str | None,
        status: str | None,
        severity: str | None,
    ) -> Issue:
        """Change the fields given (an empty name or description counts as not given, as in the
        reference); the last update time moves even when nothing else does."""
        self._check(issue_id, Permission.EDIT)
        values: dict[str, Any] = {}
        if name:
            values["name"] = _text(name, "name", MAX_NAME_LENGTH)
        if description:
            values["description"] = description
        if status is not None:
            values["status"] = _choice(status, STATUSES, "status")
        if severity is not None:
            values["severity"] = _choice(severity, SEVERITIES, "severity")
            values["severity_rank"] = severity_rank(severity)
        values["last_updated_timestamp"] = _now()

        def work(conn: Connection) -> Issue:
            if store.load_issue(conn, issue_id, lock=True) is None:
                raise _not_found(issue_id)
            store.update_issue(conn, issue_id, **values)
            found = store.load_issue(conn, issue_id)
            assert found is not None
            return found

        return in_transaction(self.db, work)

    def search(
        self,
        *,
        experiment_id: str | None,
        filter_string: str | None,
        max_results: int | None,
        page_token: str | None,
    ) -> tuple[list[Issue], str | None]:
        """A page of issues, highest severity first, then newest first; across every experiment the
        caller may read when no experiment is given."""
        eid = parse_experiment_id(experiment_id) if experiment_id else None
        if eid is not None:
            gate.check(EXPERIMENT, eid, Permission.READ)
        readable = gate.visible(EXPERIMENT) if eid is None else None
        # 0 is what proto JSON sends for "unset".
        args = v.search_args(
            filter_string,
            [],
            max_results or None,
            page_token,
            default=DEFAULT_SEARCH_RESULTS,
            cap=MAX_SEARCH_RESULTS,
        )
        return in_transaction(
            self.db,
            lambda c: search_issues(c, args, experiment_id=eid, readable=readable),
            write=False,
        )

    def trace_counts(self, issues: Sequence[Issue]) -> dict[str, int]:
        """How many traces each issue (from a search, which checked the caller may read them) is found in,
        through the issue assessments that reference it."""
        ids = [i.issue_id for i in issues]
        return in_transaction(self.db, lambda c: assessment_store.trace_counts_of_issues(c, ids), write=False)
