"""`tracklight import-mlflow`: copy an MLflow SQL store into Tracklight's, phase by phase.

The phases run in dependency order (experiments before runs, runs before their points and inputs), each
one idempotent, so the whole import can simply be run again to finish one that was interrupted.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TextIO

from sqlalchemy.engine import make_url

from tracklight.config import Settings
from tracklight.move import point_pipe
from tracklight.move.from_mlflow_sql import MlflowSqlSource
from tracklight.move.into_store import ImportCollision, StoreWriter, make_durable, relax_durability
from tracklight.move.progress import Progress
from tracklight.move.source import Source
from tracklight.store.engine import open_database
from tracklight.store.migrate import current_revision, upgrade


@dataclass
class ImportResult:
    source_counts: dict[str, int | None]
    skipped: dict[str, int]
    added: dict[str, int] = field(default_factory=dict)  # rows added per target table (empty: dry run)


def import_mlflow(
    source_uri: str,
    target_uri: str,
    *,
    dry_run: bool,
    out: TextIO,
    progress: Progress,
    pipe_points: bool = True,
) -> ImportResult:
    """Import everything the importer knows from `source_uri` into `target_uri` (or, dry, count it).

    Between two PostgreSQL databases the points of runs that hold none in the target go COPY to COPY
    (point_pipe); `pipe_points=False` sends them the batched way every other pair takes, which the
    tests compare the pipe with.
    """
    source = MlflowSqlSource(source_uri)
    try:
        return _run(source, target_uri, dry_run=dry_run, out=out, progress=progress, pipe_points=pipe_points)
    finally:
        source.close()


def import_mlflow_server(
    url: str, target_uri: str, settings: Settings, *, dry_run: bool, out: TextIO, progress: Progress
) -> ImportResult:
    """Import a live MLflow server over REST, copying its artifacts into `settings`' artifact store."""
    from tracklight.artifacts.locations import ArtifactRoots, open_store
    from tracklight.move.artifact_copy import copy_artifacts
    from tracklight.move.from_mlflow_server import MlflowServerSource

    source = MlflowServerSource(url, artifact_root=settings.artifact_root_for_runs)

    def copy() -> None:
        destination = (
            open_store(settings.artifacts_destination, settings.cloud) if settings.serve_artifacts else None
        )
        tally = copy_artifacts(source, ArtifactRoots(destination, settings.cloud), progress)
        _say(
            out,
            f"Artifacts: {tally.files:,} files copied ({tally.bytes:,} bytes), {tally.skipped:,} already there",
        )

    try:
        return _run(source, target_uri, dry_run=dry_run, out=out, progress=progress, after_copy=copy)
    finally:
        source.close()


def _say(out: TextIO, text: str) -> None:
    out.write(text + "\n")
    out.flush()


def _run(
    source: Source,
    target_uri: str,
    *,
    dry_run: bool,
    out: TextIO,
    progress: Progress,
    after_copy: Callable[[], None] | None = None,
    pipe_points: bool = True,
) -> ImportResult:
    counts = dict(source.counts())
    skipped = source.skipped()
    _say(out, f"Source: {source.describe()}")
    for what, n in counts.items():
        _say(out, f"  {what}: {'(counted while copying)' if n is None else f'{n:,}'}")
    if skipped:
        listed = ", ".join(f"{name} ({n:,} rows)" for name, n in skipped.items())
        _say(out, f"Not imported (not supported yet): {listed}")
    workspaces = source.workspaces()
    if len(workspaces) > 1:
        _say(
            out, f"Note: the source has several MLflow workspaces ({', '.join(workspaces)}); all are merged."
        )
    result = ImportResult(counts, skipped)
    if dry_run and _absent_sqlite_file(target_uri):
        _say(
            out, "Dry run: nothing was written. The target SQLite file does not exist yet: nothing collides."
        )
        return result

    db = open_database(target_uri)
    try:
        writer = StoreWriter(db)
        if dry_run:
            with db.engine.connect() as conn:
                revision = current_revision(conn)
            if revision is not None:
                collisions = _collisions(source, writer)
                if collisions:
                    raise ImportCollision(collisions)
            _say(out, "Dry run: nothing was written.")
            return result
        relax_durability(db)
        upgrade(db)
        collisions = _collisions(source, writer)
        if collisions:
            raise ImportCollision(collisions)
        before = writer.table_counts()
        _copy(source, writer, counts, progress, pipe_points=pipe_points)
        make_durable(db)
        after = writer.table_counts()
        if after_copy is not None:
            after_copy()
        result.added = {name: after[name] - before[name] for name in after if after[name] != before[name]}
        if result.added:
            _say(out, "Added: " + ", ".join(f"{name} +{n:,}" for name, n in result.added.items()))
        else:
            _say(out, "Nothing new: the target already held all of the source's data.")
        return result
    finally:
        db.dispose()


def _absent_sqlite_file(uri: str) -> bool:
    """A dry run leaves no trace, not even the empty file that opening an SQLite database creates."""
    url = make_url(uri)
    return url.get_backend_name() == "sqlite" and not Path(url.database or "").expanduser().exists()


def _collisions(source: Source, writer: StoreWriter) -> list[str]:
    found = writer.experiment_collisions(source.experiments())
    for page in source.run_pages():
        found += writer.run_collisions(page)
    for models in source.logged_model_pages():
        found += writer.logged_model_collisions(models)
    for registered in source.registered_model_pages():
        found += writer.registered_model_collisions(registered)
    return found


def _copy(
    source: Source,
    writer: StoreWriter,
    counts: dict[str, int | None],
    progress: Progress,
    *,
    pipe_points: bool,
) -> None:
    experiments = source.experiments()
    phase = progress.phase("experiments", len(experiments))
    writer.write_experiments(experiments)
    phase.advance(len(experiments))
    phase.finish()

    _pages(progress, "runs", counts["runs"], source.run_pages, writer.write_runs)
    _pages(
        progress,
        "dataset inputs",
        counts["dataset inputs"],
        source.dataset_inputs,
        writer.write_dataset_inputs,
    )
    _pages(
        progress,
        "logged models",
        counts["logged models"],
        source.logged_model_pages,
        writer.write_logged_models,
    )
    _pages(
        progress,
        "logged-model links",
        counts["logged-model links"],
        source.model_links,
        writer.write_model_links,
    )

    phase = progress.phase("metric points", counts["metric points"])
    for page in source.run_pages():
        wanted = source.metric_counts([run.run_id for run in page])
        short = writer.runs_short_of(wanted)
        phase.advance(sum(n for run_id, n in wanted.items() if run_id not in short))  # already here
        writer.start_points()
        if pipe_points and point_pipe.applies(source, writer):
            empty = writer.runs_without_points()
            held = [run_id for run_id in short if run_id not in empty]
            piped = [run_id for run_id in short if run_id in empty]
            short = held + point_pipe.pipe_points(source, writer, piped, wanted, phase.advance)  # type: ignore[arg-type]
        for batch in source.metric_points(short):
            writer.write_points(batch)
            phase.advance(len(batch))
    phase.finish()

    _pages(
        progress,
        "logged-model metrics",
        counts["logged-model metrics"],
        source.model_metric_pages,
        writer.write_model_metrics,
    )
    _pages(
        progress,
        "registered models",
        counts["registered models"],
        source.registered_model_pages,
        writer.write_registered_models,
    )


def _pages(progress: Progress, name: str, total: int | None, pages: Callable, write: Callable) -> None:
    phase = progress.phase(name, total)
    for page in pages():
        write(page)
        phase.advance(len(page))
    phase.finish()
