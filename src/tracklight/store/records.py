"""Rows as the store hands them to the services: plain dataclasses, independent of the wire format."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

_Order = TypeVar("_Order")


@dataclass(slots=True)
class Experiment:
    experiment_id: int
    name: str
    artifact_location: str
    lifecycle_stage: str
    creation_time: int
    last_update_time: int
    tags: dict[str, str] = field(default_factory=dict)


@dataclass(slots=True)
class MetricPoint:
    key: str
    value: float  # NaN is float("nan"); infinities are stored clamped to ±max double
    timestamp: int
    step: int
    run_id: str | None = None


@dataclass(slots=True)
class DatasetInput:
    name: str
    digest: str
    source_type: str
    source: str
    schema: str | None
    profile: str | None
    tags: list[tuple[str, str]]


@dataclass(slots=True)
class Run:
    internal_id: int
    run_id: str
    experiment_id: int
    run_name: str
    user_id: str
    status: str
    start_time: int
    end_time: int | None
    lifecycle_stage: str
    artifact_uri: str
    params: dict[str, str] = field(default_factory=dict)
    tags: dict[str, str] = field(default_factory=dict)
    metrics: list[MetricPoint] = field(default_factory=list)
    dataset_inputs: list[DatasetInput] = field(default_factory=list)
    model_inputs: list[str] = field(default_factory=list)
    model_outputs: list[tuple[str, int]] = field(default_factory=list)


@dataclass(slots=True)
class RunRef:
    """What a write needs to know about a run: its keys and whether it is still active."""

    internal_id: int
    run_id: str
    experiment_id: int
    lifecycle_stage: str


@dataclass(slots=True)
class ModelMetricPoint(MetricPoint):
    """A run's metric point that was also logged against a logged model (and maybe a dataset)."""

    model_id: str = ""
    dataset_name: str | None = None
    dataset_digest: str | None = None


@dataclass(slots=True)
class ModelMetric:
    """One stored point of a logged model's metric, with the run and dataset it came from."""

    key: str
    value: float  # NaN is float("nan")
    timestamp: int
    step: int
    run_id: str
    dataset_name: str | None
    dataset_digest: str | None


@dataclass(slots=True)
class LoggedModel:
    model_id: str
    experiment_id: int
    name: str
    model_type: str | None
    source_run_id: str | None
    status: str
    status_message: str | None
    artifact_uri: str
    lifecycle_stage: str
    creation_time: int
    last_updated_time: int
    tags: dict[str, str] = field(default_factory=dict)
    params: dict[str, str] = field(default_factory=dict)
    metrics: list[ModelMetric] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class LoggedModelRef:
    """What a write needs to know about a model."""

    model_id: str
    experiment_id: int
    lifecycle_stage: str


@dataclass(slots=True)
class ModelVersion:
    registered_model_id: int
    name: str
    version: int
    creation_time: int
    last_updated_time: int
    description: str | None
    user_id: str | None
    current_stage: str
    source: str
    storage_location: str | None
    run_id: str | None
    run_link: str | None
    model_id: str | None
    status: str
    status_message: str | None
    tags: dict[str, str] = field(default_factory=dict)
    aliases: list[str] = field(default_factory=list)


@dataclass(slots=True)
class RegisteredModel:
    id: int
    name: str
    description: str | None
    creation_time: int
    last_updated_time: int
    tags: dict[str, str] = field(default_factory=dict)
    aliases: list[tuple[str, int]] = field(default_factory=list)
    latest_versions: list[ModelVersion] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class NewVersion:
    """What a creator supplies; the store assigns the number and timestamps."""

    source: str
    storage_location: str | None
    run_id: str | None
    run_link: str | None
    model_id: str | None
    description: str | None
    user_id: str | None
    tags: list[tuple[str, str]]


@dataclass(frozen=True, slots=True)
class DatasetScope:
    """A `datasets[]` entry, or an order_by's dataset: metrics count only when logged against it."""

    name: str
    digest: str | None


@dataclass(frozen=True, slots=True)
class ModelOrder:
    """One order_by object: an attribute or `metrics.<key>`, optionally scoped to a dataset."""

    field_name: str
    ascending: bool
    dataset: DatasetScope | None


@dataclass(slots=True)
class EvaluationDataset:
    """An MLflow 3 evaluation dataset's metadata; its records are paged separately."""

    dataset_id: str
    name: str
    digest: str
    schema: str | None  # JSON text, as the wire carries it
    profile: str | None  # JSON text
    created_time: int
    last_update_time: int
    created_by: str | None
    last_updated_by: str | None
    tags: dict[str, str] = field(default_factory=dict)
    experiment_ids: list[int] = field(default_factory=list)


@dataclass(slots=True)
class EvaluationRecord:
    """One record of an evaluation dataset, its JSON columns decoded into Python values."""

    record_id: str
    dataset_id: str
    input_hash: str
    inputs: dict[str, Any]
    outputs: Any  # any JSON value; None when unset
    expectations: dict[str, Any] | None
    tags: dict[str, Any] | None
    source: dict[str, Any] | None  # {"source_type": ..., "source_data": {...}}
    source_type: str | None
    source_id: str | None
    created_time: int
    last_update_time: int
    created_by: str | None
    last_updated_by: str | None


@dataclass(frozen=True, slots=True)
class SearchArgs(Generic[_Order]):
    """What every search takes, validated: the filter, the ordering, the page size and where to resume.

    `order_by` holds MLflow's order_by strings, or ModelOrder objects for logged models.
    """

    filter_string: str | None
    order_by: list[_Order]
    max_results: int
    page_token: str | None
