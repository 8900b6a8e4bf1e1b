"""registered-models/search and model-versions/search: MLflow filters and order_by as keyset-paginated SELECTs."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlalchemy.sql.elements import ColumnElement

from tracklight.errors import InvalidParameter
from tracklight.store.records import SearchArgs
from tracklight.store.schema import (
    model_version_tags,
    model_versions,
    registered_model_tags,
    registered_models,
)
from tracklight.store.search import predicates
from tracklight.store.search.grammar import (
    EQ,
    LIST_STRING_OPS,
    NE,
    NUMERIC_OPS,
    STRING_OPS,
    Comparison,
    EntityRule,
    KeyRule,
    OrderKey,
    SearchSpec,
    ValueType,
    parse_filter,
    parse_order_by_list,
)
from tracklight.store.search.keyset import SortColumn, fetch_page, fingerprint

PROMPT_TAG = "mlflow.prompt.is_prompt"

_rm, _mv = registered_models, model_versions
_TAGS = EntityRule("tag", any_key=KeyRule(ValueType.STRING, STRING_OPS), orderable=False)
# Timestamps may be ordered by but not filtered on (the reference rejects them in filters).
_TIMESTAMP = KeyRule(ValueType.INTEGER, frozenset())

_MODEL_ATTRIBUTES = EntityRule(
    "attribute",
    keys={
        "name": KeyRule(ValueType.STRING, LIST_STRING_OPS),
        # The reference sorts `timestamp` by the last update too.
        "timestamp": KeyRule(ValueType.INTEGER, frozenset(), canonical="last_updated_timestamp"),
        "last_updated_timestamp": _TIMESTAMP,
        "creation_timestamp": _TIMESTAMP,
    },
)
MODELS_SPEC = SearchSpec(
    entities={"attribute": _MODEL_ATTRIBUTES, "tag": _TAGS, "tags": _TAGS},
    default=_MODEL_ATTRIBUTES,
)

_VERSION_ATTRIBUTES = EntityRule(
    "attribute",
    keys={
        "name": KeyRule(ValueType.STRING, LIST_STRING_OPS),
        "run_id": KeyRule(ValueType.STRING, LIST_STRING_OPS, orderable=False),
        "source_path": KeyRule(ValueType.STRING, STRING_OPS, orderable=False),
        "version_number": KeyRule(ValueType.INTEGER, NUMERIC_OPS),
        "last_updated_timestamp": _TIMESTAMP,
        "creation_timestamp": _TIMESTAMP,
    },
)
VERSIONS_SPEC = SearchSpec(
    entities={"attribute": _VERSION_ATTRIBUTES, "tag": _TAGS, "tags": _TAGS},
    default=_VERSION_ATTRIBUTES,
)

_MODEL_COLUMNS: dict[str, ColumnElement[Any]] = {
    "name": _rm.c.name,
    "last_updated_timestamp": _rm.c.last_updated_time,
    "creation_timestamp": _rm.c.creation_time,
}
_VERSION_COLUMNS: dict[str, ColumnElement[Any]] = {
    "name": _rm.c.name,
    "run_id": _mv.c.run_id,
    "source_path": _mv.c.source,
    "version_number": _mv.c.version,
    "last_updated_timestamp": _mv.c.last_updated_time,
    "creation_timestamp": _mv.c.creation_time,
}
_DEFAULT_VERSION_ORDER = [
    OrderKey("attribute", "last_updated_timestamp", False),
    OrderKey("attribute", "name", True),
    OrderKey("attribute", "version_number", False),
]


def _queries_prompts(comparisons: list[Comparison]) -> bool:
    """Whether the filter asks for prompts (which are otherwise hidden, as in the reference)."""
    for c in comparisons:
        if c.kind == "tag" and c.key == PROMPT_TAG and isinstance(c.value, str):
            wanted = c.value.lower()
            return (c.op == EQ and wanted == "true") or (c.op == NE and wanted == "false")
    return False


def _prompt_model_ids() -> sa.Select[Any]:
    t = registered_model_tags
    return sa.select(t.c.registered_model_id).where(t.c.key == PROMPT_TAG, sa.func.lower(t.c.value) == "true")


def _tag_condition(
    dialect: str, tags: sa.Table, owner: list[ColumnElement[bool]], c: Comparison
) -> ColumnElement[bool]:
    """A tag comparison; `!=` holds when no tag of that key has the value, so entities without it match."""
    tag = tags.alias()
    where = [*(cond(tag) for cond in owner), predicates.string(dialect, tag.c.key, EQ, c.key)]
    if c.op == NE:
        where.append(predicates.string(dialect, tag.c.value, EQ, c.value))
        return ~sa.select(sa.literal(1)).select_from(tag).where(*where).exists()
    where.append(predicates.string(dialect, tag.c.value, c.op, c.value))
    return sa.select(sa.literal(1)).select_from(tag).where(*where).exists()


def _filters(
    dialect: str, comparisons: list[Comparison], columns: dict[str, ColumnElement[Any]], tags, owner
):
    out: list[ColumnElement[bool]] = []
    prompts = _queries_prompts(comparisons)
    for c in comparisons:
        if c.kind == "tag":
            if c.key == PROMPT_TAG and not prompts:
                continue  # replaced by the default prompt exclusion below, as the reference does
            out.append(_tag_condition(dialect, tags, owner, c))
        elif c.key == "version_number":
            out.append(predicates.numeric(columns[c.key], c.op, c.value))
        else:
            out.append(predicates.string(dialect, columns[c.key], c.op, c.value))
    if not prompts:
        out.append(_rm.c.id.not_in(_prompt_model_ids()))
    return out


def _check_max_results(max_results: int) -> None:
    if max_results < 1:
        raise InvalidParameter(
            f"Invalid value for max_results. It must be a positive integer, but got {max_results}"
        )


def _visible(stmt: sa.Select, visible: tuple[bool, list[str]] | None) -> sa.Select:
    """Keep only the models the caller may read (auth.gate.visible), before paging."""
    if visible is None:
        return stmt
    only, names = visible
    return stmt.where(_rm.c.name.in_(names) if only else _rm.c.name.not_in(names))


def search_registered_model_ids(
    conn: sa.Connection, args: SearchArgs[str], visible: tuple[bool, list[str]] | None = None
) -> tuple[list[int], str | None]:
    """One page of registered model ids matching a registered-models/search request."""
    _check_max_results(args.max_results)
    dialect = conn.dialect.name
    comparisons = parse_filter(args.filter_string, MODELS_SPEC)
    for c in comparisons:
        if c.kind == "attribute" and c.key != "name":
            raise InvalidParameter(f"Invalid attribute name: {c.key}. Valid keys are '{{'name'}}'")
    order_keys = parse_order_by_list(args.order_by, MODELS_SPEC)
    columns = [
        SortColumn(_MODEL_COLUMNS[k.key], k.ascending, str if k.key == "name" else int) for k in order_keys
    ]
    if not any(k.key == "name" for k in order_keys):
        columns.append(SortColumn(_rm.c.name, True, str))  # names are unique: the tie-breaker
    owner = [lambda tag: tag.c.registered_model_id == _rm.c.id]
    stmt = sa.select(_rm.c.id).where(
        *_filters(dialect, comparisons, _MODEL_COLUMNS, registered_model_tags, owner)
    )
    stmt = _visible(stmt, visible)
    fp = fingerprint("registered-models", [(k.key, k.ascending) for k in order_keys])
    rows, token = fetch_page(conn, stmt, columns, fp=fp, args=args)
    return [int(r[0]) for r in rows], token


def search_model_version_keys(
    conn: sa.Connection, args: SearchArgs[str], visible: tuple[bool, list[str]] | None = None
) -> tuple[list[tuple[int, int]], str | None]:
    """One page of (registered model id, version) matching a model-versions/search request."""
    _check_max_results(args.max_results)
    dialect = conn.dialect.name
    comparisons = parse_filter(args.filter_string, VERSIONS_SPEC)
    for c in comparisons:
        if c.kind == "attribute" and c.key.endswith("_timestamp"):
            raise InvalidParameter(f"Invalid attribute name: {c.key}")
    order_keys = parse_order_by_list(args.order_by, VERSIONS_SPEC) or _DEFAULT_VERSION_ORDER
    columns = [
        SortColumn(_VERSION_COLUMNS[k.key], k.ascending, str if k.key == "name" else int) for k in order_keys
    ]
    # (name, version) is unique; the reference breaks ties by name ASC, then version DESC.
    if not any(k.key == "name" for k in order_keys):
        columns.append(SortColumn(_rm.c.name, True, str))
    if not any(k.key == "version_number" for k in order_keys):
        columns.append(SortColumn(_mv.c.version, False, int))
    owner = [
        lambda tag: tag.c.registered_model_id == _mv.c.registered_model_id,
        lambda tag: tag.c.version == _mv.c.version,
    ]
    stmt = (
        sa.select(_mv.c.registered_model_id, _mv.c.version)
        .select_from(_mv.join(_rm, _rm.c.id == _mv.c.registered_model_id))
        .where(*_filters(dialect, comparisons, _VERSION_COLUMNS, model_version_tags, owner))
    )
    stmt = _visible(stmt, visible)
    fp = fingerprint("model-versions", [(k.key, k.ascending) for k in order_keys])
    rows, token = fetch_page(conn, stmt, columns, fp=fp, args=args)
    return [(int(r[0]), int(r[1])) for r in rows], token
