"""Artifacts in Azure Blob Storage: a connection string, or DefaultAzureCredential (managed/workload identity)."""

from __future__ import annotations

import base64
import contextlib
import logging
import re
import threading
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import quote

import requests
from azure.core.exceptions import ClientAuthenticationError, HttpResponseError, ResourceNotFoundError
from azure.core.pipeline.transport import RequestsTransport
from azure.storage.blob import (
    BlobBlock,
    BlobClient,
    BlobPrefix,
    BlobSasPermissions,
    BlobServiceClient,
    UserDelegationKey,
    generate_blob_sas,
)
from requests.adapters import HTTPAdapter

from tracklight.artifacts.locations import ArtifactLocationError
from tracklight.artifacts.parts import PartedWriter
from tracklight.artifacts.store import (
    MULTIPART_UNSUPPORTED,
    PRESIGNED_UNSUPPORTED,
    READ_CHUNK,
    ArtifactEntry,
    MultipartUpload,
    PartCredential,
    PresignedDownload,
    UploadedPart,
)
from tracklight.errors import InvalidParameter, NotFound, NotImplementedFeature

log = logging.getLogger(__name__)
# azure-core logs every request and response at INFO, azure-identity every token; the server's INFO is its own.
logging.getLogger("azure.core.pipeline.policies.http_logging_policy").setLevel(logging.WARNING)
logging.getLogger("azure.identity").setLevel(logging.WARNING)

_URL_TTL = timedelta(hours=1)
# SAS validity starts a little in the past, so a client or service clock running behind still accepts it.
_CLOCK_SKEW = timedelta(minutes=5)
_DELEGATION_KEY_TTL = timedelta(days=1)
# Each ranged GET of a read: bigger than READ_CHUNK to spend fewer round trips, small enough to hold per reader.
_GET_SIZE = 4 * READ_CHUNK
_DELETE_BATCH = 256  # the Blob Batch API's limit
_UPLOAD_ID = re.compile(r"[0-9a-f]{32}")


def _block_id(upload_id: str, part_number: int) -> str:
    """The (unencoded) block id of one part: Azure rejects a blob whose block ids differ in length,
    uncommitted ones included, so every writer here uses this one fixed-length form (38 characters)."""
    return f"{upload_id}-{part_number:05d}"


class AzureWriter(PartedWriter[str]):
    """A single Put Blob for small files; past one part, staged blocks, then a block list.

    Staged blocks stay invisible until the block list is committed, so an abort leaves nothing behind
    (Azure drops uncommitted blocks on the blob's next commit, or after a week).
    """

    def __init__(self, blob: BlobClient, pool: ThreadPoolExecutor) -> None:
        super().__init__(pool)
        self.blob = blob
        self.upload_id = uuid.uuid4().hex

    def send_part(self, number: int, data: bytearray | bytes) -> str:
        block_id = _block_id(self.upload_id, number)
        self.blob.stage_block(block_id, data, length=len(data))
        return block_id

    def send_whole(self, data: bytes) -> None:
        self.blob.upload_blob(data, overwrite=True)

    def finish(self, parts: list[str]) -> None:
        self.blob.commit_block_list([BlobBlock(block_id) for block_id in parts])


class AzureArtifactStore:
    """Blobs under wasbs://container@account.blob.core.windows.net/prefix; SAS URLs let clients skip the proxy."""

    direct_uploads: bool
    direct_downloads: bool

    def __init__(self, location: str, prefix: str, connection_string: str | None) -> None:
        container, _, host = location.partition("@")
        account = host.split(".", 1)[0]
        if not container or not account:
            raise ArtifactLocationError(
                f"Azure artifact location {location!r} must look like container@account.blob.core.windows.net"
            )
        self.prefix = prefix.strip("/")
        # azure-core's default pool keeps 10 connections; parallel blocks from several uploads need more.
        session = requests.Session()
        adapter = HTTPAdapter(pool_connections=4, pool_maxsize=32)
        session.mount("https://", adapter)
        session.mount("http://", adapter)
        options: dict[str, Any] = {
            "transport": RequestsTransport(session=session, session_owner=False),
            # Reads fetch _GET_SIZE per request, the first one included (32 MiB by default).
            "max_single_get_size": _GET_SIZE,
            "max_chunk_get_size": _GET_SIZE,
        }
        self._account_key: str | None = None
        self._delegation_key: UserDelegationKey | None = None
        self._delegation_expiry = datetime.min.replace(tzinfo=UTC)
        self._key_lock = threading.Lock()
        if connection_string:
            self.service = BlobServiceClient.from_connection_string(connection_string, **options)
            if self.service.account_name != account:
                raise ArtifactLocationError(
                    f"AZURE_STORAGE_CONNECTION_STRING is for account {self.service.account_name!r}, "
                    f"but the artifact location names {account!r}"
                )
            # A key-based connection string can sign SAS URLs; a SAS-based one cannot sign more.
            self._account_key = getattr(self.service.credential, "account_key", None)
            signer = self._account_key is not None
        else:
            from azure.identity import DefaultAzureCredential

            self.service = BlobServiceClient(
                f"https://{account}.blob.core.windows.net", credential=DefaultAzureCredential(), **options
            )
            signer = True  # a user delegation key, if the identity may get one; see _signed_or_unsupported
        self.direct_uploads = self.direct_downloads = signer
        self.container = self.service.get_container_client(container)
        self.pool = ThreadPoolExecutor(max_workers=16, thread_name_prefix="azure-block")

    def _name(self, path: str) -> str:
        return "/".join(p for p in (self.prefix, path) if p)

    def _blob(self, path: str) -> BlobClient:
        return self.container.get_blob_client(self._name(path))

    def open_writer(self, path: str, size: int | None = None) -> AzureWriter:
        return AzureWriter(self._blob(path), self.pool)

    def size(self, path: str) -> int | None:
        try:
            return int(self._blob(path).get_blob_properties().size)
        except ResourceNotFoundError:
            return None

    def read(self, path: str, start: int, end: int) -> Iterator[bytes]:
        if end <= start:
            return
        # The downloader pins the blob's ETag after the first chunk, so a concurrent overwrite fails the read
        # instead of splicing two versions.
        for chunk in self._blob(path).download_blob(offset=start, length=end - start).chunks():
            view = memoryview(chunk)
            for offset in range(0, len(view), READ_CHUNK):
                yield bytes(view[offset : offset + READ_CHUNK])

    def list_dir(self, path: str) -> list[ArtifactEntry]:
        name = self._name(path)
        prefix = f"{name}/" if name else ""
        entries: list[ArtifactEntry] = []
        for item in self.container.walk_blobs(name_starts_with=prefix or None, delimiter="/"):
            child = item.name[len(prefix) :]
            if isinstance(item, BlobPrefix):
                entries.append(ArtifactEntry(child.rstrip("/"), True))
            elif child:  # a zero-byte "directory marker" names the prefix itself
                entries.append(ArtifactEntry(child, False, int(item.size)))
        return sorted(entries, key=lambda e: e.name)

    def delete(self, path: str) -> None:
        if not path:
            raise InvalidParameter("Refusing to delete the whole artifact root")
        name = self._name(path)
        with contextlib.suppress(ResourceNotFoundError):
            self.container.delete_blob(name, delete_snapshots="include")
        batch: list[str] = []
        for child in self.container.list_blob_names(name_starts_with=f"{name}/"):
            batch.append(child)
            if len(batch) == _DELETE_BATCH:
                self._delete_batch(batch)
                batch = []
        if batch:
            self._delete_batch(batch)

    def _delete_batch(self, names: list[str]) -> None:
        responses = self.container.delete_blobs(
            *names, delete_snapshots="include", raise_on_any_failure=False
        )
        for name, resp in zip(names, responses, strict=True):
            if resp.status_code not in (202, 404):  # 404: someone else deleted it first
                raise HttpResponseError(f"Deleting blob {name!r} failed with status {resp.status_code}")

    # -- direct transfers (SAS URLs) --------------------------------------------------------------

    def _sas(self, blob: BlobClient, permission: BlobSasPermissions) -> str:
        now = datetime.now(UTC)
        args: dict[str, Any] = {"account_key": self._account_key}
        if self._account_key is None:
            args = {"user_delegation_key": self._user_delegation_key(now)}
        return generate_blob_sas(
            self.service.account_name,
            blob.container_name,
            blob.blob_name,
            permission=permission,
            start=now - _CLOCK_SKEW,
            expiry=now + _URL_TTL,
            protocol="https" if blob.url.startswith("https:") else None,
            **args,
        )

    def _user_delegation_key(self, now: datetime) -> UserDelegationKey:
        """A cached user delegation key that outlives any SAS signed now; fetched again a TTL before it ends."""
        with self._key_lock:
            if self._delegation_key is None or self._delegation_expiry - now < 2 * _URL_TTL:
                expiry = now + _DELEGATION_KEY_TTL
                self._delegation_key = self.service.get_user_delegation_key(now - _CLOCK_SKEW, expiry)
                self._delegation_expiry = expiry
            return self._delegation_key

    def _signed_or_unsupported(self, blob: BlobClient, permission: BlobSasPermissions, message: str) -> str:
        """The SAS; if the identity may not get a delegation key, stop offering direct transfers and say so
        with the message that sends the client back through the proxy."""
        if not (self.direct_uploads or self.direct_downloads):
            raise NotImplementedFeature(message)
        try:
            return self._sas(blob, permission)
        except HttpResponseError as exc:
            # No identity at all, or one without the Storage Blob Delegator action; anything else is transient.
            refused = isinstance(exc, ClientAuthenticationError) or exc.status_code in (401, 403)
            if self._account_key is not None or not refused:
                raise
            log.warning("No user delegation key (%s); serving artifacts through the proxy only", exc.message)
            self.direct_uploads = self.direct_downloads = False
            raise NotImplementedFeature(message) from exc

    def create_multipart(self, path: str, num_parts: int) -> MultipartUpload:
        blob = self._blob(path)
        sas = self._signed_or_unsupported(blob, BlobSasPermissions(write=True), MULTIPART_UNSUPPORTED)
        upload_id = uuid.uuid4().hex
        credentials = []
        for n in range(1, num_parts + 1):
            block_id = quote(base64.b64encode(_block_id(upload_id, n).encode()).decode(), safe="")
            # Put Block needs no headers beyond Content-Length (requests sets it); x-ms-blob-type is Put Blob's.
            url = f"{blob.url}?comp=block&blockid={block_id}&{sas}"
            credentials.append(PartCredential(part_number=n, url=url))
        return MultipartUpload(upload_id, credentials)

    def complete_multipart(self, path: str, upload_id: str, parts: list[UploadedPart]) -> None:
        _check_upload_id(upload_id)
        numbers = sorted(p.part_number for p in parts)
        if not numbers:
            raise InvalidParameter(f"Cannot complete multipart upload {upload_id!r}: no parts")
        if numbers[0] < 1 or numbers[-1] > 10_000 or len(set(numbers)) != len(numbers):
            raise InvalidParameter(f"Cannot complete multipart upload {upload_id!r}: bad part numbers")
        blob = self._blob(path)
        # Azure keeps no record of an upload but its staged blocks: they tell a missing upload from bad parts.
        try:
            _, uncommitted = blob.get_block_list("uncommitted")
        except ResourceNotFoundError as exc:
            raise NotFound(f"No multipart upload {upload_id!r}") from exc
        staged = {b.id for b in uncommitted if b.id.startswith(upload_id)}
        if not staged:
            raise NotFound(f"No multipart upload {upload_id!r}")
        wanted = [_block_id(upload_id, n) for n in numbers]
        missing = [n for n, block_id in zip(numbers, wanted, strict=True) if block_id not in staged]
        if missing:
            raise InvalidParameter(
                f"Cannot complete multipart upload {upload_id!r}: part(s) {missing[:10]} were not uploaded"
            )
        try:
            blob.commit_block_list([BlobBlock(block_id) for block_id in wanted])
        except HttpResponseError as exc:
            if (
                exc.error_code == "InvalidBlockList"
            ):  # another commit to this name dropped our blocks meanwhile
                raise InvalidParameter(
                    f"Cannot complete multipart upload {upload_id!r}: {exc.error_code}"
                ) from exc
            raise

    def abort_multipart(self, path: str, upload_id: str) -> None:
        # Nothing to undo: uncommitted blocks are invisible, their ids are unique to this upload, and Azure drops
        # them at the blob's next commit or after a week. The client aborts after any failure, so this never fails
        # for an upload that staged nothing.
        _check_upload_id(upload_id)

    def presign_download(self, path: str) -> PresignedDownload:
        blob = self._blob(path)
        size = self.size(path)
        if size is None:
            raise NotFound(f"No artifact file at '{path}'")
        sas = self._signed_or_unsupported(blob, BlobSasPermissions(read=True), PRESIGNED_UNSUPPORTED)
        return PresignedDownload(f"{blob.url}?{sas}", size)

    def sweep_uploads(self, max_age_s: float, *, dry_run: bool = False) -> list[str]:
        """Nothing to sweep: an abandoned upload is only uncommitted blocks, which no listing shows, which cannot
        be deleted on their own, and which Azure discards by itself a week after they were staged."""
        return []

    def settle_capabilities(self, timeout_s: float) -> None:
        pass  # known from the start

    def check(self) -> None:
        self.container.get_container_properties()


def _check_upload_id(upload_id: str) -> None:
    if not _UPLOAD_ID.fullmatch(upload_id):
        raise NotFound(f"No multipart upload {upload_id!r}")
