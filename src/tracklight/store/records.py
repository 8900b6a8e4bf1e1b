"""Rows as the store hands them to the services: plain dataclasses, independent of the wire format."""

from __future__ import annotations

from dataclasses import dataclass, field


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
