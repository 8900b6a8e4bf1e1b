"""The artifact store interface that every backend implements, and the values it passes around."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Protocol

from tracklight.errors import NotImplementedFeature

# The 3.x client falls back to a single PUT only when the mpu/create error message starts with this.
MULTIPART_UNSUPPORTED = "Multipart upload is not supported for the current artifact repository"
PRESIGNED_UNSUPPORTED = "Presigned downloads are not supported for the current artifact repository"

# How much a store buffers before it sends a part: the unit of memory an upload holds.
PART_SIZE = 8 * 1024 * 1024
READ_CHUNK = 1024 * 1024


@dataclass(frozen=True, slots=True)
class ArtifactEntry:
    """One child of a listed directory: its basename, whether it is a directory, its size if a file."""

    name: str
    is_dir: bool
    size: int | None = None


@dataclass(frozen=True, slots=True)
class PartCredential:
    part_number: int
    url: str
    headers: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class MultipartUpload:
    upload_id: str
    credentials: list[PartCredential]


@dataclass(frozen=True, slots=True)
class UploadedPart:
    part_number: int
    etag: str
    url: str = ""


@dataclass(frozen=True, slots=True)
class PresignedDownload:
    url: str
    file_size: int
    headers: dict[str, str] = field(default_factory=dict)


class ArtifactWriter(Protocol):
    """An upload in progress: nothing is visible under the final name until commit() returns."""

    def write(self, chunk: bytes) -> None: ...

    def commit(self) -> None: ...

    def abort(self) -> None: ...


class ArtifactStore(Protocol):
    """Blocking operations on root-relative paths (already checked by artifacts.paths).

    The HTTP layer calls them from worker threads; no call holds more than a few parts in memory.
    """

    # Whether clients can move bytes straight to the store: multipart part URLs, and presigned downloads.
    direct_uploads: bool
    direct_downloads: bool

    def open_writer(self, path: str, size: int | None = None) -> ArtifactWriter:
        """Start an upload to `path`; `size` is the body's length when the client declared it."""
        ...

    def size(self, path: str) -> int | None:
        """The size of the file at `path`, or None if there is no file there."""
        ...

    def read(self, path: str, start: int, end: int) -> Iterator[bytes]:
        """Bytes start..end-1 of the file, in chunks of at most READ_CHUNK."""
        ...

    def list_dir(self, path: str) -> list[ArtifactEntry]:
        """The children of directory `path`; empty when it is missing or is a file."""
        ...

    def delete(self, path: str) -> None:
        """Delete the file or, recursively, the directory at `path`; a missing path is not an error."""
        ...

    def create_multipart(self, path: str, num_parts: int) -> MultipartUpload: ...

    def complete_multipart(self, path: str, upload_id: str, parts: list[UploadedPart]) -> None: ...

    def abort_multipart(self, path: str, upload_id: str) -> None: ...

    def presign_download(self, path: str) -> PresignedDownload: ...

    def sweep_uploads(self, max_age_s: float, *, dry_run: bool = False) -> list[str]:
        """Remove what uploads abandoned more than `max_age_s` ago left behind (a crash mid-upload, a client
        that never completed or aborted); return a line describing each (with `dry_run`, what would go)."""
        ...

    def check(self) -> None:
        """Raise if the store cannot be reached (readiness)."""
        ...

    def settle_capabilities(self, timeout_s: float) -> None:
        """Wait, up to `timeout_s`, until direct_uploads and direct_downloads hold their final values."""
        ...


class ProxyOnly:
    """For stores with no direct transfers: the answers that send the client back through the proxy."""

    direct_uploads = False
    direct_downloads = False

    def create_multipart(self, path: str, num_parts: int) -> MultipartUpload:
        raise NotImplementedFeature(MULTIPART_UNSUPPORTED)

    def complete_multipart(self, path: str, upload_id: str, parts: list[UploadedPart]) -> None:
        raise NotImplementedFeature(MULTIPART_UNSUPPORTED)

    def abort_multipart(self, path: str, upload_id: str) -> None:
        raise NotImplementedFeature(MULTIPART_UNSUPPORTED)

    def presign_download(self, path: str) -> PresignedDownload:
        raise NotImplementedFeature(PRESIGNED_UNSUPPORTED)

    def settle_capabilities(self, timeout_s: float) -> None:
        pass  # known from the start


def chunk_ranges(start: int, end: int, chunk: int = READ_CHUNK) -> Iterator[tuple[int, int]]:
    """(offset, length) pairs covering start..end-1."""
    offset = start
    while offset < end:
        length = min(chunk, end - offset)
        yield offset, length
        offset += length
