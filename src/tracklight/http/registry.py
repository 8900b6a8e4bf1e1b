"""The model-registry routes: registered models, model versions, aliases, and the UI's version download."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from tracklight.errors import NotImplementedFeature
from tracklight.http import encode
from tracklight.http.artifacts import file_answer
from tracklight.http.request import Fields, read_fields
from tracklight.http.workers import in_worker
from tracklight.services.artifacts import Artifacts
from tracklight.services.registry import Registry
from tracklight.store.records import ModelVersion, RegisteredModel

Json = dict[str, Any]


def _tags(tags: dict[str, str]) -> list[Json]:
    return [{"key": k, "value": val} for k, val in tags.items()]


def model_version(mv: ModelVersion) -> Json:
    """A ModelVersion message: the version as a string, unset fields omitted, set empty strings kept."""
    out: Json = {
        "name": mv.name,
        "version": str(mv.version),
        "creation_timestamp": mv.creation_time,
        "last_updated_timestamp": mv.last_updated_time,
        "current_stage": mv.current_stage,
        "source": mv.source,
        "status": mv.status,
    }
    for key, value in (
        ("user_id", mv.user_id),
        ("description", mv.description),
        ("run_id", mv.run_id),
        ("status_message", mv.status_message),
        ("run_link", mv.run_link),
        ("model_id", mv.model_id),
    ):
        if value is not None:
            out[key] = value
    if mv.tags:
        out["tags"] = _tags(mv.tags)
    if mv.aliases:
        out["aliases"] = list(mv.aliases)
    return out


def registered_model(rm: RegisteredModel) -> Json:
    out: Json = {
        "name": rm.name,
        "creation_timestamp": rm.creation_time,
        "last_updated_timestamp": rm.last_updated_time,
    }
    if rm.description is not None:
        out["description"] = rm.description
    if rm.latest_versions:
        out["latest_versions"] = [model_version(mv) for mv in rm.latest_versions]
    if rm.tags:
        out["tags"] = _tags(rm.tags)
    if rm.aliases:
        out["aliases"] = [{"alias": alias, "version": str(version)} for alias, version in rm.aliases]
    return out


# -- registered models ---------------------------------------------------------------------------


def create_registered_model(f: Fields, registry: Registry) -> Json:
    rm = registry.create_model(f.required_str("name"), f.str("description"), f.pairs("tags"))
    return {"registered_model": registered_model(rm)}


def get_registered_model(f: Fields, registry: Registry) -> Json:
    return {"registered_model": registered_model(registry.get_model(f.required_str("name")))}


def rename_registered_model(f: Fields, registry: Registry) -> Json:
    rm = registry.rename_model(f.required_str("name"), f.str("new_name"))
    return {"registered_model": registered_model(rm)}


def update_registered_model(f: Fields, registry: Registry) -> Json:
    rm = registry.update_model(f.required_str("name"), f.str("description"))
    return {"registered_model": registered_model(rm)}


def delete_registered_model(f: Fields, registry: Registry) -> Json:
    registry.delete_model(f.required_str("name"))
    return {}


def search_registered_models(f: Fields, registry: Registry) -> Json:
    found, token = registry.search_models(
        filter_string=f.str("filter"),
        order_by=f.strings("order_by"),
        max_results=f.int("max_results"),
        page_token=f.str("page_token"),
    )
    return encode.page("registered_models", [registered_model(rm) for rm in found], token)


def get_latest_versions(f: Fields, registry: Registry) -> Json:
    versions = registry.latest_versions(f.required_str("name"), f.strings("stages"))
    return encode.page("model_versions", [model_version(mv) for mv in versions], None)


def set_registered_model_tag(f: Fields, registry: Registry) -> Json:
    registry.set_model_tag(f.required_str("name"), f.required_str("key"), f.required_str("value"))
    return {}


def delete_registered_model_tag(f: Fields, registry: Registry) -> Json:
    registry.delete_model_tag(f.required_str("name"), f.required_str("key"))
    return {}


# -- aliases -------------------------------------------------------------------------------------


def set_alias(f: Fields, registry: Registry) -> Json:
    registry.set_alias(f.required_str("name"), f.required_str("alias"), _version(f))
    return {}


def delete_alias(f: Fields, registry: Registry) -> Json:
    registry.delete_alias(f.required_str("name"), f.required_str("alias"))
    return {}


def get_version_by_alias(f: Fields, registry: Registry) -> Json:
    return {
        "model_version": model_version(
            registry.version_by_alias(f.required_str("name"), f.required_str("alias"))
        )
    }


# -- model versions ------------------------------------------------------------------------------


def create_model_version(f: Fields, registry: Registry) -> Json:
    mv = registry.create_version(
        f.required_str("name"),
        f.required_str("source"),
        run_id=f.str("run_id") or None,
        model_id=f.str("model_id") or None,
        run_link=f.str("run_link"),
        description=f.str("description"),
        tags=f.pairs("tags"),
    )
    return {"model_version": model_version(mv)}


def get_model_version(f: Fields, registry: Registry) -> Json:
    return {"model_version": model_version(registry.get_version(f.required_str("name"), _version(f)))}


def update_model_version(f: Fields, registry: Registry) -> Json:
    mv = registry.update_version(f.required_str("name"), _version(f), f.str("description"))
    return {"model_version": model_version(mv)}


def delete_model_version(f: Fields, registry: Registry) -> Json:
    registry.delete_version(f.required_str("name"), _version(f))
    return {}


def search_model_versions(f: Fields, registry: Registry) -> Json:
    found, token = registry.search_versions(
        filter_string=f.str("filter"),
        order_by=f.strings("order_by"),
        max_results=f.int("max_results"),
        page_token=f.str("page_token"),
    )
    return encode.page("model_versions", [model_version(mv) for mv in found], token)


def get_download_uri(f: Fields, registry: Registry) -> Json:
    return {"artifact_uri": registry.download_uri(f.required_str("name"), _version(f))}


def transition_stage(f: Fields, registry: Registry) -> Json:
    mv = registry.transition_stage(
        f.required_str("name"),
        _version(f),
        f.required_str("stage"),
        bool(f.bool("archive_existing_versions")),
    )
    return {"model_version": model_version(mv)}


def set_model_version_tag(f: Fields, registry: Registry) -> Json:
    registry.set_version_tag(
        f.required_str("name"), _version(f), f.required_str("key"), f.required_str("value")
    )
    return {}


def delete_model_version_tag(f: Fields, registry: Registry) -> Json:
    registry.delete_version_tag(f.required_str("name"), _version(f), f.required_str("key"))
    return {}


def _version(f: Fields) -> str | int:
    """The version field: a string on the wire, though a bare number is accepted too."""
    value = f.raw("version")
    if isinstance(value, list) and f.from_query:
        value = value[-1]
    if value is None:
        f.required_str("version")  # raises MLflow's missing-parameter error
    return value


# (methods, path under /mlflow/, handler, service name), as in tracklight.http.routes.
REGISTRY_ROUTES: list[tuple[tuple[str, ...], str, Any, str]] = [
    (("POST",), "registered-models/create", create_registered_model, "registry"),
    (("GET",), "registered-models/get", get_registered_model, "registry"),
    (("POST",), "registered-models/rename", rename_registered_model, "registry"),
    (("PATCH",), "registered-models/update", update_registered_model, "registry"),
    (("DELETE",), "registered-models/delete", delete_registered_model, "registry"),
    (("GET",), "registered-models/search", search_registered_models, "registry"),
    (("POST", "GET"), "registered-models/get-latest-versions", get_latest_versions, "registry"),
    (("POST",), "registered-models/set-tag", set_registered_model_tag, "registry"),
    (("DELETE",), "registered-models/delete-tag", delete_registered_model_tag, "registry"),
    (("POST",), "registered-models/alias", set_alias, "registry"),
    (("DELETE",), "registered-models/alias", delete_alias, "registry"),
    (("GET",), "registered-models/alias", get_version_by_alias, "registry"),
    (("POST",), "model-versions/create", create_model_version, "registry"),
    (("GET",), "model-versions/get", get_model_version, "registry"),
    (("PATCH",), "model-versions/update", update_model_version, "registry"),
    (("DELETE",), "model-versions/delete", delete_model_version, "registry"),
    (("GET",), "model-versions/search", search_model_versions, "registry"),
    (("GET",), "model-versions/get-download-uri", get_download_uri, "registry"),
    (("POST",), "model-versions/transition-stage", transition_stage, "registry"),
    (("POST",), "model-versions/set-tag", set_model_version_tag, "registry"),
    (("DELETE",), "model-versions/delete-tag", delete_model_version_tag, "registry"),
]


async def model_version_artifact(request: Request, artifacts: Artifacts, path: str) -> Response:
    """GET /model-versions/get-artifact?name=&version=&path=: a file of a registered version."""
    if artifacts is None or artifacts.runs is None:
        raise NotImplementedFeature("The model registry is not available on this server")
    # The route table hands streamed handlers the artifact service only; a Registry is two references.
    registry = Registry(artifacts.runs.db, artifacts)
    fields = await read_fields(request)
    store, full = await in_worker(
        registry.version_file, fields.required_str("name"), _version(fields), fields.str("path")
    )
    return await file_answer(request, artifacts, store, full)
