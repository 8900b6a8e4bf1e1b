"""Password hashing with argon2id; verification is deliberately slow, so its verdict is cached elsewhere."""

from __future__ import annotations

from functools import cache

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

from tracklight.errors import InvalidParameter

# OWASP's argon2id recommendation (19 MiB, 2 passes, 1 lane): tens of milliseconds per check, so a
# guessing attacker pays that per try while a login pays it once (see auth.authenticate's verdicts).
_HASHER = PasswordHasher(time_cost=2, memory_cost=19 * 1024, parallelism=1)
MIN_LENGTH = 8
# The password hash of a user who signs in only through single sign-on or a proxy: no password matches it.
NO_PASSWORD = "!sso"


@cache
def _stand_in() -> str:
    """Verified against when the user does not exist, so an unknown name costs as long as a wrong password."""
    return _HASHER.hash("tracklight: no such user")


def hash_password(password: str) -> str:
    check_password(password)
    return _HASHER.hash(password)


def check_password(password: str | None) -> None:
    if not password:
        raise InvalidParameter("The password must not be empty.")
    if len(password) < MIN_LENGTH:
        raise InvalidParameter(f"The password must have at least {MIN_LENGTH} characters.")


def verify_password(stored_hash: str | None, password: str) -> bool:
    """True if `password` matches; takes the same time when there is no such user (stored_hash None) or
    the user has no password (NO_PASSWORD)."""
    usable = bool(stored_hash) and stored_hash != NO_PASSWORD
    try:
        _HASHER.verify(stored_hash if usable else _stand_in(), password)  # type: ignore[arg-type]
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False
    return usable
