"""issues/search: a filter on status and source run, one keyset-paginated SELECT in the reference's order."""

from __future__ import annotations

import sqlalchemy as sa

from tracklight.store.issues import ISSUE_COLUMNS, Issue, issue_from_row
from tracklight.store.records import SearchArgs
from tracklight.store.schema import issues
from tracklight.store.search import predicates
from tracklight.store.search.grammar import (
    EQ,
    NE,
    EntityRule,
    KeyRule,
    SearchSpec,
    ValueType,
    parse_filter,
)
from tracklight.store.search.keyset import SortColumn, fetch_page, fingerprint

_EQUALITY = KeyRule(ValueType.STRING, frozenset({EQ, NE}), orderable=False)
_ATTRIBUTES = EntityRule("attribute", keys={"status": _EQUALITY, "source_run_id": _EQUALITY}, orderable=False)
ISSUES_SPEC = SearchSpec(entities={"attribute": _ATTRIBUTES, "attributes": _ATTRIBUTES}, default=_ATTRIBUTES)

_c = issues.c
# The reference's one order: highest severity first (unset last), then newest, then id, descending.
_ORDER = [
    SortColumn(_c.severity_rank, False, int),
    SortColumn(_c.created_timestamp, False, int),
    SortColumn(_c.id, False, str),
]
_FP = fingerprint("issues")


def search_issues(
    conn: sa.Connection,
    args: SearchArgs[str],
    *,
    experiment_id: int | None,
    readable: tuple[bool, list[str]] | None = None,
) -> tuple[list[Issue], str | None]:
    """One page of the issues matching the filter (in one experiment, when given), and the token for the
    next. `readable` (auth.gate.visible over experiments) keeps only issues of experiments the caller may
    read: (True, ids) those experiments, (False, ids) all but those, None all."""
    dialect = conn.dialect.name
    stmt = sa.select(*ISSUE_COLUMNS).where(
        *(
            predicates.string(dialect, _c[c.key], c.op, c.value)
            for c in parse_filter(args.filter_string, ISSUES_SPEC)
        )
    )
    if experiment_id is not None:
        stmt = stmt.where(_c.experiment_id == experiment_id)
    if readable is not None:
        only, ids = readable
        numbers = [int(i) for i in ids if i.isdigit()]
        if only:
            stmt = stmt.where(_c.experiment_id.in_(numbers))
        elif numbers:
            stmt = stmt.where(_c.experiment_id.not_in(numbers))
    rows, token = fetch_page(conn, stmt, _ORDER, fp=_FP, args=args)
    return [issue_from_row(row) for row in rows], token
