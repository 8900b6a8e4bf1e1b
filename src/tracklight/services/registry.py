"""The model registry: registered models, their versions, tags, aliases and stages."""

from __future__ import annotations

import json
import posixpath
import re
import time
from urllib.parse import urlparse

from sqlalchemy import Connection

from tracklight.artifacts.locations import SERVED_SCHEME, child_uri
from tracklight.artifacts.paths import artifact_path, join
from tracklight.artifacts.store import ArtifactStore
from tracklight.auth import gate
from tracklight.auth.permissions import REGISTERED_MODEL, Permission
from tracklight.errors import InvalidParameter, NotFound
from tracklight.services import registry_events as events
from tracklight.services import validation as v
from tracklight.services.artifacts import Artifacts
from tracklight.services.webhook_outbox import Outbox
from tracklight.store import logged_models as logged_model_store
from tracklight.store import registry as store
from tracklight.store.engine import Database
from tracklight.store.records import ModelVersion, NewVersion, RegisteredModel
from tracklight.store.registry import STAGES
from tracklight.store.search.registry import search_model_version_keys, search_registered_model_ids
from tracklight.store.transactions import in_transaction

MAX_NAME_LENGTH = 256
MAX_REGISTRY_TAG_VALUE_LENGTH = 100_000
MAX_ALIAS_LENGTH = 255
MAX_MODELS_PAGE, DEFAULT_MODELS_PAGE = 1000, 100
MAX_VERSIONS_PAGE, DEFAULT_VERSIONS_PAGE = 200_000, 10_000
_ALIAS = re.compile(r"^[\w\-]*$")
_VERSION_ALIAS = re.compile(r"^[vV]\d+$")
_CANONICAL_STAGE = {stage.lower(): stage for stage in STAGES}
_ACTIVE_STAGES = ("Staging", "Production")


def _now() -> int:
    return int(time.time() * 1000)


def canonical_stage(stage: str) -> str:
    found = _CANONICAL_STAGE.get((stage or "").lower())
    if found is None:
        raise InvalidParameter(
            f"Invalid Model Version stage: {stage}. Value must be one of {', '.join(STAGES)}."
        )
    return found


def validate_model_name(name: str | None, what: str = "name") -> str:
    if name is None or not name.strip():
        raise InvalidParameter(
            f"Missing value for required parameter '{what}'. See the API docs for more information."
        )
    if "/" in name or ":" in name:
        raise InvalidParameter(f"Invalid model name '{name}'. Names cannot contain '/' or ':'.")
    if len(name) > MAX_NAME_LENGTH:
        raise InvalidParameter(
            f"Registered model name exceeds the maximum length of {MAX_NAME_LENGTH} characters."
        )
    return name


def parse_version(value: str | int | None) -> int:
    try:
        number = int(str(value).strip())
    except (TypeError, ValueError):
        raise InvalidParameter(f"Parameter 'version' must be an integer, got '{value}'.") from None
    if not 0 < number < 2**31:
        raise InvalidParameter(f"Parameter 'version' must be a positive integer, got '{value}'.")
    return number


def validate_alias(alias: str | None, *, reserved_too: bool) -> str:
    if not alias:
        raise InvalidParameter("Registered model alias name cannot be empty.")
    if not _ALIAS.match(alias):
        raise InvalidParameter(
            f"Invalid alias name: '{alias}'. Names may only contain alphanumerics, underscores (_) and dashes (-)."
        )
    if len(alias) > MAX_ALIAS_LENGTH:
        raise InvalidParameter(
            f"Registered model alias name exceeds the maximum length of {MAX_ALIAS_LENGTH}."
        )
    if reserved_too:
        if alias.lower() == "latest":
            raise InvalidParameter("'latest' alias name (case insensitive) is reserved.")
        if _VERSION_ALIAS.match(alias):
            raise InvalidParameter(f"Version alias name '{alias}' is reserved.")
    return alias


def _tag(key: str, value: str) -> tuple[str, str]:
    v.validate_key(key, "key")
    if len(value) > MAX_REGISTRY_TAG_VALUE_LENGTH:
        raise InvalidParameter(
            f"Tag value exceeds the maximum length of {MAX_REGISTRY_TAG_VALUE_LENGTH} characters (got {len(value)})."
        )
    return key, value


def _check_source(source: str) -> str:
    if not source:
        raise InvalidParameter(
            "Missing value for required parameter 'source'. See the API docs for more information."
        )
    if "\x00" in source or ".." in urlparse(source).path.split("/"):
        raise InvalidParameter(f"Invalid model version source: '{source}'.")
    return source


class Registry:
    """Registry rules over the store; `artifacts` resolves version sources for downloads. Changes that
    MLflow sends webhooks for write their outbox rows in the same transaction (`outbox`)."""

    def __init__(self, db: Database, artifacts: Artifacts, outbox: Outbox | None = None) -> None:
        self.db = db
        self.artifacts = artifacts
        self.outbox = outbox if outbox is not None else Outbox()

    def _read(self, work):
        return in_transaction(self.db, work, write=False)

    def _write(self, work):
        result = in_transaction(self.db, work)
        self.outbox.committed()
        return result

    # -- registered models -----------------------------------------------------------------------

    def create_model(
        self, name: str, description: str | None, tags: list[tuple[str, str]]
    ) -> RegisteredModel:
        validate_model_name(name)
        tags = [_tag(k, val) for k, val in tags]

        def work(conn: Connection) -> RegisteredModel:
            model_id = store.insert_model(conn, name, description, tags, _now())
            events.model_created(self.outbox, conn, name, description, tags)
            return store.load_models(conn, [model_id])[0]

        model = self._write(work)
        gate.created(REGISTERED_MODEL, name)
        return model

    @gate.requires(Permission.READ, REGISTERED_MODEL, "name")
    def get_model(self, name: str) -> RegisteredModel:
        validate_model_name(name)
        return self._read(lambda c: store.load_models(c, [store.find_model_id(c, name)])[0])

    @gate.requires(Permission.MANAGE, REGISTERED_MODEL, "name")
    def rename_model(self, name: str, new_name: str | None) -> RegisteredModel:
        validate_model_name(name)
        validate_model_name(new_name, "new_name")
        assert new_name is not None

        def work(conn: Connection) -> RegisteredModel:
            model_id = store.find_model_id(conn, name, for_update=True)
            if new_name != name:
                store.rename_model(conn, model_id, new_name, _now())
            return store.load_models(conn, [model_id])[0]

        model = self._write(work)
        gate.renamed(REGISTERED_MODEL, name, new_name)
        return model

    @gate.requires(Permission.EDIT, REGISTERED_MODEL, "name")
    def update_model(self, name: str, description: str | None) -> RegisteredModel:
        validate_model_name(name)

        def work(conn: Connection) -> RegisteredModel:
            model_id = store.find_model_id(conn, name, for_update=True)
            store.update_model(conn, model_id, description, _now())
            return store.load_models(conn, [model_id])[0]

        return self._write(work)

    @gate.requires(Permission.MANAGE, REGISTERED_MODEL, "name")
    def delete_model(self, name: str) -> None:
        validate_model_name(name)
        self._write(lambda c: store.delete_model(c, store.find_model_id(c, name, for_update=True)))
        gate.deleted(REGISTERED_MODEL, name)

    @gate.requires(Permission.EDIT, REGISTERED_MODEL, "name")
    def set_model_tag(self, name: str, key: str, value: str) -> None:
        validate_model_name(name)
        tag = _tag(key, value)

        def work(conn: Connection) -> None:
            model_id = store.find_model_id(conn, name, for_update=True)
            store.set_model_tags(conn, model_id, [tag])
            events.model_tag_set(self.outbox, conn, model_id, name, *tag)

        self._write(work)

    @gate.requires(Permission.EDIT, REGISTERED_MODEL, "name")
    def delete_model_tag(self, name: str, key: str) -> None:
        validate_model_name(name)
        v.validate_key(key, "key")

        def work(conn: Connection) -> None:
            model_id = store.find_model_id(conn, name, for_update=True)
            store.delete_model_tag(conn, model_id, key)
            events.model_tag_deleted(self.outbox, conn, model_id, name, key)

        self._write(work)

    @gate.requires(Permission.READ, REGISTERED_MODEL, "name")
    def latest_versions(self, name: str, stages: list[str]) -> list[ModelVersion]:
        validate_model_name(name)
        wanted = {canonical_stage(stage) for stage in stages} if stages else set(STAGES)

        def work(conn: Connection) -> list[ModelVersion]:
            model_id = store.find_model_id(conn, name)
            versions = store.load_versions(conn, store.latest_version_keys(conn, model_id))
            return sorted(
                (mv for mv in versions if mv.current_stage in wanted),
                key=lambda mv: STAGES.index(mv.current_stage),
            )

        return self._read(work)

    def search_models(
        self,
        *,
        filter_string: str | None,
        order_by: list[str],
        max_results: int | None,
        page_token: str | None,
    ) -> tuple[list[RegisteredModel], str | None]:
        args = v.search_args(
            filter_string, order_by, max_results, page_token, default=DEFAULT_MODELS_PAGE, cap=MAX_MODELS_PAGE
        )

        visible = gate.visible(REGISTERED_MODEL)

        def work(conn: Connection) -> tuple[list[RegisteredModel], str | None]:
            ids, token = search_registered_model_ids(conn, args, visible)
            return store.load_models(conn, ids), token

        return self._read(work)

    # -- model versions --------------------------------------------------------------------------

    @gate.requires(Permission.EDIT, REGISTERED_MODEL, "name")
    def create_version(
        self,
        name: str,
        source: str,
        *,
        run_id: str | None,
        model_id: str | None,
        run_link: str | None,
        description: str | None,
        tags: list[tuple[str, str]],
    ) -> ModelVersion:
        validate_model_name(name)
        _check_source(source)
        tags = [_tag(k, val) for k, val in tags]

        def work(conn: Connection) -> ModelVersion:
            registered_id = store.find_model_id(conn, name)
            location, resolved_run_id = self._resolve_source(conn, source, run_id, model_id)
            new = NewVersion(
                source=source,
                storage_location=location,
                run_id=resolved_run_id,
                run_link=run_link,
                model_id=model_id,
                description=description,
                user_id=None,
                tags=tags,
            )
            now = _now()
            version = store.next_version(conn, registered_id, now)
            store.insert_version(conn, registered_id, version, new, now)
            if model_id:
                _link_logged_model(conn, model_id, name, version)
            events.version_created(
                self.outbox,
                conn,
                name,
                version,
                source=source,
                run_id=run_id,
                description=description,
                tags=tags,
            )
            return store.get_version(conn, registered_id, name, version)

        return self._write(work)

    def _resolve_source(
        self, conn: Connection, source: str, run_id: str | None, model_id: str | None
    ) -> tuple[str | None, str | None]:
        """(download location, run id) of a new version's source, as MLflow's SQL store records them."""
        scheme = urlparse(source).scheme
        if scheme == "runs":
            source_run, path = _runs_source(source)
            if run_id and run_id != source_run:
                raise InvalidParameter(
                    f"Invalid model version source: '{source}'. It names run '{source_run}', "
                    f"but the request's run_id is '{run_id}'."
                )
            # MLflow records a runs:/ source without looking the run up (clients register versions
            # for runs that live elsewhere, or not yet); when the run is here, its folder is the
            # download location, so get-artifact can serve the files.
            root = store.run_artifact_uri(conn, source_run)
            location = None if root is None else child_uri(root, artifact_path(path))
            return location, run_id or source_run
        if model_id and not run_id:
            found = store.logged_model_location(conn, model_id)
            if found is None:
                raise logged_model_store.not_found(model_id)
            run_id = found[0]
        if scheme == "models":
            return self._models_source(conn, source, run_id, model_id)
        return None, run_id

    def _models_source(
        self, conn: Connection, source: str, run_id: str | None, model_id: str | None
    ) -> tuple[str | None, str | None]:
        rest = source[len("models:") :].lstrip("/")
        if "/" not in rest and "@" not in rest:  # models:/<model_id>, a logged model
            if model_id and model_id != rest:
                raise InvalidParameter(f"The model_id '{model_id}' does not match the source '{source}'.")
            found = store.logged_model_location(conn, rest)
            if found is None:
                raise InvalidParameter(
                    f"Unable to fetch model from model URI source artifact location '{source}': "
                    f"no logged model with id '{rest}'."
                )
            return found[1], run_id or found[0]
        # models:/<name>/<version> or models:/<name>@<alias>: another version's files.
        if "@" in rest:
            other_name, alias = rest.split("@", 1)
            other_id = store.find_model_id(conn, other_name)
            number = store.alias_version(conn, other_id, alias)
            if number is None:
                raise InvalidParameter(f"Registered model alias {alias} not found.")
        else:
            other_name, _, ref = rest.partition("/")
            other_id = store.find_model_id(conn, other_name)
            number = parse_version(ref)
        other = store.get_version(conn, other_id, other_name, number)
        return other.storage_location or other.source, run_id

    @gate.requires(Permission.READ, REGISTERED_MODEL, "name")
    def get_version(self, name: str, version: str | int | None) -> ModelVersion:
        validate_model_name(name)
        number = parse_version(version)
        return self._read(lambda c: store.get_version(c, store.find_model_id(c, name), name, number))

    @gate.requires(Permission.EDIT, REGISTERED_MODEL, "name")
    def update_version(self, name: str, version: str | int | None, description: str | None) -> ModelVersion:
        validate_model_name(name)
        number = parse_version(version)

        def work(conn: Connection) -> ModelVersion:
            model_id = store.find_model_id(conn, name, for_update=True)
            store.require_version(conn, model_id, name, number)
            store.update_version(conn, model_id, number, description=description, last_updated_time=_now())
            return store.get_version(conn, model_id, name, number)

        return self._write(work)

    @gate.requires(Permission.EDIT, REGISTERED_MODEL, "name")
    def transition_stage(
        self, name: str, version: str | int | None, stage: str, archive_existing: bool
    ) -> ModelVersion:
        validate_model_name(name)
        number = parse_version(version)
        target = canonical_stage(stage)
        if archive_existing and target not in _ACTIVE_STAGES:
            raise InvalidParameter(
                f"Model version transition cannot archive existing model versions because '{stage}' is not "
                f"an Active stage. Valid stages are {list(_ACTIVE_STAGES)}"
            )

        def work(conn: Connection) -> ModelVersion:
            model_id = store.find_model_id(conn, name, for_update=True)
            store.require_version(conn, model_id, name, number)
            now = _now()
            if archive_existing:
                store.archive_stage(conn, model_id, target, number, now)
            store.update_version(conn, model_id, number, current_stage=target, last_updated_time=now)
            store.touch_model(conn, model_id, now)
            return store.get_version(conn, model_id, name, number)

        return self._write(work)

    @gate.requires(Permission.MANAGE, REGISTERED_MODEL, "name")
    def delete_version(self, name: str, version: str | int | None) -> None:
        validate_model_name(name)
        number = parse_version(version)

        def work(conn: Connection) -> None:
            model_id = store.find_model_id(conn, name, for_update=True)
            store.require_version(conn, model_id, name, number)
            store.delete_version(conn, model_id, number)
            store.touch_model(conn, model_id, _now())

        self._write(work)

    @gate.requires(Permission.EDIT, REGISTERED_MODEL, "name")
    def set_version_tag(self, name: str, version: str | int | None, key: str, value: str) -> None:
        validate_model_name(name)
        number = parse_version(version)
        tag = _tag(key, value)

        def work(conn: Connection) -> None:
            model_id = store.find_model_id(conn, name, for_update=True)
            store.require_version(conn, model_id, name, number)
            store.set_version_tags(conn, model_id, number, [tag])
            events.version_tag_set(self.outbox, conn, model_id, name, number, *tag)

        self._write(work)

    @gate.requires(Permission.EDIT, REGISTERED_MODEL, "name")
    def delete_version_tag(self, name: str, version: str | int | None, key: str) -> None:
        validate_model_name(name)
        number = parse_version(version)
        v.validate_key(key, "key")

        def work(conn: Connection) -> None:
            model_id = store.find_model_id(conn, name, for_update=True)
            store.require_version(conn, model_id, name, number)
            store.delete_version_tag(conn, model_id, number, key)
            events.version_tag_deleted(self.outbox, conn, model_id, name, number, key)

        self._write(work)

    def search_versions(
        self,
        *,
        filter_string: str | None,
        order_by: list[str],
        max_results: int | None,
        page_token: str | None,
    ) -> tuple[list[ModelVersion], str | None]:
        args = v.search_args(
            filter_string,
            order_by,
            max_results,
            page_token,
            default=DEFAULT_VERSIONS_PAGE,
            cap=MAX_VERSIONS_PAGE,
        )

        visible = gate.visible(REGISTERED_MODEL)

        def work(conn: Connection) -> tuple[list[ModelVersion], str | None]:
            keys, token = search_model_version_keys(conn, args, visible)
            return store.load_versions(conn, keys), token

        return self._read(work)

    @gate.requires(Permission.READ, REGISTERED_MODEL, "name")
    def download_uri(self, name: str, version: str | int | None) -> str:
        found = self.get_version(name, version)
        return found.storage_location or found.source

    # -- aliases ---------------------------------------------------------------------------------

    @gate.requires(Permission.EDIT, REGISTERED_MODEL, "name")
    def set_alias(self, name: str, alias: str, version: str | int | None) -> None:
        validate_model_name(name)
        validate_alias(alias, reserved_too=True)
        number = parse_version(version)

        def work(conn: Connection) -> None:
            model_id = store.find_model_id(conn, name, for_update=True)
            store.require_version(conn, model_id, name, number)
            store.set_alias(conn, model_id, alias, number)
            events.alias_set(self.outbox, conn, model_id, name, alias, number)

        self._write(work)

    @gate.requires(Permission.EDIT, REGISTERED_MODEL, "name")
    def delete_alias(self, name: str, alias: str) -> None:
        validate_model_name(name)
        validate_alias(alias, reserved_too=False)

        def work(conn: Connection) -> None:
            model_id = store.find_model_id(conn, name, for_update=True)
            store.delete_alias(conn, model_id, alias)
            events.alias_deleted(self.outbox, conn, model_id, name, alias)

        self._write(work)

    @gate.requires(Permission.READ, REGISTERED_MODEL, "name")
    def version_by_alias(self, name: str, alias: str) -> ModelVersion:
        validate_model_name(name)
        validate_alias(alias, reserved_too=False)

        def work(conn: Connection) -> ModelVersion:
            model_id = store.find_model_id(conn, name)
            if alias.lower() == "latest":
                keys = store.latest_version_keys(conn, model_id)
                if not keys:
                    raise NotFound(f"Latest version not found for model {name}.")
                return store.get_version(conn, model_id, name, max(k[1] for k in keys))
            number = store.alias_version(conn, model_id, alias)
            if number is None:
                # 400, not 404: the reference's code, and what the client expects.
                raise InvalidParameter(f"Registered model alias {alias} not found.")
            return store.get_version(conn, model_id, name, number)

        return self._read(work)

    # -- files -----------------------------------------------------------------------------------

    @gate.requires(Permission.READ, REGISTERED_MODEL, "name")
    def version_file(
        self, name: str, version: str | int | None, path: str | None
    ) -> tuple[ArtifactStore, str]:
        """(store, store path) of a file inside a version's download location, for the UI's download."""
        relative = artifact_path(path, allow_root=False)  # refused before the version is looked up
        found = self.get_version(name, version)
        location = found.storage_location or found.source
        scheme = urlparse(location).scheme
        if scheme == "runs":  # the run was not on this server when the version was registered
            source_run, run_path = _runs_source(location)
            root = self._run_root(source_run)
            if root is None:
                raise NotFound(f"Run with id={source_run} not found")
            location = child_uri(root, artifact_path(run_path))
            scheme = urlparse(location).scheme
        if scheme not in (SERVED_SCHEME, "s3", "gs", "wasbs", "wasb", "abfss"):
            # A local path could name any directory on this machine; serve it only when it lies inside
            # the artifact root of the version's run, which this server already serves.
            root = self._run_root(found.run_id)
            if root is None or not _inside(location, root):
                raise InvalidParameter(
                    f"The files of model version {found.version} of '{name}' are not served by this server."
                )
        store_, base = self.artifacts.roots.resolve(location)
        return store_, join(base, relative)

    def _run_root(self, run_id: str | None) -> str | None:
        if not run_id:
            return None
        return self._read(lambda c: store.run_artifact_uri(c, run_id))


def _runs_source(source: str) -> tuple[str, str]:
    """(run id, artifact path) of a `runs:/<run_id>/<path>` source."""
    parsed = urlparse(source)
    run_id, _, path = parsed.path[1:].partition("/")
    if parsed.netloc or not parsed.path.startswith("/") or not run_id:
        raise InvalidParameter(
            f"Invalid model version source: '{source}'. A runs: source has the form runs:/<run_id>/<path>."
        )
    return run_id, path


def _link_logged_model(conn: Connection, model_id: str, name: str, version: int) -> None:
    """Add the new version to the logged model's `mlflow.modelVersions` tag, as MLflow does: a JSON
    list of {"name", "version"} objects in registration order, each version listed once."""
    logged_model_store.find_logged_model(conn, model_id)  # 404 for an unknown or deleted logged model
    raw = store.locked_model_versions_tag(conn, model_id)
    try:
        linked = json.loads(raw) if raw else []
    except ValueError:
        linked = []  # a hand-set tag that is not JSON is replaced rather than failing the registration
    if not isinstance(linked, list):
        linked = []
    entry = {"name": name, "version": version}
    if entry not in linked:
        linked.append(entry)
    logged_model_store.set_tags(conn, model_id, [(store.MODEL_VERSIONS_TAG, json.dumps(linked))])


def _inside(location: str, root: str) -> bool:
    norm_loc = posixpath.normpath(location.rstrip("/"))
    norm_root = posixpath.normpath(root.rstrip("/"))
    return norm_loc == norm_root or norm_loc.startswith(norm_root + "/")
