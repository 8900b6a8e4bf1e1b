"""Where `tracklight gc` deletes an artifact URI (a store and a path in it), and one spelling per place to compare."""

from __future__ import annotations

import re
from pathlib import Path
from urllib.parse import unquote, urlparse

from tracklight.artifacts.locations import (
    SERVED_SCHEME,
    ArtifactLocationError,
    ArtifactRoots,
    split_cloud_uri,
)
from tracklight.artifacts.store import ArtifactStore
from tracklight.config import CloudOptions
from tracklight.errors import InvalidParameter

_CLOUD_SCHEMES = ("s3", "gs", "wasbs", "wasb", "abfss")
# A run's and a logged model's artifacts, as the server lays them out: <run id>/artifacts, <model id>/artifacts.
RUN_FOLDER = re.compile(r"/([0-9a-f]{32})/artifacts$")
MODEL_FOLDER = re.compile(r"/(m-[0-9a-f]{32})/artifacts$")


class ArtifactTargets:
    """Where an artifact URI stored on a run, model or experiment lives: a store and a non-empty path in it."""

    def __init__(self, destination_uri: str, destination: ArtifactStore | None, cloud: CloudOptions) -> None:
        self.destination = destination
        self.destination_root = _canonical_root(destination_uri)
        self.roots = ArtifactRoots(destination, cloud)

    def canonical(self, uri: str) -> str | None:
        """One spelling per place (served URIs as the destination's), so locations can be compared."""
        parsed = urlparse(uri)
        if parsed.scheme == SERVED_SCHEME:
            return join(self.destination_root, parsed.path.strip("/"))
        if parsed.scheme in _CLOUD_SCHEMES:
            try:
                scheme, netloc, key = split_cloud_uri(uri)
            except ArtifactLocationError:
                return None  # no bucket: a place no store here can reach
            return join(f"{scheme}://{netloc}", key)
        if parsed.scheme in ("", "file"):
            return _canonical_root(uri)
        return None

    def target(self, uri: str) -> tuple[ArtifactStore, str] | None:
        """The store and path to delete for `uri`; None when there is nothing there. Raises
        InvalidParameter for a URI no store here can reach (the caller reports it and goes on, as MLflow)."""
        parsed = urlparse(uri)
        if parsed.scheme == SERVED_SCHEME:
            if self.destination is None:
                raise InvalidParameter(f"{uri}: artifact proxying is off here (--no-serve-artifacts)")
            path = parsed.path.strip("/")
        elif parsed.scheme in _CLOUD_SCHEMES:
            store, path = self.roots.resolve(uri)
            if not path:
                raise InvalidParameter(f"{uri}: refusing to delete a whole bucket or container")
            return store, path
        elif parsed.scheme in ("", "file"):
            local = Path(unquote(parsed.path) if parsed.scheme == "file" else uri)
            if not local.is_absolute() or local.parent == local:
                raise InvalidParameter(f"{uri}: not an absolute path below the filesystem root")
            if not (local.exists() or local.is_symlink()):
                return None
            from tracklight.artifacts.local import LocalArtifactStore

            return LocalArtifactStore(local.parent), local.name
        else:
            raise InvalidParameter(f"{uri}: no artifact store here for the {parsed.scheme!r} scheme")
        if not path:
            raise InvalidParameter(f"{uri}: refusing to delete the whole artifact destination")
        assert self.destination is not None
        return self.destination, path


def _canonical_root(location: str) -> str:
    if "://" in location and not location.startswith("file:"):
        return location.rstrip("/")
    path = unquote(urlparse(location).path) if location.startswith("file:") else location
    return Path(path).expanduser().resolve().as_uri().rstrip("/")


def join(root: str, path: str) -> str:
    return f"{root}/{path}" if path else root


def overlaps(a: str, b: str) -> bool:
    """Whether two canonical locations are the same place, or one lies inside the other."""
    return a == b or a.startswith(b + "/") or b.startswith(a + "/")


def owned_folder(uri: str, pattern: re.Pattern[str]) -> str:
    """A run's or model's whole folder (<id>/) when its artifacts sit in <id>/artifacts, as the server lays
    them out; otherwise the artifact URI alone, as MLflow deletes it."""
    trimmed = uri.rstrip("/")
    return trimmed[: -len("/artifacts")] if pattern.search(trimmed) else uri
