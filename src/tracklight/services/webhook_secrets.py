"""Webhook secrets at rest: encrypted with Fernet under the keys of TRACKLIGHT_WEBHOOK_SECRET_KEY."""

from __future__ import annotations

from cryptography.fernet import Fernet, InvalidToken, MultiFernet

from tracklight.errors import InvalidParameter


class SecretKeyMissing(InvalidParameter):
    """A secret was given but the server has no key to store it with."""


class SecretUnreadable(Exception):
    """A stored secret that none of the configured keys decrypts (the key was changed or removed)."""


class WebhookSecrets:
    """Encrypts with the first key and decrypts with any, so keys can be rotated without losing secrets."""

    def __init__(self, keys: tuple[str, ...]) -> None:
        self._cipher = MultiFernet([Fernet(key) for key in keys]) if keys else None

    def seal(self, secret: str) -> str:
        if self._cipher is None:
            # MLflow would encrypt under a key made up at start, which no other replica shares and no
            # restart recovers; refusing says what to do instead.
            raise SecretKeyMissing(
                "This server cannot store webhook secrets: set TRACKLIGHT_WEBHOOK_SECRET_KEY to a Fernet key "
                "(see the README's Webhooks section), or create the webhook without a secret."
            )
        return self._cipher.encrypt(secret.encode()).decode()

    def open(self, sealed: str) -> str:
        if self._cipher is None:
            raise SecretUnreadable("the webhook has a secret but TRACKLIGHT_WEBHOOK_SECRET_KEY is not set")
        try:
            return self._cipher.decrypt(sealed.encode()).decode()
        except InvalidToken:
            raise SecretUnreadable(
                "the webhook's secret was encrypted with a key TRACKLIGHT_WEBHOOK_SECRET_KEY no longer holds"
            ) from None
