"""The web UI's artifact routes: a small upload into a run, and a logged model's file by path."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from tracklight.artifacts.paths import artifact_path
from tracklight.errors import InvalidParameter, TracklightError
from tracklight.http.artifacts import file_answer
from tracklight.http.responses import json_response
from tracklight.http.telemetry import ARTIFACT_BYTES
from tracklight.http.workers import in_worker
from tracklight.services.artifacts import Artifacts
from tracklight.services.logged_models import LoggedModels

# The UI uploads files a person picked in the browser; bigger ones go through the client and the proxy.
MAX_UI_UPLOAD = 10 * 1024 * 1024
_TOO_LARGE = "Artifact size is too large. Max size is 10MB."


def _file_path(raw: str) -> str:
    """The checked root-relative path, with MLflow's "Invalid path" wording for a path that escapes."""
    try:
        return artifact_path(raw, allow_root=False)
    except InvalidParameter as exc:
        reason = exc.message.rsplit(": ", 1)[-1]  # the check's own words, without its repeat of the path
        raise InvalidParameter(f"Invalid path {raw!r}: {reason}") from None


async def _small_body(request: Request) -> bytes:
    """The body, refused as soon as it passes MAX_UI_UPLOAD (whatever Content-Length claims)."""
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > MAX_UI_UPLOAD:
        raise InvalidParameter(_TOO_LARGE)
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > MAX_UI_UPLOAD:
            raise InvalidParameter(_TOO_LARGE)
    return bytes(body)


async def upload_run_artifact(request: Request, services: Mapping[str, Any], _: dict[str, str]) -> Response:
    """POST upload-artifact?run_uuid=&path=: the raw body becomes the run's artifact at `path`."""
    query = request.query_params
    run_id = query.get("run_uuid")
    if not run_id:
        raise InvalidParameter("Request must specify run_uuid.")
    raw_path = query.get("path")
    if not raw_path:
        raise InvalidParameter("Request must specify path.")
    path = _file_path(raw_path)
    artifacts: Artifacts = services["artifacts"]
    artifacts.refuse_proxied(upload=True)
    data = await _small_body(request)
    if not data:
        raise InvalidParameter("Request must specify data.")
    store, target = await in_worker(artifacts.run_upload_location, run_id, path)

    def write() -> None:
        writer = store.open_writer(target, len(data))
        try:
            writer.write(data)
            writer.commit()
        except BaseException:
            writer.abort()
            raise

    await in_worker(write)
    ARTIFACT_BYTES.labels("in").inc(len(data))
    return json_response({})


async def logged_model_file(
    request: Request, services: Mapping[str, Any], params: dict[str, str]
) -> Response:
    """GET logged-models/<id>/artifacts/files?artifact_file_path=: one file of a logged model, streamed."""
    raw_path = request.query_params.get("artifact_file_path")
    if not raw_path:
        raise TracklightError(
            'Request must include the "artifact_file_path" query parameter.', error_code="BAD_REQUEST"
        )
    models: LoggedModels = services["logged_models"]
    store, target = await in_worker(models.file_location, params["model_id"], _file_path(raw_path))
    return await file_answer(request, services["artifacts"], store, target)
