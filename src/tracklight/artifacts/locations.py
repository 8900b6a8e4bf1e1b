"""Artifact URIs: open the store a destination names, and map a run's artifact URI onto a store."""

from __future__ import annotations

import functools
import posixpath
import threading
from pathlib import Path
from urllib.parse import unquote, urlparse, urlunparse

from tracklight.artifacts.store import ArtifactStore
from tracklight.config import CloudOptions
from tracklight.errors import NotImplementedFeature

SERVED_SCHEME = "mlflow-artifacts"
_CLOUD_SCHEMES = ("s3", "gs", "wasbs", "wasb", "abfss")
_EXTRAS = {"s3": "s3", "gs": "gcs", "wasbs": "azure", "wasb": "azure", "abfss": "azure"}


def child_uri(uri: str, *parts: str) -> str:
    """`uri` with `parts` appended to its path: a query string or fragment stays last, as MLflow joins them.

    A string without a scheme is a plain POSIX path and is joined as it stands (a '?' or '#' in it is
    part of the name). `mlflow-artifacts:` with no path at all is the served root, so it gains a '/'.
    """
    suffix = "/".join(part.strip("/") for part in parts if part.strip("/"))
    if not suffix:
        return _joined(uri, suffix)
    # Where a (non-empty) suffix goes depends on the URI alone: found once per URI, as every run
    # created in an experiment joins onto the experiment's location (parsing it cost ~10 µs a run).
    around = _around_suffix(uri)
    if around is None:
        return _joined(uri, suffix)
    return around[0] + suffix + around[1]


_MARK = "\x00"  # stands for the suffix; no URI we join onto contains it (PostgreSQL text cannot hold it)


@functools.lru_cache(maxsize=256)
def _around_suffix(uri: str) -> tuple[str, str] | None:
    """What comes before and after any non-empty suffix in child_uri(uri, suffix).

    _joined treats the suffix as opaque text: it never starts with '/' (its parts are stripped), so
    neither posixpath.join nor urlunparse looks inside it, and the result is the same string with the
    suffix in one place.
    """
    if _MARK in uri:
        return None
    head, mark, tail = _joined(uri, _MARK).partition(_MARK)
    return (head, tail) if mark else None


def _joined(uri: str, suffix: str) -> str:
    parsed = urlparse(uri)
    if not parsed.scheme:
        return _posix_join(uri, suffix)
    path = parsed.path
    if not path and not parsed.netloc:
        path = "/"
    if not path.startswith("/"):
        # urlunparse would turn a relative path such as file:rel into an absolute one; keep it relative.
        rest = parsed._replace(scheme="", path=_posix_join(path, suffix))
        return f"{parsed.scheme}:{urlunparse(rest)}"
    return urlunparse(parsed._replace(path=_posix_join(path, suffix)))


def _posix_join(prefix: str, suffix: str) -> str:
    if not prefix:
        return suffix
    return posixpath.join(prefix, suffix) if suffix else prefix


class ArtifactLocationError(ValueError):
    """An artifact URI that no store here can open; the message is one line for the CLI."""


def split_cloud_uri(uri: str) -> tuple[str, str, str]:
    """(scheme, netloc, key) of a cloud URI such as s3://bucket/a/b."""
    parsed = urlparse(uri)
    if not parsed.netloc:
        raise ArtifactLocationError(f"Artifact URI {uri!r} names no bucket or container")
    return parsed.scheme, parsed.netloc, parsed.path.strip("/")


def open_store(uri: str, cloud: CloudOptions | None = None) -> ArtifactStore:
    """The store rooted at `uri`: a local path or file: URI, s3://, gs://, or wasbs://container@account…/."""
    scheme = urlparse(uri).scheme if "://" in uri else ""
    if scheme in ("", "file"):
        path = unquote(urlparse(uri).path) if scheme == "file" else uri
        from tracklight.artifacts.local import LocalArtifactStore

        return LocalArtifactStore(Path(path))
    if scheme not in _CLOUD_SCHEMES:
        raise ArtifactLocationError(
            f"Unsupported artifact location {uri!r}: use a local path, s3://, gs:// or wasbs://"
        )
    _, netloc, prefix = split_cloud_uri(uri)
    cloud = cloud or CloudOptions()
    try:
        if scheme == "s3":
            from tracklight.artifacts.s3 import S3ArtifactStore

            return S3ArtifactStore(netloc, prefix, cloud.s3_endpoint_url)
        if scheme == "gs":
            from tracklight.artifacts.gcs import GcsArtifactStore

            return GcsArtifactStore(netloc, prefix)
        from tracklight.artifacts.azure import AzureArtifactStore

        return AzureArtifactStore(netloc, prefix, cloud.azure_connection_string)
    except ImportError as exc:
        raise ArtifactLocationError(
            f"{uri!r} needs the {_EXTRAS[scheme]} extra: pip install 'tracklight[{_EXTRAS[scheme]}]' ({exc})"
        ) from exc


class ArtifactRoots:
    """Maps the artifact URIs stored on runs to (store, path): served URIs onto the destination,
    others onto a store per bucket or directory, opened once and kept."""

    def __init__(self, destination: ArtifactStore | None, cloud: CloudOptions | None = None) -> None:
        self.destination = destination
        self.cloud = cloud
        self._stores: dict[str, ArtifactStore] = {}
        self._lock = threading.Lock()

    def resolve(self, artifact_uri: str) -> tuple[ArtifactStore, str]:
        parsed = urlparse(artifact_uri)
        if parsed.scheme == SERVED_SCHEME:
            return self.served(), parsed.path.strip("/")
        if parsed.scheme in _CLOUD_SCHEMES:
            scheme, netloc, key = split_cloud_uri(artifact_uri)
            return self._store(f"{scheme}://{netloc}"), key
        return self._store(artifact_uri), ""

    def served(self) -> ArtifactStore:
        """The --artifacts-destination store behind mlflow-artifacts: URIs."""
        if self.destination is None:
            raise NotImplementedFeature("Artifact proxying is disabled on this server (--no-serve-artifacts)")
        return self.destination

    def _store(self, root: str) -> ArtifactStore:
        with self._lock:
            store = self._stores.get(root)
            if store is None:
                store = self._stores[root] = open_store(root, self.cloud)
            return store
