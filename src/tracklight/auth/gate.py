"""Authorization: what the request's principal may do to an experiment or a registered model.

Runs, metrics, artifacts and logged models take the permission of their experiment; model versions
that of their registered model; an evaluation dataset that of every experiment it is linked to (as
MLflow's auth app has it: a dataset linked to no experiment is for admins only). Admins pass every
check; a user without a grant gets the default permission; DENY beats the default. The services call
in here (`requires` on their methods, or the functions below); with authentication off no gate is
installed and every check passes.
"""

from __future__ import annotations

import functools
import inspect
import threading
from collections.abc import Callable, Iterable
from typing import Any, TypeVar

import sqlalchemy as sa

from tracklight.auth.permissions import EXPERIMENT, REGISTERED_MODEL, Permission
from tracklight.auth.principal import Principal, current_principal
from tracklight.auth.versions import Versions
from tracklight.errors import PermissionDenied
from tracklight.store import auth as auth_store
from tracklight.store import evaluation_datasets as dataset_store
from tracklight.store.engine import Database
from tracklight.store.schema import logged_models, runs
from tracklight.store.transactions import in_transaction

F = TypeVar("F", bound=Callable[..., Any])
_CACHE_LIMIT = 100_000  # entries per process cache; cleared wholesale when full (they are cheap to refill)
RUN, LOGGED_MODEL = "run", "logged_model"  # resolved to their experiment
DATASET = "evaluation_dataset"  # resolved to every experiment it is linked to


class Gate:
    """Answers permission questions with one indexed lookup at most, cached per request and per
    (user, auth_version), so a grant change reaches every replica when the user's version is re-read."""

    def __init__(self, db: Database, default: Permission, versions: Versions) -> None:
        self.db = db
        self.default = default
        self.versions = versions
        self._answers: dict[tuple[int, int, str, str], Permission] = {}
        # A run's or logged model's experiment never changes, so these are cached for good.
        self._experiment_of: dict[tuple[str, str], int | None] = {}
        self._lock = threading.Lock()

    # -- lookups ----------------------------------------------------------------------------------

    def permission(self, principal: Principal, resource_type: str, resource_id: str) -> Permission:
        if principal.is_admin:
            return Permission.MANAGE
        key = (resource_type, resource_id)
        seen = principal.seen.get(key)
        if seen is not None:
            return seen
        cache_key = (principal.user_id, principal.auth_version, resource_type, resource_id)
        answer = self._answers.get(cache_key)
        if answer is None:
            granted = in_transaction(
                self.db,
                lambda c: auth_store.permission_of(c, principal.user_id, resource_type, resource_id),
                write=False,
            )
            answer = Permission[granted] if granted is not None else self.default
            with self._lock:
                if len(self._answers) >= _CACHE_LIMIT:
                    self._answers.clear()
                self._answers[cache_key] = answer
        principal.seen[key] = answer
        return answer

    def experiment_of(self, kind: str, key: str) -> int | None:
        """The experiment a run (by run id) or a logged model (by model id) belongs to; None if unknown."""
        cache_key = (kind, key)
        if cache_key in self._experiment_of:
            return self._experiment_of[cache_key]
        if kind == RUN:
            stmt = sa.select(runs.c.experiment_id).where(runs.c.run_uuid == key)
        else:
            stmt = sa.select(logged_models.c.experiment_id).where(logged_models.c.id == key)
        found = in_transaction(self.db, lambda c: c.execute(stmt).scalar(), write=False)
        if found is None:
            return None  # not cached: it may be created in a moment
        with self._lock:
            if len(self._experiment_of) >= _CACHE_LIMIT:
                self._experiment_of.clear()
            self._experiment_of[cache_key] = int(found)
        return int(found)

    def experiments_of_dataset(self, dataset_id: str) -> list[int] | None:
        """The experiments an evaluation dataset is linked to; None if there is no such dataset. Not
        cached: links come and go."""
        return in_transaction(self.db, lambda c: dataset_store.linked_experiments(c, dataset_id), write=False)

    def check(self, principal: Principal, resource_type: str, resource_id: str, need: Permission) -> None:
        if not self.permission(principal, resource_type, resource_id).allows(need):
            raise PermissionDenied("Permission denied")

    def resolve(self, kind: str, key: Any) -> tuple[str, str] | None:
        """(resource type, resource id) a service argument names; None when it names nothing that exists
        (the service then answers its own RESOURCE_DOES_NOT_EXIST)."""
        if key is None or key == "":
            return None
        if kind in (RUN, LOGGED_MODEL):
            experiment = self.experiment_of(kind, str(key))
            return (EXPERIMENT, str(experiment)) if experiment is not None else None
        if kind == EXPERIMENT:
            text = str(key).strip()
            return (EXPERIMENT, str(int(text))) if text.isdigit() else None
        return (kind, str(key))

    def visible(self, principal: Principal, resource_type: str) -> tuple[bool, list[str]] | None:
        """Which resources of a type the principal may read: None for all of them, else
        (True, ids) meaning only those ids, or (False, ids) meaning all but those ids."""
        if principal.is_admin:
            return None
        grants = in_transaction(
            self.db, lambda c: auth_store.grants_of(c, principal.user_id, resource_type), write=False
        )
        if self.default.allows(Permission.READ):
            hidden = [rid for rid, p in grants if not Permission[p].allows(Permission.READ)]
            return (False, hidden) if hidden else None
        return True, [rid for rid, p in grants if Permission[p].allows(Permission.READ)]


_GATE: Gate | None = None


def install(gate: Gate | None) -> None:
    """Switch authorization on (a Gate) or off (None) for this process."""
    global _GATE
    _GATE = gate


def installed() -> Gate | None:
    return _GATE


def _acting() -> tuple[Gate, Principal] | None:
    """The gate and the principal to check, or None when there is nothing to check."""
    gate, principal = _GATE, current_principal()
    if gate is None or principal is None or principal.is_admin:
        return None
    return gate, principal


def enforcing() -> bool:
    """Whether checks apply to this call: authorization is on and the caller is not an admin."""
    return _acting() is not None


def check(kind: str, key: Any, need: Permission) -> None:
    """Raise PERMISSION_DENIED unless the caller holds `need` on what (kind, key) names."""
    acting = _acting()
    if acting is None:
        return
    gate, principal = acting
    if kind == DATASET:
        linked = gate.experiments_of_dataset(str(key))
        if linked is not None:  # no such dataset: the service answers its own not-found
            check_linked(linked, need)
        return
    resource = gate.resolve(kind, key)
    if resource is not None:
        gate.check(principal, resource[0], resource[1], need)


def require_admin() -> None:
    acting = _acting()
    if acting is not None:
        raise PermissionDenied("Permission denied")


def check_all(kind: str, keys: Iterable[Any], need: Permission) -> None:
    for key in keys:
        check(kind, key, need)


def check_linked(experiment_ids: Iterable[Any], need: Permission) -> None:
    """For what takes the permission of every experiment it is linked to (an evaluation dataset, or the
    links a new one is to have): `need` on each of them, and at least one of them to hold it on."""
    if _acting() is None:
        return
    ids = list(experiment_ids)
    if not ids:
        raise PermissionDenied(
            "Permission denied: an evaluation dataset linked to no experiment is for admins only"
        )
    check_all(EXPERIMENT, ids, need)


def readable(kind: str, key: Any) -> bool:
    try:
        check(kind, key, Permission.READ)
    except PermissionDenied:
        return False
    return True


def visible(resource_type: str) -> tuple[bool, list[str]] | None:
    """For searches: see Gate.visible; None (everything) when there is nothing to check."""
    acting = _acting()
    if acting is None:
        return None
    gate, principal = acting
    return gate.visible(principal, resource_type)


def requires(need: Permission, kind: str, arg: str) -> Callable[[F], F]:
    """Decorate a service method: before it runs, the caller must hold `need` on what argument `arg`
    names (kind: experiment, registered_model, run, logged_model or evaluation_dataset; a list argument
    is checked item by item)."""

    def decorate(method: F) -> F:
        position = list(inspect.signature(method).parameters).index(arg)

        @functools.wraps(method)
        def guarded(*args: Any, **kwargs: Any) -> Any:
            if _GATE is not None:
                value = kwargs[arg] if arg in kwargs else args[position] if position < len(args) else None
                if isinstance(value, (list, tuple)):
                    check_all(kind, value, need)
                else:
                    check(kind, value, need)
            return method(*args, **kwargs)

        return guarded  # type: ignore[return-value]

    return decorate


# -- lifecycle hooks the services call ------------------------------------------------------------------


def created(resource_type: str, resource_id: str) -> None:
    """The creator of an experiment or registered model gets MANAGE on it."""
    gate, principal = _GATE, current_principal()
    if gate is None or principal is None:
        return
    in_transaction(
        gate.db,
        lambda c: auth_store.set_grant(c, principal.user_id, resource_type, resource_id, "MANAGE"),
    )
    gate.versions.forget(principal.user_id)


def renamed(resource_type: str, old_id: str, new_id: str) -> None:
    gate = _GATE
    if gate is not None and old_id != new_id:
        in_transaction(gate.db, lambda c: auth_store.rename_resource(c, resource_type, old_id, new_id))
        gate.versions.forget_all()


def deleted(resource_type: str, resource_id: str) -> None:
    gate = _GATE
    if gate is not None:
        in_transaction(gate.db, lambda c: auth_store.forget_resource(c, resource_type, resource_id))
        gate.versions.forget_all()


__all__ = [
    "DATASET",
    "EXPERIMENT",
    "LOGGED_MODEL",
    "REGISTERED_MODEL",
    "RUN",
    "Gate",
    "check",
    "check_all",
    "check_linked",
    "created",
    "deleted",
    "enforcing",
    "install",
    "readable",
    "renamed",
    "requires",
    "visible",
]
