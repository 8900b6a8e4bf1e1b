"""Artifacts in Google Cloud Storage, through google-cloud-storage (JSON API) and Application Default Credentials."""

from __future__ import annotations

import contextlib
import json
import mimetypes
import os
import re
import threading
import time
import uuid
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import quote

import google.auth
import requests
from google.api_core import exceptions as gexc
from google.auth.credentials import AnonymousCredentials, Credentials, Signing
from google.auth.exceptions import DefaultCredentialsError
from google.auth.transport.requests import AuthorizedSession, Request
from google.cloud import storage
from google.cloud.storage.retry import DEFAULT_RETRY
from requests.adapters import HTTPAdapter

from tracklight.artifacts.locations import ArtifactLocationError
from tracklight.artifacts.store import (
    PART_SIZE,
    PRESIGNED_UNSUPPORTED,
    READ_CHUNK,
    ArtifactEntry,
    MultipartUpload,
    PartCredential,
    PresignedDownload,
    UploadedPart,
)
from tracklight.errors import InvalidParameter, NotFound, NotImplementedFeature

# Client-direct multipart uploads keep their parts here, under the store's prefix, hidden from listings.
UPLOADS_DIR = ".tracklight-uploads"
_SCOPES = ["https://www.googleapis.com/auth/devstorage.full_control"]
_URL_TTL_S = 3600
_TIMEOUT = (10, 120)  # (connect, read) seconds for the requests this module makes itself
_ATTEMPTS = 5
_COMPOSE_MAX = 32  # GCS composes at most 32 sources per request
_UPLOAD_ID = re.compile(r"^[0-9a-f]{32}$")
# The library retries only idempotent calls by default; these (a whole-object write, a compose of the same
# sources, a new upload session) are safe to repeat.
_RETRY = DEFAULT_RETRY
_RETRYABLE = {408, 429, 500, 502, 503, 504}


class GcsWriter:
    """A single request for small files; past one part, a resumable session fed PART_SIZE pieces, one in
    flight while the next is received.

    GCS creates the object only when the session receives its last byte, so an abort (which also cancels the
    session) leaves nothing under the name.
    """

    def __init__(self, store: GcsArtifactStore, key: str) -> None:
        self.store = store
        self.key = key
        self.buffer = bytearray()
        self.session: str | None = None
        self.sent = 0
        self.pending: Future[None] | None = None

    def write(self, chunk: bytes) -> None:
        self.buffer += chunk
        # Keep the last part back until more arrives: only the final piece may carry the total size.
        while len(self.buffer) > PART_SIZE:
            part = bytes(self.buffer[:PART_SIZE])
            del self.buffer[:PART_SIZE]
            self._send(part, final=False)

    def _send(self, data: bytes, final: bool) -> None:
        if self.session is None:
            self.session = self.store.new_session(self.store.bucket.blob(self.key))
        self._wait()  # pieces of a session go in order; waiting here blocks the client while one is in flight
        offset = self.sent
        self.sent += len(data)
        total = self.sent if final else None
        self.pending = self.store.pool.submit(self.store.put_range, self.session, data, offset, total)

    def _wait(self) -> None:
        pending, self.pending = self.pending, None
        if pending is not None:
            pending.result()

    def commit(self) -> None:
        try:
            if self.session is None:
                blob = self.store.bucket.blob(self.key)
                blob.upload_from_string(
                    bytes(self.buffer), content_type=_content_type(self.key), retry=_RETRY, timeout=_TIMEOUT
                )
            else:
                self._send(bytes(self.buffer), final=True)
                self.buffer.clear()
                self._wait()
            self.session = None
        except BaseException:
            self.abort()
            raise

    def abort(self) -> None:
        self.buffer.clear()
        pending, self.pending = self.pending, None
        if pending is not None:
            pending.exception()  # wait, so no piece lands after the cancel
        if self.session is not None:
            self.store.cancel_session(self.session)
            self.session = None


class GcsArtifactStore:
    """Objects under gs://bucket/prefix; clients upload parts to server-made resumable sessions, and download
    through V4 signed URLs when the credentials can sign them."""

    direct_uploads = True
    direct_downloads = False  # set once the credentials are known to sign URLs

    def __init__(self, bucket: str, prefix: str) -> None:
        self.prefix = prefix.strip("/")
        self.credentials, project = _credentials(bucket)
        self.http = AuthorizedSession(self.credentials)
        adapter = HTTPAdapter(pool_connections=4, pool_maxsize=32)
        self.http.mount("https://", adapter)
        self.http.mount("http://", adapter)
        self.client = storage.Client(project=project, credentials=self.credentials, _http=self.http)
        self.bucket = self.client.bucket(bucket)
        self.pool = ThreadPoolExecutor(max_workers=32, thread_name_prefix="gcs")
        self._refresh_lock = threading.Lock()
        self._signing_probe: threading.Thread | None = None
        if isinstance(self.credentials, AnonymousCredentials):
            pass  # the emulator, or a public bucket: nothing can sign
        elif isinstance(self.credentials, Signing):
            self.direct_downloads = True  # a service-account key or impersonation signs locally
        elif getattr(self.credentials, "service_account_email", None):
            # Metadata-server or federated credentials sign through IAM signBlob, which needs a role the
            # account may lack: try once, off the startup path, and advertise presigned downloads only if it works.
            self._signing_probe = threading.Thread(
                target=self._probe_signing, name="gcs-sign-probe", daemon=True
            )
            self._signing_probe.start()

    def _key(self, path: str) -> str:
        return "/".join(p for p in (self.prefix, path) if p)

    def open_writer(self, path: str, size: int | None = None) -> GcsWriter:
        return GcsWriter(self, self._key(path))

    def size(self, path: str) -> int | None:
        blob = self.bucket.get_blob(self._key(path), timeout=_TIMEOUT)
        return None if blob is None else int(blob.size or 0)

    def read(self, path: str, start: int, end: int) -> Iterator[bytes]:
        url = f"{self.client.api_endpoint}/download/storage/v1/b/{self.bucket.name}/o/{quote(self._key(path), safe='')}"
        offset, attempts = start, 0
        while offset < end:
            # One streamed ranged GET; if the connection drops mid-body, resume from the last byte yielded.
            try:
                with self.http.get(
                    url,
                    params={"alt": "media"},
                    headers={"Range": f"bytes={offset}-{end - 1}", "Accept-Encoding": "identity"},
                    stream=True,
                    timeout=_TIMEOUT,
                ) as resp:
                    if resp.status_code == 404:
                        raise NotFound(f"No artifact file at '{path}'")
                    if resp.status_code not in (200, 206):
                        raise gexc.from_http_status(resp.status_code, f"GET {url}: {resp.text[:200]}")
                    if resp.status_code == 200 and offset > 0:
                        raise gexc.from_http_status(500, f"GET {url} ignored the Range header")
                    for chunk in resp.iter_content(READ_CHUNK):
                        chunk = chunk[: end - offset]
                        offset += len(chunk)
                        yield chunk
                        if offset >= end:
                            return
            except (requests.ConnectionError, requests.Timeout, requests.exceptions.ChunkedEncodingError):
                attempts += 1
                if attempts >= _ATTEMPTS:
                    raise
                time.sleep(0.2 * 2**attempts)

    def list_dir(self, path: str) -> list[ArtifactEntry]:
        key = self._key(path)
        prefix = f"{key}/" if key else ""
        pages = self.client.list_blobs(self.bucket, prefix=prefix, delimiter="/", timeout=_TIMEOUT)
        entries: list[ArtifactEntry] = []
        for blob in pages:
            name = blob.name[len(prefix) :]
            if name:  # a zero-byte "directory marker" names the prefix itself
                entries.append(ArtifactEntry(name, False, int(blob.size or 0)))
        for common in pages.prefixes:
            name = common[len(prefix) :].rstrip("/")
            if not (path == "" and name == UPLOADS_DIR):
                entries.append(ArtifactEntry(name, True))
        return sorted(entries, key=lambda e: e.name)

    def delete(self, path: str) -> None:
        if not path:
            raise InvalidParameter("Refusing to delete the whole artifact root")
        key = self._key(path)
        names = [key] + [
            b.name for b in self.client.list_blobs(self.bucket, prefix=f"{key}/", timeout=_TIMEOUT)
        ]
        self._delete_names(names)

    def _delete_names(self, names: list[str]) -> None:
        for future in [self.pool.submit(self._delete_one, n) for n in names]:
            future.result()

    def _delete_one(self, name: str) -> None:
        with contextlib.suppress(gexc.NotFound):
            self.bucket.delete_blob(name, timeout=_TIMEOUT, retry=_RETRY)

    # -- resumable sessions ------------------------------------------------------------------------------

    def new_session(self, blob: storage.Blob) -> str:
        """A resumable upload session for `blob`: its URL alone authorizes the upload, and nothing is
        created until its last byte arrives."""
        return str(
            blob.create_resumable_upload_session(
                content_type=_content_type(blob.name), timeout=_TIMEOUT, checksum=None, retry=_RETRY
            )
        )

    def put_range(self, session: str, data: bytes, offset: int, total: int | None) -> None:
        """Send `data` as bytes offset.. of the session (the last piece when `total` is given), resending
        whatever GCS reports it did not persist after a short write or a transient failure."""
        end = offset + len(data)
        done, failures = offset, 0
        while True:
            piece = data if done == offset else data[done - offset :]
            size = "*" if total is None else str(total)
            content_range = f"bytes {done}-{end - 1}/{size}" if piece else f"bytes */{size}"
            if not piece and total is None:
                return
            try:
                resp = self.http.put(
                    session, data=piece, headers={"Content-Range": content_range}, timeout=_TIMEOUT
                )
                status = resp.status_code
            except (requests.ConnectionError, requests.Timeout):
                resp, status = None, 0
            if status in (200, 201):
                return  # GCS only finalizes once every byte up to the declared total is in
            if status == 308:
                persisted = max(done, _persisted(resp))
                if persisted >= end and total is None:
                    return
                if persisted > done:
                    done = persisted
                    continue  # a short write: send the rest at once
            elif status and status not in _RETRYABLE:
                body = resp.text[:200] if resp is not None else ""
                raise gexc.from_http_status(status, f"Resumable upload to {self.bucket.name} failed: {body}")
            failures += 1
            if failures >= _ATTEMPTS:
                raise gexc.ServiceUnavailable(
                    f"Resumable upload to {self.bucket.name} kept failing ({status})"
                )
            time.sleep(0.2 * 2**failures)
            queried = self._session_status(session, total)
            if queried is None:
                return
            done = max(offset, queried)

    def _session_status(self, session: str, total: int | None) -> int | None:
        """The bytes the session has persisted, or None when it is already finalized."""
        size = "*" if total is None else str(total)
        try:
            resp = self.http.put(
                session, data=b"", headers={"Content-Range": f"bytes */{size}"}, timeout=_TIMEOUT
            )
        except (requests.ConnectionError, requests.Timeout):
            return 0
        if resp.status_code in (200, 201):
            return None
        return _persisted(resp) if resp.status_code == 308 else 0

    def cancel_session(self, session: str) -> None:
        # GCS answers 499; a session left open creates nothing and expires within a week anyway.
        with contextlib.suppress(requests.RequestException):
            self.http.delete(session, timeout=_TIMEOUT)

    # -- client-direct multipart uploads ------------------------------------------------------------------

    def _upload_base(self, upload_id: str) -> str:
        return self._key(f"{UPLOADS_DIR}/{upload_id}")

    def create_multipart(self, path: str, num_parts: int) -> MultipartUpload:
        upload_id = uuid.uuid4().hex
        base = self._upload_base(upload_id)
        # One resumable session per part: the client's single PUT of its chunk completes that part object.
        blobs = [self.bucket.blob(f"{base}/{n:05d}") for n in range(1, num_parts + 1)]
        sessions = list(self.pool.map(self.new_session, blobs))
        # The manifest makes the upload findable by any replica, and lets abort cancel unused sessions.
        manifest = {"key": self._key(path), "sessions": sessions}
        self.bucket.blob(f"{base}/manifest.json").upload_from_string(
            json.dumps(manifest), content_type="application/json", retry=_RETRY, timeout=_TIMEOUT
        )
        credentials = [PartCredential(part_number=n, url=url) for n, url in enumerate(sessions, 1)]
        return MultipartUpload(upload_id, credentials)

    def _manifest(self, path: str, upload_id: str) -> dict[str, Any]:
        missing = NotFound(f"No multipart upload {upload_id!r} for '{path}'")
        if not _UPLOAD_ID.match(upload_id):
            raise missing
        try:
            raw = self.bucket.blob(f"{self._upload_base(upload_id)}/manifest.json").download_as_bytes(
                timeout=_TIMEOUT
            )
        except gexc.NotFound:
            raise missing from None
        manifest: dict[str, Any] = json.loads(raw)
        if manifest.get("key") != self._key(path):
            raise missing
        return manifest

    def _upload_objects(self, upload_id: str) -> dict[str, int]:
        """Name → size of every object an upload has left so far (parts, compose steps, manifest)."""
        base = self._upload_base(upload_id)
        return {
            b.name: int(b.size or 0)
            for b in self.client.list_blobs(self.bucket, prefix=f"{base}/", timeout=_TIMEOUT)
        }

    def complete_multipart(self, path: str, upload_id: str, parts: list[UploadedPart]) -> None:
        manifest = self._manifest(path, upload_id)
        base = self._upload_base(upload_id)
        numbers = [p.part_number for p in parts]
        if not numbers:
            raise InvalidParameter(f"Cannot complete multipart upload {upload_id!r}: no parts")
        if len(set(numbers)) != len(numbers):
            raise InvalidParameter(f"Cannot complete multipart upload {upload_id!r}: a part is listed twice")
        if not all(1 <= n <= len(manifest["sessions"]) for n in numbers):
            raise InvalidParameter(f"Cannot complete multipart upload {upload_id!r}: unknown part number")
        existing = self._upload_objects(upload_id)
        names = [f"{base}/{n:05d}" for n in sorted(numbers)]
        absent = [name.rsplit("/", 1)[1] for name in names if name not in existing]
        if absent:
            # Checked here: a compose of a missing source fails as 404 on GCS but 500 on fake-gcs-server.
            raise InvalidParameter(
                f"Cannot complete multipart upload {upload_id!r}: part {int(absent[0])} was not uploaded"
            )
        sources = [self.bucket.blob(n) for n in names]
        level = 0
        while len(sources) > _COMPOSE_MAX:
            # Compose in a tree: groups of 32 into intermediate objects, until one compose can take them all.
            groups = [sources[i : i + _COMPOSE_MAX] for i in range(0, len(sources), _COMPOSE_MAX)]
            targets = [self.bucket.blob(f"{base}/c{level}-{i:05d}") for i in range(len(groups))]
            for future in [self.pool.submit(_compose, t, g) for t, g in zip(targets, groups, strict=True)]:
                future.result()
            sources, level = targets, level + 1
        final = self.bucket.blob(manifest["key"])
        final.content_type = _content_type(final.name)
        _compose(final, sources)
        self._discard(upload_id, manifest, self._upload_objects(upload_id))

    def abort_multipart(self, path: str, upload_id: str) -> None:
        manifest = self._manifest(path, upload_id)
        self._discard(upload_id, manifest, self._upload_objects(upload_id))

    def _discard(self, upload_id: str, manifest: dict[str, Any], existing: dict[str, int]) -> None:
        """Cancel the sessions whose part never arrived (so a late PUT creates nothing), then delete the
        upload's objects, the manifest last so a failure here can be retried."""
        base = self._upload_base(upload_id)
        unused = [url for n, url in enumerate(manifest["sessions"], 1) if f"{base}/{n:05d}" not in existing]
        list(self.pool.map(self.cancel_session, unused))
        manifest_name = f"{base}/manifest.json"
        self._delete_names([n for n in existing if n != manifest_name])
        self._delete_one(manifest_name)

    def sweep_uploads(self, max_age_s: float, *, dry_run: bool = False) -> list[str]:
        """Discard the client-direct uploads (parts and manifest under UPLOADS_DIR) started more than
        `max_age_s` ago and never completed or aborted. A proxied upload's resumable session stores nothing
        until its last byte arrives, and GCS expires an abandoned one within a week: nothing to sweep there."""
        cutoff = datetime.now(UTC) - timedelta(seconds=max_age_s)
        base = f"{self._key(UPLOADS_DIR)}/"
        uploads: dict[str, dict[str, storage.Blob]] = {}
        for blob in self.client.list_blobs(self.bucket, prefix=base, timeout=_TIMEOUT):
            upload_id, _, name = blob.name[len(base) :].partition("/")
            uploads.setdefault(upload_id, {})[name] = blob
        swept = []
        for upload_id, blobs in sorted(uploads.items()):
            # The manifest is written when the upload is created; without one (a create that failed half-way),
            # the oldest part dates it.
            manifest = blobs.get("manifest.json")
            started = (
                manifest.time_created if manifest is not None else min(b.time_created for b in blobs.values())
            )
            if started is None or started >= cutoff:
                continue
            if not dry_run:
                if manifest is not None and _UPLOAD_ID.match(upload_id):
                    try:
                        parsed = json.loads(manifest.download_as_bytes(timeout=_TIMEOUT))
                    except gexc.NotFound:
                        continue  # completed or aborted meanwhile
                    self._discard(upload_id, parsed, {b.name: int(b.size or 0) for b in blobs.values()})
                else:
                    self._delete_names([b.name for b in blobs.values()])
            swept.append(f"{UPLOADS_DIR}/{upload_id} (multipart upload started {started:%Y-%m-%d %H:%M} UTC)")
        return swept

    # -- downloads ------------------------------------------------------------------------------------------

    def presign_download(self, path: str) -> PresignedDownload:
        if not self.direct_downloads:
            raise NotImplementedFeature(PRESIGNED_UNSUPPORTED)
        blob = self.bucket.get_blob(self._key(path), timeout=_TIMEOUT)
        if blob is None:
            raise NotFound(f"No artifact file at '{path}'")
        url = blob.generate_signed_url(
            version="v4", expiration=timedelta(seconds=_URL_TTL_S), method="GET", **self._signer()
        )
        return PresignedDownload(url, int(blob.size or 0))

    def _signer(self) -> dict[str, Any]:
        """How generate_signed_url signs: locally for key-bearing credentials, else through IAM signBlob."""
        creds = self.credentials
        if isinstance(creds, Signing):
            return {}
        with self._refresh_lock:
            if not creds.valid:
                creds.refresh(Request())
        return {"service_account_email": creds.service_account_email, "access_token": creds.token}

    def _probe_signing(self) -> None:
        try:
            self.bucket.blob(self._key(".tracklight-sign-probe")).generate_signed_url(
                version="v4", expiration=timedelta(seconds=60), method="GET", **self._signer()
            )
        except Exception:  # noqa: BLE001 - any failure means: do not advertise presigned downloads
            return
        self.direct_downloads = True

    def settle_capabilities(self, timeout_s: float) -> None:
        if self._signing_probe is not None:
            self._signing_probe.join(timeout_s)

    def check(self) -> None:
        # Listing needs only object permissions (roles/storage.objectAdmin); a bucket GET would need more.
        blobs = self.client.list_blobs(
            self.bucket, prefix=self._key(""), max_results=1, timeout=5, retry=None
        )
        next(iter(blobs), None)


def _credentials(bucket: str) -> tuple[Credentials, str | None]:
    if os.environ.get("STORAGE_EMULATOR_HOST"):
        # The emulator takes any request; anonymous credentials keep the default chain from probing the
        # metadata server.
        return AnonymousCredentials(), os.environ.get("GOOGLE_CLOUD_PROJECT") or "test"
    try:
        credentials, project = google.auth.default(scopes=_SCOPES)
    except DefaultCredentialsError as exc:
        raise ArtifactLocationError(f"No Google Cloud credentials for gs://{bucket}: {exc}") from exc
    return credentials, project


def _content_type(name: str) -> str:
    return mimetypes.guess_type(name)[0] or "application/octet-stream"


def _persisted(resp: requests.Response | None) -> int:
    """How many bytes a 308 says the session holds ("Range: bytes=0-N"; no header when none)."""
    header = resp.headers.get("Range", "") if resp is not None else ""
    match = re.match(r"^bytes=0-(\d+)$", header)
    return int(match.group(1)) + 1 if match else 0


def _compose(target: storage.Blob, sources: list[storage.Blob]) -> None:
    target.compose(sources, timeout=_TIMEOUT, retry=_RETRY)
