"""Typed access to request fields, whether they came as a JSON body or as query parameters."""

from __future__ import annotations

import json
import math
from collections.abc import Awaitable, Callable
from typing import Any

import orjson
from starlette.datastructures import QueryParams
from starlette.requests import ClientDisconnect, Request
from starlette.types import Receive, Scope

from tracklight.errors import InvalidParameter

_SPECIAL_FLOATS = {
    "nan": math.nan,
    "infinity": math.inf,
    "-infinity": -math.inf,
    "inf": math.inf,
    "-inf": -math.inf,
}
_INT64 = (-(2**63), 2**63 - 1)


def _missing(name: str) -> InvalidParameter:
    return InvalidParameter(
        f"Missing value for required parameter '{name}'. See the API docs for more information."
    )


def _shown(value: Any) -> str:
    """The value as JSON text for a message (orjson refuses integers past 64 bits: Python writes those)."""
    try:
        return orjson.dumps(value).decode()
    except TypeError:
        try:
            return json.dumps(value, default=str)
        except ValueError:  # an integer with more digits than Python will print
            return f"<a {type(value).__name__} too large to show>"


def _bad(name: str, value: Any, hint: str) -> InvalidParameter:
    return InvalidParameter(f"Invalid value {_shown(value)[:200]} for parameter '{name}' supplied: {hint}")


def _text(name: str, value: str) -> str:
    # PostgreSQL text cannot hold U+0000 (its driver refuses the statement), so no backend takes it.
    if "\x00" in value:
        raise _bad(name, value, "Hint: Value contains the NUL character (U+0000), which is not allowed.")
    return value


class Fields:
    """Request fields from a JSON object or a query string (repeated keys become lists)."""

    def __init__(self, data: dict[str, Any], *, from_query: bool = False, path: str = "") -> None:
        self.data = data
        # A query string carries only strings; a key given more than once becomes a list.
        self.from_query = from_query
        # Where this object sits in the request ("metrics[0]"), so a missing field is named as MLflow does.
        self.path = path

    def _name(self, name: str) -> str:
        return f"{self.path}.{name}" if self.path else name

    def raw(self, name: str) -> Any:
        return self.data.get(name)

    def _scalar(self, name: str, required: bool) -> Any:
        """The field's value; in a query string a repeated key counts once, with its last value."""
        value = self.data.get(name)
        if self.from_query and isinstance(value, list):
            value = value[-1]
        if value is None and required:
            raise _missing(self._name(name))
        return value

    def str(self, name: str, *, required: bool = False) -> str | None:
        value = self._scalar(name, required)
        if value is None:
            return None
        if not isinstance(value, str):
            raise _bad(name, value, f"Hint: Value was of type '{type(value).__name__}'. Expected a string.")
        return _text(name, value)

    def required_str(self, name: str) -> str:
        value = self.str(name, required=True)
        assert value is not None
        return value

    def int(self, name: str, *, required: bool = False) -> int | None:
        value = self._scalar(name, required)
        if value is None:
            return None
        if isinstance(value, int) and not isinstance(value, bool):
            number = value
        elif isinstance(value, float) and value.is_integer():
            number = int(value)
        elif isinstance(value, str):
            # Numeric strings are accepted, as the reference server does.
            try:
                number = int(value.strip())
            except ValueError:
                raise _bad(name, value, "Hint: Value was of type 'str' and is not an integer.") from None
        else:
            raise _bad(name, value, f"Hint: Value was of type '{type(value).__name__}'. Expected an integer.")
        if not _INT64[0] <= number <= _INT64[1]:
            raise _bad(name, value, "Hint: Value is out of the int64 range.")
        return number

    def float(self, name: str, *, required: bool = False) -> float | None:
        value = self._scalar(name, required)
        if value is None:
            return None
        return parse_float(name, value)

    def bool(self, name: str) -> bool | None:
        value = self._scalar(name, False)
        if value is None or isinstance(value, bool):
            return value
        lowered = str(value).lower()
        if lowered in ("true", "false"):
            return lowered == "true"
        raise InvalidParameter(f"Invalid boolean value: {value}, must be 'true' or 'false'.")

    def list(self, name: str) -> list[Any]:
        value = self.data.get(name)
        if value is None:
            return []
        if self.from_query and isinstance(value, str):
            return [value]
        if not isinstance(value, list):
            raise _bad(name, value, "Hint: Value must be a list.")
        return value

    def strings(self, name: str) -> list[str]:
        values = self.list(name)
        for value in values:
            if not isinstance(value, str):
                raise _bad(name, value, "Hint: Each item must be a string.")
            _text(name, value)
        return values

    def objects(self, name: str) -> list[Fields]:
        out = []
        for index, item in enumerate(self.list(name)):
            if not isinstance(item, dict):
                raise _bad(name, item, "Hint: Each item must be an object.")
            out.append(Fields(item, path=f"{self._name(name)}[{index}]"))
        return out

    def pairs(self, name: str) -> list[tuple[str, str]]:
        """A list of {key, value} objects (tags, params) as pairs; a missing value is ''."""
        items = self.data.get(name)
        if type(items) is list and not self.from_query:
            # What clients send (string keys and values): taken as they are. Anything else, e.g. a
            # value to refuse, goes through the general path, which names what is wrong.
            out = []
            for item in items:
                if type(item) is not dict:
                    break
                key, value = item.get("key"), item.get("value")
                if type(key) is not str or "\x00" in key:
                    break
                if value is None:
                    value = ""
                elif type(value) is not str or "\x00" in value:
                    break
                out.append((key, value))
            else:
                return out
        return [(f.required_str("key"), f.str("value") or "") for f in self.objects(name)]

    def run_id(self) -> str:
        value = self.str("run_id") or self.str("run_uuid")
        if not value:
            raise _missing("run_id")
        return value


def parse_float(name: str, value: Any) -> float:
    if isinstance(value, bool):
        raise _bad(name, value, "Hint: Value was of type 'bool'. Expected a number.")
    if isinstance(value, (int, float)):
        return float(value)
    if isinstance(value, str):
        special = _SPECIAL_FLOATS.get(value.strip().lower())
        if special is not None:
            return special
        try:
            return float(value)
        except ValueError:
            pass
    raise _bad(name, value, f"Hint: Value was of type '{type(value).__name__}'. Expected a number.")


async def read_fields(request: Request) -> Fields:
    """Parse the request into Fields: the query string for GET, the JSON body otherwise."""
    return await _read(request.scope, request.body)


async def fields_from(scope: Scope, receive: Receive) -> Fields:
    """read_fields on the ASGI scope and channel themselves, without a Request object: the JSON API's
    handlers read nothing else of the request."""
    return await _read(scope, lambda: _body(receive))


async def _read(scope: Scope, body_of: Callable[[], Awaitable[bytes]]) -> Fields:
    method = scope["method"]
    if method == "GET":
        data: dict[str, Any] = {}
        for key, value in QueryParams(scope["query_string"]).multi_items():
            if key in data:
                existing = data[key]
                data[key] = existing + [value] if isinstance(existing, list) else [existing, value]
            else:
                data[key] = value
        return Fields(data, from_query=True)
    if method in ("POST", "PUT"):
        content_type = _header(scope, b"content-type")
        if not content_type:
            raise InvalidParameter("Bad Request. Content-Type header is missing.")
        if not content_type.split(";")[0].strip().lower() == "application/json":
            raise InvalidParameter(
                f"Bad Request. Content-Type must be one of ['application/json'], not {content_type}."
            )
    body = await body_of()
    if not body.strip():
        return Fields({})
    try:
        data = orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise InvalidParameter(f"Malformed JSON in request body: {exc}") from None
    if not isinstance(data, dict):
        raise InvalidParameter("The request body must be a JSON object.")
    return Fields(data)


def _header(scope: Scope, name: bytes) -> str | None:
    """The first value of a header (the server lowercases names), as Starlette's Headers.get gives it."""
    for key, value in scope["headers"]:
        if key == name:
            return value.decode("latin-1")
    return None


async def _body(receive: Receive) -> bytes:
    """The whole request body, as Request.body() reads it; ClientDisconnect if the client went away."""
    chunks: list[bytes] = []
    while True:
        message = await receive()
        if message["type"] == "http.request":
            chunk = message.get("body", b"")
            if chunk:
                chunks.append(chunk)
            if not message.get("more_body", False):
                break
        elif message["type"] == "http.disconnect":
            raise ClientDisconnect()
    return chunks[0] if len(chunks) == 1 else b"".join(chunks)
