"""The AI gateway's configuration: secrets, model definitions, endpoints, their models, bindings and tags.

Stored only: Tracklight keeps what MLflow's gateway pages and clients configure, but proxies no LLM call.
Every change and read is for admins when auth is on (MLflow's finer per-resource grants are not kept).
"""

from __future__ import annotations

import json
import math
import re
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar
from urllib.parse import urlsplit

from sqlalchemy import Connection

from tracklight.auth import gate
from tracklight.auth.permissions import EXPERIMENT
from tracklight.errors import InvalidParameter, NotFound, TracklightError
from tracklight.services.experiments import parse_experiment_id
from tracklight.services.sealed_secrets import SealedSecrets
from tracklight.store import experiments as experiment_store
from tracklight.store import gateway as store
from tracklight.store.engine import Database
from tracklight.store.gateway import BindingRow, EndpointRow, MappingRow, ModelDefinitionRow, SecretRow
from tracklight.store.transactions import in_transaction

LINKAGE_TYPES = ("PRIMARY", "FALLBACK")
ROUTING_STRATEGIES = ("REQUEST_BASED_TRAFFIC_SPLIT",)
FALLBACK_STRATEGIES = ("SEQUENTIAL",)
RESOURCE_TYPES = ("scorer",)
MAX_NAME, MAX_PROVIDER, MAX_MODEL_NAME, MAX_USER = 255, 64, 256, 255
MAX_TAG_KEY, MAX_TAG_VALUE, MAX_SECRET_BYTES = 250, 5000, 65536
MAX_API_BASE = 500
# Keys that would choose where a gateway sends requests: in MLflow's reference only `api_base`, in
# auth_config, may do so (and is checked); the others are refused, and none may hide in secret values.
_DESTINATION_KEYS = frozenset({"api_base", "base_url", "model_list", "fallbacks", "custom_llm_provider"})
_ENDPOINT_NAME = re.compile(r"[A-Za-z0-9_.\-]+\Z")
# The tags MLflow gives the experiment it makes for an endpoint's usage tracking.
_USAGE_EXPERIMENT_TAGS = (
    "mlflow.experiment.sourceType",
    "mlflow.experiment.sourceId",
    "mlflow.experiment.isGateway",
)

T = TypeVar("T")


def _now() -> int:
    return int(time.time() * 1000)


def _new_id(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex}"


def mask(value: str) -> str:
    """What an answer shows of a credential: its first 3 and last 4 characters; short ones not at all."""
    return "***" if len(value) < 8 else f"{value[:3]}...{value[-4:]}"


def _required(value: str | None, name: str) -> str:
    if not value:
        raise InvalidParameter(
            f"Missing value for required parameter '{name}'. See the API docs for more information."
        )
    return value


def _bounded(value: str | None, name: str, limit: int) -> str | None:
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
        config["api_base"] = _bounded(api_base, "api_base", MAX_API_BASE) or ""
    return config


def _check_endpoint_name(name: str) -> str:
    if not _ENDPOINT_NAME.match(name):
        raise InvalidParameter(
            f"Invalid endpoint name '{name}'. Name can only contain letters, numbers, underscores, hyphens, "
            "and dots."
        )
    return _bounded(name, "name", MAX_NAME) or name


def _one_of(first: tuple[str, str | None], second: tuple[str, str | None]) -> None:
    if bool(first[1]) == bool(second[1]):
        raise InvalidParameter(f"Exactly one of {first[0]} or {second[0]} must be provided")


def _read(db: Database, work: Callable[..., T], *named_by: tuple[str, str | None]) -> T:
    """work(conn, *values) for admins, in a read-only transaction. `named_by`: the (parameter, value)
    pairs that name the row to read, their values passed on (None where not given): a lone one must be
    given, and of two (an id and a name) exactly one. The admin check comes first, as for every call."""
    gate.require_admin()
    if len(named_by) == 1:
        _required(named_by[0][1], named_by[0][0])
    elif named_by:
        _one_of(*named_by)
    return in_transaction(db, lambda c: work(c, *(value or None for _, value in named_by)), write=False)


@dataclass(frozen=True, slots=True)
class ModelConfig:
    """One model to attach to an endpoint, as the request gave it."""

    model_definition_id: str
    linkage_type: str
    weight: float
    fallback_order: int | None


def check_model_config(
    model_definition_id: str | None,
    linkage_type: Any,
    weight: float | None,
    fallback_order: int | None,
    where: str,
) -> ModelConfig:
    linkage = linkage_type
    if isinstance(linkage_type, int) and not isinstance(linkage_type, bool):
        linkage = {1: "PRIMARY", 2: "FALLBACK"}.get(linkage_type)
    if not isinstance(linkage, str) or linkage not in LINKAGE_TYPES:
        raise InvalidParameter(
            f"Invalid or missing value for required parameter 'linkage_type' in {where}. "
            f"Must be one of: {', '.join(LINKAGE_TYPES)}."
        )
    weight = 1.0 if weight is None else weight
    if not math.isfinite(weight):
        raise InvalidParameter(f"Invalid value for 'weight' in {where}: it must be a finite number.")
    if fallback_order is not None and not -(2**31) <= fallback_order < 2**31:
        raise InvalidParameter(f"Invalid value for 'fallback_order' in {where}: out of range.")
    return ModelConfig(
        _required(model_definition_id, f"{where}.model_definition_id"), linkage, weight, fallback_order
    )


def check_enum(value: Any, name: str, allowed: tuple[str, ...]) -> str | None:
    """A proto enum given by name or number; its unspecified value (0, or its _UNSPECIFIED name) is None."""
    if value is None or value == 0 or (isinstance(value, str) and value.endswith("_UNSPECIFIED")):
        return None
    if isinstance(value, int) and not isinstance(value, bool) and 1 <= value <= len(allowed):
        return allowed[value - 1]
    if isinstance(value, str) and value in allowed:
        return value
    raise InvalidParameter(
        f"Invalid value {value!r} for parameter '{name}'. Must be one of: {', '.join(allowed)}."
    )


def fallback_json(strategy: str | None, max_attempts: int | None) -> str:
    return json.dumps({"strategy": strategy, "max_attempts": max_attempts})


class Gateway:
    """Gateway configuration rules over the store; credentials go in sealed and come out masked only."""

    def __init__(self, db: Database, secrets: SealedSecrets, artifact_root: str) -> None:
        self.db = db
        self.secrets = secrets
        self.artifact_root = artifact_root  # of the experiments made for usage tracking

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
        name = _bounded(_required(name, "secret_name"), "secret_name", MAX_NAME) or ""
        values = check_secret_value(value)
        if not values:
            raise InvalidParameter("Missing value for required parameter 'secret_value'.")
        config = check_auth_config(auth_config)
        sealed, masked = self._seal(values)
        now = _now()
        row = SecretRow(
            secret_id=_new_id("s"),
            name=name,
            sealed_value=sealed,
            masked_value=masked,
            provider=_bounded(provider or None, "provider", MAX_PROVIDER),
            auth_config=json.dumps(config) if config else None,
            created_by=_bounded(created_by or None, "created_by", MAX_USER),
            last_updated_by=_bounded(created_by or None, "created_by", MAX_USER),
            created_at=now,
            last_updated_at=now,
        )
        in_transaction(self.db, lambda c: store.insert_secret(c, row))
        return row

    def get_secret(self, secret_id: str | None, name: str | None) -> SecretRow:
        return _read(
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
        secret_id = _required(secret_id, "secret_id")
        changes: dict[str, object] = {"last_updated_by": _bounded(updated_by or None, "updated_by", MAX_USER)}
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
        secret_id = _required(secret_id, "secret_id")

        def work(conn: Connection) -> None:
            store.get_secret(conn, secret_id=secret_id, for_update=True)
            store.delete_secret(conn, secret_id)

        in_transaction(self.db, work)

    def list_secrets(self, provider: str | None) -> list[SecretRow]:
        return _read(self.db, lambda c: store.list_secrets(c, provider or None))

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
            model_definition_id=_new_id("d"),
            name=_bounded(_required(name, "name"), "name", MAX_NAME) or "",
            secret_id=_required(secret_id, "secret_id"),
            secret_name=None,
            provider=_bounded(_required(provider, "provider"), "provider", MAX_PROVIDER) or "",
            model_name=_bounded(_required(model_name, "model_name"), "model_name", MAX_MODEL_NAME) or "",
            created_by=_bounded(created_by or None, "created_by", MAX_USER),
            last_updated_by=_bounded(created_by or None, "created_by", MAX_USER),
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
        return _read(self.db, store.get_model_definition, ("model_definition_id", model_definition_id))

    def list_model_definitions(self, provider: str | None, secret_id: str | None) -> list[ModelDefinitionRow]:
        return _read(self.db, lambda c: store.list_model_definitions(c, provider or None, secret_id or None))

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
        definition_id = _required(model_definition_id, "model_definition_id")
        changes: dict[str, object] = {}
        if name:
            changes["name"] = _bounded(name, "name", MAX_NAME)
        if model_name:
            changes["model_name"] = _bounded(model_name, "model_name", MAX_MODEL_NAME)
        if provider:
            changes["provider"] = _bounded(provider, "provider", MAX_PROVIDER)
        if updated_by:
            changes["last_updated_by"] = _bounded(updated_by, "updated_by", MAX_USER)

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
        definition_id = _required(model_definition_id, "model_definition_id")

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

    # -- endpoints -------------------------------------------------------------------------------

    def _usage_experiment(self, conn: Connection, endpoint_name: str, endpoint_id: str) -> tuple[int, bool]:
        """The experiment `gateway/<endpoint name>` (made, with MLflow's gateway tags, when missing);
        and whether it was made now."""
        name = f"gateway/{endpoint_name}"
        try:
            return int(experiment_store.get_experiment_by_name(conn, name).experiment_id), False
        except NotFound:
            pass
        experiment_id = experiment_store.insert_experiment(conn, name, None, self.artifact_root, _now())
        tags = list(zip(_USAGE_EXPERIMENT_TAGS, ("GATEWAY", endpoint_id, "true"), strict=True))
        experiment_store.set_experiment_tags(conn, experiment_id, tags)
        return experiment_id, True

    @staticmethod
    def _experiment_id(conn: Connection, experiment_id: str) -> int:
        eid = parse_experiment_id(experiment_id)
        experiment_store.experiment_state(conn, eid)  # NotFound when there is none
        return eid

    @staticmethod
    def _attach_all(
        conn: Connection, endpoint_id: str, configs: list[ModelConfig], who: str | None, now: int
    ) -> None:
        ids = sorted({c.model_definition_id for c in configs})
        if missing := [i for i in ids if i not in store.existing_model_definitions(conn, ids)]:
            raise NotFound(f"Model definitions not found: {', '.join(missing)}")
        for position, config in enumerate(configs):
            store.insert_mapping(conn, _mapping(endpoint_id, config, position, who, now))

    def create_endpoint(
        self,
        *,
        name: str | None,
        configs: list[ModelConfig],
        created_by: str | None,
        routing_strategy: str | None,
        fallback: tuple[str | None, int | None] | None,
        experiment_id: str | None,
        usage_tracking: bool,
    ) -> EndpointRow:
        gate.require_admin()
        name = _check_endpoint_name(_required(name, "name"))
        if not configs:
            raise InvalidParameter("Endpoint must have at least one model configuration")
        who = _bounded(created_by or None, "created_by", MAX_USER)
        has_fallbacks = any(c.linkage_type == "FALLBACK" for c in configs)
        endpoint_id, now = _new_id("e"), _now()
        made: list[int] = []

        def work(conn: Connection) -> EndpointRow:
            made.clear()
            eid = None
            if experiment_id:
                eid = self._experiment_id(conn, experiment_id)
            elif usage_tracking:
                eid, new = self._usage_experiment(conn, name, endpoint_id)
                made.extend([eid] if new else [])
            row = EndpointRow(
                endpoint_id=endpoint_id,
                name=name,
                routing_strategy=routing_strategy,
                fallback_config=fallback_json(*(fallback or (None, None)))
                if fallback or has_fallbacks
                else None,
                experiment_id=eid,
                usage_tracking=usage_tracking,
                created_by=who,
                last_updated_by=who,
                created_at=now,
                last_updated_at=now,
            )
            store.insert_endpoint(conn, row)
            self._attach_all(conn, endpoint_id, configs, who, now)
            return store.get_endpoint(conn, endpoint_id=endpoint_id)

        endpoint = in_transaction(self.db, work)
        for eid in made:
            gate.created(EXPERIMENT, str(eid))
        return endpoint

    def get_endpoint(self, endpoint_id: str | None, name: str | None) -> EndpointRow:
        return _read(
            self.db,
            lambda c, by_id, by_name: store.get_endpoint(c, endpoint_id=by_id, name=by_name),
            ("endpoint_id", endpoint_id),
            ("name", name),
        )

    def list_endpoints(self, provider: str | None, secret_id: str | None) -> list[EndpointRow]:
        return _read(self.db, lambda c: store.list_endpoints(c, provider or None, secret_id or None))

    def update_endpoint(
        self,
        endpoint_id: str | None,
        *,
        name: str | None,
        configs: list[ModelConfig] | None,
        updated_by: str | None,
        routing_strategy: str | None,
        fallback: tuple[str | None, int | None] | None,
        experiment_id: str | None,
        usage_tracking: bool | None,
    ) -> EndpointRow:
        """Change what is given. New model configurations replace all the endpoint's models (and reset
        its fallback configuration to the one given, as in MLflow)."""
        gate.require_admin()
        endpoint_id = _required(endpoint_id, "endpoint_id")
        new_name = _check_endpoint_name(name) if name else None
        who = _bounded(updated_by or None, "updated_by", MAX_USER)
        made: list[int] = []

        def work(conn: Connection) -> EndpointRow:
            made.clear()
            before = store.get_endpoint(conn, endpoint_id=endpoint_id, for_update=True)
            now = max(_now(), before.last_updated_at + 1)
            changes: dict[str, object] = {"last_updated_at": now}
            if new_name is not None and new_name != before.name:
                if store.endpoint_name_taken(conn, new_name, endpoint_id):
                    raise TracklightError(
                        f"Endpoint with name '{new_name}' already exists", "RESOURCE_ALREADY_EXISTS"
                    )
                changes["name"] = new_name
            if usage_tracking is not None:
                changes["usage_tracking"] = usage_tracking
            if experiment_id:
                changes["experiment_id"] = self._experiment_id(conn, experiment_id)
            elif usage_tracking and before.experiment_id is None:
                eid, new = self._usage_experiment(conn, new_name or before.name, endpoint_id)
                changes["experiment_id"] = eid
                made.extend([eid] if new else [])
            if routing_strategy is not None:
                changes["routing_strategy"] = routing_strategy
            if configs is not None:
                changes["fallback_config"] = fallback_json(*(fallback or (None, None)))
            elif fallback is not None:
                changes["fallback_config"] = fallback_json(*fallback)
            if who:
                changes["last_updated_by"] = who
            store.update_endpoint(conn, endpoint_id, **changes)
            if configs is not None:
                store.delete_mappings(conn, endpoint_id)
                self._attach_all(conn, endpoint_id, configs, who, now)
            return store.get_endpoint(conn, endpoint_id=endpoint_id)

        endpoint = in_transaction(self.db, work)
        for eid in made:
            gate.created(EXPERIMENT, str(eid))
        return endpoint

    def delete_endpoint(self, endpoint_id: str | None) -> None:
        """The endpoint with its models, bindings and tags; its usage experiment stays."""
        gate.require_admin()
        endpoint_id = _required(endpoint_id, "endpoint_id")

        def work(conn: Connection) -> None:
            store.get_endpoint(conn, endpoint_id=endpoint_id, for_update=True)
            store.delete_endpoint(conn, endpoint_id)

        in_transaction(self.db, work)

    def attach_model(
        self, endpoint_id: str | None, config: ModelConfig, created_by: str | None
    ) -> MappingRow:
        gate.require_admin()
        endpoint_id = _required(endpoint_id, "endpoint_id")
        who = _bounded(created_by or None, "created_by", MAX_USER)

        def work(conn: Connection) -> MappingRow:
            before = store.get_endpoint(conn, endpoint_id=endpoint_id, for_update=True)
            definition = store.get_model_definition(conn, config.model_definition_id)
            now = max(_now(), before.last_updated_at + 1)
            mapping = _mapping(endpoint_id, config, store.next_position(conn, endpoint_id), who, now)
            store.insert_mapping(conn, mapping)
            changes: dict[str, object] = {"last_updated_at": now}
            if who:
                changes["last_updated_by"] = who
            store.update_endpoint(conn, endpoint_id, **changes)
            mapping.model_definition = definition
            return mapping

        return in_transaction(self.db, work)

    def detach_model(self, endpoint_id: str | None, model_definition_id: str | None) -> None:
        gate.require_admin()
        endpoint_id = _required(endpoint_id, "endpoint_id")
        definition_id = _required(model_definition_id, "model_definition_id")

        def work(conn: Connection) -> None:
            store.get_endpoint(conn, endpoint_id=endpoint_id, for_update=True)
            if store.delete_mappings(conn, endpoint_id, definition_id) == 0:
                raise NotFound(
                    f"Model definition '{definition_id}' is not attached to endpoint '{endpoint_id}'"
                )

        in_transaction(self.db, work)

    # -- bindings and tags -----------------------------------------------------------------------

    def create_binding(
        self,
        endpoint_id: str | None,
        resource_type: str | None,
        resource_id: str | None,
        created_by: str | None,
    ) -> BindingRow:
        gate.require_admin()
        now = _now()
        row = BindingRow(
            endpoint_id=_required(endpoint_id, "endpoint_id"),
            resource_type=_check_resource_type(_required(resource_type, "resource_type")),
            resource_id=_bounded(_required(resource_id, "resource_id"), "resource_id", MAX_NAME) or "",
            display_name=None,
            created_by=_bounded(created_by or None, "created_by", MAX_USER),
            last_updated_by=_bounded(created_by or None, "created_by", MAX_USER),
            created_at=now,
            last_updated_at=now,
        )

        def work(conn: Connection) -> BindingRow:
            store.get_endpoint(conn, endpoint_id=row.endpoint_id, for_update=True)
            store.insert_binding(conn, row)
            return row

        return in_transaction(self.db, work)

    def delete_binding(
        self, endpoint_id: str | None, resource_type: str | None, resource_id: str | None
    ) -> None:
        gate.require_admin()
        key = (
            _required(endpoint_id, "endpoint_id"),
            _required(resource_type, "resource_type"),
            _required(resource_id, "resource_id"),
        )

        def work(conn: Connection) -> None:
            if not store.delete_binding(conn, *key):
                raise NotFound(
                    f"GatewayEndpointBinding not found (endpoint_id='{key[0]}', resource_type='{key[1]}', "
                    f"resource_id='{key[2]}')"
                )

        in_transaction(self.db, work)

    def list_bindings(
        self, endpoint_id: str | None, resource_type: str | None, resource_id: str | None
    ) -> list[BindingRow]:
        return _read(
            self.db,
            lambda c: store.list_bindings(c, endpoint_id or None, resource_type or None, resource_id or None),
        )

    def set_tag(self, endpoint_id: str | None, key: str | None, value: str | None) -> None:
        gate.require_admin()
        endpoint_id = _required(endpoint_id, "endpoint_id")
        key = _bounded(_required(key, "key"), "key", MAX_TAG_KEY) or ""
        text = _bounded(value or "", "value", MAX_TAG_VALUE) or ""

        def work(conn: Connection) -> None:
            store.get_endpoint(conn, endpoint_id=endpoint_id, for_update=True)
            store.set_tag(conn, endpoint_id, key, text)

        in_transaction(self.db, work)

    def delete_tag(self, endpoint_id: str | None, key: str | None) -> None:
        gate.require_admin()
        endpoint_id = _required(endpoint_id, "endpoint_id")
        key = _required(key, "key")

        def work(conn: Connection) -> None:
            store.get_endpoint(conn, endpoint_id=endpoint_id, for_update=True)
            store.delete_tag(conn, endpoint_id, key)

        in_transaction(self.db, work)


def _check_resource_type(value: str) -> str:
    if value not in RESOURCE_TYPES:
        raise InvalidParameter(
            f"Invalid resource_type {value!r}. Must be one of: {', '.join(RESOURCE_TYPES)}."
        )
    return value


def _mapping(endpoint_id: str, config: ModelConfig, position: int, who: str | None, now: int) -> MappingRow:
    return MappingRow(
        mapping_id=_new_id("m"),
        endpoint_id=endpoint_id,
        model_definition_id=config.model_definition_id,
        linkage_type=config.linkage_type,
        position=position,
        weight=config.weight,
        fallback_order=config.fallback_order,
        created_by=who,
        created_at=now,
    )
