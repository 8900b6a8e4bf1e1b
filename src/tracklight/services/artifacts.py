"""Artifact rules: which store and path a request may touch, and the run-scoped views a UI uses."""

from __future__ import annotations

from typing import Any

from tracklight.artifacts.locations import ArtifactRoots
from tracklight.artifacts.paths import artifact_path, basename, join
from tracklight.artifacts.store import ArtifactEntry, ArtifactStore, PresignedDownload, ProxyOnly
from tracklight.auth import gate
from tracklight.auth.permissions import EXPERIMENT, Permission
from tracklight.errors import NotImplementedFeature, PresignedOnly
from tracklight.services.runs import Runs

# Stands in for the destination when direct transfers are switched off.
_PROXY_ONLY: Any = ProxyOnly()


class Artifacts:
    """The proxied mlflow-artifacts service over the destination, and run artifacts by run id."""

    def __init__(
        self,
        roots: ArtifactRoots,
        runs: Runs | None,
        direct_transfers: bool = True,
        presigned_only: bool = False,
    ) -> None:
        self.roots = roots
        self.runs = runs
        self.direct_transfers = direct_transfers
        self.presigned_only = presigned_only

    @property
    def destination(self) -> ArtifactStore:
        return self.roots.served()

    def direct_store(self) -> ArtifactStore:
        """The destination, for multipart and presigned calls; with direct transfers off, the answers
        that send the client back to the proxy (the fallback message for mpu/create, 501 otherwise)."""
        if not self.direct_transfers:
            return _PROXY_ONLY
        return self.destination

    def refuse_proxied(self, *, upload: bool) -> None:
        """With --artifacts-presigned-only, run and model artifact bytes go straight to the bucket: a
        proxied transfer is refused with the answer a 3.18 client knows to upgrade or retry on."""
        if self.presigned_only:
            way = "uploaded directly to" if upload else "downloaded directly from"
            raise PresignedOnly(
                f"This server requires artifacts to be {way} storage (--artifacts-presigned-only). "
                "Use an mlflow client of version 3.18 or later, which asks for presigned URLs."
            )

    def presign(self, store: ArtifactStore, path: str) -> PresignedDownload:
        """A time-limited URL for reading `path` in `store` straight from the bucket."""
        return (store if self.direct_transfers else _PROXY_ONLY).presign_download(path)

    def _run_store(self, run_id: str) -> tuple[str, ArtifactStore, str]:
        if self.runs is None:
            raise NotImplementedFeature(
                "Run artifacts need the tracking store; this server is --artifacts-only"
            )
        run = self.runs.get(run_id)
        store, base = self.roots.resolve(run.artifact_uri)
        return run.artifact_uri, store, base

    def run_location(self, run_id: str, path: str | None) -> tuple[ArtifactStore, str]:
        """(store, store path) of `path` inside a run's artifact root."""
        relative = artifact_path(path)  # a bad path is refused before the run is looked up, as MLflow does
        _, store, base = self._run_store(run_id)
        return store, join(base, relative)

    @gate.requires(Permission.EDIT, gate.RUN, "run_id")
    def run_upload_location(self, run_id: str, path: str | None) -> tuple[ArtifactStore, str]:
        """Where an upload into a run's artifacts goes: run_location, for a caller who may edit the run."""
        return self.run_location(run_id, path)

    @staticmethod
    def authorize_path(path: str, need: Permission) -> None:
        """A proxied mlflow-artifacts path: `<experiment id>/...` takes that experiment's permission;
        anything else (the root listing included) is for admins only."""
        if gate.installed() is None:
            return
        first = artifact_path(path).split("/", 1)[0]  # normalised first: no `..` can hop to another one
        if first.isdigit():
            gate.check(EXPERIMENT, first, need)
        else:
            gate.require_admin()

    def list_run(self, run_id: str, path: str | None) -> tuple[str, list[ArtifactEntry]]:
        """The run's artifact root URI and the entries under `path` in it."""
        relative = artifact_path(path)
        root, store, base = self._run_store(run_id)
        return root, store.list_dir(join(base, relative))

    @staticmethod
    def upload_target(directory: str, client_file: str) -> str:
        """mpu/create names the client's local file; the object goes to `directory/<its basename>`."""
        name = basename(client_file.replace("\\", "/"))
        return artifact_path(join(directory, name), allow_root=False)
