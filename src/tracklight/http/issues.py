"""MLflow 3 issues on the wire (/api/3.0/mlflow/issues...): the Issue message of issues.proto."""

from __future__ import annotations

from typing import Any

from tracklight.errors import InvalidParameter
from tracklight.http.request import Fields
from tracklight.services.issues import Issues
from tracklight.store.issues import Issue

Json = dict[str, Any]


def _required(f: Fields, name: str) -> str:
    value = f.str(name)
    if not value:
        raise InvalidParameter(
            f"Missing value for required parameter '{name}'. See the API docs for more information."
        )
    return value


def encode_issue(i: Issue) -> Json:
    """An issue as issues.proto's Issue message: unset optional fields and empty lists omitted."""
    out: Json = {
        "issue_id": i.issue_id,
        "experiment_id": str(i.experiment_id),
        "name": i.name,
        "description": i.description,
        "status": i.status,
        "created_timestamp": i.created_timestamp,
        "last_updated_timestamp": i.last_updated_timestamp,
    }
    for name, value in (
        ("severity", i.severity),
        ("root_causes", i.root_causes),
        ("source_run_id", i.source_run_id),
        ("categories", i.categories),
        ("created_by", i.created_by),
    ):
        if value:
            out[name] = value
    return out


def create_issue(f: Fields, issues: Issues) -> Json:
    issue = issues.create(
        experiment_id=_required(f, "experiment_id"),
        name=_required(f, "name"),
        description=_required(f, "description"),
        status=f.str("status"),
        severity=f.str("severity"),
        root_causes=f.strings("root_causes"),
        categories=f.strings("categories"),
        source_run_id=f.str("source_run_id"),
        created_by=f.str("created_by"),
    )
    return {"issue": encode_issue(issue)}


def get_issue(f: Fields, issues: Issues) -> Json:
    return {"issue": encode_issue(issues.get(f.required_str("issue_id")))}


def update_issue(f: Fields, issues: Issues) -> Json:
    issue = issues.update(
        f.required_str("issue_id"),
        name=f.str("name"),
        description=f.str("description"),
        status=f.str("status"),
        severity=f.str("severity"),
    )
    return {"issue": encode_issue(issue)}


def search_issues(f: Fields, issues: Issues) -> Json:
    with_counts = bool(f.bool("include_trace_count"))
    found, token = issues.search(
        experiment_id=f.str("experiment_id"),
        filter_string=f.str("filter_string"),
        max_results=f.int("max_results"),
        page_token=f.str("page_token"),
    )
    counts = issues.trace_counts(found) if with_counts and found else {}
    encoded = [encode_issue(i) for i in found]
    if with_counts:
        for issue, out_issue in zip(found, encoded, strict=True):
            out_issue["trace_count"] = counts.get(issue.issue_id, 0)
    out: Json = {"issues": encoded} if found else {}
    # Always present, empty on the last page: the reference sets it explicitly, and clients test for "".
    out["next_page_token"] = token or ""
    return out


_S = "issues"
# (methods, path under /mlflow/, handler, service name), served under /api/3.0 and /ajax-api/3.0 only.
ISSUE_ROUTES: list[tuple[tuple[str, ...], str, Any, str]] = [
    (("POST",), "issues", create_issue, _S),
    (("POST",), "issues/search", search_issues, _S),
    (("GET",), "issues/{issue_id}", get_issue, _S),
    (("PATCH",), "issues/{issue_id}", update_issue, _S),
]
