"""The webhook event of each registry change, with MLflow's payload; a prompt's changes are prompt events."""

from __future__ import annotations

from sqlalchemy import Connection

from tracklight.services.webhook_events import IS_PROMPT_TAG, PROMPT_TEXT_TAG, PROMPT_TYPE_TAG
from tracklight.services.webhook_outbox import Outbox
from tracklight.store import registry as store

_PROMPT_MARKERS = (IS_PROMPT_TAG, PROMPT_TYPE_TAG)


def _is_prompt(conn: Connection, model_id: int) -> bool:
    value = store.model_tag_value(conn, model_id, IS_PROMPT_TAG)
    return value is not None and value.lower() == "true"


def model_created(
    outbox: Outbox, conn: Connection, name: str, description: str | None, tags: list[tuple[str, str]]
) -> None:
    # A request that carries the prompt marker creates a prompt, as MLflow decides it.
    prompt = any(k == IS_PROMPT_TAG for k, _ in tags)
    kept = {k: val for k, val in tags if not (prompt and k in _PROMPT_MARKERS)}
    data = {"name": name, "tags": kept, "description": description if description is not None else ""}
    outbox.add(conn, "prompt" if prompt else "registered_model", "created", data)


def version_created(
    outbox: Outbox,
    conn: Connection,
    name: str,
    version: int,
    *,
    source: str,
    run_id: str | None,
    description: str | None,
    tags: list[tuple[str, str]],
) -> None:
    tag_map = dict(tags)
    if IS_PROMPT_TAG in tag_map:
        template = tag_map.pop(PROMPT_TEXT_TAG, None)
        for marker in _PROMPT_MARKERS:
            tag_map.pop(marker, None)
        data = {
            "name": name,
            "version": str(version),
            "template": template,
            "tags": tag_map,
            "description": description or None,
        }
        outbox.add(conn, "prompt_version", "created", data)
        return
    data = {
        "name": name,
        "version": str(version),
        "source": source,
        "run_id": run_id or None,
        "tags": tag_map,
        "description": description or None,
    }
    outbox.add(conn, "model_version", "created", data)


def model_tag_set(outbox: Outbox, conn: Connection, model_id: int, name: str, key: str, value: str) -> None:
    # MLflow has no event for a registered model's tags; a prompt's tags are prompt_tag events.
    if _is_prompt(conn, model_id):
        outbox.add(conn, "prompt_tag", "set", {"name": name, "key": key, "value": value})


def model_tag_deleted(outbox: Outbox, conn: Connection, model_id: int, name: str, key: str) -> None:
    if _is_prompt(conn, model_id):
        outbox.add(conn, "prompt_tag", "deleted", {"name": name, "key": key})


def version_tag_set(
    outbox: Outbox, conn: Connection, model_id: int, name: str, version: int, key: str, value: str
) -> None:
    entity = "prompt_version_tag" if _is_prompt(conn, model_id) else "model_version_tag"
    outbox.add(conn, entity, "set", {"name": name, "version": str(version), "key": key, "value": value})


def version_tag_deleted(
    outbox: Outbox, conn: Connection, model_id: int, name: str, version: int, key: str
) -> None:
    entity = "prompt_version_tag" if _is_prompt(conn, model_id) else "model_version_tag"
    outbox.add(conn, entity, "deleted", {"name": name, "version": str(version), "key": key})


def alias_set(outbox: Outbox, conn: Connection, model_id: int, name: str, alias: str, version: int) -> None:
    entity = "prompt_alias" if _is_prompt(conn, model_id) else "model_version_alias"
    outbox.add(conn, entity, "created", {"name": name, "alias": alias, "version": str(version)})


def alias_deleted(outbox: Outbox, conn: Connection, model_id: int, name: str, alias: str) -> None:
    entity = "prompt_alias" if _is_prompt(conn, model_id) else "model_version_alias"
    outbox.add(conn, entity, "deleted", {"name": name, "alias": alias})
