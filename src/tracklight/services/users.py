"""Users, grants and personal access tokens: who may manage them, and the rules they follow."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Connection

from tracklight.auth import tokens as token_secrets
from tracklight.auth.passwords import NO_PASSWORD, check_password, hash_password, verify_password
from tracklight.auth.permissions import EXPERIMENT, Permission, parse_permission, parse_resource_type
from tracklight.auth.principal import Principal, current_principal
from tracklight.auth.versions import Versions
from tracklight.errors import AlreadyExists, InvalidParameter, NotFound, PermissionDenied
from tracklight.store import auth as store
from tracklight.store.auth import GrantRecord, TokenRecord, UserRecord
from tracklight.store.engine import Database
from tracklight.store.transactions import in_transaction

MAX_USERNAME = 256
DAY_MS = 86_400_000
MAX_TOKEN_NAME = 256
MAX_TOKEN_DAYS = 36_500  # a century: past it, "never expires" is the honest choice


@dataclass(frozen=True, slots=True)
class EffectivePermission:
    permission: Permission
    granted: bool  # False: the default permission (or admin) applies


class Users:
    """Admins manage users and grants; a MANAGE holder may grant on their resource; anyone may see
    themselves and change their own password (with the current one)."""

    def __init__(self, db: Database, versions: Versions, default: Permission) -> None:
        self.db = db
        self.versions = versions
        self.default = default

    # -- who is asking ----------------------------------------------------------------------------

    @staticmethod
    def _caller() -> Principal | None:
        return current_principal()

    def _require_admin(self) -> None:
        caller = self._caller()
        if caller is not None and not caller.is_admin:
            raise PermissionDenied("Permission denied")

    def _require_manager(self, resource_type: str, resource_id: str) -> None:
        caller = self._caller()
        if caller is None or caller.is_admin:
            return
        granted = in_transaction(
            self.db,
            lambda c: store.permission_of(c, caller.user_id, resource_type, resource_id),
            write=False,
        )
        effective = Permission[granted] if granted is not None else self.default
        if not effective.allows(Permission.MANAGE):
            raise PermissionDenied("Permission denied")

    def _changed(self, user_id: int) -> None:
        self.versions.forget(user_id)

    # -- users ------------------------------------------------------------------------------------

    def create_user(self, username: str, password: str, *, is_admin: bool = False) -> UserRecord:
        self._require_admin()
        if not username or len(username) > MAX_USERNAME or ":" in username:
            raise InvalidParameter("The username must be 1 to 256 characters, without ':'.")
        password_hash = hash_password(password)
        return in_transaction(self.db, lambda c: store.create_user(c, username, password_hash, is_admin))

    def provision(self, username: str, *, is_admin: bool | None = None) -> UserRecord:
        """The user an identity provider vouched for, created on first sign-in (without a password).

        `is_admin` is the provider's say (a group mapped to admin): applied when given, so losing the
        group takes the flag away at the next sign-in; None leaves the stored flag alone. Called before
        anyone is acting, so there is no caller to check.
        """
        if not username or len(username) > MAX_USERNAME or ":" in username:
            raise InvalidParameter(
                "The identity provider gave no usable user name (1 to 256 characters, no ':')."
            )

        def provision(c: Connection) -> UserRecord:
            user = store.find_user(c, username)
            if user is None:
                try:
                    return store.create_user(c, username, NO_PASSWORD, bool(is_admin))
                except AlreadyExists:  # another replica signed the same user in at the same moment
                    user = store.get_user(c, username)
            if is_admin is not None and user.is_admin != is_admin:
                user = store.update_user(c, username, is_admin=is_admin)
                self._changed(user.id)
            return user

        return in_transaction(self.db, provision)

    def get_user(self, username: str) -> UserRecord:
        caller = self._caller()
        if caller is not None and not caller.is_admin and caller.username != username:
            raise PermissionDenied("Permission denied")
        return in_transaction(self.db, lambda c: store.get_user(c, username), write=False)

    def user_by_id(self, user_id: int) -> UserRecord:
        """A user by id (the dashboard's links carry ids: a name may hold any character but ':')."""
        caller = self._caller()
        if caller is not None and not caller.is_admin and caller.user_id != user_id:
            raise PermissionDenied("Permission denied")
        user = in_transaction(self.db, lambda c: store.user_by_id(c, user_id), write=False)
        if user is None:
            raise NotFound(f"User with id={user_id} not found")
        return user

    def current_user(self) -> UserRecord:
        caller = self._caller()
        if caller is None:
            raise InvalidParameter("Authentication is not enabled on this server.")
        return self.get_user(caller.username)

    def list_users(self) -> list[UserRecord]:
        self._require_admin()
        return in_transaction(self.db, store.list_users, write=False)

    def update_password(self, username: str, password: str, current_password: str | None = None) -> None:
        caller = self._caller()
        if caller is not None and not caller.is_admin:
            if caller.username != username:
                raise PermissionDenied("Permission denied")
            user = in_transaction(self.db, lambda c: store.get_user(c, username), write=False)
            if not current_password or not verify_password(user.password_hash, current_password):
                raise PermissionDenied("The current password is required to change your own password.")
        check_password(password)
        password_hash = hash_password(password)
        user = in_transaction(self.db, lambda c: store.update_user(c, username, password_hash=password_hash))
        self._changed(user.id)

    def change_password(self, current_password: str, password: str) -> None:
        """The caller changes their own password: the current one is required, even of an admin (a
        browser left signed in must not be enough to take the account over)."""
        caller = self._caller()
        if caller is None:
            raise InvalidParameter("Authentication is not enabled on this server.")
        user = in_transaction(self.db, lambda c: store.get_user(c, caller.username), write=False)
        if user.password_hash == NO_PASSWORD:
            raise InvalidParameter(
                "This account signs in through single sign-on and has no password to change."
            )
        if not current_password or not verify_password(user.password_hash, current_password):
            raise PermissionDenied("The current password is wrong.")
        check_password(password)
        password_hash = hash_password(password)
        changed = in_transaction(
            self.db, lambda c: store.update_user(c, caller.username, password_hash=password_hash)
        )
        self._changed(changed.id)

    def update_admin(self, username: str, is_admin: bool) -> None:
        self._require_admin()

        def update(c: Connection) -> UserRecord:
            if not is_admin:
                _keep_an_admin(c, username, "take the admin flag from")
            return store.update_user(c, username, is_admin=is_admin)

        user = in_transaction(self.db, update)
        self._changed(user.id)

    def delete_user(self, username: str) -> None:
        self._require_admin()

        def delete(c: Connection) -> UserRecord:
            user = store.get_user(c, username)
            _keep_an_admin(c, username, "delete")
            store.delete_user(c, username)
            return user

        user = in_transaction(self.db, delete)
        self._changed(user.id)

    # -- grants -----------------------------------------------------------------------------------

    def _user_id(self, username: str) -> int:
        return in_transaction(self.db, lambda c: store.get_user(c, username), write=False).id

    def grant(self, username: str, resource_type: str, resource_id: str, permission: str) -> None:
        resource_type = parse_resource_type(resource_type)
        level = parse_permission(permission)
        resource_id = _resource_id(resource_type, resource_id)
        self._require_manager(resource_type, resource_id)
        user_id = self._user_id(username)
        in_transaction(self.db, lambda c: store.set_grant(c, user_id, resource_type, resource_id, level.name))
        self._changed(user_id)

    def revoke(self, username: str, resource_type: str, resource_id: str) -> bool:
        resource_type = parse_resource_type(resource_type)
        resource_id = _resource_id(resource_type, resource_id)
        self._require_manager(resource_type, resource_id)
        user_id = self._user_id(username)
        removed = in_transaction(
            self.db, lambda c: store.delete_grant(c, user_id, resource_type, resource_id)
        )
        self._changed(user_id)
        return removed

    def granted(self, username: str, resource_type: str, resource_id: str) -> str | None:
        """The user's own grant on a resource (not the default), or None."""
        resource_type = parse_resource_type(resource_type)
        resource_id = _resource_id(resource_type, resource_id)
        self._require_manager_or_self(username, resource_type, resource_id)
        user_id = self._user_id(username)
        return in_transaction(
            self.db, lambda c: store.permission_of(c, user_id, resource_type, resource_id), write=False
        )

    def effective(self, username: str, resource_type: str, resource_id: str) -> EffectivePermission:
        resource_type = parse_resource_type(resource_type)
        resource_id = _resource_id(resource_type, resource_id)
        self._require_manager_or_self(username, resource_type, resource_id)
        user = in_transaction(self.db, lambda c: store.get_user(c, username), write=False)
        if user.is_admin:
            return EffectivePermission(Permission.MANAGE, False)
        granted = in_transaction(
            self.db, lambda c: store.permission_of(c, user.id, resource_type, resource_id), write=False
        )
        if granted is None:
            return EffectivePermission(self.default, False)
        return EffectivePermission(Permission[granted], True)

    def _require_manager_or_self(self, username: str, resource_type: str, resource_id: str) -> None:
        caller = self._caller()
        if caller is not None and caller.username == username:
            return
        self._require_manager(resource_type, resource_id)

    def grants(self, username: str) -> tuple[UserRecord, list[GrantRecord]]:
        caller = self._caller()
        if caller is not None and not caller.is_admin and caller.username != username:
            raise PermissionDenied("Permission denied")
        user = in_transaction(self.db, lambda c: store.get_user(c, username), write=False)
        return user, in_transaction(self.db, lambda c: store.list_grants(c, user.id), write=False)

    def create_grant(self, username: str, resource_type: str, resource_id: str, permission: str) -> None:
        """MLflow 2.x's create: fails if the user already has a grant on the resource."""
        if self.granted(username, resource_type, resource_id) is not None:
            raise AlreadyExists(
                f"Permission (resource={resource_id}, user={username}) already exists. "
                "Please use update instead."
            )
        self.grant(username, resource_type, resource_id, permission)

    def existing_grant(self, username: str, resource_type: str, resource_id: str) -> tuple[int, str]:
        """MLflow 2.x's get/update/delete need an existing grant: (user id, permission)."""
        granted = self.granted(username, resource_type, resource_id)
        if granted is None:
            raise NotFound(f"Permission (resource={resource_id}, user={username}) not found")
        return self._user_id(username), granted

    # -- tokens -----------------------------------------------------------------------------------

    def create_token(self, username: str, name: str, expires_days: int | None) -> tuple[str, TokenRecord]:
        """A new token; the secret is returned here once and never stored."""
        caller = self._caller()
        if caller is not None and not caller.is_admin and caller.username != username:
            raise PermissionDenied("Permission denied")
        if expires_days is not None and not 0 < expires_days <= MAX_TOKEN_DAYS:
            raise InvalidParameter(
                f"A token's lifetime must be 1 to {MAX_TOKEN_DAYS} days (or none: never expires)."
            )
        if not name or len(name) > MAX_TOKEN_NAME:
            raise InvalidParameter(f"A token's name must be 1 to {MAX_TOKEN_NAME} characters.")
        user_id = self._user_id(username)
        secret = token_secrets.new_token()
        expires = store.now_ms() + expires_days * DAY_MS if expires_days else None
        token_id = in_transaction(
            self.db,
            lambda c: store.create_token(
                c,
                user_id,
                name,
                token_secrets.token_hash(secret),
                token_secrets.shown_prefix(secret),
                expires,
            ),
        )
        record = next(t for t in self.list_tokens(username) if t.id == token_id)
        return secret, record

    def list_tokens(self, username: str | None = None) -> list[TokenRecord]:
        caller = self._caller()
        if username is None:
            self._require_admin()
            return in_transaction(self.db, lambda c: store.list_tokens(c), write=False)
        if caller is not None and not caller.is_admin and caller.username != username:
            raise PermissionDenied("Permission denied")
        user_id = self._user_id(username)
        return in_transaction(self.db, lambda c: store.list_tokens(c, [user_id]), write=False)

    def revoke_token(self, token_id: int) -> TokenRecord:
        """Admins revoke any token; a user only their own."""
        caller = self._caller()
        if caller is not None and not caller.is_admin:
            found = in_transaction(self.db, lambda c: store.token_by_id(c, token_id), write=False)
            if found is None or found.user_id != caller.user_id:
                # The same answer whether the token is someone else's or does not exist.
                raise NotFound(f"Token {token_id} not found")
        record = in_transaction(self.db, lambda c: store.revoke_token(c, token_id))
        self._changed(record.user_id)
        return record


def _keep_an_admin(c: Connection, username: str, doing: str) -> None:
    """Refuse to leave the server without an admin: nobody could manage users or grants any more, and
    with no admin password configured the server would refuse to start. A guard against a slip of the
    hand, not a lock: two admins demoting each other at the same instant could both get through."""
    user = store.get_user(c, username)
    if user.is_admin and not store.any_admin(c, excluding=user.id):
        raise InvalidParameter(
            f"Cannot {doing} {username!r}: it is the only admin. Make another user an admin first."
        )


def _resource_id(resource_type: str, resource_id: str | int | None) -> str:
    text = "" if resource_id is None else str(resource_id).strip()
    if not text:
        raise InvalidParameter("Missing value for required parameter 'resource_id'.")
    if resource_type == EXPERIMENT and not text.isdigit():
        raise InvalidParameter(f"Invalid experiment id {text!r}.")
    return text
