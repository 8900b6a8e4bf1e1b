"""Artifacts on a local (or mounted) filesystem: atomic writes by rename, symlinks kept inside the root."""

from __future__ import annotations

import os
import shutil
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

from tracklight.artifacts.store import READ_CHUNK, ArtifactEntry, ProxyOnly, chunk_ranges
from tracklight.errors import InvalidParameter

# Uploads in progress live beside their target under this prefix and are never listed.
_UPLOAD_PREFIX = ".tracklight-upload-"


class LocalWriter:
    """Writes to a hidden file in the target's directory; commit() fsyncs it and renames it into place."""

    def __init__(self, target: Path) -> None:
        self.target = target
        self.temp = target.with_name(f"{_UPLOAD_PREFIX}{uuid.uuid4().hex}")
        self.file = open(self.temp, "wb")  # noqa: SIM115 - closed in commit() or abort()

    def write(self, chunk: bytes) -> None:
        self.file.write(chunk)

    def commit(self) -> None:
        try:
            self.file.flush()
            os.fsync(self.file.fileno())
            self.file.close()
            if self.target.is_dir():
                raise InvalidParameter(f"Cannot overwrite directory '{self.target.name}' with a file")
            os.replace(self.temp, self.target)
            _fsync_dir(self.target.parent)
        except BaseException:
            self.abort()
            raise

    def abort(self) -> None:
        self.file.close()
        self.temp.unlink(missing_ok=True)


def _limit(root: Path, name: str, default: int) -> int:
    try:
        return os.pathconf(root, name)
    except (OSError, ValueError):
        return default


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _remove_tree(path: Path) -> None:
    """rmtree that tolerates someone else deleting in the same tree (another gc finishing the same run)."""
    for _ in range(10):
        try:
            shutil.rmtree(path)
            return
        except FileNotFoundError:
            if not path.exists():
                return
            # A child vanished under rmtree's walk: go on with what is left.
    shutil.rmtree(path)


class LocalArtifactStore(ProxyOnly):
    """A directory tree; every path is resolved and must stay under the root, symlinks included."""

    def __init__(self, root: str | Path) -> None:
        self.root = Path(root).expanduser().resolve()
        self.root.mkdir(parents=True, exist_ok=True)
        # The filesystem's limits on one name and a whole path, in bytes: past them every call fails with
        # ENAMETOOLONG, which is the client's doing and must be a 400, not an internal error.
        self.name_max = _limit(self.root, "PC_NAME_MAX", 255)
        self.path_max = _limit(self.root, "PC_PATH_MAX", 4096)

    def _inside(self, full: Path) -> Path:
        real = Path(os.path.realpath(full))
        if real != self.root and self.root not in real.parents:
            raise InvalidParameter("Invalid artifact path: it resolves outside the artifact root")
        return full

    def _path(self, path: str) -> Path:
        if not path:
            return self.root
        full = self.root / path
        if len(os.fsencode(full)) >= self.path_max:
            raise InvalidParameter(f"Invalid artifact path: it is longer than {self.path_max} bytes")
        for part in path.split("/"):
            if len(os.fsencode(part)) > self.name_max:
                raise InvalidParameter(
                    f"Invalid artifact path: the name '{part[:40]}...' is longer than {self.name_max} bytes"
                )
        return self._inside(full)

    def open_writer(self, path: str, size: int | None = None) -> LocalWriter:
        target = self._path(path)
        parent = target.parent
        try:
            parent.mkdir(parents=True, exist_ok=True)
        except (FileExistsError, NotADirectoryError) as exc:
            raise InvalidParameter(f"Cannot write '{path}': a parent of it is a file") from exc
        self._inside(parent)
        return LocalWriter(target)

    def size(self, path: str) -> int | None:
        full = self._path(path)
        return full.stat().st_size if full.is_file() else None

    def read(self, path: str, start: int, end: int) -> Iterator[bytes]:
        with open(self._path(path), "rb") as f:
            f.seek(start)
            for _, length in chunk_ranges(start, end, READ_CHUNK):
                data = f.read(length)
                if not data:
                    return
                yield data

    def list_dir(self, path: str) -> list[ArtifactEntry]:
        full = self._path(path)
        if not full.is_dir():
            return []
        entries = []
        with os.scandir(full) as it:
            for entry in it:
                if entry.name.startswith(_UPLOAD_PREFIX):
                    continue
                if entry.is_dir():
                    entries.append(ArtifactEntry(entry.name, True))
                elif entry.is_file():
                    entries.append(ArtifactEntry(entry.name, False, entry.stat().st_size))
        return sorted(entries, key=lambda e: e.name)

    def delete(self, path: str) -> None:
        if not path:
            raise InvalidParameter("Refusing to delete the whole artifact root")
        full = self._path(path)
        if full.is_dir() and not full.is_symlink():
            _remove_tree(full)
        elif full.exists() or full.is_symlink():
            full.unlink()

    def sweep_uploads(self, max_age_s: float, *, dry_run: bool = False) -> list[str]:
        """Delete the hidden files of uploads whose process died before commit or abort: their mtime is
        the last write, so a live upload (which writes every few seconds) is never older than a day."""
        cutoff = time.time() - max_age_s
        swept = []
        for folder, _, files in os.walk(self.root):
            for name in files:
                if not name.startswith(_UPLOAD_PREFIX):
                    continue
                path = Path(folder, name)
                try:
                    if path.lstat().st_mtime >= cutoff:
                        continue
                    if not dry_run:
                        path.unlink()
                except FileNotFoundError:
                    continue  # committed or aborted meanwhile
                swept.append(f"{path.relative_to(self.root)} (temporary upload file)")
        return sorted(swept)

    def check(self) -> None:
        if not os.access(self.root, os.W_OK):
            raise OSError(f"artifact root {self.root} is not writable")
