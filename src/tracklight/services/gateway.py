"""The AI gateway's configuration: secrets and model definitions (its endpoints: services.gateway_endpoints).

Stored only: Tracklight keeps what MLflow's gateway pages and clients configure, but proxies no LLM call.
Every change and read is for admins when auth is on (MLflow's finer per-resource grants are not kept).
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Callable
from typing import Any, TypeVar
from urllib.parse import urlsplit

from sqlalchemy import Connection

from tracklight.auth import gate
from tracklight.errors import InvalidParameter, TracklightError
from tracklight.services.sealed_secrets import SealedSecrets
from tracklight.store import gateway as store
from tracklight.store.engine import Database
from tracklight.store.gateway import ModelDefinitionRow, SecretRow
from tracklight.store.transactions import in_transaction

MAX_NAME, MAX_PROVIDER, MAX_MODEL_NAME, MAX_USER = 255, 64, 256, 255
MAX_SECRET_BYTES, MAX_API_BASE = 65536, 500
# Keys that would choose where a gateway sends requests: in MLflow's reference only `api_base`, in
# auth_config, may do so (and is checked); the others are refused, and none may hide in secret values.
_DESTINATION_KEYS = frozenset({"api_base", "base_url", "model_list", "fallbacks", "custom_llm_provider"})

T = TypeVar("T")


def _now() -> int:
    return int(time.time() * 1000)


def new_id(prefix: str) -> str:
    """A new gateway resource's id: its kind's letter and a random hex."""
    return f"{prefix}-{uuid.uuid4().hex}"


def mask(value: str) -> str:
    """What an answer shows of a credential: its first 3 and last 4 characters; short ones not at all."""
    return "***" if len(value) < 8 else f"{value[:3]}...{value[-4:]}"


def required(value: str | None, name: str) -> str:
    """The value of a required request field, refused when missing or empty."""
    if not value:
        raise InvalidParameter(
            f"Missing value for required parameter '{name}'. See the API docs for more information."
        )
    return value


def bounded(value: str | None, name: str, limit: int) -> str | None:
    """The value of a request field, refused when longer than its column allows."""
    if value is not None and len(value) > limit:
        raise InvalidParameter(f"'{name}' exceeds the maximum length of {limit} characters.")
    return value


def _string_map(value: Any, name: str) -> dict[str, str]:
    """A proto map<string, string> field: an object of strings (None: not given)."""
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise InvalidParameter(f"Invalid value for parameter '{name}': expected an object of strings.")
    for key, item in value.items():
        if not isinstance(item, str) or "\x00" in key or "\x00" in item:
            raise InvalidParameter(
                f"Invalid value for parameter '{name}': the value of {key!r} must be a string."
            )
    return dict(value)


def check_secret_value(value: Any) -> dict[str, str]:
    values = _string_map(value, "secret_value")
    if reserved := sorted(_DESTINATION_KEYS & set(values)):
        raise InvalidParameter(
            f"secret_value must not contain {', '.join(map(repr, reserved))}: these keys choose where the "
            "gateway sends requests. Set the upstream with 'api_base' in auth_config."
        )
    return values


def check_auth_config(value: Any) -> dict[str, str]:
    """The auth configuration as stored: destination aliases refused, a blank api_base dropped, and a
    given one an http(s) URL with a host (never contacted here: Tracklight sends nothing to it)."""
    config = _string_map(value, "auth_config")
    if reserved := sorted((_DESTINATION_KEYS - {"api_base"}) & set(config)):
        raise InvalidParameter(
            f"auth_config must not contain {', '.join(map(repr, reserved))}: these options choose where "
            "the gateway sends requests. Set the upstream with 'api_base'."
        )
    api_base = config.pop("api_base", "").strip()
    if api_base:
        try:
            parts = urlsplit(api_base)
        except ValueError:
            parts = None
        if parts is None or parts.scheme not in ("http", "https") or not parts.hostname:
            raise InvalidParameter(
                f"Gateway secret api_base must be an http(s) URL with a host: {api_base!r}"
            )
        config["api_base"] = bounded(api_base, "api_base", MAX_API_BASE) or ""
    return config


def _one_of(first: tuple[str, str | None], second: tuple[str, str | None]) -> None:
    if bool(first[1]) == bool(second[1]):
        raise InvalidParameter(f"Exactly one of {first[0]} or {second[0]} must be provided")


def read_for_admins(db: Database, work: Callable[..., T], *named_by: tuple[str, str | None]) -> T:
    """work(conn, *values) for admins, in a read-only transaction. `named_by`: the (parameter, value)
    pairs that name the row to read, their values passed on (None where not given): a lone one must be
    given, and of two (an id and a name) exactly one. The admin check comes first, as for every call."""
    gate.require_admin()
    if len(named_by) == 1:
        required(named_by[0][1], named_by[0][0])
    elif named_by:
        _one_of(*named_by)
    return in_transaction(db, lambda c: work(c, *(value or None for _, value in named_by)), write=False)


class Gateway:
    """Secrets and model definitions over the store; credentials go in sealed and come out masked only."""

    def __init__(self, db: Database, secrets: SealedSecrets) -> None:
        self.db = db
        self.secrets = secrets

    # -- secrets ---------------------------------------------------------------------------------

    def _seal(self, values: dict[str, str]) -> tuple[str, str]:
        plain = json.dumps(values)
        if len(plain.encode()) > MAX_SECRET_BYTES:
            raise InvalidParameter(f"secret_value exceeds the maximum size of {MAX_SECRET_BYTES} bytes.")
        return self.secrets.seal(plain), json.dumps({k: mask(v) for k, v in values.items()})

    def create_secret(
        self, *, name: str | None, value: Any, provider: str | None, auth_config: Any, created_by: str | None
    ) -> SecretRow:
        gate.require_admin()
        name = bounded(required(name, "secret_name"), "secret_name", MAX_NAME) or ""
        values = check_secret_value(value)
        if not values:
            raise InvalidParameter("Missing value for required parameter 'secret_value'.")
        config = check_auth_config(auth_config)
        sealed, masked = self._seal(values)
        now = _now()
        row = SecretRow(
            secret_id=new_id("s"),
            name=name,
            sealed_value=sealed,
            masked_value=masked,
            provider=bounded(provider or None, "provider", MAX_PROVIDER),
            auth_config=json.dumps(config) if config else None,
            created_by=bounded(created_by or None, "created_by", MAX_USER),
            last_updated_by=bounded(created_by or None, "created_by", MAX_USER),
            created_at=now,
            last_updated_at=now,
        )
        in_transaction(self.db, lambda c: store.insert_secret(c, row))
        return row

    def get_secret(self, secret_id: str | None, name: str | None) -> SecretRow:
        return read_for_admins(
            self.db,
            lambda c, by_id, by_name: store.get_secret(c, secret_id=by_id, name=by_name),
            ("secret_id", secret_id),
            ("secret_name", name),
        )

    def update_secret(
        self, secret_id: str | None, *, value: Any, auth_config: Any, updated_by: str | None
    ) -> SecretRow:
        """Rotate the value and/or replace the auth configuration; an empty map leaves its field as it
        was, except an auth configuration that is empty once normalized, which clears it (as in MLflow)."""
        gate.require_admin()
        secret_id = required(secret_id, "secret_id")
        changes: dict[str, object] = {"last_updated_by": bounded(updated_by or None, "updated_by", MAX_USER)}
        if values := check_secret_value(value):
            changes["sealed_value"], changes["masked_value"] = self._seal(values)
        if _string_map(auth_config, "auth_config"):
            config = check_auth_config(auth_config)
            changes["auth_config"] = json.dumps(config) if config else None

        def work(conn: Connection) -> SecretRow:
            before = store.get_secret(conn, secret_id=secret_id, for_update=True)
            changes["last_updated_at"] = max(_now(), before.last_updated_at + 1)
            store.update_secret(conn, secret_id, **changes)
            return store.get_secret(conn, secret_id=secret_id)

        return in_transaction(self.db, work)

    def delete_secret(self, secret_id: str | None) -> None:
        gate.require_admin()
        secret_id = required(secret_id, "secret_id")

        def work(conn: Connection) -> None:
            store.get_secret(conn, secret_id=secret_id, for_update=True)
            store.delete_secret(conn, secret_id)

        in_transaction(self.db, work)

    def list_secrets(self, provider: str | None) -> list[SecretRow]:
        return read_for_admins(self.db, lambda c: store.list_secrets(c, provider or None))

    # -- model definitions -----------------------------------------------------------------------

    def create_model_definition(
        self,
        *,
        name: str | None,
        secret_id: str | None,
        provider: str | None,
        model_name: str | None,
        created_by: str | None,
    ) -> ModelDefinitionRow:
        gate.require_admin()
        now = _now()
        row = ModelDefinitionRow(
            model_definition_id=new_id("d"),
            name=bounded(required(name, "name"), "name", MAX_NAME) or "",
            secret_id=required(secret_id, "secret_id"),
            secret_name=None,
            provider=bounded(required(provider, "provider"), "provider", MAX_PROVIDER) or "",
            model_name=bounded(required(model_name, "model_name"), "model_name", MAX_MODEL_NAME) or "",
            created_by=bounded(created_by or None, "created_by", MAX_USER),
            last_updated_by=bounded(created_by or None, "created_by", MAX_USER),
            created_at=now,
            last_updated_at=now,
        )

        def work(conn: Connection) -> ModelDefinitionRow:
            # Locked, so that the secret cannot be deleted under the new definition.
            secret = store.get_secret(conn, secret_id=row.secret_id, for_update=True)
            store.insert_model_definition(conn, row)
            row.secret_name = secret.name
            return row

        return in_transaction(self.db, work)

    def get_model_definition(self, model_definition_id: str | None) -> ModelDefinitionRow:
        return read_for_admins(
            self.db, store.get_model_definition, ("model_definition_id", model_definition_id)
        )

    def list_model_definitions(self, provider: str | None, secret_id: str | None) -> list[ModelDefinitionRow]:
        return read_for_admins(
            self.db, lambda c: store.list_model_definitions(c, provider or None, secret_id or None)
        )

    def update_model_definition(
        self,
        model_definition_id: str | None,
        *,
        name: str | None,
        secret_id: str | None,
        model_name: str | None,
        provider: str | None,
        updated_by: str | None,
    ) -> ModelDefinitionRow:
        """Change the fields given; as in MLflow, an empty value leaves its field as it was."""
        gate.require_admin()
        definition_id = required(model_definition_id, "model_definition_id")
        changes: dict[str, object] = {}
        if name:
            changes["name"] = bounded(name, "name", MAX_NAME)
        if model_name:
            changes["model_name"] = bounded(model_name, "model_name", MAX_MODEL_NAME)
        if provider:
            changes["provider"] = bounded(provider, "provider", MAX_PROVIDER)
        if updated_by:
            changes["last_updated_by"] = bounded(updated_by, "updated_by", MAX_USER)

        def work(conn: Connection) -> ModelDefinitionRow:
            before = store.get_model_definition(conn, definition_id, for_update=True)
            if secret_id:
                store.get_secret(conn, secret_id=secret_id, for_update=True)
                changes["secret_id"] = secret_id
            changes["last_updated_at"] = max(_now(), before.last_updated_at + 1)
            store.update_model_definition(conn, definition_id, **changes)
            return store.get_model_definition(conn, definition_id)

        return in_transaction(self.db, work)

    def delete_model_definition(self, model_definition_id: str | None) -> None:
        gate.require_admin()
        definition_id = required(model_definition_id, "model_definition_id")

        def work(conn: Connection) -> None:
            store.get_model_definition(conn, definition_id, for_update=True)
            if store.model_definition_in_use(conn, definition_id):
                raise TracklightError(
                    "Cannot delete model definition that is currently in use by endpoints. "
                    "Detach it from all endpoints first.",
                    "INVALID_STATE",
                )
            store.delete_model_definition(conn, definition_id)

        in_transaction(self.db, work)
