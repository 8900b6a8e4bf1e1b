"""`tracklight users …` and `tracklight tokens …`: manage users and tokens in the configured database."""

from __future__ import annotations

import argparse
import getpass
import os
import sys
from datetime import UTC, datetime

from tracklight.cli_messages import fail
from tracklight.errors import TracklightError


def add_commands(sub: argparse._SubParsersAction) -> None:
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument(
        "--backend-store-uri",
        default=None,
        help="Backend store URI (default: TRACKLIGHT_BACKEND_STORE_URI, with TRACKLIGHT_DB_USER and "
        "TRACKLIGHT_DB_PASSWORD applied)",
    )
    users = sub.add_parser("users", help="Manage users (authentication).", description="Manage users.")
    users_sub = users.add_subparsers(dest="users_command", metavar="COMMAND")
    users_sub.required = True
    create = users_sub.add_parser(
        parents=[common],
        name="create",
        help="Create a user; the password is asked for (or read from TRACKLIGHT_NEW_PASSWORD).",
    )
    create.add_argument("username")
    create.add_argument("--admin", action="store_true", help="Make the user an admin")
    users_sub.add_parser(parents=[common], name="list", help="List users.")
    setpw = users_sub.add_parser(
        parents=[common],
        name="set-password",
        help="Set a user's password (asked for, or TRACKLIGHT_NEW_PASSWORD).",
    )
    setpw.add_argument("username")
    admin = users_sub.add_parser(
        parents=[common], name="make-admin", help="Make a user an admin (--revoke: no longer)."
    )
    admin.add_argument("username")
    admin.add_argument("--revoke", action="store_true")
    delete = users_sub.add_parser(
        parents=[common], name="delete", help="Delete a user, with their grants and tokens."
    )
    delete.add_argument("username")

    tokens = sub.add_parser("tokens", help="Manage personal access tokens.", description="Manage tokens.")
    tokens_sub = tokens.add_subparsers(dest="tokens_command", metavar="COMMAND")
    tokens_sub.required = True
    tcreate = tokens_sub.add_parser(
        parents=[common], name="create", help="Create a token for a user; it is printed once."
    )
    tcreate.add_argument("username")
    tcreate.add_argument("--name", default="token", help="What the token is for")
    tcreate.add_argument("--expires-days", type=int, default=90, help="Lifetime in days (0: never expires)")
    tlist = tokens_sub.add_parser(parents=[common], name="list", help="List tokens (never their secrets).")
    tlist.add_argument("--user", default=None)
    revoke = tokens_sub.add_parser(parents=[common], name="revoke", help="Revoke a token by its id.")
    revoke.add_argument("token_id", type=int)


def _new_password() -> str:
    given = os.environ.get("TRACKLIGHT_NEW_PASSWORD")
    if given:
        return given
    first = getpass.getpass("Password: ")
    if first != getpass.getpass("Repeat password: "):
        raise TracklightError("the passwords differ")
    return first


def _when(ms: int | None) -> str:
    if ms is None:
        return "-"
    return datetime.fromtimestamp(ms / 1000, UTC).strftime("%Y-%m-%d %H:%M")


def run(args: argparse.Namespace) -> int:
    from sqlalchemy.exc import ArgumentError, DBAPIError

    from tracklight.auth.permissions import Permission
    from tracklight.auth.versions import Versions
    from tracklight.config import backend_store_uri_from
    from tracklight.services.users import Users
    from tracklight.store.engine import StoreUriError, open_database
    from tracklight.store.migrate import SchemaOutOfDate, check_current

    try:
        db = open_database(backend_store_uri_from(args.backend_store_uri))
    except (ArgumentError, StoreUriError) as exc:
        return fail(f"invalid backend store URI: {exc}")
    try:
        check_current(db)
        users = Users(db, Versions(db), Permission.READ)  # no principal: the operator acts as admin
        return _dispatch(args, users)
    except TracklightError as exc:
        return fail(exc.message)
    except SchemaOutOfDate as exc:
        return fail(str(exc))
    except DBAPIError as exc:
        return fail(f"cannot reach the database: {str(exc.orig).strip().splitlines()[0]}")
    finally:
        db.dispose()


def _dispatch(args: argparse.Namespace, users: object) -> int:
    from tracklight.services.users import Users

    assert isinstance(users, Users)
    if args.command == "users":
        command = args.users_command
        if command == "create":
            user = users.create_user(args.username, _new_password(), is_admin=args.admin)
            print(f"Created user {user.username!r}{' (admin)' if user.is_admin else ''}.")
        elif command == "list":
            for user in users.list_users():
                print(
                    f"{user.username}\t{'admin' if user.is_admin else 'user'}\tcreated {_when(user.created_time)}"
                )
        elif command == "set-password":
            users.update_password(args.username, _new_password())
            print(f"Changed the password of {args.username!r}.")
        elif command == "make-admin":
            users.update_admin(args.username, not args.revoke)
            print(f"{args.username!r} is {'no longer ' if args.revoke else ''}an admin.")
        elif command == "delete":
            users.delete_user(args.username)
            print(f"Deleted user {args.username!r}.")
        return 0
    command = args.tokens_command
    if command == "create":
        secret, record = users.create_token(args.username, args.name, args.expires_days or None)
        print(secret)
        print(
            f"token {record.id} for {record.username!r}, expires {_when(record.expires_time)}; "
            "it is shown only this once (use it as MLFLOW_TRACKING_TOKEN)",
            file=sys.stderr,
        )
    elif command == "list":
        for t in users.list_tokens(args.user):
            state = "revoked" if t.revoked_time else "active"
            print(
                f"{t.id}\t{t.username}\t{t.name}\t{t.prefix}…\t{state}\tcreated {_when(t.created_time)}"
                f"\texpires {_when(t.expires_time)}\tlast used {_when(t.last_used_time)}"
            )
    elif command == "revoke":
        record = users.revoke_token(args.token_id)
        print(f"Revoked token {record.id} of {record.username!r}.")
    return 0
