"""The AI gateway's endpoints: the models they route to, the resources bound to them, and their tags."""

from __future__ import annotations

import json
import math
import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection

from tracklight.auth import gate
from tracklight.auth.permissions import EXPERIMENT
from tracklight.errors import InvalidParameter, NotFound, TracklightError
from tracklight.services.experiments import parse_experiment_id
from tracklight.services.gateway import MAX_NAME, MAX_USER, bounded, new_id, read_for_admins, required
from tracklight.store import experiments as experiment_store
from tracklight.store import gateway as store
from tracklight.store.engine import Database
from tracklight.store.gateway import BindingRow, EndpointRow, MappingRow
from tracklight.store.transactions import in_transaction

LINKAGE_TYPES = ("PRIMARY", "FALLBACK")
ROUTING_STRATEGIES = ("REQUEST_BASED_TRAFFIC_SPLIT",)
FALLBACK_STRATEGIES = ("SEQUENTIAL",)
RESOURCE_TYPES = ("scorer",)
MAX_TAG_KEY, MAX_TAG_VALUE = 250, 5000
_ENDPOINT_NAME = re.compile(r"[A-Za-z0-9_.\-]+\Z")
# The tags MLflow gives the experiment it makes for an endpoint's usage tracking.
_USAGE_EXPERIMENT_TAGS = (
    "mlflow.experiment.sourceType",
    "mlflow.experiment.sourceId",
    "mlflow.experiment.isGateway",
)


def _now() -> int:
    return int(time.time() * 1000)


def _check_endpoint_name(name: str) -> str:
    if not _ENDPOINT_NAME.match(name):
        raise InvalidParameter(
            f"Invalid endpoint name '{name}'. Name can only contain letters, numbers, underscores, hyphens, "
            "and dots."
        )
    return bounded(name, "name", MAX_NAME) or name


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
        required(model_definition_id, f"{where}.model_definition_id"), linkage, weight, fallback_order
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


class GatewayEndpoints:
    """Endpoint rules over the store; like the rest of the gateway's configuration, for admins only."""

    def __init__(self, db: Database, artifact_root: str) -> None:
        self.db = db
        self.artifact_root = artifact_root  # of the experiments made for usage tracking

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

    def _write(self, work: Callable[[Connection], EndpointRow], made: list[int]) -> EndpointRow:
        """work(conn) in a transaction; then the usage experiments it made (ids it put in `made`, which
        it empties first, as a retry runs it again) are announced as created, for their creator's grant."""
        endpoint = in_transaction(self.db, work)
        for eid in made:
            gate.created(EXPERIMENT, str(eid))
        return endpoint

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
        name = _check_endpoint_name(required(name, "name"))
        if not configs:
            raise InvalidParameter("Endpoint must have at least one model configuration")
        who = bounded(created_by or None, "created_by", MAX_USER)
        has_fallbacks = any(c.linkage_type == "FALLBACK" for c in configs)
        endpoint_id, now = new_id("e"), _now()
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

        return self._write(work, made)

    def get_endpoint(self, endpoint_id: str | None, name: str | None) -> EndpointRow:
        return read_for_admins(
            self.db,
            lambda c, by_id, by_name: store.get_endpoint(c, endpoint_id=by_id, name=by_name),
            ("endpoint_id", endpoint_id),
            ("name", name),
        )

    def list_endpoints(self, provider: str | None, secret_id: str | None) -> list[EndpointRow]:
        return read_for_admins(
            self.db, lambda c: store.list_endpoints(c, provider or None, secret_id or None)
        )

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
        endpoint_id = required(endpoint_id, "endpoint_id")
        new_name = _check_endpoint_name(name) if name else None
        who = bounded(updated_by or None, "updated_by", MAX_USER)
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

        return self._write(work, made)

    def delete_endpoint(self, endpoint_id: str | None) -> None:
        """The endpoint with its models, bindings and tags; its usage experiment stays."""
        gate.require_admin()
        endpoint_id = required(endpoint_id, "endpoint_id")

        def work(conn: Connection) -> None:
            store.get_endpoint(conn, endpoint_id=endpoint_id, for_update=True)
            store.delete_endpoint(conn, endpoint_id)

        in_transaction(self.db, work)

    def attach_model(
        self, endpoint_id: str | None, config: ModelConfig, created_by: str | None
    ) -> MappingRow:
        gate.require_admin()
        endpoint_id = required(endpoint_id, "endpoint_id")
        who = bounded(created_by or None, "created_by", MAX_USER)

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
        endpoint_id = required(endpoint_id, "endpoint_id")
        definition_id = required(model_definition_id, "model_definition_id")

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
            endpoint_id=required(endpoint_id, "endpoint_id"),
            resource_type=_check_resource_type(required(resource_type, "resource_type")),
            resource_id=bounded(required(resource_id, "resource_id"), "resource_id", MAX_NAME) or "",
            display_name=None,
            created_by=bounded(created_by or None, "created_by", MAX_USER),
            last_updated_by=bounded(created_by or None, "created_by", MAX_USER),
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
            required(endpoint_id, "endpoint_id"),
            required(resource_type, "resource_type"),
            required(resource_id, "resource_id"),
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
        return read_for_admins(
            self.db,
            lambda c: store.list_bindings(c, endpoint_id or None, resource_type or None, resource_id or None),
        )

    def set_tag(self, endpoint_id: str | None, key: str | None, value: str | None) -> None:
        gate.require_admin()
        endpoint_id = required(endpoint_id, "endpoint_id")
        key = bounded(required(key, "key"), "key", MAX_TAG_KEY) or ""
        text = bounded(value or "", "value", MAX_TAG_VALUE) or ""

        def work(conn: Connection) -> None:
            store.get_endpoint(conn, endpoint_id=endpoint_id, for_update=True)
            store.set_tag(conn, endpoint_id, key, text)

        in_transaction(self.db, work)

    def delete_tag(self, endpoint_id: str | None, key: str | None) -> None:
        gate.require_admin()
        endpoint_id = required(endpoint_id, "endpoint_id")
        key = required(key, "key")

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
        mapping_id=new_id("m"),
        endpoint_id=endpoint_id,
        model_definition_id=config.model_definition_id,
        linkage_type=config.linkage_type,
        position=position,
        weight=config.weight,
        fallback_order=config.fallback_order,
        created_by=who,
        created_at=now,
    )
