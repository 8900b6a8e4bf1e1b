"""Domain errors, each carrying the MLflow error_code that the wire layer turns into a status."""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType
from typing import ClassVar


class TracklightError(Exception):
    """A deterministic failure that the client must see as a 4xx with an MLflow error_code."""

    error_code = "INVALID_PARAMETER_VALUE"
    # Fields sent beside error_code and message, for clients that branch on more than the code.
    details: ClassVar[Mapping[str, object]] = MappingProxyType({})

    def __init__(self, message: str, error_code: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        if error_code is not None:
            self.error_code = error_code


class InvalidParameter(TracklightError):
    error_code = "INVALID_PARAMETER_VALUE"


class NotFound(TracklightError):
    error_code = "RESOURCE_DOES_NOT_EXIST"


class AlreadyExists(TracklightError):
    error_code = "RESOURCE_ALREADY_EXISTS"


class PermissionDenied(TracklightError):
    error_code = "PERMISSION_DENIED"


class PresignedOnly(PermissionDenied):
    """Bytes asked to pass through the server when it is run with --artifacts-presigned-only."""

    details = MappingProxyType({"artifacts_presigned_only": True})


class NotImplementedFeature(TracklightError):
    error_code = "NOT_IMPLEMENTED"


class StoreUnavailable(Exception):
    """The database cannot be reached right now; the wire layer answers 503 with Retry-After."""


# MLflow's error_code → HTTP status table (the client uses the same one).
STATUS_BY_CODE = {
    "INVALID_PARAMETER_VALUE": 400,
    "BAD_REQUEST": 400,
    "RESOURCE_ALREADY_EXISTS": 400,
    "UNAUTHENTICATED": 401,
    "PERMISSION_DENIED": 403,
    "RESOURCE_DOES_NOT_EXIST": 404,
    "ENDPOINT_NOT_FOUND": 404,
    "RESOURCE_CONFLICT": 409,
    "REQUEST_LIMIT_EXCEEDED": 429,
    "NOT_IMPLEMENTED": 501,
    "TEMPORARILY_UNAVAILABLE": 503,
}
