"""SQL for users, grants, personal access tokens and browser sessions (the auth_* tables)."""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy import Connection
from sqlalchemy.exc import IntegrityError

from tracklight.errors import AlreadyExists, NotFound
from tracklight.store.schema import auth_permissions, auth_sessions, auth_tokens, auth_users

_u, _p, _t, _s = auth_users.c, auth_permissions.c, auth_tokens.c, auth_sessions.c


@dataclass(frozen=True, slots=True)
class UserRecord:
    id: int
    username: str
    password_hash: str
    is_admin: bool
    created_time: int
    auth_version: int


@dataclass(frozen=True, slots=True)
class GrantRecord:
    user_id: int
    username: str
    resource_type: str
    resource_id: str
    permission: str


@dataclass(frozen=True, slots=True)
class TokenRecord:
    id: int
    user_id: int
    username: str
    name: str
    prefix: str
    created_time: int
    expires_time: int | None
    last_used_time: int | None
    revoked_time: int | None


@dataclass(frozen=True, slots=True)
class SessionRecord:
    id: int
    user_id: int
    credential_hash: str
    is_admin: bool
    method: str
    created_time: int
    expires_time: int


def now_ms() -> int:
    return int(time.time() * 1000)


def _user(row: sa.Row) -> UserRecord:
    return UserRecord(
        int(row.id),
        row.username,
        row.password_hash,
        bool(row.is_admin),
        int(row.created_time),
        int(row.auth_version),
    )


# -- users ------------------------------------------------------------------------------------------


def create_user(conn: Connection, username: str, password_hash: str, is_admin: bool) -> UserRecord:
    try:
        with conn.begin_nested():
            conn.execute(
                auth_users.insert().values(
                    username=username,
                    password_hash=password_hash,
                    is_admin=is_admin,
                    created_time=now_ms(),
                    auth_version=1,
                )
            )
    except IntegrityError:
        raise AlreadyExists(f"User '{username}' already exists.") from None
    return get_user(conn, username)


def find_user(conn: Connection, username: str) -> UserRecord | None:
    row = conn.execute(sa.select(auth_users).where(_u.username == username)).first()
    return _user(row) if row is not None else None


def get_user(conn: Connection, username: str) -> UserRecord:
    user = find_user(conn, username)
    if user is None:
        raise NotFound(f"User with username={username} not found")
    return user


def user_by_id(conn: Connection, user_id: int) -> UserRecord | None:
    row = conn.execute(sa.select(auth_users).where(_u.id == user_id)).first()
    return _user(row) if row is not None else None


def list_users(conn: Connection) -> list[UserRecord]:
    return [_user(r) for r in conn.execute(sa.select(auth_users).order_by(_u.id))]


def any_admin(conn: Connection, *, excluding: int | None = None) -> bool:
    """Whether some user is an admin (other than user `excluding`)."""
    stmt = sa.select(_u.id).where(_u.is_admin.is_(True))
    if excluding is not None:
        stmt = stmt.where(_u.id != excluding)
    return conn.execute(stmt.limit(1)).first() is not None


def auth_version(conn: Connection, user_id: int) -> int | None:
    """The user's current version; None once the user is deleted."""
    value = conn.execute(sa.select(_u.auth_version).where(_u.id == user_id)).scalar()
    return int(value) if value is not None else None


def update_user(
    conn: Connection, username: str, *, password_hash: str | None = None, is_admin: bool | None = None
) -> UserRecord:
    """Change the password and/or admin flag, and bump the version so cached verdicts lapse."""
    values: dict[str, object] = {"auth_version": _u.auth_version + 1}
    if password_hash is not None:
        values["password_hash"] = password_hash
    if is_admin is not None:
        values["is_admin"] = is_admin
    if conn.execute(auth_users.update().where(_u.username == username).values(**values)).rowcount == 0:
        raise NotFound(f"User with username={username} not found")
    return get_user(conn, username)


def bump_version(conn: Connection, user_id: int) -> None:
    conn.execute(auth_users.update().where(_u.id == user_id).values(auth_version=_u.auth_version + 1))


def delete_user(conn: Connection, username: str) -> None:
    user = get_user(conn, username)
    conn.execute(auth_permissions.delete().where(_p.user_id == user.id))
    conn.execute(auth_tokens.delete().where(_t.user_id == user.id))
    conn.execute(auth_sessions.delete().where(_s.user_id == user.id))
    conn.execute(auth_users.delete().where(_u.id == user.id))


# -- grants -----------------------------------------------------------------------------------------


def permission_of(conn: Connection, user_id: int, resource_type: str, resource_id: str) -> str | None:
    """The user's grant on one resource (one lookup on the unique index), or None."""
    return conn.execute(
        sa.select(_p.permission).where(
            _p.user_id == user_id, _p.resource_type == resource_type, _p.resource_id == resource_id
        )
    ).scalar()


def grants_of(conn: Connection, user_id: int, resource_type: str) -> list[tuple[str, str]]:
    """(resource_id, permission) of every grant the user has on resources of one type."""
    rows = conn.execute(
        sa.select(_p.resource_id, _p.permission).where(
            _p.user_id == user_id, _p.resource_type == resource_type
        )
    )
    return [(r[0], r[1]) for r in rows]


def set_grant(conn: Connection, user_id: int, resource_type: str, resource_id: str, permission: str) -> None:
    """Create or replace the user's grant on a resource, and lapse the user's cached answers."""
    where = (_p.user_id == user_id, _p.resource_type == resource_type, _p.resource_id == resource_id)
    updated = conn.execute(auth_permissions.update().where(*where).values(permission=permission)).rowcount
    if not updated:
        try:
            with conn.begin_nested():
                conn.execute(
                    auth_permissions.insert().values(
                        user_id=user_id,
                        resource_type=resource_type,
                        resource_id=resource_id,
                        permission=permission,
                    )
                )
        except IntegrityError:  # a concurrent grant won the insert: ours replaces it
            conn.execute(auth_permissions.update().where(*where).values(permission=permission))
    bump_version(conn, user_id)


def delete_grant(conn: Connection, user_id: int, resource_type: str, resource_id: str) -> bool:
    deleted = conn.execute(
        auth_permissions.delete().where(
            _p.user_id == user_id, _p.resource_type == resource_type, _p.resource_id == resource_id
        )
    ).rowcount
    bump_version(conn, user_id)
    return bool(deleted)


def list_grants(conn: Connection, user_id: int | None = None) -> list[GrantRecord]:
    stmt = (
        sa.select(_p.user_id, _u.username, _p.resource_type, _p.resource_id, _p.permission)
        .join(auth_users, _u.id == _p.user_id)
        .order_by(_p.user_id, _p.resource_type, _p.resource_id)
    )
    if user_id is not None:
        stmt = stmt.where(_p.user_id == user_id)
    return [GrantRecord(int(r[0]), r[1], r[2], r[3], r[4]) for r in conn.execute(stmt)]


def _holders(conn: Connection, resource_type: str, resource_id: str) -> list[int]:
    rows = conn.execute(
        sa.select(_p.user_id).where(_p.resource_type == resource_type, _p.resource_id == resource_id)
    )
    return [int(r[0]) for r in rows]


def rename_resource(conn: Connection, resource_type: str, old_id: str, new_id: str) -> None:
    """Grants follow a registered model to its new name."""
    holders = _holders(conn, resource_type, old_id)
    conn.execute(
        auth_permissions.update()
        .where(_p.resource_type == resource_type, _p.resource_id == old_id)
        .values(resource_id=new_id)
    )
    for user_id in holders:
        bump_version(conn, user_id)


def forget_resource(conn: Connection, resource_type: str, resource_id: str) -> None:
    """A deleted resource's grants go with it, so a new one of the same name starts without them."""
    holders = _holders(conn, resource_type, resource_id)
    conn.execute(
        auth_permissions.delete().where(_p.resource_type == resource_type, _p.resource_id == resource_id)
    )
    for user_id in holders:
        bump_version(conn, user_id)


# -- tokens -----------------------------------------------------------------------------------------


def _token(row: sa.Row) -> TokenRecord:
    return TokenRecord(
        int(row.id),
        int(row.user_id),
        row.username,
        row.name,
        row.prefix,
        int(row.created_time),
        row.expires_time,
        row.last_used_time,
        row.revoked_time,
    )


_TOKEN_COLUMNS = (
    _t.id,
    _t.user_id,
    _u.username,
    _t.name,
    _t.prefix,
    _t.created_time,
    _t.expires_time,
    _t.last_used_time,
    _t.revoked_time,
)


def create_token(
    conn: Connection, user_id: int, name: str, secret_hash: str, prefix: str, expires_time: int | None
) -> int:
    result = conn.execute(
        auth_tokens.insert().values(
            user_id=user_id,
            name=name,
            secret_hash=secret_hash,
            prefix=prefix,
            created_time=now_ms(),
            expires_time=expires_time,
        )
    )
    return int(result.inserted_primary_key[0])


def token_by_hash(conn: Connection, secret_hash: str) -> TokenRecord | None:
    row = conn.execute(
        sa.select(*_TOKEN_COLUMNS).join(auth_users, _u.id == _t.user_id).where(_t.secret_hash == secret_hash)
    ).first()
    return _token(row) if row is not None else None


def token_by_id(conn: Connection, token_id: int) -> TokenRecord | None:
    row = conn.execute(
        sa.select(*_TOKEN_COLUMNS).join(auth_users, _u.id == _t.user_id).where(_t.id == token_id)
    ).first()
    return _token(row) if row is not None else None


def list_tokens(conn: Connection, user_ids: Sequence[int] | None = None) -> list[TokenRecord]:
    stmt = sa.select(*_TOKEN_COLUMNS).join(auth_users, _u.id == _t.user_id).order_by(_t.id)
    if user_ids is not None:
        stmt = stmt.where(_t.user_id.in_(list(user_ids)))
    return [_token(r) for r in conn.execute(stmt)]


def revoke_token(conn: Connection, token_id: int) -> TokenRecord:
    row = conn.execute(
        sa.select(*_TOKEN_COLUMNS).join(auth_users, _u.id == _t.user_id).where(_t.id == token_id)
    ).first()
    if row is None:
        raise NotFound(f"Token {token_id} not found")
    conn.execute(
        auth_tokens.update().where(_t.id == token_id, _t.revoked_time.is_(None)).values(revoked_time=now_ms())
    )
    bump_version(conn, int(row.user_id))
    return _token(row)


def touch_token(conn: Connection, token_id: int, when: int) -> None:
    conn.execute(auth_tokens.update().where(_t.id == token_id).values(last_used_time=when))


# -- browser sessions -------------------------------------------------------------------------------


def _session(row: sa.Row) -> SessionRecord:
    return SessionRecord(
        int(row.id),
        int(row.user_id),
        row.credential_hash,
        bool(row.is_admin),
        row.method,
        int(row.created_time),
        int(row.expires_time),
    )


def create_session(
    conn: Connection,
    user_id: int,
    secret_hash: str,
    credential_hash: str,
    is_admin: bool,
    method: str,
    expires_time: int,
) -> int:
    result = conn.execute(
        auth_sessions.insert().values(
            user_id=user_id,
            secret_hash=secret_hash,
            credential_hash=credential_hash,
            is_admin=is_admin,
            method=method,
            created_time=now_ms(),
            expires_time=expires_time,
        )
    )
    return int(result.inserted_primary_key[0])


def session_by_hash(conn: Connection, secret_hash: str) -> SessionRecord | None:
    row = conn.execute(sa.select(auth_sessions).where(_s.secret_hash == secret_hash)).first()
    return _session(row) if row is not None else None


def session_by_id(conn: Connection, session_id: int) -> SessionRecord | None:
    row = conn.execute(sa.select(auth_sessions).where(_s.id == session_id)).first()
    return _session(row) if row is not None else None


def delete_session(conn: Connection, secret_hash: str) -> int | None:
    """End one session; returns its user's id (None if there was no such session)."""
    user_id = conn.execute(sa.select(_s.user_id).where(_s.secret_hash == secret_hash)).scalar()
    if user_id is None:
        return None
    conn.execute(auth_sessions.delete().where(_s.secret_hash == secret_hash))
    return int(user_id)


def delete_expired_sessions(conn: Connection, now: int) -> int:
    return conn.execute(auth_sessions.delete().where(_s.expires_time <= now)).rowcount
