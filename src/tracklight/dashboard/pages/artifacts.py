"""The artifact browser of a run or a logged model: listings, previews by file kind, sandboxed raw HTML."""

from __future__ import annotations

import contextlib
import csv
import functools
import io
import json
import posixpath
from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import urlsplit

from starlette.responses import PlainTextResponse, Response

from tracklight.artifacts.store import ArtifactEntry, ArtifactStore
from tracklight.dashboard.context import PageContext
from tracklight.dashboard.render import allow_images_from, render
from tracklight.errors import NotFound, NotImplementedFeature

PREVIEW_BYTES = 256 * 1024  # text shown inline; bigger files are cut with a note
RAW_BYTES = 5 * 1024 * 1024  # HTML shown in the sandboxed frame
CSV_ROWS = 200
_TEXT = {".txt", ".log", ".md", ".py", ".sh", ".cfg", ".ini", ".toml", ".rst", ".r", ".sql", ".xml", ".env"}
_YAML = {".yaml", ".yml"}
_IMAGES = {".png", ".jpg", ".jpeg", ".gif", ".webp", ".bmp", ".svg"}
_HTML = {".html", ".htm"}
_TEXT_NAMES = {"MLmodel", "MLproject", "requirements.txt", "conda.yaml", "python_env.yaml", "Dockerfile"}
# A raw HTML artifact runs in a sandbox of its own, as MLflow's UI shows it: its scripts run (reports
# drawn by plotly or bokeh are blank otherwise) but in an opaque origin, so they reach neither this page,
# nor the dashboard's cookies, nor the API (no connections), and open no windows and navigate nothing.
_RAW_CSP = (
    "sandbox allow-scripts; default-src 'none'; script-src 'unsafe-inline' 'unsafe-eval' https:; "
    "style-src 'unsafe-inline' https:; img-src data: blob: https:; font-src data: https:; "
    "connect-src 'none'; form-action 'none'; base-uri 'none'"
)


def preview_kind(path: str) -> str:
    name = posixpath.basename(path)
    ext = posixpath.splitext(name)[1].lower()
    if name in _TEXT_NAMES:
        return "yaml" if name in ("MLmodel", "MLproject") or ext in _YAML else "text"
    if ext == ".json":
        return "json"
    if ext in _YAML:
        return "yaml"
    if ext in (".csv", ".tsv"):
        return "table"
    if ext in _IMAGES:
        return "image"
    if ext in _HTML:
        return "html"
    if ext in _TEXT:
        return "text"
    return "none"


@dataclass(frozen=True, slots=True)
class Owner:
    """Whose artifacts a browser shows: a run's or a logged model's, with where its pages and files live."""

    base: str  # the dashboard path the list, preview and raw views hang off
    locate: Callable[[str], tuple[ArtifactStore, str]]
    listing: Callable[[str | None], tuple[str, list[ArtifactEntry]]]
    download: Callable[[str], tuple[str, dict[str, str]]]  # (path, query) of the file itself


def run_owner(ctx: PageContext, experiment_id: str, run_id: str) -> Owner:
    return Owner(
        base=f"/experiments/{experiment_id}/runs/{run_id}",
        locate=lambda path: ctx.services.artifacts.run_location(run_id, path),
        listing=lambda path: ctx.services.artifacts.list_run(run_id, path),
        download=lambda path: ("/get-artifact", {"path": path, "run_uuid": run_id}),
    )


def logged_model_owner(ctx: PageContext, model_id: str) -> Owner:
    return Owner(
        base=f"/logged-models/{model_id}",
        locate=lambda path: ctx.services.logged_models.file_location(model_id, path),
        listing=lambda path: ctx.services.logged_models.list_artifacts(model_id, path),
        download=lambda path: (
            f"/ajax-api/2.0/mlflow/logged-models/{model_id}/artifacts/files",
            {"artifact_file_path": path},
        ),
    )


def _read_head(store: ArtifactStore, location: str, path: str, limit: int) -> tuple[bytes, int]:
    size = store.size(location)
    if size is None:
        raise NotFound(f"No artifact at '{path}'")
    body = b"".join(store.read(location, 0, min(size, limit)))
    return body, size


def artifact_list(ctx: PageContext, owner: Owner) -> Response:
    path = ctx.arg("path")
    _, entries = owner.listing(path or None)
    entries = sorted(entries, key=lambda e: (not e.is_dir, e.name.lower()))
    return render(
        ctx,
        "artifact_list.html",
        entries=[
            {
                "name": e.name,
                "path": posixpath.join(path, e.name) if path else e.name,
                "is_dir": e.is_dir,
                "size": e.size,
            }
            for e in entries
        ],
        path=path,
        base=owner.base,
    )


def artifact_preview(ctx: PageContext, owner: Owner) -> Response:
    path = ctx.arg("path")
    # The file's store and place, looked up (a run or model read) at most once, and only if needed.
    located = functools.cache(lambda: owner.locate(path))
    kind = preview_kind(path)
    values: dict[str, object] = {"text": "", "rows": [], "truncated": False, "size": None}
    if kind in ("text", "yaml", "json", "table"):
        body, size = _read_head(*located(), path, PREVIEW_BYTES)
        truncated = size > len(body)
        text = body.decode("utf-8", "replace")
        values.update(size=size, truncated=truncated)
        if kind == "json" and not truncated:
            with contextlib.suppress(ValueError):
                text = json.dumps(json.loads(text), indent=2, ensure_ascii=False)
        if kind == "table":
            dialect = "excel-tab" if path.lower().endswith(".tsv") else "excel"
            rows = []
            for i, row in enumerate(csv.reader(io.StringIO(text), dialect=dialect)):
                if i > CSV_ROWS:
                    values["truncated"] = True
                    break
                rows.append(row)
            values["rows"] = rows
        values["text"] = text
    bucket_origin = None
    download: str | None = None
    if ctx.services.artifacts.presigned_only:
        # The proxied download routes refuse bytes in this mode: link (and show images) from the bucket.
        store, location = located()
        with contextlib.suppress(NotImplementedFeature):  # a file the bucket cannot sign: no link
            download = ctx.services.artifacts.presign(store, location).url
            parts = urlsplit(download)
            bucket_origin = f"{parts.scheme}://{parts.netloc}"
    else:
        download_path, download_query = owner.download(path)
        download = ctx.url(download_path, download_query)
    response = render(
        ctx,
        "artifact_preview.html",
        kind=kind,
        path=path,
        name=posixpath.basename(path),
        base=owner.base,
        download=download,
        **values,
    )
    return allow_images_from(response, bucket_origin) if bucket_origin and kind == "image" else response


def artifact_raw(ctx: PageContext, owner: Owner) -> Response:
    """An HTML artifact for the preview frame, under a CSP sandbox whatever the frame's attributes say."""
    path = ctx.arg("path")
    if preview_kind(path) != "html":
        return PlainTextResponse("Only HTML artifacts are shown raw; download others.", status_code=400)
    body, _ = _read_head(*owner.locate(path), path, RAW_BYTES)
    return Response(
        body,
        media_type="text/html; charset=utf-8",
        headers={
            "Content-Security-Policy": _RAW_CSP,
            "X-Content-Type-Options": "nosniff",
            "Cache-Control": "no-store",
        },
    )


def _for_run(view: Callable[[PageContext, Owner], Response]) -> Callable[..., Response]:
    def page(ctx: PageContext, experiment_id: str, run_id: str) -> Response:
        return view(ctx, run_owner(ctx, experiment_id, run_id))

    return page


def _for_logged_model(view: Callable[[PageContext, Owner], Response]) -> Callable[..., Response]:
    def page(ctx: PageContext, model_id: str) -> Response:
        return view(ctx, logged_model_owner(ctx, model_id))

    return page


ROUTES = [
    ("GET", "/experiments/{experiment_id}/runs/{run_id}/artifacts", _for_run(artifact_list)),
    ("GET", "/experiments/{experiment_id}/runs/{run_id}/artifact", _for_run(artifact_preview)),
    ("GET", "/experiments/{experiment_id}/runs/{run_id}/artifact-raw", _for_run(artifact_raw)),
    ("GET", "/logged-models/{model_id}/artifacts", _for_logged_model(artifact_list)),
    ("GET", "/logged-models/{model_id}/artifact", _for_logged_model(artifact_preview)),
    ("GET", "/logged-models/{model_id}/artifact-raw", _for_logged_model(artifact_raw)),
]
