"""MLflow 3 logged models on the wire. Tracklight stores none yet, so a search finds none.

The 3.x client searches logged models whenever it lists or downloads a `runs:/<id>/<dir>` URI, to add
a model's files that live outside the run; an empty answer is the truthful one until models are stored.
"""

from __future__ import annotations

from typing import Any

from tracklight.http.request import Fields


def search_logged_models(fields: Fields, service: Any) -> dict[str, Any]:
    fields.list("experiment_ids")
    return {}


# (methods, path under /mlflow/, handler, service name), as in tracklight.http.routes.
LOGGED_MODEL_ROUTES: list[tuple[tuple[str, ...], str, Any, str]] = [
    (("POST",), "logged-models/search", search_logged_models, "logged_models"),
]
