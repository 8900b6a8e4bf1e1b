"""The mlflow-artifacts wire protocol and the UI download routes: streamed bodies, ranges, multipart."""

from __future__ import annotations

import mimetypes
import posixpath
import re
import unicodedata
from collections.abc import Awaitable, Callable, Iterator
from typing import Any
from urllib.parse import quote

from starlette.requests import Request
from starlette.responses import Response, StreamingResponse

from tracklight.artifacts.paths import artifact_path, basename, join
from tracklight.artifacts.store import ArtifactEntry, ArtifactStore, UploadedPart
from tracklight.errors import InvalidParameter, NotFound
from tracklight.http.request import Fields, read_fields
from tracklight.http.responses import json_response
from tracklight.http.telemetry import ARTIFACT_BYTES
from tracklight.http.workers import in_worker
from tracklight.services.artifacts import Artifacts

ArtifactHandler = Callable[[Request, Artifacts, str], Awaitable[Response]]

# Request bodies arrive in network-sized pieces; hand the store whole MiBs to keep thread hops rare.
_WRITE_BATCH = 1024 * 1024
_RANGE = re.compile(r"^bytes=(\d*)-(\d*)$")
# MLflow's list of extensions (and extension-less names) it always sends as text/plain; case-sensitive.
_TEXT_KINDS = frozenset(
    [
        "txt",
        "log",
        "err",
        "cfg",
        "conf",
        "cnf",
        "cf",
        "ini",
        "properties",
        "prop",
        "hocon",
        "toml",
        "yaml",
        "yml",
        "xml",
        "json",
        "js",
        "py",
        "py3",
        "csv",
        "tsv",
        "md",
        "rst",
        "ipynb",
        "MLmodel",
        "mlproject",
    ]
)
# RFC 7230 token characters (a filename made of these needs no quotes) and RFC 5987 attr-chars
# besides letters and digits (left unescaped in filename*).
_TOKEN_CHARS = frozenset("!#$%&'*+-.^_`|~0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz")
_ATTR_CHARS = "!#$&+-.^_`|~"


def file_infos(entries: list[ArtifactEntry], under: str = "") -> list[dict[str, Any]]:
    """MLflow FileInfo dicts; `under` is prefixed to each name (the tracking API lists run-relative)."""
    files = []
    for entry in entries:
        info: dict[str, Any] = {"path": join(under, entry.name), "is_dir": entry.is_dir}
        if entry.size is not None:
            info["file_size"] = entry.size
        files.append(info)
    return files


async def upload(request: Request, artifacts: Artifacts, path: str) -> Response:
    """PUT: stream the body into the store; the object appears only if every declared byte arrived."""
    target = artifact_path(path, allow_root=False)
    artifacts.refuse_proxied(upload=True)
    declared = request.headers.get("content-length")
    expected = int(declared) if declared and declared.isdigit() else None
    if declared is not None and expected is None:
        raise InvalidParameter(f"Invalid Content-Length {declared!r}")
    writer = await in_worker(artifacts.destination.open_writer, target, expected)
    received = 0
    pending = bytearray()
    try:
        async for chunk in request.stream():
            received += len(chunk)
            if expected is not None and received > expected:
                raise InvalidParameter(f"The body is longer than its Content-Length ({expected} bytes)")
            pending += chunk
            if len(pending) >= _WRITE_BATCH:
                await in_worker(writer.write, bytes(pending))
                pending.clear()
        if expected is not None and received != expected:
            raise InvalidParameter(f"The body ended after {received} of its {expected} bytes")
        if pending:
            await in_worker(writer.write, bytes(pending))
        await in_worker(writer.commit)
    except BaseException:
        await in_worker(writer.abort)
        raise
    ARTIFACT_BYTES.labels("in").inc(received)
    return Response(b"", status_code=200)


async def download(request: Request, artifacts: Artifacts, path: str) -> Response:
    target = artifact_path(path, allow_root=False)
    return await stream_file(request, artifacts.destination, target)


async def list_or_download(request: Request, artifacts: Artifacts, path: str) -> Response:
    """GET .../artifacts lists ?path=; GET .../artifacts/<path> downloads."""
    if path:
        artifacts.refuse_proxied(upload=False)
        return await download(request, artifacts, path)
    directory = artifact_path(request.query_params.get("path"))
    entries = await in_worker(artifacts.destination.list_dir, directory)
    return json_response({"files": file_infos(entries)} if entries else {})


async def delete(request: Request, artifacts: Artifacts, path: str) -> Response:
    await in_worker(artifacts.destination.delete, artifact_path(path, allow_root=False))
    return json_response({})


async def mpu_create(request: Request, artifacts: Artifacts, path: str) -> Response:
    fields = await read_fields(request)
    target = artifacts.upload_target(artifact_path(path), fields.str("path", required=True) or "")
    num_parts = fields.int("num_parts", required=True) or 0
    if not 1 <= num_parts <= 10_000:
        raise InvalidParameter(f"num_parts must be between 1 and 10000, not {num_parts}")
    upload = await in_worker(artifacts.direct_store().create_multipart, target, num_parts)
    return json_response(
        {
            "upload_id": upload.upload_id,
            "credentials": [
                {"url": c.url, "part_number": c.part_number, "headers": c.headers} for c in upload.credentials
            ],
        }
    )


async def mpu_complete(request: Request, artifacts: Artifacts, path: str) -> Response:
    fields = await read_fields(request)
    target = artifacts.upload_target(artifact_path(path), fields.str("path", required=True) or "")
    upload_id = fields.str("upload_id", required=True) or ""
    parts = [_part(p) for p in fields.objects("parts")]
    await in_worker(artifacts.direct_store().complete_multipart, target, upload_id, parts)
    return json_response({})


async def mpu_abort(request: Request, artifacts: Artifacts, path: str) -> Response:
    fields = await read_fields(request)
    target = artifacts.upload_target(artifact_path(path), fields.str("path", required=True) or "")
    upload_id = fields.str("upload_id", required=True) or ""
    await in_worker(artifacts.direct_store().abort_multipart, target, upload_id)
    return json_response({})


def _part(fields: Fields) -> UploadedPart:
    return UploadedPart(
        part_number=fields.int("part_number", required=True) or 0,
        etag=fields.str("etag") or "",
        url=fields.str("url") or "",
    )


async def presigned(request: Request, artifacts: Artifacts, path: str) -> Response:
    target = artifact_path(path, allow_root=False)
    return await presigned_answer(artifacts, artifacts.destination, target)


async def presigned_answer(artifacts: Artifacts, store: ArtifactStore, path: str) -> Response:
    """A presigned download URL for the file, in MLflow's {url, headers, file_size} shape."""
    link = await in_worker(artifacts.presign, store, path)
    return json_response({"url": link.url, "headers": link.headers, "file_size": link.file_size})


async def file_answer(request: Request, artifacts: Artifacts, store: ArtifactStore, path: str) -> Response:
    """A registered or logged model's file: with ?presigned=true a URL to read it from the bucket, else its
    bytes (refused with --artifacts-presigned-only)."""
    if request.query_params.get("presigned") == "true":
        return await presigned_answer(artifacts, store, path)
    artifacts.refuse_proxied(upload=False)
    return await stream_file(request, store, path)


async def run_artifact(request: Request, artifacts: Artifacts, path: str) -> Response:
    """GET /get-artifact?run_id=&path=: a run's file, as the legacy UI downloads it."""
    fields = await read_fields(request)
    store, full = await in_worker(artifacts.run_location, fields.run_id(), fields.str("path", required=True))
    artifacts.refuse_proxied(upload=False)
    return await stream_file(request, store, full)


async def stream_file(request: Request, store: ArtifactStore, path: str) -> Response:
    """The file's bytes, streamed; one `Range: bytes=` range gives a 206."""
    size = await in_worker(store.size, path)
    if size is None:
        raise NotFound(f"No artifact file at '{path}'")
    name = basename(path)
    headers = {
        "Content-Disposition": content_disposition(name),
        # Set as a header, not media_type: Starlette would append "; charset=utf-8" to text types.
        "Content-Type": media_type(name),
        "X-Content-Type-Options": "nosniff",
        "Accept-Ranges": "bytes",
    }
    start, end, status = 0, size, 200
    wanted = _byte_range(request.headers.get("range"), size)
    if wanted == "unsatisfiable":
        headers["Content-Range"] = f"bytes */{size}"
        return Response(b"", status_code=416, headers=headers)
    if wanted is not None:
        start, end = wanted
        status = 206
        headers["Content-Range"] = f"bytes {start}-{end - 1}/{size}"
    headers["Content-Length"] = str(end - start)
    body: Iterator[bytes] = _counted(store.read(path, start, end)) if end > start else iter(())
    return StreamingResponse(body, status_code=status, headers=headers)


def media_type(name: str) -> str:
    """The Content-Type MLflow gives a downloaded file: text/plain for its text kinds (by extension, or
    by the whole name when there is none, as for MLmodel), else the platform's guess, else binary."""
    extension = posixpath.splitext(name)[1][1:] or name
    if extension in _TEXT_KINDS:
        return "text/plain"
    return mimetypes.guess_type(name)[0] or "application/octet-stream"


def content_disposition(name: str) -> str:
    """`attachment; filename=<name>` (RFC 6266); a name that is not ASCII also gets an RFC 5987
    `filename*` and an ASCII approximation in `filename` for clients that ignore `filename*`."""
    name = "".join("_" if ord(c) < 0x20 or ord(c) == 0x7F else c for c in name)  # no header injection
    if name.isascii():
        return f"attachment; filename={_header_value(name)}"
    fallback = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode("ascii") or "download"
    return f"attachment; filename={_header_value(fallback)}; filename*=UTF-8''{quote(name, safe=_ATTR_CHARS)}"


def _header_value(value: str) -> str:
    """A token as it stands; anything else as a quoted string with \\ and \" escaped."""
    if value and all(c in _TOKEN_CHARS for c in value):
        return value
    escaped = value.replace("\\", "\\\\").replace('"', '\\"')
    return f'"{escaped}"'


def _counted(chunks: Iterator[bytes]) -> Iterator[bytes]:
    sent = ARTIFACT_BYTES.labels("out")
    for chunk in chunks:
        sent.inc(len(chunk))
        yield chunk


def _byte_range(header: str | None, size: int) -> tuple[int, int] | str | None:
    """(start, end-exclusive) of a single-range header; None to send it all (absent or multi-range)."""
    if not header:
        return None
    match = _RANGE.match(header.strip())
    if match is None:
        return None
    first, last = match.groups()
    if not first and not last:
        return None
    if not first:  # the last N bytes
        length = int(last)
        return (max(size - length, 0), size) if length else "unsatisfiable"
    start = int(first)
    end = min(int(last) + 1, size) if last else size
    if start >= size or end <= start:
        return "unsatisfiable"
    return start, end


# Routes under /api/2.0/mlflow-artifacts/ (and /ajax-api/...): (prefix, exact?) → handler per method.
ARTIFACT_ROUTES: list[tuple[str, dict[str, ArtifactHandler]]] = [
    ("artifacts", {"GET": list_or_download, "PUT": upload, "DELETE": delete}),
    ("mpu/create", {"POST": mpu_create}),
    ("mpu/complete", {"POST": mpu_complete}),
    ("mpu/abort", {"POST": mpu_abort}),
    ("presigned", {"GET": presigned}),
]


def list_run_artifacts(fields: Fields, artifacts: Artifacts) -> dict[str, Any]:
    """GET /mlflow/artifacts/list: a run's files under `path`, named relative to the run's root."""
    path = fields.str("path")
    root, entries = artifacts.list_run(fields.run_id(), path)
    listed = artifact_path(path)
    out: dict[str, Any] = {"root_uri": root}
    if entries:
        out["files"] = file_infos(entries, listed)
    return out
