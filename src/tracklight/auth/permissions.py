"""Permission levels, as MLflow's auth app names them, and what each allows."""

from __future__ import annotations

from enum import IntEnum

from tracklight.errors import InvalidParameter

EXPERIMENT = "experiment"
REGISTERED_MODEL = "registered_model"
RESOURCE_TYPES = (EXPERIMENT, REGISTERED_MODEL)


class Permission(IntEnum):
    """Ordered so that a higher level includes every lower one; DENY is a veto, below everything."""

    DENY = -1
    NO_PERMISSIONS = 0
    READ = 1
    USE = 2
    EDIT = 3
    MANAGE = 4

    def allows(self, need: Permission) -> bool:
        return self >= need > Permission.NO_PERMISSIONS


def parse_permission(value: str | None, *, allow_deny: bool = True) -> Permission:
    """A permission name from the wire or the configuration; INVALID_PARAMETER_VALUE otherwise."""
    names = [p.name for p in Permission if allow_deny or p is not Permission.DENY]
    if value is None or value.upper() not in names:
        raise InvalidParameter(f"Invalid permission {value!r}; expected one of {', '.join(names)}")
    return Permission[value.upper()]


def parse_resource_type(value: str | None) -> str:
    if value not in RESOURCE_TYPES:
        raise InvalidParameter(
            f"Invalid resource_type {value!r}; expected one of {', '.join(RESOURCE_TYPES)}"
        )
    return value
