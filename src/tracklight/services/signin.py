"""Signing in to the dashboard: a password (through the login throttle) or an identity provider's word;
either way a database session starts, which any replica accepts until it expires or is ended."""

from __future__ import annotations

from dataclasses import dataclass

from tracklight.auth.authenticate import Authenticator, Refusal
from tracklight.auth.oidc import OidcClient, PendingSignIn, SignInFailed
from tracklight.auth.sessions import Sessions
from tracklight.errors import InvalidParameter
from tracklight.services.users import Users
from tracklight.store.auth import UserRecord

PASSWORD, OIDC = "password", "oidc"


@dataclass(frozen=True, slots=True)
class SignedIn:
    secret: str  # the session cookie's value
    expires_ms: int
    username: str


@dataclass(frozen=True, slots=True)
class GroupRules:
    """What the provider's groups decide: who may sign in at all, and who is an admin."""

    admin: frozenset[str] = frozenset()  # empty: the provider does not decide the admin flag
    allowed: frozenset[str] = frozenset()  # empty: everyone the provider vouches for

    def admits(self, groups: frozenset[str]) -> bool:
        return not self.allowed or bool(self.allowed & groups)

    def is_admin(self, groups: frozenset[str]) -> bool | None:
        return bool(self.admin & groups) if self.admin else None


class SignIn:
    """The dashboard's ways in, and out."""

    def __init__(
        self,
        authenticator: Authenticator,
        sessions: Sessions,
        users: Users,
        *,
        password_login: bool = True,
        oidc: OidcClient | None = None,
        rules: GroupRules = GroupRules(),
        provider_name: str = "",
    ) -> None:
        self.authenticator = authenticator
        self.sessions = sessions
        self.users = users
        self.password_login = password_login
        self.oidc = oidc
        self.rules = rules
        self.provider_name = provider_name

    def _start(self, user: UserRecord, method: str) -> SignedIn:
        secret, expires = self.sessions.start(user, method)
        return SignedIn(secret, expires, user.username)

    def with_password(self, username: str, password: str, client: str) -> SignedIn | Refusal:
        """A session for the user whose password this is; a Refusal (401, or 429 while throttled) if not."""
        if not self.password_login:
            return Refusal(401, "Sign-in with a password is turned off here.")
        user = self.authenticator.check_password(username, password, client)
        if isinstance(user, Refusal):
            return user
        return self._start(user, PASSWORD)

    def begin_oidc(self, redirect_uri: str, next_path: str) -> tuple[str, PendingSignIn]:
        if self.oidc is None:
            raise SignInFailed("Single sign-on is not configured here.", 404)
        return self.oidc.begin(redirect_uri, next_path)

    def finish_oidc(
        self, pending: PendingSignIn | None, params: dict[str, str], redirect_uri: str
    ) -> SignedIn:
        """The provider's callback: the user it vouches for, created on first sign-in, with the admin
        flag its groups give; refused when its groups are not allowed."""
        if self.oidc is None:
            raise SignInFailed("Single sign-on is not configured here.", 404)
        identity = self.oidc.finish(pending, params, redirect_uri)
        if not self.rules.admits(identity.groups):
            raise SignInFailed(
                f"{identity.username} is not in a group allowed to use Tracklight. "
                "Ask an administrator to add you to one.",
                403,
            )
        try:
            user = self.users.provision(identity.username, is_admin=self.rules.is_admin(identity.groups))
        except InvalidParameter as exc:
            raise SignInFailed(exc.message, 403) from None
        return self._start(user, OIDC)

    def sign_out(self, secret: str) -> None:
        self.sessions.end(secret)
