"""The `tracklight import-mlflow` command: its arguments, and running it with plain error messages."""

from __future__ import annotations

import argparse
import sys

from tracklight.cli_messages import fail


def add_commands(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "import-mlflow",
        help="Import an MLflow SQL store (read only) into Tracklight's store.",
        description="Copy experiments, runs, metrics, datasets, logged models and the model registry "
        "from an MLflow SQL store (SQLite, MySQL/MariaDB or PostgreSQL; MLflow 2.x or 3.x), which is "
        "only read. Artifact URIs are kept as they are: serve Tracklight with --artifacts-destination "
        "set to MLflow's. Safe to run again: it adds only what is missing, and finishes an import that "
        "was interrupted.",
    )
    p.add_argument("source_uri", metavar="SOURCE_URI", help="The MLflow backend store URI to read")
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

    from tracklight.config import backend_store_uri_from
    from tracklight.move.import_mlflow import import_mlflow
    from tracklight.move.into_store import ImportCollision
    from tracklight.move.mlflow_schema import NotAnMlflowStore
    from tracklight.move.progress import Progress
    from tracklight.store.engine import StoreUriError

    try:
        import_mlflow(
            args.source_uri,
            backend_store_uri_from(args.backend_store_uri),
            dry_run=args.dry_run,
            out=sys.stdout,
            progress=Progress(sys.stderr),
        )
    except ImportCollision as exc:
        return fail(f"{exc}\nNothing was imported. Import into an empty store, or remove what collides.")
    except (NotAnMlflowStore, StoreUriError) as exc:
        return fail(str(exc))
    except ArgumentError as exc:
        return fail(f"invalid database URI: {exc}")
    except DBAPIError as exc:
        return fail(f"database error: {str(exc.orig).strip().splitlines()[0]}")
    return 0
