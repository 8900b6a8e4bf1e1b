"""Queries on the model registry: registered models, their versions, tags and aliases."""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import Connection, delete, func, insert, select, tuple_, update
from sqlalchemy.exc import IntegrityError

from tracklight.errors import AlreadyExists, NotFound
from tracklight.store import schema as s
from tracklight.store.dialect import upsert
from tracklight.store.records import ModelVersion, NewVersion, RegisteredModel
from tracklight.store.tags import delete_tag, upsert_tags

STAGES = ("None", "Staging", "Production", "Archived")
MODEL_VERSIONS_TAG = "mlflow.modelVersions"  # on a logged model: the versions registered from it

_rm = s.registered_models
_mv = s.model_versions


def model_not_found(name: str) -> NotFound:
    return NotFound(f"Registered Model with name={name} not found")


def version_not_found(name: str, version: int | str) -> NotFound:
    return NotFound(f"Model Version (name={name}, version={version}) not found")


# -- registered models ---------------------------------------------------------------------------


def find_model_id(conn: Connection, name: str, *, for_update: bool = False) -> int:
    stmt = select(_rm.c.id).where(_rm.c.name == name)
    if for_update:
        stmt = stmt.with_for_update()
    row = conn.execute(stmt).first()
    if row is None:
        raise model_not_found(name)
    return int(row[0])


def insert_model(
    conn: Connection, name: str, description: str | None, tags: list[tuple[str, str]], now: int
) -> int:
    already = AlreadyExists(f"Registered Model (name={name}) already exists.")
    if conn.execute(select(_rm.c.id).where(_rm.c.name == name)).first():
        raise already
    try:
        # A savepoint, so a concurrent creator's unique-key win leaves this transaction usable.
        with conn.begin_nested():
            result = conn.execute(
                insert(_rm).values(
                    name=name,
                    description=description,
                    creation_time=now,
                    last_updated_time=now,
                    last_version=0,
                )
            )
    except IntegrityError:
        raise already from None
    model_id = int(result.inserted_primary_key[0])
    set_model_tags(conn, model_id, tags)
    return model_id


def rename_model(conn: Connection, model_id: int, new_name: str, now: int) -> None:
    clash = conn.execute(select(_rm.c.id).where(_rm.c.name == new_name, _rm.c.id != model_id)).first()
    if clash:
        raise AlreadyExists(f"Registered Model (name={new_name}) already exists.")
    try:
        with conn.begin_nested():
            conn.execute(update(_rm).where(_rm.c.id == model_id).values(name=new_name, last_updated_time=now))
    except IntegrityError:
        raise AlreadyExists(f"Registered Model (name={new_name}) already exists.") from None
    # Versions are keyed by the model's id, so they follow the rename; MLflow bumps their update time.
    conn.execute(update(_mv).where(_mv.c.registered_model_id == model_id).values(last_updated_time=now))


def update_model(conn: Connection, model_id: int, description: str | None, now: int) -> None:
    conn.execute(
        update(_rm).where(_rm.c.id == model_id).values(description=description, last_updated_time=now)
    )


def touch_model(conn: Connection, model_id: int, now: int) -> None:
    conn.execute(update(_rm).where(_rm.c.id == model_id).values(last_updated_time=now))


def delete_model(conn: Connection, model_id: int) -> None:
    """The model with its versions, their tags, its tags and its aliases (children first, for the FKs)."""
    conn.execute(
        delete(s.registered_model_aliases).where(s.registered_model_aliases.c.registered_model_id == model_id)
    )
    conn.execute(delete(s.model_version_tags).where(s.model_version_tags.c.registered_model_id == model_id))
    conn.execute(delete(_mv).where(_mv.c.registered_model_id == model_id))
    conn.execute(
        delete(s.registered_model_tags).where(s.registered_model_tags.c.registered_model_id == model_id)
    )
    conn.execute(delete(_rm).where(_rm.c.id == model_id))


def set_model_tags(conn: Connection, model_id: int, tags: list[tuple[str, str]]) -> None:
    upsert_tags(conn, s.registered_model_tags, {"registered_model_id": model_id}, tags)


def delete_model_tag(conn: Connection, model_id: int, key: str) -> None:
    delete_tag(conn, s.registered_model_tags, {"registered_model_id": model_id}, key)


def load_models(conn: Connection, model_ids: list[int]) -> list[RegisteredModel]:
    """Models in the order of the ids given, with tags, aliases and the latest version per stage."""
    if not model_ids:
        return []
    rows = conn.execute(select(_rm).where(_rm.c.id.in_(model_ids))).all()
    found = {
        r.id: RegisteredModel(r.id, r.name, r.description, r.creation_time, r.last_updated_time) for r in rows
    }
    t = s.registered_model_tags
    for tag in conn.execute(select(t).where(t.c.registered_model_id.in_(list(found))).order_by(t.c.key)):
        found[tag.registered_model_id].tags[tag.key] = tag.value
    a = s.registered_model_aliases
    for alias in conn.execute(select(a).where(a.c.registered_model_id.in_(list(found))).order_by(a.c.alias)):
        found[alias.registered_model_id].aliases.append((alias.alias, alias.version))
    # The highest version in each stage: MLflow's "latest_versions".
    latest = (
        select(_mv.c.registered_model_id, _mv.c.current_stage, func.max(_mv.c.version).label("version"))
        .where(_mv.c.registered_model_id.in_(list(found)))
        .group_by(_mv.c.registered_model_id, _mv.c.current_stage)
    )
    keys = [(r.registered_model_id, r.version) for r in conn.execute(latest)]
    for version in load_versions(conn, keys, with_aliases=False):
        found[version.registered_model_id].latest_versions.append(version)
    for model in found.values():
        model.latest_versions.sort(key=lambda v: STAGES.index(v.current_stage))
    return [found[i] for i in model_ids if i in found]


# -- model versions ------------------------------------------------------------------------------


def next_version(conn: Connection, model_id: int, now: int) -> int:
    """Hand out the model's next version number.

    The UPDATE takes the model row's write lock and re-reads the committed counter once it has it
    (SQLite serialises writers outright), so concurrent creators, on any number of server processes,
    get consecutive numbers; the counter never goes down, so a deleted number is never reused.
    """
    result = conn.execute(
        update(_rm)
        .where(_rm.c.id == model_id)
        .values(last_version=_rm.c.last_version + 1, last_updated_time=now)
    )
    if result.rowcount != 1:
        raise NotFound(f"Registered model id {model_id} vanished while creating a version")
    return int(conn.execute(select(_rm.c.last_version).where(_rm.c.id == model_id)).scalar_one())


def insert_version(conn: Connection, model_id: int, version: int, new: NewVersion, now: int) -> None:
    conn.execute(
        insert(_mv).values(
            registered_model_id=model_id,
            version=version,
            creation_time=now,
            last_updated_time=now,
            description=new.description,
            user_id=new.user_id,
            current_stage="None",
            source=new.source,
            storage_location=new.storage_location,
            run_id=new.run_id,
            run_link=new.run_link,
            model_id=new.model_id,
            # Registration copies nothing, so a version is ready at once and the client never polls.
            status="READY",
            status_message=None,
        )
    )
    set_version_tags(conn, model_id, version, new.tags)


def load_versions(
    conn: Connection, keys: Iterable[tuple[int, int]], *, with_aliases: bool = True
) -> list[ModelVersion]:
    """Versions by (registered model id, version), in the order given, with their tags (and aliases)."""
    keys = list(keys)
    if not keys:
        return []
    where = tuple_(_mv.c.registered_model_id, _mv.c.version).in_(keys)
    rows = conn.execute(select(_mv, _rm.c.name).join(_rm, _rm.c.id == _mv.c.registered_model_id).where(where))
    found: dict[tuple[int, int], ModelVersion] = {}
    for r in rows:
        found[(r.registered_model_id, r.version)] = ModelVersion(
            r.registered_model_id,
            r.name,
            r.version,
            r.creation_time,
            r.last_updated_time,
            r.description,
            r.user_id,
            r.current_stage,
            r.source,
            r.storage_location,
            r.run_id,
            r.run_link,
            r.model_id,
            r.status,
            r.status_message,
        )
    if found:
        t = s.model_version_tags
        tag_where = tuple_(t.c.registered_model_id, t.c.version).in_(list(found))
        for tag in conn.execute(select(t).where(tag_where).order_by(t.c.key)):
            found[(tag.registered_model_id, tag.version)].tags[tag.key] = tag.value
        if with_aliases:
            a = s.registered_model_aliases
            alias_where = tuple_(a.c.registered_model_id, a.c.version).in_(list(found))
            for alias in conn.execute(select(a).where(alias_where).order_by(a.c.alias)):
                found[(alias.registered_model_id, alias.version)].aliases.append(alias.alias)
    return [found[k] for k in keys if k in found]


def get_version(conn: Connection, model_id: int, name: str, version: int) -> ModelVersion:
    found = load_versions(conn, [(model_id, version)])
    if not found:
        raise version_not_found(name, version)
    return found[0]


def require_version(conn: Connection, model_id: int, name: str, version: int) -> None:
    row = conn.execute(
        select(_mv.c.version).where(_mv.c.registered_model_id == model_id, _mv.c.version == version)
    ).first()
    if row is None:
        raise version_not_found(name, version)


def update_version(conn: Connection, model_id: int, version: int, **values: object) -> None:
    conn.execute(
        update(_mv).where(_mv.c.registered_model_id == model_id, _mv.c.version == version).values(**values)
    )


def archive_stage(conn: Connection, model_id: int, stage: str, except_version: int, now: int) -> None:
    """Move every other version in `stage` to Archived (transition-stage's archive_existing_versions)."""
    conn.execute(
        update(_mv)
        .where(
            _mv.c.registered_model_id == model_id,
            _mv.c.current_stage == stage,
            _mv.c.version != except_version,
        )
        .values(current_stage="Archived", last_updated_time=now)
    )


def delete_version(conn: Connection, model_id: int, version: int) -> None:
    a, t = s.registered_model_aliases, s.model_version_tags
    conn.execute(delete(a).where(a.c.registered_model_id == model_id, a.c.version == version))
    conn.execute(delete(t).where(t.c.registered_model_id == model_id, t.c.version == version))
    conn.execute(delete(_mv).where(_mv.c.registered_model_id == model_id, _mv.c.version == version))


def set_version_tags(conn: Connection, model_id: int, version: int, tags: list[tuple[str, str]]) -> None:
    upsert_tags(conn, s.model_version_tags, {"registered_model_id": model_id, "version": version}, tags)


def delete_version_tag(conn: Connection, model_id: int, version: int, key: str) -> None:
    delete_tag(conn, s.model_version_tags, {"registered_model_id": model_id, "version": version}, key)


def latest_version_keys(conn: Connection, model_id: int) -> list[tuple[int, int]]:
    """(model id, version) of the highest version in each stage."""
    stmt = (
        select(func.max(_mv.c.version))
        .where(_mv.c.registered_model_id == model_id)
        .group_by(_mv.c.current_stage)
    )
    return [(model_id, int(v)) for (v,) in conn.execute(stmt)]


# -- aliases -------------------------------------------------------------------------------------


def set_alias(conn: Connection, model_id: int, alias: str, version: int) -> None:
    upsert(
        conn,
        s.registered_model_aliases,
        [{"registered_model_id": model_id, "alias": alias, "version": version}],
        ["registered_model_id", "alias"],
        ["version"],
    )


def delete_alias(conn: Connection, model_id: int, alias: str) -> None:
    a = s.registered_model_aliases
    conn.execute(delete(a).where(a.c.registered_model_id == model_id, a.c.alias == alias))


def alias_version(conn: Connection, model_id: int, alias: str) -> int | None:
    a = s.registered_model_aliases
    row = conn.execute(
        select(a.c.version).where(a.c.registered_model_id == model_id, a.c.alias == alias)
    ).first()
    return None if row is None else int(row[0])


# -- what version sources point at ---------------------------------------------------------------


def run_artifact_uri(conn: Connection, run_id: str) -> str | None:
    row = conn.execute(select(s.runs.c.artifact_uri).where(s.runs.c.run_uuid == run_id)).first()
    return None if row is None else str(row[0])


def locked_model_versions_tag(conn: Connection, model_id: str) -> str | None:
    """A logged model's `mlflow.modelVersions` tag, with the model row locked so that concurrent
    registrations of one logged model append to the list one after another."""
    lm = s.logged_models.c
    conn.execute(select(lm.id).where(lm.id == model_id).with_for_update())
    t = s.logged_model_tags.c
    found = conn.execute(
        select(t.value).where(t.model_id == model_id, t.key == MODEL_VERSIONS_TAG)
    ).scalar_one_or_none()
    return None if found is None else str(found)


def logged_model_location(conn: Connection, model_id: str) -> tuple[str | None, str] | None:
    """(source_run_id, artifact_uri) of a logged model, read from its table directly."""
    lm = s.logged_models
    row = conn.execute(select(lm.c.source_run_id, lm.c.artifact_uri).where(lm.c.id == model_id)).first()
    return None if row is None else (row[0], row[1])


def model_tag_value(conn: Connection, model_id: int, key: str) -> str | None:
    """One tag of a registered model (e.g. the marker that makes it a prompt); None when it is unset."""
    t = s.registered_model_tags
    found = conn.execute(
        select(t.c.value).where(t.c.registered_model_id == model_id, t.c.key == key)
    ).scalar_one_or_none()
    return None if found is None else str(found)
