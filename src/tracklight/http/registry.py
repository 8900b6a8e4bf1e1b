"""The model-registry routes: registered models, model versions, aliases, and the UI's version download."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from tracklight.errors import NotImplementedFeature
from tracklight.services.artifacts import Artifacts

# (methods, path under /mlflow/, handler, service name), as in tracklight.http.routes.
REGISTRY_ROUTES: list[tuple[tuple[str, ...], str, Any, str]] = []


async def model_version_artifact(request: Request, artifacts: Artifacts, path: str) -> Response:
    """GET /model-versions/get-artifact?name=&version=&path=: a file of a registered version."""
    raise NotImplementedFeature("The model registry is not available yet")
