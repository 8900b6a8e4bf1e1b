"""The run artifact browser: directory listings, previews by file kind, and a sandboxed raw view for HTML."""

from __future__ import annotations

import contextlib
import csv
import io
import json
import posixpath

from starlette.responses import PlainTextResponse, Response

from tracklight.dashboard.context import PageContext
from tracklight.dashboard.render import render

PREVIEW_BYTES = 256 * 1024  # text shown inline; bigger files are cut with a note
RAW_BYTES = 5 * 1024 * 1024  # HTML shown in the sandboxed frame
CSV_ROWS = 200
_TEXT = {".txt", ".log", ".md", ".py", ".sh", ".cfg", ".ini", ".toml", ".rst", ".r", ".sql", ".xml", ".env"}
_YAML = {".yaml", ".yml"}
_IMAGES = {".png", ".jpg", ".jpeg", ".gif", ".webp", ".bmp", ".svg"}
_HTML = {".html", ".htm"}
_TEXT_NAMES = {"MLmodel", "MLproject", "requirements.txt", "conda.yaml", "python_env.yaml", "Dockerfile"}
# A raw HTML artifact runs in a sandbox of its own: no scripts, no same-origin access, nothing fetched.
_RAW_CSP = "sandbox; default-src 'none'; img-src data:; style-src 'unsafe-inline'"


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


def _read_head(ctx: PageContext, run_id: str, path: str, limit: int) -> tuple[bytes, int]:
    store, location = ctx.services.artifacts.run_location(run_id, path)
    size = store.size(location)
    if size is None:
        from tracklight.errors import NotFound

        raise NotFound(f"No artifact at '{path}' in run {run_id}")
    body = b"".join(store.read(location, 0, min(size, limit)))
    return body, size


def artifact_list(ctx: PageContext, experiment_id: str, run_id: str) -> Response:
    path = ctx.arg("path")
    _, entries = ctx.services.artifacts.list_run(run_id, path or None)
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
        run_id=run_id,
        base=f"/experiments/{experiment_id}/runs/{run_id}",
    )


def artifact_preview(ctx: PageContext, experiment_id: str, run_id: str) -> Response:
    path = ctx.arg("path")
    kind = preview_kind(path)
    values: dict[str, object] = {"text": "", "rows": [], "truncated": False, "size": None}
    if kind in ("text", "yaml", "json", "table"):
        body, size = _read_head(ctx, run_id, path, PREVIEW_BYTES)
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
    return render(
        ctx,
        "artifact_preview.html",
        kind=kind,
        path=path,
        name=posixpath.basename(path),
        run_id=run_id,
        base=f"/experiments/{experiment_id}/runs/{run_id}",
        **values,
    )


def artifact_raw(ctx: PageContext, experiment_id: str, run_id: str) -> Response:
    """An HTML artifact for the preview frame, under a CSP sandbox whatever the frame's attributes say."""
    path = ctx.arg("path")
    if preview_kind(path) != "html":
        return PlainTextResponse("Only HTML artifacts are shown raw; download others.", status_code=400)
    body, _ = _read_head(ctx, run_id, path, RAW_BYTES)
    return Response(
        body,
        media_type="text/html; charset=utf-8",
        headers={
            "Content-Security-Policy": _RAW_CSP,
            "X-Content-Type-Options": "nosniff",
            "Cache-Control": "no-store",
        },
    )


ROUTES = [
    ("GET", "/experiments/{experiment_id}/runs/{run_id}/artifacts", artifact_list),
    ("GET", "/experiments/{experiment_id}/runs/{run_id}/artifact", artifact_preview),
    ("GET", "/experiments/{experiment_id}/runs/{run_id}/artifact-raw", artifact_raw),
]
