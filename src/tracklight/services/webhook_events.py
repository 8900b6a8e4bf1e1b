"""The webhook events MLflow defines: entities, the actions valid on each, and an example payload of each."""

from __future__ import annotations

from typing import Any

from tracklight.errors import InvalidParameter

# Entity → the actions a webhook may subscribe to on it, in MLflow's lower-case spelling (the wire has
# the upper-case enum names, and MLflow's proto numbers are accepted too).
VALID_ACTIONS: dict[str, tuple[str, ...]] = {
    "registered_model": ("created",),
    "model_version": ("created",),
    "model_version_tag": ("set", "deleted"),
    "model_version_alias": ("created", "deleted"),
    "prompt": ("created",),
    "prompt_version": ("created",),
    "prompt_tag": ("set", "deleted"),
    "prompt_version_tag": ("set", "deleted"),
    "prompt_alias": ("created", "deleted"),
    "budget_policy": ("exceeded",),
}
_ENTITY_NUMBERS = {number: name for number, name in enumerate(VALID_ACTIONS, start=1)}
_ACTIONS = ("created", "updated", "deleted", "set", "exceeded")
_ACTION_NUMBERS = {number: name for number, name in enumerate(_ACTIONS, start=1)}

# Tags that mark a registered model as a prompt, and that MLflow keeps out of prompt event payloads.
IS_PROMPT_TAG = "mlflow.prompt.is_prompt"
PROMPT_TYPE_TAG = "_mlflow_prompt_type"
PROMPT_TEXT_TAG = "mlflow.prompt.text"

_EXAMPLE_TAGS = {"example_key": "example_value"}
# What `test` sends for each event: a payload of the event's shape about a made-up model or prompt.
EXAMPLES: dict[tuple[str, str], dict[str, Any]] = {
    ("registered_model", "created"): {
        "name": "example_model",
        "tags": _EXAMPLE_TAGS,
        "description": "An example registered model",
    },
    ("model_version", "created"): {
        "name": "example_model",
        "version": "1",
        "source": "models:/123",
        "run_id": "abcd1234abcd5678",
        "tags": _EXAMPLE_TAGS,
        "description": "An example model version",
    },
    ("model_version_tag", "set"): {
        "name": "example_model",
        "version": "1",
        "key": "example_key",
        "value": "example_value",
    },
    ("model_version_tag", "deleted"): {"name": "example_model", "version": "1", "key": "example_key"},
    ("model_version_alias", "created"): {"name": "example_model", "alias": "example_alias", "version": "1"},
    ("model_version_alias", "deleted"): {"name": "example_model", "alias": "example_alias"},
    ("prompt", "created"): {
        "name": "example_prompt",
        "tags": _EXAMPLE_TAGS,
        "description": "An example prompt",
    },
    ("prompt_version", "created"): {
        "name": "example_prompt",
        "version": "1",
        "template": "Hello {{name}}!",
        "tags": _EXAMPLE_TAGS,
        "description": "An example prompt version",
    },
    ("prompt_tag", "set"): {"name": "example_prompt", "key": "example_key", "value": "example_value"},
    ("prompt_tag", "deleted"): {"name": "example_prompt", "key": "example_key"},
    ("prompt_version_tag", "set"): {
        "name": "example_prompt",
        "version": "1",
        "key": "example_key",
        "value": "example_value",
    },
    ("prompt_version_tag", "deleted"): {"name": "example_prompt", "version": "1", "key": "example_key"},
    ("prompt_alias", "created"): {"name": "example_prompt", "alias": "example_alias", "version": "1"},
    ("prompt_alias", "deleted"): {"name": "example_prompt", "alias": "example_alias"},
    ("budget_policy", "exceeded"): {
        "budget_policy_id": "bp-abc123",
        "budget_unit": "USD",
        "budget_amount": 100.0,
        "current_spend": 105.5,
        "duration_unit": "MONTHS",
        "duration_value": 1,
        "target_scope": "WORKSPACE",
        "workspace": "default",
        "window_start": 1704067200000,
    },
}


def _enum(value: Any, numbers: dict[int, str], known: tuple[str, ...], what: str) -> str:
    if isinstance(value, int) and not isinstance(value, bool) and value in numbers:
        return numbers[value]
    if isinstance(value, str) and value.lower() in known:
        return value.lower()
    raise InvalidParameter(
        f"Invalid webhook event {what} {value!r}. Valid values are: {', '.join(k.upper() for k in known)}."
    )


def parse_event(raw: Any) -> tuple[str, str]:
    """(entity, action) of one wire event {"entity": "MODEL_VERSION", "action": "CREATED"}, refused
    (INVALID_PARAMETER_VALUE) when either is unknown or the action does not apply to the entity."""
    if not isinstance(raw, dict):
        raise InvalidParameter(f"Invalid webhook event {raw!r}: expected an object with entity and action.")
    entity = _enum(raw.get("entity"), _ENTITY_NUMBERS, tuple(VALID_ACTIONS), "entity")
    action = _enum(raw.get("action"), _ACTION_NUMBERS, _ACTIONS, "action")
    valid = VALID_ACTIONS[entity]
    if action not in valid:
        raise InvalidParameter(
            f"Invalid action '{action}' for entity '{entity}'. Valid actions are: {sorted(valid)}"
        )
    return entity, action


def parse_events(raw: Any) -> list[tuple[str, str]]:
    """A non-empty list of events, each once, sorted as they are stored and returned."""
    if not isinstance(raw, list) or not raw:
        raise InvalidParameter("Webhook events must be a non-empty list of {entity, action} objects.")
    return sorted({parse_event(item) for item in raw})


def wire_event(event: tuple[str, str]) -> dict[str, str]:
    return {"entity": event[0].upper(), "action": event[1].upper()}
