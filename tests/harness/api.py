"""Raw HTTP helpers for tests that check status codes and error bodies, plus client-version switches."""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import requests

TIMEOUT = 60.0
MAX_DOUBLE = 1.7976931348623157e308


def post(url: str, body: Any, **kwargs: Any) -> requests.Response:
    return requests.post(url, json=body, timeout=TIMEOUT, **kwargs)


def get(url: str, params: Any = None, **kwargs: Any) -> requests.Response:
    return requests.get(url, params=params, timeout=TIMEOUT, **kwargs)


def ok(resp: requests.Response) -> dict[str, Any]:
    """Assert a 200 with a JSON object body and return it."""
    assert resp.status_code == 200, (
        f"{resp.request.method} {resp.url} -> {resp.status_code}: {resp.text[:500]}"
    )
    body = resp.json()
    assert isinstance(body, dict), f"{resp.request.method} {resp.url}: body is not a JSON object: {body!r}"
    return body


def assert_error(resp: requests.Response, status: int, *codes: str) -> dict[str, Any]:
    """Assert an error response: this status, a JSON body whose error_code is one of `codes`, and a message."""
    where = f"{resp.request.method} {resp.url} (body sent: {str(resp.request.body)[:200]!r})"
    assert resp.status_code == status, (
        f"{where}: expected {status} {codes}, got {resp.status_code}: {resp.text[:500]}"
    )
    assert "json" in resp.headers.get("content-type", ""), f"{where}: error is not JSON: {resp.text[:300]!r}"
    body = resp.json()
    assert isinstance(body, dict), f"{where}: error body is not an object: {body!r}"
    if codes:
        assert body.get("error_code") in codes, f"{where}: expected error_code in {codes}, got {body!r}"
    assert isinstance(body.get("message"), str) and body["message"], (
        f"{where}: error without a message: {body!r}"
    )
    return body


def assert_4xx_not_500(resp: requests.Response) -> None:
    """A malformed request must be answered 400 (never a 5xx the client would retry)."""
    where = f"{resp.request.method} {resp.url} (body sent: {str(resp.request.body)[:200]!r})"
    assert resp.status_code == 400, f"{where}: expected 400, got {resp.status_code}: {resp.text[:500]}"


def mlflow_major() -> int:
    import mlflow

    return int(mlflow.__version__.split(".")[0])


def is_mlflow3() -> bool:
    return mlflow_major() >= 3


def raises_code(fn: Callable[[], Any], code: str) -> Exception:
    """Call fn, assert it raises MlflowException with `code`, and return the exception."""
    from mlflow.exceptions import MlflowException

    try:
        fn()
    except MlflowException as exc:
        assert exc.error_code == code, f"expected {code}, got {exc.error_code}: {exc.message}"
        return exc
    raise AssertionError(f"expected MlflowException {code}, but the call succeeded")


def same_float(a: float, b: float) -> bool:
    """Equality that treats NaN as equal to NaN."""
    if isinstance(a, float) and isinstance(b, float) and math.isnan(a) and math.isnan(b):
        return True
    return a == b
