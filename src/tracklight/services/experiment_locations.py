"""Experiments' artifact locations, remembered so that creating a run need not read its experiment first."""

from __future__ import annotations


class ExperimentLocations:
    """Artifact location by experiment id: a hint, never trusted on its own.

    A location could go stale only if the experiment were permanently deleted and its id reused by
    another replica; the statement that creates a run checks the experiment's location and state
    itself, and on a mismatch the caller reads the experiment again. So nothing here needs expiring.
    """

    def __init__(self, capacity: int = 10_000) -> None:
        self.capacity = capacity
        self._locations: dict[int, str] = {}

    def get(self, experiment_id: int) -> str | None:
        return self._locations.get(experiment_id)

    def remember(self, experiment_id: int, location: str) -> None:
        if len(self._locations) >= self.capacity:
            self._locations.clear()
        self._locations[experiment_id] = location
