"""`mlflow server` flags with no Tracklight setting of their own: each taken at its nearest meaning, or explained.

Users paste `mlflow server` command lines; none of its flags may end in "unrecognized arguments". A flag whose
meaning Tracklight cannot honour, and whose absence would mislead (auth, workspaces, a separate registry
database), stops the start with one clear line instead of serving without it.
"""

from __future__ import annotations

import argparse
import os
import shlex
from dataclasses import dataclass, field
from typing import Any


class RefusedFlag(ValueError):
    """An mlflow flag that Tracklight cannot honour, where serving without it would be wrong."""


@dataclass
class Adopted:
    """What the mlflow flags on a command line come to: settings they stand for, and one note each."""

    settings: dict[str, Any] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)


_OPTION_STRING_FLAGS = ("--gunicorn-opts", "--uvicorn-opts", "--waitress-opts")


def attach_option_strings(argv: list[str]) -> list[str]:
    """`--gunicorn-opts "-w 4"` as `--gunicorn-opts=-w 4`: argparse would take a value starting with "-" for
    a flag of its own, where click (mlflow's parser) takes it as the value."""
    out: list[str] = []
    i = 0
    while i < len(argv):
        if argv[i] in _OPTION_STRING_FLAGS and i + 1 < len(argv):
            out.append(f"{argv[i]}={argv[i + 1]}")
            i += 2
        else:
            out.append(argv[i])
            i += 1
    return out


def add_flags(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group(
        "mlflow server flags",
        "Accepted so that `mlflow server` command lines work: each is taken at its nearest meaning, "
        "or explained on stderr.",
    )
    group.add_argument(
        "--registry-store-uri",
        metavar="URI",
        help="The registry lives in the backend store: only that same URI is accepted",
    )
    group.add_argument(
        "--read-replica-backend-store-uri", metavar="URI", help="Ignored: reads go to the backend store"
    )
    group.add_argument(
        "--disable-security-middleware",
        action="store_true",
        help="Answer every Host and browser origin, as --allowed-hosts '*' --cors-allowed-origins '*'",
    )
    group.add_argument("--x-frame-options", metavar="VALUE", help="Ignored: no HTML pages are served")
    for server in ("gunicorn", "uvicorn", "waitress"):
        group.add_argument(
            f"--{server}-opts",
            metavar="OPTS",
            help="Its workers, host and port options are taken; the rest is explained and ignored",
        )
    group.add_argument("--dev", action="store_true", help="Text logs (there is no auto-reload)")
    group.add_argument("--expose-prometheus", metavar="DIR", help="Ignored: /metrics is always served")
    group.add_argument(
        "--app-name", metavar="NAME", help="basic-auth: require credentials and check permissions, as --auth"
    )
    group.add_argument("--trace-archival-config", metavar="PATH", help="Ignored: traces are not stored")
    group.add_argument("--secrets-cache-ttl", metavar="SECONDS", help="Ignored: no server-side secrets")
    group.add_argument("--secrets-cache-max-size", metavar="N", help="Ignored: no server-side secrets")
    group.add_argument("--workspace-store-uri", metavar="URI", help="Ignored: workspaces are not supported")
    group.add_argument(
        "--enable-workspaces",
        dest="workspaces",
        action="store_true",
        default=None,
        help="Refused: workspaces are not supported",
    )
    group.add_argument(
        "--disable-workspaces", dest="workspaces", action="store_false", help="Accepted: the only mode"
    )


# Options of the WSGI/ASGI servers mlflow runs, and what they come to here.
_WORKERS = ("-w", "--workers")
_BIND = ("-b", "--bind", "--listen")  # HOST:PORT
_EXPLAINED = {
    "--timeout": "requests are never cut off; TRACKLIGHT_DB_QUERY_TIMEOUT bounds each database round trip",
    "-t": "requests are never cut off; TRACKLIGHT_DB_QUERY_TIMEOUT bounds each database round trip",
    "--graceful-timeout": "in-flight requests get 30 s to finish on SIGTERM",
    "--timeout-graceful-shutdown": "in-flight requests get 30 s to finish on SIGTERM",
    "--log-level": "the log level is INFO",
    "--threads": "each worker runs blocking work on a pool of 40 threads",
}


def adopt(args: argparse.Namespace) -> Adopted:
    """The settings and notes the mlflow flags in `args` come to; RefusedFlag for one that cannot be served."""
    out = Adopted()
    if args.app_name is not None:
        if args.app_name != "basic-auth":
            raise RefusedFlag(f"--app-name {args.app_name}: no such app (mlflow's is basic-auth)")
        out.settings["auth"] = True
        out.notes.append("--app-name basic-auth: authentication on, as --auth")
    if args.workspaces:
        raise RefusedFlag(
            "--enable-workspaces: workspaces are not supported yet; experiments and models would not be isolated"
        )
    if args.registry_store_uri is not None:
        backend = args.backend_store_uri or os.environ.get("TRACKLIGHT_BACKEND_STORE_URI")
        if args.registry_store_uri != backend:
            raise RefusedFlag(
                "--registry-store-uri: the model registry lives in the backend store; "
                "give the same URI as --backend-store-uri, or leave it out"
            )
    if args.read_replica_backend_store_uri is not None:
        out.notes.append("--read-replica-backend-store-uri is ignored: reads go to the backend store too")
    if args.disable_security_middleware:
        if args.allowed_hosts is None:
            out.settings["allowed_hosts"] = "*"
        if args.cors_allowed_origins is None:
            out.settings["cors_allowed_origins"] = "*"
        out.notes.append(
            "--disable-security-middleware: answering every Host and browser origin "
            "(--allowed-hosts '*' --cors-allowed-origins '*'); do not expose this server"
        )
    if args.x_frame_options is not None:
        out.notes.append("--x-frame-options is ignored: Tracklight serves no HTML pages to frame")
    for server in ("gunicorn", "uvicorn", "waitress"):
        opts = getattr(args, f"{server}_opts")
        if opts is not None:
            _server_opts(f"--{server}-opts", opts, args, out)
    if args.dev:
        if args.log_format is None:
            out.settings["log_format"] = "text"
        out.notes.append("--dev: text logs; there is no auto-reload (restart the server after a change)")
    if args.expose_prometheus is not None:
        out.notes.append(
            f"--expose-prometheus: /metrics is always served; {args.expose_prometheus} is not used"
        )
    if args.trace_archival_config is not None:
        out.notes.append("--trace-archival-config is ignored: Tracklight does not store traces")
    for flag, value in (
        ("--secrets-cache-ttl", args.secrets_cache_ttl),
        ("--secrets-cache-max-size", args.secrets_cache_max_size),
    ):
        if value is not None:
            out.notes.append(f"{flag} is ignored: Tracklight keeps no server-side secrets")
    if args.workspace_store_uri is not None:
        out.notes.append("--workspace-store-uri is ignored: workspaces are not supported")
    return out


def _server_opts(flag: str, opts: str, args: argparse.Namespace, out: Adopted) -> None:
    """Take the workers, host and port in a server's option string; explain the rest, in one note."""
    try:
        tokens = shlex.split(opts)
    except ValueError as exc:
        raise RefusedFlag(f"{flag}: cannot split {opts!r}: {exc}") from None
    taken: list[str] = []
    ignored: list[str] = []
    i = 0
    while i < len(tokens):
        name, _, value = tokens[i].partition("=")
        if not value and i + 1 < len(tokens) and not tokens[i + 1].startswith("-"):
            value = tokens[i + 1]
            i += 1
        i += 1
        shown = f"{name} {value}".strip()
        if name in _WORKERS:
            _take(out, args, "workers", _number(flag, name, value), taken, shown, "--workers")
        elif name in _BIND:
            host, _, port = value.rpartition(":")
            if host:
                _take(out, args, "host", host.strip("[]"), taken, shown, "--host")
            _take(out, args, "port", _number(flag, name, port), taken, shown, "--port")
        elif name == "--host":
            _take(out, args, "host", value, taken, shown, "--host")
        elif name == "--port":
            _take(out, args, "port", _number(flag, name, value), taken, shown, "--port")
        elif name in _EXPLAINED:
            ignored.append(f"{shown} ({_EXPLAINED[name]})")
        else:
            ignored.append(shown)
    parts = []
    if taken:
        parts.append("took " + ", ".join(dict.fromkeys(taken)))
    if ignored:
        parts.append(
            "ignored "
            + ", ".join(ignored)
            + ": Tracklight runs uvicorn (or Hypercorn) with its own configuration"
        )
    if parts:
        out.notes.append(f"{flag}: " + "; ".join(parts))


def _take(
    out: Adopted, args: argparse.Namespace, name: str, value: Any, taken: list[str], shown: str, as_flag: str
) -> None:
    if getattr(args, name) is not None:  # the setting's own flag wins
        taken.append(f"{shown} (overridden by {as_flag} {getattr(args, name)})")
        return
    out.settings[name] = value
    taken.append(f"{shown} as {as_flag} {value}")


def _number(flag: str, name: str, value: str) -> int:
    try:
        return int(value)
    except ValueError:
        raise RefusedFlag(f"{flag}: {name} needs a number, not {value!r}") from None
