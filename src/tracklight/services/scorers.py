"""MLflow 3 registered scorers: versions numbered per experiment and name, and their online configuration.

A scorer belongs to its experiment, which must exist and be active for every call, and takes its
permissions: READ to list and get, EDIT to register, delete and configure. A scorer's serialized form is
the client's JSON, kept verbatim; the server only checks what the reference checks (a JSON object, no
decorator source code, which the client would execute on loading, and a well-formed model name).
"""

from __future__ import annotations

import json
import math
import time
import uuid
from collections.abc import Sequence
from typing import Any

from sqlalchemy import Connection

from tracklight.auth import gate
from tracklight.auth.permissions import EXPERIMENT, Permission
from tracklight.errors import InvalidParameter, NotFound
from tracklight.services.experiments import active_location, parse_experiment_id
from tracklight.store import gateway as gateway_store
from tracklight.store import scorers as store
from tracklight.store.engine import Database
from tracklight.store.gateway import BindingRow
from tracklight.store.scorers import OnlineScoringConfig, ScorerVersion
from tracklight.store.transactions import in_transaction

MAX_NAME_LENGTH = 256  # the column's size
MAX_SCORER_IDS = 1000
GATEWAY_PROVIDER = "gateway"
# Where a serialized scorer keeps its judge model, by kind of scorer (a memory-augmented judge wraps
# another judge, whose model is the one that counts).
_MODEL_HOLDERS = (
    "instructions_judge_pydantic_data",
    "builtin_scorer_pydantic_data",
    "third_party_scorer_data",
)


def _now() -> int:
    return int(time.time() * 1000)


def _not_found(name: str, experiment_id: int, version: int | None = None) -> NotFound:
    if version is None:
        return NotFound(f"Scorer with name '{name}' not found for experiment {experiment_id}.")
    return NotFound(
        f"Scorer with name '{name}' and version {version} not found for experiment {experiment_id}."
    )


def _check_name(name: str) -> str:
    if not name.strip():
        raise InvalidParameter("Scorer name cannot be empty or contain only whitespace.")
    if len(name) > MAX_NAME_LENGTH:
        raise InvalidParameter(f"Scorer name exceeds the maximum length of {MAX_NAME_LENGTH} characters.")
    return name


def judge_model(data: dict[str, Any]) -> Any:
    """The model a serialized scorer's judge calls, or None for a scorer without one."""
    memory = data.get("memory_augmented_judge_data")
    if isinstance(memory, dict) and isinstance(memory.get("base_judge"), dict):
        return judge_model(memory["base_judge"])
    for holder in _MODEL_HOLDERS:
        held = data.get(holder)
        if isinstance(held, dict) and held:
            return held.get("model")
    return None


def _provider(model: str) -> str | None:
    """The provider of a `<provider>:/<model>` name, None if the name has another form."""
    provider, sep, rest = model.partition(":/")
    return provider if sep and provider and rest.lstrip("/") else None


def _check_serialized(serialized: str) -> dict[str, Any]:
    try:
        data = json.loads(serialized)
    except ValueError:
        raise InvalidParameter("serialized_scorer must be valid JSON.") from None
    if not isinstance(data, dict):
        raise InvalidParameter("serialized_scorer must be a JSON object.")
    if data.get("call_source") is not None:
        # The client rebuilds such a scorer by executing its source: whoever registers one runs code
        # in the process of everyone who loads it. The reference refuses these outside Databricks.
        raise InvalidParameter(
            "Scorers defined with the @scorer decorator cannot be registered: loading one executes its "
            "source code. Register a built-in scorer or an LLM judge (make_judge) instead."
        )
    model = judge_model(data)
    if model is not None:
        if not isinstance(model, str):
            raise InvalidParameter(f"Scorer model must be a string, got {type(model).__name__}.")
        if not model.strip():
            raise InvalidParameter("Scorer model cannot be empty or contain only whitespace.")
    return data


def _gateway_endpoint(data: dict[str, Any]) -> str | None:
    """The name of the AI gateway endpoint the scorer's judge calls (`gateway:/<name>`), if it calls one."""
    model = judge_model(data)
    if isinstance(model, str) and _provider(model) == GATEWAY_PROVIDER:
        return model.partition(":/")[2].lstrip("/")
    return None


def _bind_endpoint(conn: Connection, endpoint_name: str, scorer_id: str, scorer_name: str, now: int) -> None:
    """Record that the scorer uses the endpoint (replacing what an earlier version used), as the reference
    does; the endpoint must exist."""
    try:
        endpoint = gateway_store.get_endpoint(conn, name=endpoint_name)
    except NotFound:
        raise NotFound(
            f"GatewayEndpoint not found (name='{endpoint_name}'): no AI gateway endpoint has this name"
        ) from None
    gateway_store.delete_resource_bindings(conn, "scorer", scorer_id)
    gateway_store.insert_binding(
        conn, BindingRow(endpoint.endpoint_id, "scorer", scorer_id, scorer_name, None, None, now, now)
    )


def _uses_gateway(serialized: str) -> bool:
    return _gateway_endpoint(json.loads(serialized)) is not None


def _check_sample_rate(value: float) -> float:
    if math.isnan(value) or not 0.0 <= value <= 1.0:
        raise InvalidParameter(f"sample_rate must be between 0.0 and 1.0, got {value}")
    return value


class Scorers:
    """Registered-scorer rules over the store."""

    def __init__(self, db: Database) -> None:
        self.db = db

    def _scorer_id(self, conn: Connection, experiment_id: int, name: str, *, lock: bool = False) -> str:
        found = store.scorer_id(conn, experiment_id, name, lock=lock)
        if found is None:
            raise _not_found(name, experiment_id)
        return found

    @gate.requires(Permission.EDIT, EXPERIMENT, "experiment_id")
    def register(self, experiment_id: str, name: str, serialized_scorer: str) -> ScorerVersion:
        """Add a version to the experiment's scorer of this name (creating the scorer if need be): one
        more than its highest version, or 1."""
        eid = parse_experiment_id(experiment_id)
        _check_name(name)
        endpoint = _gateway_endpoint(_check_serialized(serialized_scorer))
        new_id = str(uuid.uuid4())

        def work(conn: Connection) -> ScorerVersion:
            active_location(conn, eid)
            sid = store.ensure_scorer(conn, eid, name, new_id)
            highest = store.highest_version(conn, sid)
            created = ScorerVersion(sid, eid, name, (highest or 0) + 1, serialized_scorer, _now())
            store.insert_version(conn, created)
            if endpoint is not None:
                _bind_endpoint(conn, endpoint, sid, name, created.creation_time)
            return created

        return in_transaction(self.db, work)

    @gate.requires(Permission.READ, EXPERIMENT, "experiment_id")
    def list_latest(self, experiment_id: str) -> list[ScorerVersion]:
        """The highest version of each of the experiment's scorers, by name."""
        eid = parse_experiment_id(experiment_id)

        def work(conn: Connection) -> list[ScorerVersion]:
            active_location(conn, eid)
            return store.latest_versions(conn, eid)

        return in_transaction(self.db, work, write=False)

    @gate.requires(Permission.READ, EXPERIMENT, "experiment_id")
    def list_versions(self, experiment_id: str, name: str) -> list[ScorerVersion]:
        eid = parse_experiment_id(experiment_id)

        def work(conn: Connection) -> list[ScorerVersion]:
            active_location(conn, eid)
            found = store.versions(conn, self._scorer_id(conn, eid, name))
            if not found:
                raise _not_found(name, eid)
            return found

        return in_transaction(self.db, work, write=False)

    @gate.requires(Permission.READ, EXPERIMENT, "experiment_id")
    def get(self, experiment_id: str, name: str, version: int | None) -> ScorerVersion:
        """One version of the scorer; its highest when `version` is None."""
        eid = parse_experiment_id(experiment_id)

        def work(conn: Connection) -> ScorerVersion:
            active_location(conn, eid)
            found = store.version(conn, self._scorer_id(conn, eid, name), version)
            if found is None:
                raise _not_found(name, eid, version)
            return found

        return in_transaction(self.db, work, write=False)

    @gate.requires(Permission.EDIT, EXPERIMENT, "experiment_id")
    def delete(self, experiment_id: str, name: str, version: int | None) -> None:
        """Delete one version, or (`version` None) the scorer with all its versions and configuration.
        Deleting one version leaves the scorer, its id and configuration, even if it was the last."""
        eid = parse_experiment_id(experiment_id)

        def work(conn: Connection) -> None:
            active_location(conn, eid)
            sid = self._scorer_id(conn, eid, name, lock=True)
            if store.delete_versions(conn, sid, version) == 0:
                raise _not_found(name, eid, version)
            if version is None:
                store.delete_scorer(conn, sid)

        in_transaction(self.db, work)

    @gate.requires(Permission.EDIT, EXPERIMENT, "experiment_id")
    def configure_online(
        self, experiment_id: str, name: str, sample_rate: float, filter_string: str | None
    ) -> OnlineScoringConfig:
        """Replace the scorer's online scoring configuration. As in the reference, a scorer samples traces
        (a rate above 0) only if its latest version's judge calls an AI gateway endpoint. Tracklight
        keeps the configuration; it runs no judge itself."""
        eid = parse_experiment_id(experiment_id)
        rate = _check_sample_rate(sample_rate)

        def work(conn: Connection) -> OnlineScoringConfig:
            active_location(conn, eid)
            sid = self._scorer_id(conn, eid, name, lock=True)
            latest = store.version(conn, sid, None) if rate > 0 else None
            if latest is not None and not _uses_gateway(latest.serialized_scorer):
                raise InvalidParameter(
                    f"Scorer '{name}' does not use a gateway model. Automatic evaluation is only "
                    "supported for scorers that use gateway models."
                )
            config = OnlineScoringConfig(uuid.uuid4().hex, sid, eid, rate, filter_string)
            store.replace_config(conn, config)
            return config

        return in_transaction(self.db, work)

    def online_configs(self, scorer_ids: Sequence[str]) -> list[OnlineScoringConfig]:
        """The online configurations of these scorers; unknown scorers, scorers without one, and those
        of experiments the caller may not read are left out."""
        if len(scorer_ids) > MAX_SCORER_IDS:
            raise InvalidParameter(f"At most {MAX_SCORER_IDS} scorer ids may be given at once.")

        found = in_transaction(self.db, lambda c: store.configs(c, scorer_ids), write=False)
        if gate.enforcing():
            found = [c for c in found if gate.readable(EXPERIMENT, c.experiment_id)]
        return found
