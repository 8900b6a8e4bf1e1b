"""MLflow 3 evaluation datasets on the wire (/api/3.0/mlflow/datasets/...): JSON-in-string fields and all."""

from __future__ import annotations

import json
from typing import Any

from tracklight.errors import InvalidParameter
from tracklight.http.request import Fields
from tracklight.services.evaluation_datasets import EvaluationDatasets, parse_records
from tracklight.store.records import EvaluationDataset, EvaluationRecord

Json = dict[str, Any]


def _json_field(f: Fields, name: str, *, required: bool = False) -> Any:
    """A field that carries JSON inside a string (tags, records), decoded; None when absent."""
    text = f.str(name, required=required)
    if text is None:
        return None
    if required and not text:
        raise InvalidParameter(
            f"Missing value for required parameter '{name}'. See the API docs for more information."
        )
    try:
        return json.loads(text) if text else None
    except ValueError as exc:
        raise InvalidParameter(f"Invalid JSON in parameter '{name}': {exc}") from None


def _tags(f: Fields, *, required: bool = False) -> dict[str, Any]:
    tags = _json_field(f, "tags", required=required)
    if tags is None:
        return {}
    if not isinstance(tags, dict):
        raise InvalidParameter("'tags' must be a JSON object mapping tag keys to values.")
    return tags


def encode_dataset(d: EvaluationDataset) -> Json:
    """A dataset as the Dataset message of datasets.proto: tags as a JSON string, unset fields omitted."""
    out: Json = {
        "dataset_id": d.dataset_id,
        "name": d.name,
        "tags": json.dumps(d.tags),
        "digest": d.digest,
        "created_time": d.created_time,
        "last_update_time": d.last_update_time,
    }
    for name, value in (
        ("schema", d.schema),
        ("profile", d.profile),
        ("created_by", d.created_by),
        ("last_updated_by", d.last_updated_by),
    ):
        if value is not None:
            out[name] = value
    if d.experiment_ids:
        out["experiment_ids"] = [str(e) for e in d.experiment_ids]
    return out


def encode_record(r: EvaluationRecord) -> Json:
    """A record as the client's DatasetRecord.from_dict reads it (JSON fields decoded, not strings)."""
    out: Json = {
        "dataset_record_id": r.record_id,
        "dataset_id": r.dataset_id,
        "inputs": r.inputs,
        "tags": r.tags or {},
        "created_time": r.created_time,
        "last_update_time": r.last_update_time,
    }
    for name, value in (
        ("outputs", r.outputs),
        ("expectations", r.expectations),
        ("source", r.source),
        ("source_id", r.source_id),
        ("source_type", r.source_type),
        ("created_by", r.created_by),
        ("last_updated_by", r.last_updated_by),
    ):
        if value is not None:
            out[name] = value
    return out


def create_dataset(f: Fields, datasets: EvaluationDatasets) -> Json:
    name = f.str("name")
    if not name:
        raise InvalidParameter(
            "Missing value for required parameter 'name'. See the API docs for more information."
        )
    dataset = datasets.create(name=name, experiment_ids=f.strings("experiment_ids"), tags=_tags(f))
    return {"dataset": encode_dataset(dataset)}


def get_dataset(f: Fields, datasets: EvaluationDatasets) -> Json:
    return {"dataset": encode_dataset(datasets.get(f.required_str("dataset_id")))}


def delete_dataset(f: Fields, datasets: EvaluationDatasets) -> Json:
    datasets.delete(f.required_str("dataset_id"))
    return {}


def search_datasets(f: Fields, datasets: EvaluationDatasets) -> Json:
    found, token = datasets.search(
        experiment_ids=f.strings("experiment_ids"),
        filter_string=f.str("filter_string"),
        order_by=f.strings("order_by"),
        max_results=f.int("max_results"),
        page_token=f.str("page_token"),
    )
    out: Json = {}
    if found:
        out["datasets"] = [encode_dataset(d) for d in found]
    if token:
        out["next_page_token"] = token
    return out


def set_dataset_tags(f: Fields, datasets: EvaluationDatasets) -> Json:
    datasets.set_tags(f.required_str("dataset_id"), _tags(f, required=True))
    return {}


def delete_dataset_tag(f: Fields, datasets: EvaluationDatasets) -> Json:
    datasets.delete_tag(f.required_str("dataset_id"), f.required_str("key"))
    return {}


def upsert_dataset_records(f: Fields, datasets: EvaluationDatasets) -> Json:
    records = parse_records(_json_field(f, "records", required=True))
    inserted, updated = datasets.upsert_records(f.required_str("dataset_id"), records)
    return {"inserted_count": inserted, "updated_count": updated}


def get_dataset_records(f: Fields, datasets: EvaluationDatasets) -> Json:
    records, token = datasets.records(
        f.required_str("dataset_id"), max_results=f.int("max_results"), page_token=f.str("page_token")
    )
    out: Json = {"records": json.dumps([encode_record(r) for r in records])}
    if token:
        out["next_page_token"] = token
    return out


def delete_dataset_records(f: Fields, datasets: EvaluationDatasets) -> Json:
    deleted = datasets.delete_records(f.required_str("dataset_id"), f.strings("dataset_record_ids"))
    return {"deleted_count": deleted}


def get_dataset_experiment_ids(f: Fields, datasets: EvaluationDatasets) -> Json:
    ids = datasets.experiment_ids(f.required_str("dataset_id"))
    return {"experiment_ids": [str(e) for e in ids]} if ids else {}


def add_dataset_to_experiments(f: Fields, datasets: EvaluationDatasets) -> Json:
    dataset = datasets.add_experiments(f.required_str("dataset_id"), f.strings("experiment_ids"))
    return {"dataset": encode_dataset(dataset)}


def remove_dataset_from_experiments(f: Fields, datasets: EvaluationDatasets) -> Json:
    dataset = datasets.remove_experiments(f.required_str("dataset_id"), f.strings("experiment_ids"))
    return {"dataset": encode_dataset(dataset)}


_S = "evaluation_datasets"
# (methods, path under /mlflow/, handler, service name), served under /api/3.0 and /ajax-api/3.0 only.
DATASET_ROUTES: list[tuple[tuple[str, ...], str, Any, str]] = [
    (("POST",), "datasets/create", create_dataset, _S),
    (("POST", "GET"), "datasets/search", search_datasets, _S),
    (("GET",), "datasets/{dataset_id}", get_dataset, _S),
    (("DELETE",), "datasets/{dataset_id}", delete_dataset, _S),
    (("PATCH",), "datasets/{dataset_id}/tags", set_dataset_tags, _S),
    (("DELETE",), "datasets/{dataset_id}/tags/{key:path}", delete_dataset_tag, _S),
    (("POST",), "datasets/{dataset_id}/records", upsert_dataset_records, _S),
    (("GET",), "datasets/{dataset_id}/records", get_dataset_records, _S),
    (("DELETE",), "datasets/{dataset_id}/records", delete_dataset_records, _S),
    (("GET",), "datasets/{dataset_id}/experiment-ids", get_dataset_experiment_ids, _S),
    (("POST",), "datasets/{dataset_id}/add-experiments", add_dataset_to_experiments, _S),
    (("POST",), "datasets/{dataset_id}/remove-experiments", remove_dataset_from_experiments, _S),
]
