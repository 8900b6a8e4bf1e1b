"""POST (or GET) /graphql: MLflow's GraphQL endpoint, with the document bounded before it is validated or run.

MLflow's answer is {"data": …, "errors": [message, …] or null}, always with status 200 once a query
was given; errors are plain strings, not GraphQL error objects.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

import orjson
from graphql import GraphQLError, execute_sync, parse, validate
from starlette.requests import Request
from starlette.responses import Response

from tracklight.errors import InvalidParameter, StoreUnavailable, TracklightError
from tracklight.http import graphql_limits
from tracklight.http.graphql_schema import SCHEMA, QueryContext, resolve
from tracklight.http.responses import json_response
from tracklight.http.workers import in_worker

log = logging.getLogger("tracklight")

MAX_BODY = 1024 * 1024
_MAX_VALIDATION_ERRORS = 20
_INTERNAL = "Internal server error; see the server log."


async def _request_body(request: Request) -> dict[str, Any]:
    """{query, variables, operationName} from the JSON body (POST) or the query string (GET)."""
    if request.method == "GET":
        query = request.query_params
        body: dict[str, Any] = {"query": query.get("query"), "operationName": query.get("operationName")}
        if query.get("variables"):
            try:
                body["variables"] = orjson.loads(query["variables"])
            except orjson.JSONDecodeError:
                raise InvalidParameter("GraphQL variables must be a JSON object.") from None
        return body
    raw = bytearray()
    async for chunk in request.stream():
        raw += chunk
        if len(raw) > MAX_BODY:
            raise InvalidParameter(f"A GraphQL request may be at most {MAX_BODY // 1024} KiB.")
    try:
        parsed = orjson.loads(raw) if raw.strip() else {}
    except orjson.JSONDecodeError as exc:
        raise InvalidParameter(f"Malformed JSON in request body: {exc}") from None
    if not isinstance(parsed, dict):
        raise InvalidParameter("A GraphQL request body must be a JSON object.")
    return parsed


def _message(error: GraphQLError) -> str:
    """What the caller sees of an error: ours say what was wrong; anything else stays in the log."""
    original = error.original_error
    if original is None or isinstance(original, (TracklightError, GraphQLError)):
        return error.message
    if isinstance(original, StoreUnavailable):
        raise original  # the whole request answers 503, as every other route does
    log.error("internal error in GraphQL field %s", error.path, exc_info=original)
    return _INTERNAL


def run_query(
    services: Mapping[str, Any], query: str, variables: dict[str, Any] | None, operation_name: str | None
) -> dict[str, Any]:
    """Parse, bound, validate and execute one query; the answer in MLflow's {data, errors} shape."""
    try:
        document = parse(query, max_tokens=graphql_limits.MAX_TOKENS)
    except GraphQLError as exc:
        return {"data": None, "errors": [exc.message]}
    refusal = graphql_limits.check(document)
    if refusal is not None:
        return {"data": None, "errors": [refusal]}
    invalid = validate(SCHEMA, document, max_errors=_MAX_VALIDATION_ERRORS)
    if invalid:
        return {"data": None, "errors": [e.message for e in invalid]}
    result = execute_sync(
        SCHEMA,
        document,
        context_value=QueryContext(services),
        variable_values=variables,
        operation_name=operation_name,
        field_resolver=resolve,
    )
    errors = [_message(e) for e in result.errors] if result.errors else None
    return {"data": result.data, "errors": errors}


async def serve(request: Request, services: Mapping[str, Any], _: dict[str, str]) -> Response:
    body = await _request_body(request)
    query = body.get("query")
    if not isinstance(query, str) or not query.strip():
        raise InvalidParameter("A GraphQL request must give the query as a non-empty string in 'query'.")
    variables = body.get("variables")
    if variables is not None and not isinstance(variables, dict):
        raise InvalidParameter("GraphQL variables must be a JSON object.")
    operation_name = body.get("operationName")
    if operation_name is not None and not isinstance(operation_name, str):
        raise InvalidParameter("operationName must be a string.")
    return json_response(await in_worker(run_query, services, query, variables, operation_name))
