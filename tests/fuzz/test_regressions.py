"""Plain regression tests for the 5xx the route fuzzer found, one per distinct cause, on every backend."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

import pytest
import requests
from harness.forms import post_form

from fuzz.conftest import TIMEOUT, Fuzzed

HUGE = "99999999999999999999999"  # beyond int64: no BIGINT column holds it, SQLite's driver overflows on it


def _call(f: Fuzzed, method: str, path: str, body: dict[str, Any] | None = None) -> requests.Response:
    url = f.server.api(path)
    if method == "GET":
        return f.http.get(url, params=body, timeout=TIMEOUT)
    return f.http.request(method, url, json=body or {}, timeout=TIMEOUT)


def _error(resp: requests.Response, status: int, code: str) -> str:
    assert resp.status_code == status, (
        f"{resp.request.method} {resp.url}: {resp.status_code} {resp.text[:300]}"
    )
    body = resp.json()
    assert body["error_code"] == code, body
    assert isinstance(body["message"], str) and body["message"], body
    return body["message"]


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("GET", "experiments/get", {"experiment_id": HUGE}),
        ("POST", "experiments/delete", {"experiment_id": HUGE}),
        ("POST", "experiments/restore", {"experiment_id": HUGE}),
        ("POST", "experiments/update", {"experiment_id": HUGE, "new_name": "renamed"}),
        ("POST", "experiments/set-experiment-tag", {"experiment_id": HUGE, "key": "k", "value": "v"}),
        ("POST", "experiments/delete-experiment-tag", {"experiment_id": HUGE, "key": "k"}),
        ("POST", "runs/create", {"experiment_id": HUGE}),
        ("POST", "logged-models", {"experiment_id": HUGE, "name": "m"}),
        ("GET", "experiments/get", {"experiment_id": f"-{HUGE}"}),
    ],
    ids=lambda v: v if isinstance(v, str) else None,
)
def test_experiment_id_beyond_int64_is_not_found(
    seeded: Fuzzed, method: str, path: str, body: dict[str, Any]
) -> None:
    """An id too big for a BIGINT names no experiment: 404 as for any unknown id (was a 500 on SQLite)."""
    before = seeded.store.contents()
    message = _error(_call(seeded, method, path, body), 404, "RESOURCE_DOES_NOT_EXIST")
    assert "No Experiment with id=" in message and "exists" in message, message
    assert seeded.store.contents() == before


@pytest.mark.parametrize(
    ("path", "body", "listed"),
    [
        ("runs/search", {"experiment_ids": [HUGE]}, "runs"),
        ("logged-models/search", {"experiment_ids": [HUGE]}, "models"),
    ],
    ids=["runs", "logged-models"],
)
def test_search_in_experiment_beyond_int64_finds_nothing(
    seeded: Fuzzed, path: str, body: dict[str, Any], listed: str
) -> None:
    """A search limited to an id no experiment can have finds nothing; alongside a real id it finds that
    experiment's things (was a 500 on SQLite)."""
    assert _ok(_call(seeded, "POST", path, body)).get(listed, []) == []
    existing = seeded.world.experiment_ids[1]
    found = _ok(_call(seeded, "POST", path, {"experiment_ids": [HUGE, existing]})).get(listed, [])
    assert found, f"{path} with a real experiment id next to {HUGE} found nothing"


def test_malformed_experiment_id_is_still_invalid(seeded: Fuzzed) -> None:
    _error(_call(seeded, "GET", "experiments/get", {"experiment_id": "12x"}), 400, "INVALID_PARAMETER_VALUE")
    _error(_call(seeded, "POST", "runs/search", {"experiment_ids": ["12x"]}), 400, "INVALID_PARAMETER_VALUE")


def _ok(resp: requests.Response) -> dict[str, Any]:
    assert resp.status_code == 200, f"{resp.request.method} {resp.url}: {resp.status_code} {resp.text[:300]}"
    return resp.json()


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("GET", "logged-models/{nul}/artifacts/directories", None),
        ("GET", "logged-models/{nul}", None),
        ("GET", "runs/get", {"run_id": "a\x00b"}),
        ("POST", "experiments/create", {"name": "a\x00b"}),
        ("POST", "runs/set-tag", {"run_id": "{run}", "key": "k", "value": "a\x00b"}),
        ("POST", "runs/search", {"experiment_ids": ["0"], "filter": "tags.k = 'a\x00b'"}),
    ],
    ids=["model-files", "model", "run", "experiment-name", "tag-value", "filter"],
)
def test_nul_character_is_invalid_on_every_backend(
    seeded: Fuzzed, method: str, path: str, body: dict[str, Any] | None
) -> None:
    """U+0000 in a string is a 400 on every backend (PostgreSQL's driver refused it: a 500)."""
    path = path.replace("{nul}", quote("m-\x00"))
    if body is not None:
        body = {
            k: v.replace("{run}", seeded.world.run_ids[0]) if isinstance(v, str) else v
            for k, v in body.items()
        }
    before = seeded.store.contents()
    message = _error(_call(seeded, method, path, body), 400, "INVALID_PARAMETER_VALUE")
    assert "NUL" in message, message
    assert seeded.store.contents() == before


@pytest.mark.parametrize("method", ["PUT", "GET", "DELETE"])
@pytest.mark.parametrize(
    "name", ["x" * 300, "ü" * 200, "/".join(["y" * 200] * 30)], ids=["ascii", "utf8", "deep"]
)
def test_artifact_name_too_long_for_the_disk_is_invalid(seeded: Fuzzed, method: str, name: str) -> None:
    """A path the local filesystem cannot name (ENAMETOOLONG) is a 400 (was a 500)."""
    url = f"{seeded.server.url}/api/2.0/mlflow-artifacts/artifacts/{quote(name)}"
    resp = seeded.http.request(method, url, data=b"x" if method == "PUT" else None, timeout=TIMEOUT)
    assert "longer than" in _error(resp, 400, "INVALID_PARAMETER_VALUE")


def test_run_artifact_name_too_long_for_the_disk_is_invalid(seeded: Fuzzed) -> None:
    run_id = seeded.world.run_ids[0]
    resp = seeded.http.get(
        f"{seeded.server.url}/get-artifact", params={"run_id": run_id, "path": "z" * 300}, timeout=TIMEOUT
    )
    _error(resp, 400, "INVALID_PARAMETER_VALUE")
    resp = seeded.http.get(
        seeded.server.api("artifacts/list"), params={"run_id": run_id, "path": "z" * 300}, timeout=TIMEOUT
    )
    _error(resp, 400, "INVALID_PARAMETER_VALUE")


def _tags(*values: str) -> list[dict[str, str]]:
    return [{"key": "dup", "value": v} for v in values]


def test_duplicate_tag_keys_in_one_request_last_wins(seeded: Fuzzed) -> None:
    """A request naming one tag key twice keeps the last value on every backend (PostgreSQL refused the
    statement: a 500)."""
    f = seeded
    eid = _ok(_call(f, "POST", "experiments/create", {"name": f"dup-{id(f)}", "tags": _tags("a", "b", "c")}))[
        "experiment_id"
    ]
    experiment = _ok(_call(f, "GET", "experiments/get", {"experiment_id": eid}))["experiment"]
    assert {t["key"]: t["value"] for t in experiment["tags"]}["dup"] == "c"
    run = _ok(_call(f, "POST", "runs/create", {"experiment_id": eid, "tags": _tags("a", "b")}))["run"]
    run_id = run["info"]["run_id"]
    _ok(_call(f, "POST", "runs/log-batch", {"run_id": run_id, "tags": _tags("x", "y")}))
    run = _ok(_call(f, "GET", "runs/get", {"run_id": run_id}))["run"]
    assert {t["key"]: t["value"] for t in run["data"]["tags"]}["dup"] == "y"
    name = f"dup-model-{id(f)}"
    _ok(_call(f, "POST", "registered-models/create", {"name": name, "tags": _tags("a", "b")}))
    model = _ok(_call(f, "GET", "registered-models/get", {"name": name}))["registered_model"]
    assert {t["key"]: t["value"] for t in model["tags"]}["dup"] == "b"
    logged = _ok(_call(f, "POST", "logged-models", {"experiment_id": eid, "tags": _tags("a", "b")}))["model"]
    model_id = logged["info"]["model_id"]
    _ok(_call(f, "PATCH", f"logged-models/{model_id}/tags", {"tags": _tags("c", "d")}))
    info = _ok(_call(f, "GET", f"logged-models/{model_id}"))["model"]["info"]
    assert {t["key"]: t["value"] for t in info["tags"]}["dup"] == "d"


@pytest.mark.parametrize(
    "document",
    [
        f'{{ mlflowSearchModelVersions(input: {{maxResults: "{HUGE}"}}) {{ modelVersions {{ version }} }} }}',
        f"{{ mlflowSearchModelVersions(input: {{maxResults: {HUGE}}}) {{ modelVersions {{ version }} }} }}",
    ],
)
def test_graphql_long_beyond_int64_is_a_field_error(seeded: Fuzzed, document: str) -> None:
    """A LongString past int64 is refused in words (was an internal error: the message could not show it)."""
    resp = seeded.http.post(f"{seeded.server.url}/graphql", json={"query": document}, timeout=TIMEOUT)
    assert resp.status_code == 200, resp.text
    errors = resp.json()["errors"]
    assert errors and all("Internal server error" not in e for e in errors), errors
    assert any("max_results" in e and HUGE in e for e in errors), errors


@pytest.mark.parametrize(
    ("path", "query"),
    [
        ("experiments/{eid}/runs/%00", {}),
        ("experiments/%00", {}),
        ("compare", {"run": "a\x00b"}),
        ("models/%00", {}),
        ("models/{name}/versions/%00", {}),
        ("experiments/{eid}/runs/{run}/artifacts", {"path": "\x00"}),
        ("dashboard-data/metric-series", {"key": "loss", "run": "\x00"}),
    ],
)
def test_dashboard_refuses_nul(seeded: Fuzzed, path: str, query: dict[str, str]) -> None:
    """U+0000 in a dashboard path or query is a 400 in the route's own form (was a 500 on PostgreSQL,
    whose driver refuses such a statement)."""
    w = seeded.world
    path = path.format(eid=w.experiment_ids[1], run=w.run_ids[0], name=quote(w.model_names[0], safe=""))
    resp = seeded.http.get(f"{seeded.server.url}/{path}", params=query, timeout=TIMEOUT)
    assert resp.status_code == 400, f"{path}: {resp.status_code} {resp.text[:300]}"
    if path.startswith("dashboard-data/"):
        assert "NUL" in _error(resp, 400, "INVALID_PARAMETER_VALUE")
    else:
        assert resp.headers["content-type"].startswith("text/html") and "NUL" in resp.text


def test_dashboard_form_refuses_nul(seeded: Fuzzed) -> None:
    """A form post with U+0000 changes nothing and says why (a 500 on PostgreSQL before)."""
    before = seeded.store.contents()
    resp = post_form(
        seeded.http,
        f"{seeded.server.url}/experiments/create",
        {"name": "a\x00b"},
        page_url=f"{seeded.server.url}/experiments",
        headers={"Origin": seeded.server.url},
        timeout=TIMEOUT,
        allow_redirects=False,
    )
    assert resp.status_code == 400 and "NUL" in resp.text, f"{resp.status_code} {resp.text[:300]}"
    assert seeded.store.contents() == before
