"""MLflow 3 logged models: creation, finalisation, params, tags, metrics and search."""

from __future__ import annotations

from tracklight.store.engine import Database


class LoggedModels:
    """Logged-model rules over the store."""

    def __init__(self, db: Database) -> None:
        self.db = db
