"""`tracklight gc`: permanently delete deleted runs, logged models and experiments, as `mlflow gc` does."""

from __future__ import annotations

import argparse
import sys

from tracklight.cli_messages import fail
from tracklight.errors import TracklightError

_DESCRIPTION = (
    "Permanently delete runs, logged models and experiments in the deleted state, with everything logged to "
    "them and their artifacts, and remove what abandoned uploads left in the artifact destination. "
    "Safe to run beside live servers and other gc processes. The database and the artifact destination are "
    "the server's: flags, else TRACKLIGHT_* variables, else the defaults, as `tracklight server` reads them."
)


def add_command(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "gc",
        help="Permanently delete runs, logged models and experiments in the deleted state.",
        description=_DESCRIPTION,
    )
    p.add_argument(
        "--older-than",
        metavar="AGE",
        help="Only what was deleted longer ago than AGE, in #d#h#m#s form (e.g. 30d, 1d2h3m4s, 1.5h); "
        "runs by their deletion time, logged models and experiments by their last update, which deleting sets",
    )
    p.add_argument(
        "--run-ids", metavar="IDS", help="Comma-separated ids of deleted runs to purge (only these)"
    )
    p.add_argument(
        "--experiment-ids",
        metavar="IDS",
        help="Comma-separated ids of deleted experiments to purge, with all their runs and logged models",
    )
    p.add_argument(
        "--logged-model-ids", metavar="IDS", help="Comma-separated ids of deleted logged models to purge"
    )
    p.add_argument(
        "--backend-store-uri",
        metavar="URI",
        help="The database (default: TRACKLIGHT_BACKEND_STORE_URI, as the server)",
    )
    p.add_argument(
        "--artifacts-destination",
        metavar="URI",
        help="Where proxied (mlflow-artifacts:) artifacts live (default: TRACKLIGHT_ARTIFACTS_DESTINATION, as the server)",
    )
    p.add_argument("--dry-run", action="store_true", help="List what would be deleted, and delete nothing")
    p.add_argument(
        "--tracking-uri",
        metavar="URI",
        help="Accepted for `mlflow gc` command lines and not needed: artifacts are reached through the stores",
    )
    # How old an upload must be to count as abandoned, in seconds. Hidden: the tests set it, since an object
    # store's upload dates cannot be faked.
    p.add_argument("--stale-upload-age", type=float, default=None, help=argparse.SUPPRESS)
    p.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from sqlalchemy.exc import ArgumentError, DBAPIError

    from tracklight.artifacts.locations import ArtifactLocationError, open_store
    from tracklight.artifacts.targets import ArtifactTargets
    from tracklight.config import load_settings
    from tracklight.services.purge import STALE_UPLOAD_AGE_S, Outcome, Purge, Selection
    from tracklight.store.engine import StoreUriError, open_database
    from tracklight.store.migrate import SchemaOutOfDate, check_current

    try:
        settings = load_settings(
            {"backend_store_uri": args.backend_store_uri, "artifacts_destination": args.artifacts_destination}
        )
        db = open_database(settings.backend_store_uri)
    except (ValueError, ArgumentError, StoreUriError) as exc:
        return fail(str(exc))
    if args.tracking_uri:
        print(
            "tracklight: note: --tracking-uri is not needed: gc reaches the artifact stores itself",
            file=sys.stderr,
        )
    try:
        check_current(db)
        destination = (
            open_store(settings.artifacts_destination, settings.cloud) if settings.serve_artifacts else None
        )
        targets = ArtifactTargets(settings.artifacts_destination, destination, settings.cloud)
        purge = Purge(db, targets, artifact_root=settings.artifact_root_for_runs, warn=_warn)
        selection = Selection(args.older_than, args.run_ids, args.experiment_ids, args.logged_model_ids)
        plan = purge.plan(selection)
        outcome: Outcome = purge.run(plan, dry_run=args.dry_run)
        age = args.stale_upload_age if args.stale_upload_age is not None else STALE_UPLOAD_AGE_S
        purge.sweep(destination, age, outcome, dry_run=args.dry_run)
    except TracklightError as exc:
        return fail(exc.message)
    except (SchemaOutOfDate, ArtifactLocationError) as exc:
        return fail(str(exc))
    except DBAPIError as exc:
        return fail(f"cannot reach the database: {str(exc.orig).strip().splitlines()[0]}")
    finally:
        db.dispose()
    verb = "Would delete" if args.dry_run else "Deleted"
    print(
        f"{verb} {_count(outcome.runs, 'run')}, {_count(outcome.models, 'logged model')}, "
        f"{_count(outcome.experiments, 'experiment')} and {_count(outcome.uploads, 'abandoned upload')}"
        + (f"; skipped {outcome.skipped} that changed meanwhile" if outcome.skipped else "")
        + (f"; {outcome.failed} failed (see above)" if outcome.failed else "")
        + "."
    )
    return 1 if outcome.failed else 0


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}{'' if n == 1 else 's'}"


def _warn(message: str) -> None:
    print(f"tracklight: {message}", file=sys.stderr)
