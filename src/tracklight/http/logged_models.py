"""MLflow 3 logged models on the wire: create, get, finalize, delete, tags, params, search and file listings."""

from __future__ import annotations

from typing import Any

from tracklight.artifacts.paths import artifact_path
from tracklight.errors import InvalidParameter
from tracklight.http.artifacts import file_infos
from tracklight.http.encode import wire_float
from tracklight.http.request import Fields
from tracklight.services.logged_models import LoggedModels
from tracklight.store.records import DatasetScope, LoggedModel, ModelOrder

Json = dict[str, Any]


def encode_logged_model(m: LoggedModel) -> Json:
    """A model as MLflow's LoggedModel message: {info, data}, unset and empty fields omitted."""
    info: Json = {
        "model_id": m.model_id,
        "experiment_id": str(m.experiment_id),
        "name": m.name,
        "creation_timestamp_ms": m.creation_time,
        "last_updated_timestamp_ms": m.last_updated_time,
        "artifact_uri": m.artifact_uri,
        "status": m.status,
    }
    for name, value in (
        ("model_type", m.model_type),
        ("source_run_id", m.source_run_id),
        ("status_message", m.status_message),
    ):
        if value is not None:
            info[name] = value
    if m.tags:
        info["tags"] = [{"key": k, "value": v} for k, v in m.tags.items()]
    data: Json = {}
    if m.params:
        data["params"] = [{"key": k, "value": v} for k, v in m.params.items()]
    if m.metrics:
        metrics = []
        for p in m.metrics:
            metric: Json = {
                "key": p.key,
                "value": wire_float(p.value),
                "timestamp": p.timestamp,
                "step": p.step,
                "run_id": p.run_id,
                "model_id": m.model_id,
            }
            if p.dataset_name is not None:
                metric["dataset_name"] = p.dataset_name
            if p.dataset_digest is not None:
                metric["dataset_digest"] = p.dataset_digest
            metrics.append(metric)
        data["metrics"] = metrics
    return {"info": info, "data": data}


def create_logged_model(f: Fields, models: LoggedModels) -> Json:
    model = models.create(
        experiment_id=f.required_str("experiment_id"),
        name=f.str("name"),
        model_type=f.str("model_type"),
        source_run_id=f.str("source_run_id"),
        params=f.pairs("params"),
        tags=f.pairs("tags"),
    )
    return {"model": encode_logged_model(model)}


def get_logged_model(f: Fields, models: LoggedModels) -> Json:
    model = models.get(f.required_str("model_id"), allow_deleted=bool(f.bool("allow_deleted")))
    return {"model": encode_logged_model(model)}


def finalize_logged_model(f: Fields, models: LoggedModels) -> Json:
    status = f.raw("status")
    if status is None:
        raise InvalidParameter(
            "Missing value for required parameter 'status'. See the API docs for more information."
        )
    if not isinstance(status, (str, int)) or isinstance(status, bool):
        raise InvalidParameter(f"Invalid logged model status {status!r}.")
    return {"model": encode_logged_model(models.finalize(f.required_str("model_id"), status))}


def delete_logged_model(f: Fields, models: LoggedModels) -> Json:
    models.delete(f.required_str("model_id"))
    return {}


def set_logged_model_tags(f: Fields, models: LoggedModels) -> Json:
    # The proto declares a model in the answer; the reference server sends {}.
    models.set_tags(f.required_str("model_id"), f.pairs("tags"))
    return {}


def delete_logged_model_tag(f: Fields, models: LoggedModels) -> Json:
    models.delete_tag(f.required_str("model_id"), f.required_str("tag_key"))
    return {}


def log_logged_model_params(f: Fields, models: LoggedModels) -> Json:
    params = [(p.required_str("key"), p.str("value") or "") for p in f.objects("params")]
    models.log_params(f.required_str("model_id"), params)
    return {}


def _dataset(f: Fields, what: str) -> DatasetScope | None:
    name, digest = f.str("dataset_name"), f.str("dataset_digest")
    if not name:
        if digest:
            raise InvalidParameter(f"{what}: dataset_digest may only be given together with dataset_name.")
        return None
    return DatasetScope(name, digest or None)


def _order_by(f: Fields) -> list[ModelOrder]:
    orders = []
    for item in f.list("order_by"):
        if not isinstance(item, dict):
            # A string is what runs/search takes; here each entry is an object.
            raise InvalidParameter(
                f"Invalid order_by entry {item!r}: expected an object "
                '{"field_name": ..., "ascending": ..., "dataset_name": ..., "dataset_digest": ...}.'
            )
        o = Fields(item)
        ascending = o.bool("ascending")
        orders.append(
            ModelOrder(
                o.required_str("field_name"),
                True if ascending is None else ascending,
                _dataset(o, "order_by"),
            )
        )
    return orders


def search_logged_models(f: Fields, models: LoggedModels) -> Json:
    datasets = []
    for item in f.objects("datasets"):
        scope = _dataset(item, "datasets")
        if scope is None:
            raise InvalidParameter("`dataset_name` in the `datasets` clause must be specified.")
        datasets.append(scope)
    found, token = models.search(
        experiment_ids=f.strings("experiment_ids"),
        filter_string=f.str("filter"),
        datasets=datasets,
        order_by=_order_by(f),
        max_results=f.int("max_results"),
        page_token=f.str("page_token"),
    )
    out: Json = {}
    if found:
        out["models"] = [encode_logged_model(m) for m in found]
    if token:
        out["next_page_token"] = token
    return out


def list_logged_model_artifacts(f: Fields, models: LoggedModels) -> Json:
    """A model's files under `artifact_directory_path`, named relative to the model's artifact root."""
    path = f.str("artifact_directory_path")
    root, entries = models.list_artifacts(f.required_str("model_id"), path)
    out: Json = {"root_uri": root}
    if entries:
        out["files"] = file_infos(entries, artifact_path(path))
    return out


# (methods, path under /mlflow/, handler, service name), as in tracklight.http.routes.
LOGGED_MODEL_ROUTES: list[tuple[tuple[str, ...], str, Any, str]] = [
    (("POST",), "logged-models", create_logged_model, "logged_models"),
    (("POST",), "logged-models/search", search_logged_models, "logged_models"),
    (("GET",), "logged-models/{model_id}", get_logged_model, "logged_models"),
    (("PATCH",), "logged-models/{model_id}", finalize_logged_model, "logged_models"),
    (("DELETE",), "logged-models/{model_id}", delete_logged_model, "logged_models"),
    (("PATCH",), "logged-models/{model_id}/tags", set_logged_model_tags, "logged_models"),
    (("DELETE",), "logged-models/{model_id}/tags/{tag_key:path}", delete_logged_model_tag, "logged_models"),
    (("POST",), "logged-models/{model_id}/params", log_logged_model_params, "logged_models"),
    (
        ("GET",),
        "logged-models/{model_id}/artifacts/directories",
        list_logged_model_artifacts,
        "logged_models",
    ),
]
