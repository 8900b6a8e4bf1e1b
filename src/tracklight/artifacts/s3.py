"""Artifacts in Amazon S3 or an S3-compatible store, through boto3 and the standard AWS credential chain."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
from botocore.config import Config
from botocore.exceptions import ClientError

from tracklight.artifacts.parts import PartedWriter
from tracklight.artifacts.pipe import BodyPipe
from tracklight.artifacts.store import (
    PART_SIZE,
    READ_CHUNK,
    ArtifactEntry,
    ArtifactWriter,
    MultipartUpload,
    PartCredential,
    PresignedDownload,
    UploadedPart,
)
from tracklight.errors import InvalidParameter, NotFound

_URL_TTL_S = 3600
_DELETE_BATCH = 1000
# The largest object S3 takes in one PutObject; bigger uploads must go in parts.
_SINGLE_PUT_MAX = 5 * 1024**3


def _missing(exc: ClientError) -> bool:
    return exc.response.get("Error", {}).get("Code") in ("404", "NoSuchKey", "NotFound", "NoSuchUpload")


class S3Writer(PartedWriter[dict[str, Any]]):
    """A single PUT for small files; past one part, a multipart upload.

    S3 shows nothing under the key until the upload completes, so an abort leaves no partial object.
    """

    def __init__(self, store: S3ArtifactStore, key: str) -> None:
        super().__init__(store.pool)
        self.s3, self.bucket, self.key = store.client, store.bucket, key
        self.upload_id: str | None = None
        self.started = threading.Lock()

    def send_part(self, number: int, data: bytearray | bytes) -> dict[str, Any]:
        with self.started:  # the first part starts the upload; the others wait for its id
            if self.upload_id is None:
                self.upload_id = self.s3.create_multipart_upload(Bucket=self.bucket, Key=self.key)["UploadId"]
        resp = self.s3.upload_part(
            Bucket=self.bucket, Key=self.key, UploadId=self.upload_id, PartNumber=number, Body=data
        )
        return {"PartNumber": number, "ETag": resp["ETag"]}

    def send_whole(self, data: bytes) -> None:
        self.s3.put_object(Bucket=self.bucket, Key=self.key, Body=data)

    def finish(self, parts: list[dict[str, Any]]) -> None:
        self.s3.complete_multipart_upload(
            Bucket=self.bucket, Key=self.key, UploadId=self.upload_id, MultipartUpload={"Parts": parts}
        )

    def discard(self) -> None:
        if self.upload_id is not None:
            self.s3.abort_multipart_upload(Bucket=self.bucket, Key=self.key, UploadId=self.upload_id)
            self.upload_id = None


class S3StreamWriter:
    """One PutObject that streams the request body through as it arrives.

    Used when the client declared the body's length: one request instead of a part per 8 MiB, no
    part buffers, and S3 stores nothing unless every declared byte arrives.
    """

    def __init__(self, store: S3ArtifactStore, key: str, size: int) -> None:
        self.pipe = BodyPipe(size)
        self.pipe.run(
            lambda body: store.client.put_object(Bucket=store.bucket, Key=key, Body=body, ContentLength=size)
        )

    def write(self, chunk: bytes) -> None:
        self.pipe.write(chunk)

    def commit(self) -> None:
        self.pipe.close()

    def abort(self) -> None:
        self.pipe.abort()


class S3ArtifactStore:
    """Objects under s3://bucket/prefix; presigned URLs let clients move big files without the proxy."""

    direct_uploads = True
    direct_downloads = True

    def __init__(self, bucket: str, prefix: str, endpoint_url: str | None = None) -> None:
        self.bucket = bucket
        self.prefix = prefix.strip("/")
        config = Config(
            signature_version="s3v4",  # presigned URLs must be SigV4; some endpoints still default to V2
            # CRC32 trailers on every part cost CPU here and in S3-compatible stores; TLS already guards the
            # bytes in transit, and S3 checks each part's MD5 for its ETag.
            request_checksum_calculation="when_required",
            response_checksum_validation="when_required",
            max_pool_connections=32,
            retries={"mode": "standard", "max_attempts": 5},
            # No SHA-256 of each body before it is sent: a streamed body cannot be read twice, and TLS
            # already guards the bytes. Requests are still signed.
            s3={"payload_signing_enabled": False, **({"addressing_style": "path"} if endpoint_url else {})},
        )
        self.client = boto3.session.Session().client("s3", endpoint_url=endpoint_url, config=config)
        self.pool = ThreadPoolExecutor(max_workers=16, thread_name_prefix="s3-part")

    def _key(self, path: str) -> str:
        return "/".join(p for p in (self.prefix, path) if p)

    def open_writer(self, path: str, size: int | None = None) -> ArtifactWriter:
        if size is not None and PART_SIZE < size <= _SINGLE_PUT_MAX:
            return S3StreamWriter(self, self._key(path), size)
        return S3Writer(self, self._key(path))

    def size(self, path: str) -> int | None:
        try:
            return int(self.client.head_object(Bucket=self.bucket, Key=self._key(path))["ContentLength"])
        except ClientError as exc:
            if _missing(exc):
                return None
            raise

    def read(self, path: str, start: int, end: int) -> Iterator[bytes]:
        resp = self.client.get_object(
            Bucket=self.bucket, Key=self._key(path), Range=f"bytes={start}-{end - 1}"
        )
        body = resp["Body"]
        try:
            yield from body.iter_chunks(READ_CHUNK)
        finally:
            body.close()

    def _walk(self, prefix: str, delimiter: str | None) -> Iterator[dict[str, Any]]:
        args: dict[str, Any] = {"Bucket": self.bucket, "Prefix": prefix}
        if delimiter:
            args["Delimiter"] = delimiter
        yield from self.client.get_paginator("list_objects_v2").paginate(**args)

    def list_dir(self, path: str) -> list[ArtifactEntry]:
        key = self._key(path)
        prefix = f"{key}/" if key else ""
        entries: list[ArtifactEntry] = []
        for page in self._walk(prefix, "/"):
            for common in page.get("CommonPrefixes", []):
                entries.append(ArtifactEntry(common["Prefix"][len(prefix) :].rstrip("/"), True))
            for obj in page.get("Contents", []):
                name = obj["Key"][len(prefix) :]
                if name:  # a zero-byte "directory marker" names the prefix itself
                    entries.append(ArtifactEntry(name, False, int(obj["Size"])))
        return sorted(entries, key=lambda e: e.name)

    def delete(self, path: str) -> None:
        if not path:
            raise InvalidParameter("Refusing to delete the whole artifact root")
        key = self._key(path)
        self.client.delete_object(Bucket=self.bucket, Key=key)
        batch: list[dict[str, str]] = []
        for page in self._walk(f"{key}/", None):
            batch += [{"Key": obj["Key"]} for obj in page.get("Contents", [])]
            while len(batch) >= _DELETE_BATCH:
                self._delete_batch(batch[:_DELETE_BATCH])
                batch = batch[_DELETE_BATCH:]
        if batch:
            self._delete_batch(batch)

    def _delete_batch(self, objects: list[dict[str, str]]) -> None:
        self.client.delete_objects(Bucket=self.bucket, Delete={"Objects": objects, "Quiet": True})

    def create_multipart(self, path: str, num_parts: int) -> MultipartUpload:
        key = self._key(path)
        upload_id = self.client.create_multipart_upload(Bucket=self.bucket, Key=key)["UploadId"]
        credentials = [
            PartCredential(
                part_number=n,
                url=self.client.generate_presigned_url(
                    "upload_part",
                    Params={"Bucket": self.bucket, "Key": key, "UploadId": upload_id, "PartNumber": n},
                    ExpiresIn=_URL_TTL_S,
                ),
            )
            for n in range(1, num_parts + 1)
        ]
        return MultipartUpload(upload_id, credentials)

    def complete_multipart(self, path: str, upload_id: str, parts: list[UploadedPart]) -> None:
        try:
            self.client.complete_multipart_upload(
                Bucket=self.bucket,
                Key=self._key(path),
                UploadId=upload_id,
                MultipartUpload={"Parts": [{"PartNumber": p.part_number, "ETag": p.etag} for p in parts]},
            )
        except ClientError as exc:
            raise _upload_error(exc, upload_id) from exc

    def abort_multipart(self, path: str, upload_id: str) -> None:
        try:
            self.client.abort_multipart_upload(Bucket=self.bucket, Key=self._key(path), UploadId=upload_id)
        except ClientError as exc:
            raise _upload_error(exc, upload_id) from exc

    def presign_download(self, path: str) -> PresignedDownload:
        size = self.size(path)
        if size is None:
            raise NotFound(f"No artifact file at '{path}'")
        url = self.client.generate_presigned_url(
            "get_object", Params={"Bucket": self.bucket, "Key": self._key(path)}, ExpiresIn=_URL_TTL_S
        )
        return PresignedDownload(url, size)

    def sweep_uploads(self, max_age_s: float, *, dry_run: bool = False) -> list[str]:
        """Abort the multipart uploads under the prefix that were started more than `max_age_s` ago: S3 keeps
        (and bills) their parts until someone does, unless the bucket has a lifecycle rule for them."""
        cutoff = datetime.now(UTC) - timedelta(seconds=max_age_s)
        prefix = f"{self.prefix}/" if self.prefix else ""
        stale = []
        for page in self.client.get_paginator("list_multipart_uploads").paginate(
            Bucket=self.bucket, Prefix=prefix
        ):
            for upload in page.get("Uploads", []):
                if upload["Key"].startswith(prefix) and upload["Initiated"] < cutoff:
                    stale.append((upload["Key"], upload["UploadId"], upload["Initiated"]))
        swept = []
        for key, upload_id, initiated in stale:
            if not dry_run:
                try:
                    self.client.abort_multipart_upload(Bucket=self.bucket, Key=key, UploadId=upload_id)
                except ClientError as exc:
                    if not _missing(exc):  # completed or aborted meanwhile
                        raise
                    continue
            swept.append(f"{key[len(prefix) :]} (multipart upload started {initiated:%Y-%m-%d %H:%M} UTC)")
        return swept

    def settle_capabilities(self, timeout_s: float) -> None:
        pass  # known from the start

    def check(self) -> None:
        self.client.head_bucket(Bucket=self.bucket)


def _upload_error(exc: ClientError, upload_id: str) -> Exception:
    code = exc.response.get("Error", {}).get("Code", "")
    if code == "NoSuchUpload":
        return NotFound(f"No multipart upload {upload_id!r}")
    if code in ("InvalidPart", "InvalidPartOrder", "EntityTooSmall"):
        return InvalidParameter(f"Cannot complete multipart upload {upload_id!r}: {code}")
    return exc
