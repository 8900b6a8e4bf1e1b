"""The model registry: registered models, their versions, tags, aliases and stages."""

from __future__ import annotations

from tracklight.services.artifacts import Artifacts
from tracklight.store.engine import Database


class Registry:
    """Registry rules over the store; `artifacts` resolves version sources for downloads."""

    def __init__(self, db: Database, artifacts: Artifacts) -> None:
        self.db = db
        self.artifacts = artifacts
