"""Source-neutral records of an MLflow store, as every importer produces them and into_store writes them.

They carry MLflow's values as the client sees them (ids as MLflow spells them, times in milliseconds,
NaN as float NaN, infinities clamped to the largest double), never a source's storage details.
"""

from __future__ import annotations

from dataclasses import dataclass, field

Tags = list[tuple[str, str]]

# One metric point: (run id, key, step, timestamp, value, is_nan), as MLflow's SQL stores spell it: NaN
# is is_nan true with value 0.0. Plain tuples, passed on as the driver returns them: a store holds millions.
RunPoint = tuple[str, str, int, int, float, bool]


@dataclass(slots=True)
class ExperimentRecord:
    experiment_id: int
    name: str
    artifact_location: str
    lifecycle_stage: str
    creation_time: int
    last_update_time: int
    tags: Tags = field(default_factory=list)


@dataclass(slots=True)
class RunRecord:
    run_id: str  # the 32-hex uuid
    experiment_id: int
    name: str
    user_id: str
    status: str
    start_time: int
    end_time: int | None
    lifecycle_stage: str
    artifact_uri: str
    deleted_time: int | None
    params: Tags = field(default_factory=list)
    tags: Tags = field(default_factory=list)


@dataclass(slots=True)
class DatasetInputRecord:
    """A dataset logged as an input of a run, with the input's tags."""

    run_id: str
    experiment_id: int
    name: str
    digest: str
    source_type: str
    source: str
    schema: str | None
    profile: str | None
    tags: Tags = field(default_factory=list)


@dataclass(slots=True)
class ModelLinkRecord:
    """A run's logged-model input or output."""

    run_id: str
    direction: str  # "input" or "output"
    model_id: str
    step: int | None


@dataclass(slots=True)
class LoggedModelRecord:
    model_id: str
    experiment_id: int
    name: str
    model_type: str | None
    source_run_id: str | None
    status: str  # LOGGED_MODEL_PENDING, LOGGED_MODEL_READY, LOGGED_MODEL_UPLOAD_FAILED, ...
    status_message: str | None
    artifact_uri: str
    lifecycle_stage: str
    creation_time: int
    last_updated_time: int
    params: Tags = field(default_factory=list)
    tags: Tags = field(default_factory=list)


@dataclass(slots=True)
class ModelMetricRecord:
    """A metric logged against a logged model (MLflow 3)."""

    model_id: str
    key: str
    step: int
    timestamp: int
    value: float
    run_id: str
    dataset_name: str | None
    dataset_digest: str | None


@dataclass(slots=True)
class ModelVersionRecord:
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
    tags: Tags = field(default_factory=list)


@dataclass(slots=True)
class RegisteredModelRecord:
    name: str
    description: str | None
    creation_time: int
    last_updated_time: int
    # The highest version number the source ever handed out (deleted versions included), so that the
    # next version registered in Tracklight gets the number MLflow would have given it.
    last_version: int
    tags: Tags = field(default_factory=list)
    aliases: list[tuple[str, int]] = field(default_factory=list)
    versions: list[ModelVersionRecord] = field(default_factory=list)
