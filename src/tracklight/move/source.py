"""What an import reads from: an MLflow SQL store or a live MLflow server, as the same record streams."""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from typing import Protocol

from tracklight.move.records import (
    DatasetInputRecord,
    ExperimentRecord,
    LoggedModelRecord,
    ModelLinkRecord,
    ModelMetricRecord,
    RegisteredModelRecord,
    RunPoint,
    RunRecord,
)


class Source(Protocol):
    """An MLflow store opened for reading; every listing may be called more than once (each phase does)."""

    def describe(self) -> str:
        """One line naming what is read (printed first)."""
        ...

    def counts(self) -> Mapping[str, int | None]:
        """How many of each kind of thing it holds; None for what it cannot count without reading it all."""
        ...

    def skipped(self) -> dict[str, int]: ...

    def workspaces(self) -> list[str]: ...

    def experiments(self) -> list[ExperimentRecord]: ...

    def run_pages(self) -> Iterator[list[RunRecord]]: ...

    def dataset_inputs(self) -> Iterator[list[DatasetInputRecord]]: ...

    def model_links(self) -> Iterator[list[ModelLinkRecord]]: ...

    def metric_counts(self, run_ids: Sequence[str]) -> dict[str, int]: ...

    def metric_points(self, run_ids: Sequence[str]) -> Iterator[list[RunPoint]]: ...

    def logged_model_pages(self) -> Iterator[list[LoggedModelRecord]]: ...

    def model_metric_pages(self) -> Iterator[list[ModelMetricRecord]]: ...

    def registered_model_pages(self) -> Iterator[list[RegisteredModelRecord]]: ...

    def close(self) -> None: ...
