"""Secrets at rest (webhook signing secrets, AI-gateway credentials): Fernet under TRACKLIGHT_WEBHOOK_SECRET_KEY."""

from __future__ import annotations

from typing import Any

from tracklight.errors import InvalidParameter

KEY_SETTING = "TRACKLIGHT_WEBHOOK_SECRET_KEY"


class SecretKeyMissing(InvalidParameter):
    """A secret was given but the server has no key to store it with."""


class SecretUnreadable(Exception):
    """A stored secret that none of the configured keys decrypts (the key was changed or removed)."""


class SealedSecrets:
    """Encrypts with the first key and decrypts with any, so keys can be rotated without losing secrets.
    `kind` names what is sealed ("webhook", "AI gateway") in the messages."""

    def __init__(self, keys: tuple[str, ...], kind: str = "webhook") -> None:
        self._cipher: Any = None
        if keys:
            # Only with keys: cryptography's Fernet is ~7 MB and ~12 ms of start-up for a server without.
            from cryptography.fernet import Fernet, MultiFernet

            self._cipher = MultiFernet([Fernet(key) for key in keys])
        self.kind = kind

    @property
    def available(self) -> bool:
        return self._cipher is not None

    def seal(self, secret: str) -> str:
        if self._cipher is None:
            # MLflow would encrypt under a key made up at start, which no other replica shares and no
            # restart recovers; refusing says what to do instead.
            section, way_out = ("Webhooks", ", or create the webhook without a secret")
            if self.kind != "webhook":
                section, way_out = ("AI gateway", "")
            raise SecretKeyMissing(
                f"This server cannot store {self.kind} secrets: set {KEY_SETTING} to a Fernet key "
                f"(see the README's {section} section){way_out}."
            )
        return self._cipher.encrypt(secret.encode()).decode()

    def open(self, sealed: str) -> str:
        if self._cipher is None:
            raise SecretUnreadable(f"the {self.kind} has a secret but {KEY_SETTING} is not set")
        from cryptography.fernet import InvalidToken

        try:
            return self._cipher.decrypt(sealed.encode()).decode()
        except InvalidToken:
            raise SecretUnreadable(
                f"the {self.kind}'s secret was encrypted with a key {KEY_SETTING} no longer holds"
            ) from None
