"""Password verification: a user without a password (signed in through SSO or a proxy) matches nothing."""

from __future__ import annotations

import pytest

from tracklight.auth.passwords import NO_PASSWORD, hash_password, verify_password
from tracklight.errors import InvalidParameter


def test_a_hash_verifies_only_its_password() -> None:
    stored = hash_password("correct horse")
    assert verify_password(stored, "correct horse")
    assert not verify_password(stored, "correct horsE")


@pytest.mark.parametrize("stored", [None, NO_PASSWORD, ""])
def test_no_user_or_no_password_matches_nothing(stored: str | None) -> None:
    # Not even the stand-in's own text, which is what an absent hash is checked against.
    for attempt in ("tracklight: no such user", NO_PASSWORD, ""):
        assert not verify_password(stored, attempt)


def test_short_passwords_are_refused() -> None:
    with pytest.raises(InvalidParameter):
        hash_password("short")
