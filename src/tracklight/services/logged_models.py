"""MLflow 3 logged models: creation, finalisation, params, tags, metrics and search."""

from __future__ import annotations

import time
import uuid

from sqlalchemy import Connection

from tracklight.artifacts.locations import child_uri
from tracklight.artifacts.paths import artifact_path, join
from tracklight.artifacts.store import ArtifactEntry, ArtifactStore
from tracklight.auth import gate
from tracklight.auth.permissions import EXPERIMENT, Permission
from tracklight.errors import InvalidParameter, NotFound, NotImplementedFeature
from tracklight.services import validation as v
from tracklight.services.artifacts import Artifacts
from tracklight.services.experiments import active_location, parse_experiment_id, parse_experiment_ids
from tracklight.services.run_names import generate_run_name
from tracklight.store import logged_models as store
from tracklight.store.engine import Database
from tracklight.store.records import DatasetScope, LoggedModel, ModelOrder
from tracklight.store.search.logged_models import STATUSES, search_logged_model_ids
from tracklight.store.transactions import in_transaction

PENDING = "LOGGED_MODEL_PENDING"
FINAL_STATUSES = ("LOGGED_MODEL_READY", "LOGGED_MODEL_UPLOAD_FAILED")
DEFAULT_SEARCH_RESULTS = 50
MAX_SEARCH_RESULTS = 50000
MAX_MODEL_NAME_LENGTH = 500
MAX_MODEL_TYPE_LENGTH = 500
_NAME_FORBIDDEN = ("/", ":", ".", "%", '"', "'")
# Enum numbers as proto JSON may carry them, by name.
_STATUS_NUMBERS = {int(others[-1]): name for name, others in STATUSES.items()}


def _now() -> int:
    return int(time.time() * 1000)


def parse_status(value: str | int | None) -> str:
    """A finalize status, by enum name or number; only the two final ones may be set."""
    name = _STATUS_NUMBERS.get(value) if isinstance(value, int) else value
    if isinstance(value, str) and value.strip().isdigit():
        name = _STATUS_NUMBERS.get(int(value))
    if name not in FINAL_STATUSES:
        raise InvalidParameter(f"Invalid logged model status {value!r}: use one of {list(FINAL_STATUSES)}.")
    return name


def _validate_name(name: str) -> str:
    if not name or any(c in name for c in _NAME_FORBIDDEN) or len(name) > MAX_MODEL_NAME_LENGTH:
        raise InvalidParameter(
            f"Invalid model name ({name!r}) provided. Model name must be a non-empty string of at most "
            f"{MAX_MODEL_NAME_LENGTH} characters and cannot contain the following characters: "
            f"{_NAME_FORBIDDEN}"
        )
    return name


def _params(params: list[tuple[str, str]]) -> list[tuple[str, str]]:
    out = [(v.validate_key(k), v.truncate(val, v.MAX_PARAM_VALUE_LENGTH)) for k, val in params]
    if len({k for k, _ in out}) != len(out):
        raise InvalidParameter("Duplicate parameter keys have been submitted for the logged model.")
    return out


def _tags(tags: list[tuple[str, str]]) -> list[tuple[str, str]]:
    return [(v.validate_key(k, "key"), v.truncate(val, v.MAX_TAG_VALUE_LENGTH)) for k, val in tags]


class LoggedModels:
    """Logged-model rules over the store; `artifacts` resolves a model's files for listings."""

    def __init__(self, db: Database, artifacts: Artifacts | None = None) -> None:
        self.db = db
        self.artifacts = artifacts

    def create(
        self,
        *,
        experiment_id: str,
        name: str | None,
        model_type: str | None,
        source_run_id: str | None,
        params: list[tuple[str, str]],
        tags: list[tuple[str, str]],
    ) -> LoggedModel:
        eid = parse_experiment_id(experiment_id)
        gate.check(EXPERIMENT, eid, Permission.EDIT)
        name = _validate_name(name) if name else generate_run_name()
        if model_type is not None and len(model_type) > MAX_MODEL_TYPE_LENGTH:
            raise InvalidParameter(f"model_type exceeds the maximum length of {MAX_MODEL_TYPE_LENGTH}.")
        params, tags = _params(params), _tags(tags)
        model_id = f"m-{uuid.uuid4().hex}"

        def work(conn: Connection) -> LoggedModel:
            location = active_location(conn, eid)
            store.insert_logged_model(
                conn,
                model_id=model_id,
                experiment_id=eid,
                name=name,
                model_type=model_type,
                source_run_id=source_run_id or None,
                status=PENDING,
                artifact_uri=child_uri(location, "models", model_id, "artifacts"),
                now=_now(),
                params=params,
                tags=tags,
            )
            return store.get_logged_model(conn, model_id)

        return in_transaction(self.db, work)

    @gate.requires(Permission.READ, gate.LOGGED_MODEL, "model_id")
    def get(self, model_id: str, *, allow_deleted: bool = False) -> LoggedModel:
        return in_transaction(
            self.db, lambda c: store.get_logged_model(c, model_id, allow_deleted=allow_deleted), write=False
        )

    @gate.requires(Permission.EDIT, gate.LOGGED_MODEL, "model_id")
    def finalize(self, model_id: str, status: str | int | None) -> LoggedModel:
        final = parse_status(status)

        def work(conn: Connection) -> LoggedModel:
            store.find_logged_model(conn, model_id)
            store.set_status(conn, model_id, final, _now())
            return store.get_logged_model(conn, model_id)

        return in_transaction(self.db, work)

    @gate.requires(Permission.MANAGE, gate.LOGGED_MODEL, "model_id")
    def delete(self, model_id: str) -> None:
        def work(conn: Connection) -> None:
            store.find_logged_model(conn, model_id)
            store.set_lifecycle(conn, model_id, "deleted", _now())

        in_transaction(self.db, work)

    @gate.requires(Permission.EDIT, gate.LOGGED_MODEL, "model_id")
    def set_tags(self, model_id: str, tags: list[tuple[str, str]]) -> None:
        tags = _tags(tags)

        def work(conn: Connection) -> None:
            store.find_logged_model(conn, model_id)
            store.set_tags(conn, model_id, tags)

        in_transaction(self.db, work)

    @gate.requires(Permission.EDIT, gate.LOGGED_MODEL, "model_id")
    def delete_tag(self, model_id: str, key: str) -> None:
        def work(conn: Connection) -> None:
            store.find_logged_model(conn, model_id)
            if not store.delete_tag(conn, model_id, key):
                raise NotFound(f"No tag with key {key!r} found for model with ID {model_id!r}.")

        in_transaction(self.db, work)

    @gate.requires(Permission.EDIT, gate.LOGGED_MODEL, "model_id")
    def log_params(self, model_id: str, params: list[tuple[str, str]]) -> None:
        params = _params(params)

        def work(conn: Connection) -> None:
            store.find_logged_model(conn, model_id)
            store.log_params(conn, model_id, params)

        in_transaction(self.db, work)

    def search(
        self,
        *,
        experiment_ids: list[str],
        filter_string: str | None,
        datasets: list[DatasetScope],
        order_by: list[ModelOrder],
        max_results: int | None,
        page_token: str | None,
    ) -> tuple[list[LoggedModel], str | None]:
        if not experiment_ids:
            raise InvalidParameter(
                "Missing value for required parameter 'experiment_ids'. See the API docs for more information."
            )
        ids = parse_experiment_ids(experiment_ids)
        # 0 is what proto JSON sends for "unset", and the reference treats it so.
        args = v.search_args(
            filter_string,
            order_by,
            max_results or None,
            page_token,
            default=DEFAULT_SEARCH_RESULTS,
            cap=MAX_SEARCH_RESULTS,
        )
        if gate.installed() is not None:
            ids = [e for e in ids if gate.readable(EXPERIMENT, e)]  # models of unreadable ones are left out
        for d in datasets:
            if not d.name:
                raise InvalidParameter("`dataset_name` in the `datasets` clause must be specified.")

        def work(conn: Connection) -> tuple[list[LoggedModel], str | None]:
            if not ids:
                return [], None
            page = search_logged_model_ids(conn, args, experiment_ids=ids, datasets=datasets)
            return store.load_logged_models(conn, page.model_ids), page.next_page_token

        return in_transaction(self.db, work, write=False)

    @gate.requires(Permission.READ, gate.LOGGED_MODEL, "model_id")
    def list_artifacts(self, model_id: str, path: str | None) -> tuple[str, list[ArtifactEntry]]:
        """The model's artifact root URI and the entries under `path` in it."""
        if self.artifacts is None:
            raise NotImplementedFeature("Listing a logged model's artifacts needs the artifact service")
        model = self.get(model_id)
        store_, base = self.artifacts.roots.resolve(model.artifact_uri)
        return model.artifact_uri, store_.list_dir(join(base, artifact_path(path)))

    @gate.requires(Permission.READ, gate.LOGGED_MODEL, "model_id")
    def file_location(self, model_id: str, path: str) -> tuple[ArtifactStore, str]:
        """(store, store path) of the file at `path` inside the model's artifact root."""
        if self.artifacts is None:
            raise NotImplementedFeature("Reading a logged model's artifacts needs the artifact service")
        model = self.get(model_id)
        store_, base = self.artifacts.roots.resolve(model.artifact_uri)
        return store_, join(base, artifact_path(path, allow_root=False))
