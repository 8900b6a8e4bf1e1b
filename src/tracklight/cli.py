"""The `tracklight` command: `server` and `db upgrade`."""

from __future__ import annotations

import argparse
import errno
import socket
import sys

from tracklight import __version__


def _server_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "server",
        add_help=False,
        help="Run the tracking server.",
        description="Run the tracking server. Every flag can also be set as a TRACKLIGHT_* environment variable.",
    )
    p.add_argument(
        "--backend-store-uri",
        help="sqlite:///path, mysql+pymysql://… or postgresql://… "
        "(default: sqlite:///./tracklight.db) [TRACKLIGHT_BACKEND_STORE_URI]",
    )
    p.add_argument(
        "--default-artifact-root",
        help="Artifact root given to new experiments [TRACKLIGHT_DEFAULT_ARTIFACT_ROOT]",
    )
    p.add_argument(
        "--artifacts-destination",
        help="Where proxied artifacts are stored "
        "(default: ./tracklight-artifacts) [TRACKLIGHT_ARTIFACTS_DESTINATION]",
    )
    p.add_argument(
        "--serve-artifacts",
        dest="serve_artifacts",
        action="store_true",
        default=None,
        help="Proxy artifact uploads and downloads (the default) [TRACKLIGHT_SERVE_ARTIFACTS]",
    )
    p.add_argument(
        "--no-serve-artifacts",
        dest="serve_artifacts",
        action="store_false",
        help="Give runs the destination URI itself; clients then need storage credentials",
    )
    p.add_argument(
        "--artifacts-only",
        action="store_true",
        default=None,
        help="Serve only the artifact routes, with no metadata database [TRACKLIGHT_ARTIFACTS_ONLY]",
    )
    p.add_argument("--host", "-h", help="Address to bind (default: 127.0.0.1) [TRACKLIGHT_HOST]")
    p.add_argument("--port", "-p", type=int, help="Port to listen on (default: 5000) [TRACKLIGHT_PORT]")
    p.add_argument("--workers", "-w", type=int, help="Worker processes (default: 1) [TRACKLIGHT_WORKERS]")
    p.add_argument("--static-prefix", help="Prefix for every route, e.g. /mlflow [TRACKLIGHT_STATIC_PREFIX]")
    p.add_argument(
        "--allowed-hosts",
        help="Comma-separated Host header values to accept: names, *.domain or * "
        "(default: localhost and private addresses) [TRACKLIGHT_ALLOWED_HOSTS]",
    )
    p.add_argument(
        "--cors-allowed-origins",
        help="Comma-separated origins browsers may call the API from, or * "
        "(default: none, same-origin only) [TRACKLIGHT_CORS_ALLOWED_ORIGINS]",
    )
    p.add_argument(
        "--log-format",
        choices=["json", "text"],
        help="Log lines as JSON objects or plain text (default: text on a terminal, else json) "
        "[TRACKLIGHT_LOG_FORMAT]",
    )
    p.add_argument(
        "--h2c",
        action="store_true",
        default=None,
        help="Serve with Hypercorn, which speaks cleartext HTTP/2 (h2c) as well as HTTP/1.1 on the same port: "
        "for Cloud Run's HTTP/2 end to end, which has no 32 MiB request limit [TRACKLIGHT_H2C]",
    )
    p.add_argument("--help", action="help", help="Show this message and exit.")


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
    return parser


def _fail(message: str) -> int:
    print(f"tracklight: error: {message}", file=sys.stderr)
    return 2


def _db_upgrade(uri: str | None) -> int:
    from sqlalchemy.exc import ArgumentError, DBAPIError

    from tracklight.config import backend_store_uri_from
    from tracklight.store.engine import StoreUriError, open_database
    from tracklight.store.migrate import upgrade

    try:
        db = open_database(backend_store_uri_from(uri))
        before, after = upgrade(db)
    except ArgumentError as exc:
        return _fail(f"invalid backend store URI: {_first_line(exc)}")
    except StoreUriError as exc:
        return _fail(str(exc))
    except DBAPIError as exc:
        return _fail(f"cannot reach the database: {_first_line(exc.orig)}")
    if before == after:
        print(f"Database schema is current (revision {after}).")
    else:
        print(f"Upgraded database schema from {before or 'empty'} to revision {after}.")
    return 0


def _first_line(exc: object) -> str:
    return str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__


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
    from sqlalchemy.exc import ArgumentError, DBAPIError

    from tracklight.config import load_settings
    from tracklight.store.engine import StoreUriError
    from tracklight.store.migrate import SchemaOutOfDate

    try:
        settings = load_settings(
            backend_store_uri=args.backend_store_uri,
            artifacts_destination=args.artifacts_destination,
            default_artifact_root=args.default_artifact_root,
            serve_artifacts=args.serve_artifacts,
            artifacts_only=args.artifacts_only,
            host=args.host,
            port=args.port,
            workers=args.workers,
            static_prefix=args.static_prefix,
            allowed_hosts=args.allowed_hosts,
            cors_allowed_origins=args.cors_allowed_origins,
            log_format=args.log_format,
            h2c=args.h2c,
        )
    except (ValueError, ArgumentError) as exc:
        return _fail(str(exc))
    problem = _check_port(settings.host, settings.port)
    if problem:
        return _fail(problem)
    from tracklight.artifacts.locations import ArtifactLocationError
    from tracklight.http.app import build_app
    from tracklight.startup import prepare_store, tune_allocator, tune_collector

    try:
        tune_allocator()
        db = None if settings.artifacts_only else prepare_store(settings)
        app = build_app(settings, db)
        tune_collector()
    except (StoreUriError, ArtifactLocationError) as exc:
        return _fail(str(exc))
    except SchemaOutOfDate as exc:
        return _fail(str(exc))
    except DBAPIError as exc:
        return _fail(f"cannot reach the database: {_first_line(exc.orig)}")
    from tracklight.serving import serve

    serve(settings, app, db)
    return 0


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    if args.command == "server":
        return _server(args)
    return _db_upgrade(args.uri)
