"""The `tracklight` command: `server`, `db upgrade`, the admin commands and `export-mlflow`."""

from __future__ import annotations

import argparse
import errno
import gc
import socket
import sys

from tracklight import __version__
from tracklight.cli_messages import fail, first_line


def _server_parser(sub: argparse._SubParsersAction) -> None:
    from tracklight.config import SETTINGS
    from tracklight.mlflow_flags import add_flags

    p = sub.add_parser(
        "server",
        add_help=False,
        help="Run the tracking server.",
        description="Run the tracking server. Every flag can also be set as a TRACKLIGHT_* environment variable.",
    )
    for setting in SETTINGS:
        if not setting.flags:
            continue  # a variable only
        shown = setting.shown_default.replace("`", "").strip("()")
        text = f"{setting.help} (default: {shown}) [{setting.env}]"
        if setting.kind == "bool":
            p.add_argument(*setting.flags, dest=setting.name, action="store_true", default=None, help=text)
            if setting.negative_flag:
                p.add_argument(
                    setting.negative_flag,
                    dest=setting.name,
                    action="store_false",
                    help=f"The opposite of {setting.flags[0]}",
                )
        else:
            p.add_argument(
                *setting.flags,
                dest=setting.name,
                type={"int": int, "float": float}.get(setting.kind),
                choices=setting.choices or None,
                help=text,
            )
    p.add_argument("--help", action="help", help="Show this message and exit.")
    add_flags(p)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="tracklight", description="Tracklight: an MLflow-compatible tracking server and model registry."
    )
    parser.add_argument("--version", action="version", version=f"tracklight {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True
    # -h is --host for `server`, as in `mlflow server`, so `server` gets only the long --help.
    _server_parser(sub)
    db = sub.add_parser(
        "db", help="Manage the metadata database.", description="Manage the metadata database."
    )
    db_sub = db.add_subparsers(dest="db_command", metavar="COMMAND")
    db_sub.required = True
    up = db_sub.add_parser(
        "upgrade",
        help="Apply schema migrations to a database.",
        description="Apply schema migrations. Safe on an empty database, run twice, "
        "or run from several processes at once.",
    )
    up.add_argument(
        "uri",
        nargs="?",
        help="Backend store URI (default: TRACKLIGHT_BACKEND_STORE_URI, with TRACKLIGHT_DB_USER and "
        "TRACKLIGHT_DB_PASSWORD applied)",
    )
    from tracklight.admin_cli import add_commands

    add_commands(sub)
    from tracklight.purge_cli import add_command as add_gc

    add_gc(sub)
    _move_commands(sub)
    return parser


def _move_commands(sub: argparse._SubParsersAction) -> None:
    """Commands that move a store between MLflow and Tracklight (tracklight.move); each sets `handler`."""
    from tracklight.move.export_cli import add_commands as add_export_mlflow
    from tracklight.move.import_cli import add_commands as add_import_mlflow

    add_import_mlflow(sub)
    add_export_mlflow(sub)


def _db_upgrade(uri: str | None) -> int:
    from sqlalchemy.exc import ArgumentError, DBAPIError

    from tracklight.config import backend_store_uri_from
    from tracklight.store.engine import StoreUriError, open_database
    from tracklight.store.migrate import upgrade

    try:
        db = open_database(backend_store_uri_from(uri))
        before, after = upgrade(db)
    except ArgumentError as exc:
        return fail(f"invalid backend store URI: {first_line(exc)}")
    except StoreUriError as exc:
        return fail(str(exc))
    except DBAPIError as exc:
        return fail(f"cannot reach the database: {first_line(exc.orig)}")
    if before == after:
        print(f"Database schema is current (revision {after}).")
    else:
        print(f"Upgraded database schema from {before or 'empty'} to revision {after}.")
    return 0


def _check_port(host: str, port: int) -> str | None:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError as exc:
            if exc.errno == errno.EADDRINUSE:
                return f"port {port} on {host} is already in use"
            return f"cannot listen on {host}:{port}: {exc.strerror}"
    return None


def _server(args: argparse.Namespace) -> int:
    # No cyclic collections while start-up imports and builds: each full one walks every object loaded so
    # far (~25 ms by the time the services load), and start-up makes no garbage worth them.
    # startup.tune_collector collects once and turns it back on before the first request.
    gc.disable()
    from sqlalchemy.exc import ArgumentError, DBAPIError

    from tracklight.auth.admin import AuthSetupError
    from tracklight.config import load_settings
    from tracklight.mlflow_flags import RefusedFlag, adopt
    from tracklight.store.engine import StoreUriError
    from tracklight.store.migrate import SchemaOutOfDate

    try:
        adopted = adopt(args)
        settings = load_settings({**vars(args), **adopted.settings})
    except (ValueError, ArgumentError) as exc:  # RefusedFlag is a ValueError
        return fail(str(exc))
    for note in adopted.notes:
        print(f"tracklight: note: {note}", file=sys.stderr)
    problem = _check_port(settings.host, settings.port)
    if problem:
        return fail(problem)
    import logging.config

    from tracklight.artifacts.locations import ArtifactLocationError
    from tracklight.logs import log_config
    from tracklight.startup import announce, start

    # Configured now, so the start-up lines look like every later one (the server applies it again).
    logging.config.dictConfig(log_config(settings.log_format))
    logging.getLogger("alembic").setLevel(logging.WARNING)  # our own line says when a schema was created
    try:
        application, app = start(settings)
    except (StoreUriError, ArtifactLocationError, SchemaOutOfDate, RefusedFlag, AuthSetupError) as exc:
        return fail(str(exc))
    except DBAPIError as exc:
        return fail(f"cannot reach the database: {first_line(exc.orig)}")
    announce(application)
    from tracklight.serving import serve

    serve(settings, app, application.db)
    return 0


def main(argv: list[str] | None = None) -> int:
    from tracklight.mlflow_flags import attach_option_strings

    args = _parser().parse_args(attach_option_strings(sys.argv[1:] if argv is None else argv))
    if getattr(args, "handler", None) is not None:  # the move commands
        return args.handler(args)
    if args.command == "server":
        return _server(args)
    if getattr(args, "handler", None) is not None:
        return args.handler(args)
    if args.command in ("users", "tokens"):
        from tracklight.admin_cli import run

        return run(args)
    return _db_upgrade(args.uri)
