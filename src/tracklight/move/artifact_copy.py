"""Copy the artifacts of a live MLflow server's runs and logged models into Tracklight's artifact store.

Files are streamed from the source into the store's writer, a chunk at a time. A file the target already
holds with the source's size is skipped, so an interrupted copy is finished by running the import again.
"""

from __future__ import annotations

from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from itertools import islice

from tracklight.artifacts.locations import ArtifactRoots
from tracklight.artifacts.paths import artifact_path, join
from tracklight.artifacts.store import ArtifactStore, ArtifactWriter
from tracklight.move.from_mlflow_server import ArtifactTree, MlflowServerSource
from tracklight.move.mlflow_rest import MlflowServerError
from tracklight.move.progress import Phase, Progress

_PARALLEL = 4  # trees copied at once: the source's latency, not bandwidth, bounds one stream
_FILE_ATTEMPTS = 3
_BATCH = 64  # trees handed to the pool at a time (the listing of runs is not held whole)


@dataclass
class CopyTally:
    files: int = 0
    bytes: int = 0
    skipped: int = 0


def copy_artifacts(source: MlflowServerSource, roots: ArtifactRoots, progress: Progress) -> CopyTally:
    """Copy every tree `source.artifact_trees()` names to where its target URI resolves in `roots`."""
    phase = progress.phase("artifact files")
    tallies: list[CopyTally] = []
    trees = source.artifact_trees()
    with ThreadPoolExecutor(_PARALLEL) as pool:
        while batch := list(islice(trees, _BATCH)):
            tallies.extend(pool.map(lambda tree: _copy_tree(source, roots, tree, phase), batch))
    phase.finish()
    total = CopyTally()
    for tally in tallies:
        total.files += tally.files
        total.bytes += tally.bytes
        total.skipped += tally.skipped
    return total


def _copy_tree(
    source: MlflowServerSource, roots: ArtifactRoots, tree: ArtifactTree, phase: Phase
) -> CopyTally:
    tally = CopyTally()
    if not tree.source_uri:
        return tally
    store, base = roots.resolve(tree.target_uri)
    for relative, size in source.artifact_files(tree):
        target = join(base, artifact_path(relative))  # a listing must not name a path outside the tree
        if size is not None and store.size(target) == size:
            tally.skipped += 1
        else:
            tally.bytes += _copy_file(source, tree, relative, store, target, size)
            tally.files += 1
        phase.advance(1)
    return tally


def _copy_file(
    source: MlflowServerSource,
    tree: ArtifactTree,
    relative: str,
    store: ArtifactStore,
    target: str,
    size: int | None,
) -> int:
    """Copy one file; a body cut off mid-way (after the request's own retries) is fetched again from the start."""
    for attempt in range(_FILE_ATTEMPTS):
        try:
            return _stream(source.artifact_bytes(tree, relative), store.open_writer(target, size))
        except MlflowServerError:
            if attempt == _FILE_ATTEMPTS - 1:
                raise
    raise AssertionError("unreachable")


def _stream(chunks: Iterator[bytes], writer: ArtifactWriter) -> int:
    written = 0
    try:
        for chunk in chunks:
            writer.write(chunk)
            written += len(chunk)
        writer.commit()
    except BaseException:
        writer.abort()
        raise
    return written
