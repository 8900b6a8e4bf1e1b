"""Handlers for MLflow's auth API: users (2.x paths), per-user grants (3.x), and 2.22's per-resource grants."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from tracklight.auth.permissions import EXPERIMENT, REGISTERED_MODEL, Permission
from tracklight.errors import InvalidParameter
from tracklight.http.request import Fields
from tracklight.services.users import Users
from tracklight.store.auth import GrantRecord, UserRecord

Json = dict[str, Any]


def _user(user: UserRecord, grants: list[GrantRecord] | None = None) -> Json:
    # 2.22's client reads the two permission lists; 3.x's ignores them.
    grants = grants or []
    return {
        "id": user.id,
        "username": user.username,
        "is_admin": user.is_admin,
        "experiment_permissions": [_experiment_grant(g) for g in grants if g.resource_type == EXPERIMENT],
        "registered_model_permissions": [
            _model_grant(g) for g in grants if g.resource_type == REGISTERED_MODEL
        ],
    }


def _experiment_grant(g: GrantRecord) -> Json:
    return {"experiment_id": g.resource_id, "user_id": g.user_id, "permission": _legacy(g.permission)}


def _model_grant(g: GrantRecord) -> Json:
    return {"name": g.resource_id, "user_id": g.user_id, "permission": _legacy(g.permission)}


def _legacy(permission: str) -> str:
    """2.x knows no DENY; its NO_PERMISSIONS means the same."""
    return "NO_PERMISSIONS" if permission == "DENY" else permission


def _bool(f: Fields, name: str) -> bool:
    value = f.raw(name)
    if isinstance(value, bool):
        return value
    parsed = f.bool(name)
    if parsed is None:
        raise InvalidParameter(f"Missing value for required parameter '{name}'.")
    return parsed


# -- users ------------------------------------------------------------------------------------------


def create_user(f: Fields, users: Users) -> Json:
    user = users.create_user(f.required_str("username"), f.required_str("password"))
    return {"user": _user(user)}


def get_user(f: Fields, users: Users) -> Json:
    user, grants = users.grants(f.required_str("username"))
    return {"user": _user(user, grants)}


def current_user(f: Fields, users: Users) -> Json:
    user = users.current_user()
    return {
        "user": {"id": user.id, "username": user.username, "is_admin": user.is_admin},
        "is_basic_auth": True,
    }


def list_users(f: Fields, users: Users) -> Json:
    return {
        "users": [
            {"id": u.id, "username": u.username, "is_admin": u.is_admin, "roles": []}
            for u in users.list_users()
        ]
    }


def update_password(f: Fields, users: Users) -> Json:
    users.update_password(f.required_str("username"), f.required_str("password"), f.str("current_password"))
    return {}


def update_admin(f: Fields, users: Users) -> Json:
    users.update_admin(f.required_str("username"), _bool(f, "is_admin"))
    return {}


def delete_user(f: Fields, users: Users) -> Json:
    users.delete_user(f.required_str("username"))
    return {}


# -- per-user grants (3.x) ----------------------------------------------------------------------------


def _resource_id(f: Fields) -> str:
    value = f.raw("resource_id")
    if value is None or value == "":
        raise InvalidParameter("Missing value for required parameter 'resource_id'.")
    return str(value)


def grant(f: Fields, users: Users) -> Json:
    users.grant(
        f.required_str("username"),
        f.required_str("resource_type"),
        _resource_id(f),
        f.required_str("permission"),
    )
    return {}


def revoke(f: Fields, users: Users) -> Json:
    users.revoke(f.required_str("username"), f.required_str("resource_type"), _resource_id(f))
    return {}


def get_permission(f: Fields, users: Users) -> Json:
    found = users.effective(f.required_str("username"), f.required_str("resource_type"), _resource_id(f))
    return {"allowed": found.permission.allows(Permission.USE), "permission": found.permission.name}


def _rows(is_admin: bool, grants: list[GrantRecord]) -> Json:
    return {
        "is_admin": is_admin,
        "permissions": [
            {
                "role_id": 0,
                "role_name": f"__user_{g.user_id}__",
                "workspace": "default",
                "resource_type": g.resource_type,
                "resource_pattern": g.resource_id,
                "permission": g.permission,
            }
            for g in grants
        ],
    }


def list_permissions(f: Fields, users: Users) -> Json:
    user, grants = users.grants(f.required_str("username"))
    return _rows(user.is_admin, grants)


def current_permissions(f: Fields, users: Users) -> Json:
    user, grants = users.grants(users.current_user().username)
    return _rows(user.is_admin, grants)


# -- per-resource grants (2.22) ---------------------------------------------------------------------------


def _legacy_permission(f: Fields) -> str:
    permission = f.required_str("permission").upper()
    if permission not in ("READ", "EDIT", "MANAGE", "NO_PERMISSIONS"):
        raise InvalidParameter(
            f"Invalid permission '{permission}'; expected one of READ, EDIT, MANAGE, NO_PERMISSIONS"
        )
    # A 2.x NO_PERMISSIONS grant is a veto over the default permission: DENY here.
    return "DENY" if permission == "NO_PERMISSIONS" else permission


@dataclass(frozen=True, slots=True)
class LegacyGrants:
    """The 2.x client's per-resource permission endpoints for one resource type: the field that names the
    resource, and the key of the answer's object."""

    resource_type: str
    id_field: str
    answer_key: str

    def _grant(self, f: Fields) -> tuple[str, str]:
        return f.required_str("username"), f.required_str(self.id_field)

    def _answer(self, f: Fields, users: Users) -> Json:
        username, resource_id = self._grant(f)
        user_id, permission = users.existing_grant(username, self.resource_type, resource_id)
        return {
            self.answer_key: {
                self.id_field: resource_id,
                "user_id": user_id,
                "permission": _legacy(permission),
            }
        }

    def create(self, f: Fields, users: Users) -> Json:
        username, resource_id = self._grant(f)
        users.create_grant(username, self.resource_type, resource_id, _legacy_permission(f))
        return self._answer(f, users)

    def get(self, f: Fields, users: Users) -> Json:
        return self._answer(f, users)

    def update(self, f: Fields, users: Users) -> Json:
        username, resource_id = self._grant(f)
        users.existing_grant(username, self.resource_type, resource_id)
        users.grant(username, self.resource_type, resource_id, _legacy_permission(f))
        return {}

    def delete(self, f: Fields, users: Users) -> Json:
        username, resource_id = self._grant(f)
        users.existing_grant(username, self.resource_type, resource_id)
        users.revoke(username, self.resource_type, resource_id)
        return {}

    def routes(self, prefix: str) -> list[tuple[tuple[str, ...], str, Any, str]]:
        return [
            (("POST",), f"{prefix}/permissions/create", self.create, "users"),
            (("GET",), f"{prefix}/permissions/get", self.get, "users"),
            (("PATCH",), f"{prefix}/permissions/update", self.update, "users"),
            (("DELETE",), f"{prefix}/permissions/delete", self.delete, "users"),
        ]


_EXPERIMENT_GRANTS = LegacyGrants(EXPERIMENT, "experiment_id", "experiment_permission")
_MODEL_GRANTS = LegacyGrants(REGISTERED_MODEL, "name", "registered_model_permission")


AUTH_API_2_0: list[tuple[tuple[str, ...], str, Any, str]] = [
    (("POST",), "users/create", create_user, "users"),
    (("GET",), "users/get", get_user, "users"),
    (("GET",), "users/current", current_user, "users"),
    (("GET",), "users/list", list_users, "users"),
    (("PATCH",), "users/update-password", update_password, "users"),
    (("PATCH",), "users/update-admin", update_admin, "users"),
    (("DELETE",), "users/delete", delete_user, "users"),
    *_EXPERIMENT_GRANTS.routes("experiments"),
    *_MODEL_GRANTS.routes("registered-models"),
]

AUTH_API_3_0: list[tuple[tuple[str, ...], str, Any, str]] = [
    (("POST",), "users/permissions/grant", grant, "users"),
    (("POST",), "users/permissions/revoke", revoke, "users"),
    (("GET",), "users/permissions/get", get_permission, "users"),
    (("GET",), "users/permissions/list", list_permissions, "users"),
    (("GET",), "users/current/permissions", current_permissions, "users"),
]
