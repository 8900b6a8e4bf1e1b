"""The `tracklight import-mlflow` command: its arguments, and running it with plain error messages."""

from __future__ import annotations

import argparse
import sys

from tracklight.cli_messages import fail


def add_commands(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "import-mlflow",
        help="Import an MLflow SQL store or a live MLflow server (read only) into Tracklight's store.",
        description="Copy experiments, runs, metrics, datasets, logged models and the model registry "
        "from an MLflow SQL store (SQLite, MySQL/MariaDB or PostgreSQL; MLflow 2.x or 3.x), which is "
        "only read. Artifact URIs are kept as they are: serve Tracklight with --artifacts-destination "
        "set to MLflow's. Safe to run again: it adds only what is missing, and finishes an import that "
        "was interrupted. With --from-server URL instead of SOURCE_URI, the same is read over the REST API "
        "of a running MLflow server (for managed MLflow, where the database is out of reach), and every "
        "run's and logged model's artifacts are copied into Tracklight's artifact store.",
    )
    p.add_argument("source_uri", metavar="SOURCE_URI", nargs="?", help="The MLflow backend store URI to read")
    p.add_argument(
        "--from-server",
        metavar="URL",
        default=None,
        help="Read a running MLflow server over REST instead (credentials from MLFLOW_TRACKING_TOKEN, or "
        "MLFLOW_TRACKING_USERNAME and MLFLOW_TRACKING_PASSWORD)",
    )
    p.add_argument(
        "--artifacts-destination",
        default=None,
        help="With --from-server: where to copy the artifacts (default: as `tracklight server` resolves "
        "it; TRACKLIGHT_DEFAULT_ARTIFACT_ROOT and TRACKLIGHT_SERVE_ARTIFACTS apply as for the server)",
    )
    p.add_argument(
        "--backend-store-uri",
        default=None,
        help="Tracklight's store to write into (default: as `tracklight db upgrade` resolves it: "
        "TRACKLIGHT_BACKEND_STORE_URI, with TRACKLIGHT_DB_USER and TRACKLIGHT_DB_PASSWORD applied)",
    )
    p.add_argument("--dry-run", action="store_true", help="Count what would be imported; write nothing")
    p.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from sqlalchemy.exc import ArgumentError, DBAPIError

    from tracklight.artifacts.locations import ArtifactLocationError
    from tracklight.config import backend_store_uri_from, load_settings
    from tracklight.errors import TracklightError
    from tracklight.move.import_mlflow import import_mlflow, import_mlflow_server
    from tracklight.move.into_store import ImportCollision
    from tracklight.move.mlflow_rest import MlflowServerError
    from tracklight.move.mlflow_schema import NotAnMlflowStore
    from tracklight.move.progress import Progress
    from tracklight.store.engine import StoreUriError

    if (args.source_uri is None) == (args.from_server is None):
        return fail("give either SOURCE_URI (an MLflow database) or --from-server URL, not both")
    if args.artifacts_destination is not None and args.from_server is None:
        return fail("--artifacts-destination goes with --from-server (a SQL import keeps artifact URIs)")
    target = backend_store_uri_from(args.backend_store_uri)
    try:
        if args.from_server is not None:
            import_mlflow_server(
                args.from_server,
                target,
                load_settings(artifacts_destination=args.artifacts_destination),
                dry_run=args.dry_run,
                out=sys.stdout,
                progress=Progress(sys.stderr),
            )
        else:
            import_mlflow(
                args.source_uri, target, dry_run=args.dry_run, out=sys.stdout, progress=Progress(sys.stderr)
            )
    except ImportCollision as exc:
        return fail(f"{exc}\nNothing was imported. Import into an empty store, or remove what collides.")
    except (
        NotAnMlflowStore,
        StoreUriError,
        MlflowServerError,
        ArtifactLocationError,
        TracklightError,  # an artifact path from the source that would leave its folder, or the like
        ValueError,
    ) as exc:
        return fail(str(exc))
    except ArgumentError as exc:
        return fail(f"invalid database URI: {exc}")
    except DBAPIError as exc:
        return fail(f"database error: {str(exc.orig).strip().splitlines()[0]}")
    return 0
