"""The `tracklight export-mlflow` command: its arguments, and running it with plain error messages."""

from __future__ import annotations

import argparse
import sys

from tracklight.cli_messages import fail, first_line


def add_commands(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "export-mlflow",
        help="Write this store into a fresh MLflow SQL store.",
        description="Write this store into a fresh MLflow SQL store, at the schema of the MLflow release that "
        "created it (`mlflow db upgrade TARGET_URI` of that release). Nothing is written unless all of it is.",
    )
    p.add_argument(
        "target_uri",
        metavar="TARGET_URI",
        help="The MLflow store (sqlite:///…, mysql+pymysql://…, postgresql://…)",
    )
    p.add_argument(
        "--backend-store-uri",
        dest="source_uri",
        metavar="URI",
        help="The Tracklight store to export (default: TRACKLIGHT_BACKEND_STORE_URI, with TRACKLIGHT_DB_USER and "
        "TRACKLIGHT_DB_PASSWORD applied)",
    )
    p.add_argument(
        "--allow-loss",
        action="store_true",
        help="Export even when the target's MLflow release has no place for some of the data (it is listed)",
    )
    p.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from sqlalchemy.exc import ArgumentError, DBAPIError

    from tracklight.config import backend_store_uri_from
    from tracklight.move.to_mlflow_sql import ExportFailed, ExportRefused, export, summary
    from tracklight.store.engine import StoreUriError
    from tracklight.store.migrate import SchemaOutOfDate

    def progress(line: str) -> None:
        print(f"tracklight: {line}", file=sys.stderr, flush=True)

    try:
        report = export(
            backend_store_uri_from(args.source_uri),
            args.target_uri,
            allow_loss=args.allow_loss,
            progress=progress,
        )
    except (ExportRefused, StoreUriError, SchemaOutOfDate, ArgumentError) as exc:
        return fail(str(exc))
    except ExportFailed as exc:
        return fail(str(exc))
    except DBAPIError as exc:
        return fail(
            f"cannot reach a database: {first_line(exc.orig)}; the target holds nothing of the export"
        )
    for line in summary(report):
        print(line)
    return 0
