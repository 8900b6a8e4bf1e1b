"""Validation and normalisation rules for names, values and limits, as the MLflow client expects them."""

from __future__ import annotations

import math
import posixpath
import re
from typing import TypeVar

from tracklight.errors import InvalidParameter
from tracklight.store.records import DatasetInput, SearchArgs

MAX_KEY_LENGTH = 250
MAX_PARAM_VALUE_LENGTH = 6000
MAX_TAG_VALUE_LENGTH = 8000
MAX_EXPERIMENT_TAG_VALUE_LENGTH = 20000
MAX_EXPERIMENT_NAME_LENGTH = 500
MAX_METRICS_PER_BATCH = 1000
MAX_PARAMS_PER_BATCH = 100
MAX_TAGS_PER_BATCH = 100
MAX_ENTITIES_PER_BATCH = 1000
MAX_DOUBLE = 1.7976931348623157e308
RUN_STATUSES = ("RUNNING", "SCHEDULED", "FINISHED", "FAILED", "KILLED")

Order = TypeVar("Order")

_KEY_RE = re.compile(r"^[/\w.\- :]*$")
# Keys that passed: a sweep logs the same few keys again and again, and the checks below (a regex and a
# path normalisation) cost more than the rest of a logged metric's validation. Bounded: callers choose keys.
_VALID_KEYS: set[str] = set()
_VALID_KEYS_LIMIT = 20_000


def validate_key(key: str, what: str = "name") -> str:
    if type(key) is str and key in _VALID_KEYS:
        return key
    _check_key(key, what)
    if len(_VALID_KEYS) >= _VALID_KEYS_LIMIT:
        _VALID_KEYS.clear()
    _VALID_KEYS.add(key)
    return key


def _check_key(key: str, what: str) -> None:
    if not isinstance(key, str) or key == "":
        raise InvalidParameter(
            f"Invalid value {key!r} for parameter '{what}': the key must be a non-empty string."
        )
    if len(key) > MAX_KEY_LENGTH:
        raise InvalidParameter(
            f"'{what}' exceeds the maximum length of {MAX_KEY_LENGTH} characters (got {len(key)})."
        )
    if not _KEY_RE.match(key):
        raise InvalidParameter(
            f"Invalid value \"{key}\" for parameter '{what}' supplied: Names may only contain alphanumerics, "
            "underscores (_), dashes (-), periods (.), spaces ( ), colon(:) and slashes (/)."
        )
    # A key is also a path segment in artifact-style views; it must not normalise to something else.
    if key.startswith("/") or posixpath.normpath(key) != key.rstrip("/") or ".." in key.split("/"):
        raise InvalidParameter(
            f"Invalid value \"{key}\" for parameter '{what}' supplied: Names may be treated as files in certain "
            "cases, and must not resolve to other names when treated as such."
        )


def truncate(value: str, limit: int) -> str:
    """MLflow truncates over-long param and tag values silently rather than rejecting them."""
    return value if len(value) <= limit else value[:limit]


def metric_value(value: float) -> float:
    """Clamp infinities the way MLflow's SQL store does; NaN passes through."""
    if math.isinf(value):
        return MAX_DOUBLE if value > 0 else -MAX_DOUBLE
    return value


def validate_experiment_name(name: str) -> str:
    if not name or not name.strip():
        raise InvalidParameter("Invalid experiment name: ''. Experiment name must be a non-empty string.")
    if len(name) > MAX_EXPERIMENT_NAME_LENGTH:
        raise InvalidParameter(
            f"Experiment name exceeds the maximum length of {MAX_EXPERIMENT_NAME_LENGTH} characters."
        )
    return name


def validate_batch_sizes(n_metrics: int, n_params: int, n_tags: int) -> None:
    if n_metrics > MAX_METRICS_PER_BATCH:
        raise InvalidParameter(
            f"A batch logging request can contain at most {MAX_METRICS_PER_BATCH} metrics. "
            f"Got {n_metrics} metrics. Please split up metrics across multiple requests and try again."
        )
    if n_params > MAX_PARAMS_PER_BATCH:
        raise InvalidParameter(
            f"A batch logging request can contain at most {MAX_PARAMS_PER_BATCH} params. "
            f"Got {n_params} params. Please split up params across multiple requests and try again."
        )
    if n_tags > MAX_TAGS_PER_BATCH:
        raise InvalidParameter(
            f"A batch logging request can contain at most {MAX_TAGS_PER_BATCH} tags. "
            f"Got {n_tags} tags. Please split up tags across multiple requests and try again."
        )
    total = n_metrics + n_params + n_tags
    if total > MAX_ENTITIES_PER_BATCH:
        raise InvalidParameter(
            f"A batch logging request can contain at most {MAX_ENTITIES_PER_BATCH} metrics, params and tags "
            f"in total. Got {total}."
        )


# (field, limit) for datasets logged as run inputs, and for their input tags.
_DATASET_LIMITS = (
    ("name", 500),
    ("digest", 36),
    ("source", 65535),
    ("schema", 1048575),
    ("profile", 16777215),
)
MAX_INPUT_TAG_KEY_LENGTH = 255
MAX_INPUT_TAG_VALUE_LENGTH = 500


def validate_dataset(dataset: DatasetInput) -> None:
    for field, limit in _DATASET_LIMITS:
        value = getattr(dataset, field)
        if value is not None and len(value) > limit:
            raise InvalidParameter(
                f"Dataset {field} exceeds the maximum length of {limit} characters (got {len(value)})."
            )
    for key, value in dataset.tags:
        if len(key) > MAX_INPUT_TAG_KEY_LENGTH:
            raise InvalidParameter(f"Input tag key exceeds the maximum length of {MAX_INPUT_TAG_KEY_LENGTH}.")
        if len(value) > MAX_INPUT_TAG_VALUE_LENGTH:
            raise InvalidParameter(
                f"Input tag value exceeds the maximum length of {MAX_INPUT_TAG_VALUE_LENGTH}."
            )


def validate_max_results(value: int | None, *, default: int, cap: int, what: str = "max_results") -> int:
    if value is None:
        return default
    if value <= 0 or value > cap:
        raise InvalidParameter(
            f"Invalid value {value} for parameter '{what}' supplied. It must be a positive integer at most {cap}."
        )
    return value


def search_args(
    filter_string: str | None,
    order_by: list[Order],
    max_results: int | None,
    page_token: str | None,
    *,
    default: int,
    cap: int,
) -> SearchArgs[Order]:
    """A search's common arguments, with max_results checked against `cap` (`default` when unset)."""
    return SearchArgs(
        filter_string, order_by, validate_max_results(max_results, default=default, cap=cap), page_token
    )


def validate_view_type(value: str | None) -> str:
    view = (value or "ACTIVE_ONLY").upper()
    if view not in ("ACTIVE_ONLY", "DELETED_ONLY", "ALL"):
        raise InvalidParameter(f"Invalid view type '{value}'; use ACTIVE_ONLY, DELETED_ONLY or ALL.")
    return view
