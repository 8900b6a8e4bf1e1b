"""JSON and error responses in MLflow's shape."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import orjson
from starlette.responses import Response

from tracklight.errors import STATUS_BY_CODE


def json_response(body: dict[str, Any], status: int = 200) -> Response:
    return Response(orjson.dumps(body), status_code=status, media_type="application/json")


def error_response(
    code: str, message: str, status: int | None = None, details: Mapping[str, object] | None = None
) -> Response:
    return json_response(
        {**(details or {}), "error_code": code, "message": message}, status or STATUS_BY_CODE.get(code, 400)
    )
