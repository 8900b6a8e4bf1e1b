"""The first admin: created at start from the environment, never with a default password."""

from __future__ import annotations

import os

from tracklight.auth.passwords import hash_password
from tracklight.errors import AlreadyExists, InvalidParameter
from tracklight.store import auth as auth_store
from tracklight.store.engine import Database
from tracklight.store.transactions import in_transaction


class AuthSetupError(RuntimeError):
    """Authentication is on but cannot work as configured; the server refuses to start."""


def admin_credentials() -> tuple[str, str | None]:
    """(username, password) for the first admin: TRACKLIGHT_ADMIN_*, else MLflow's MLFLOW_AUTH_ADMIN_*."""
    env = os.environ
    username = env.get("TRACKLIGHT_ADMIN_USERNAME") or env.get("MLFLOW_AUTH_ADMIN_USERNAME") or "admin"
    password = env.get("TRACKLIGHT_ADMIN_PASSWORD") or env.get("MLFLOW_AUTH_ADMIN_PASSWORD") or None
    return username, password


def ensure_admin(db: Database) -> str | None:
    """Create the configured admin if missing; returns its name when this call created it.

    Safe when replicas start together: the unique username lets one insert win, the others find it.
    Without a password and without any admin in the database, raise AuthSetupError.
    """
    username, password = admin_credentials()
    existing = in_transaction(db, lambda c: auth_store.find_user(c, username), write=False)
    if existing is not None:
        return None
    if password is None:
        if in_transaction(db, auth_store.any_admin, write=False):
            return None
        raise AuthSetupError(
            f"authentication is on but the database has no admin user yet: set TRACKLIGHT_ADMIN_PASSWORD "
            f"(or MLFLOW_AUTH_ADMIN_PASSWORD) to create the first admin {username!r}; there is no default password"
        )
    try:
        password_hash = hash_password(password)
    except InvalidParameter as exc:
        raise AuthSetupError(f"the admin password is not acceptable: {exc.message}") from None
    try:
        in_transaction(db, lambda c: auth_store.create_user(c, username, password_hash, True))
    except (AlreadyExists, InvalidParameter):  # another replica created it first
        return None
    return username
