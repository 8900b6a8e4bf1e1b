"""What an authenticating proxy says about the caller: Google IAP's or AWS ALB's signed JWT, verified here,
or a plain header, believed only from the proxies' own addresses."""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable
from typing import Any, Protocol

import jwt

from tracklight.auth.proxy_keys import JwkSet, KeyUnavailable, PemKeys

IAP_HEADER = "x-goog-iap-jwt-assertion"
ALB_HEADER = "x-amzn-oidc-data"
IAP_ISSUER = "https://cloud.google.com/iap"
LEEWAY_S = 30  # clock skew between the proxy and us, on exp and iat
NO_EXPIRY = float("inf")


class Rejected(Exception):
    """An assertion that does not hold; the message says why, and never carries the token."""


class Assertions(Protocol):
    header: str  # lower-case, as ASGI gives header names

    def username(self, value: str) -> tuple[str, float]:
        """The user the header's value vouches for, and until when (epoch seconds); or raise Rejected."""
        ...


def _header(token: str) -> dict[str, Any]:
    try:
        header = jwt.get_unverified_header(token)
    except jwt.PyJWTError as exc:
        raise Rejected(f"malformed token: {exc}") from None
    if header.get("alg") != "ES256":
        raise Rejected(f"algorithm {str(header.get('alg'))[:20]!r}, not ES256")
    if not isinstance(header.get("kid"), str):
        raise Rejected("no key id")
    return header


def _claims(token: str, key: Any, **checks: Any) -> dict[str, Any]:
    try:
        return jwt.decode(token, key, algorithms=["ES256"], leeway=LEEWAY_S, **checks)
    except jwt.PyJWTError as exc:  # PyJWT's messages name the failed check, never the token
        raise Rejected(str(exc) or type(exc).__name__) from None


def _user(claims: dict[str, Any], claim: str) -> str:
    value = claims.get(claim)
    if not isinstance(value, str) or not value.strip():
        raise Rejected(f"no {claim!r} claim")
    return value.strip()


class IapAssertions:
    """x-goog-iap-jwt-assertion: ES256 over IAP's JWK set, issuer IAP, one of our audiences; the user is
    the `email` claim (the plain x-goog-authenticated-user-* headers are not read: anyone may send those
    wherever IAP can be bypassed, while the JWT is signed)."""

    header = IAP_HEADER

    def __init__(self, audiences: Iterable[str], keys: JwkSet) -> None:
        self.audiences = list(audiences)
        self.keys = keys

    def username(self, value: str) -> tuple[str, float]:
        kid = _header(value)["kid"]
        try:
            key = self.keys.key(kid)
        except KeyUnavailable as exc:
            raise Rejected(str(exc)) from None
        claims = _claims(
            value,
            key,
            audience=self.audiences,
            issuer=IAP_ISSUER,
            options={"require": ["exp", "iat", "aud", "iss"]},
        )
        return _user(claims, "email"), float(claims["exp"])


def alb_region(arn: str) -> str:
    """arn:aws:elasticloadbalancing:REGION:…"""
    return arn.split(":")[3]


class AlbAssertions:
    """x-amzn-oidc-data: ES256, signed by one of our load balancers (the header's `signer`) with the key
    its region publishes under the token's key id; the user is a configured claim.

    ALB pads each base64url part with '=' and signs the padded text, which RFC 7515 forbids; PyJWT
    (from 2.15) decodes the padded parts and checks the signature over the text as sent, so the token is
    given to it untouched (stripping the padding would break the signature).
    """

    header = ALB_HEADER

    def __init__(self, signers: Iterable[str], claim: str, keys: PemKeys) -> None:
        self.signers = frozenset(signers)
        self.claim = claim
        self.keys = keys

    def username(self, value: str) -> tuple[str, float]:
        header = _header(value)
        signer = header.get("signer")
        if signer not in self.signers:  # checked before any key is fetched
            raise Rejected(f"signed by {str(signer)[:200]!r}, not a configured load balancer")
        try:
            key = self.keys.key(alb_region(signer), header["kid"])
        except KeyUnavailable as exc:
            raise Rejected(str(exc)) from None
        # No audience: the token is bound to its load balancer by the signer checked above.
        claims = _claims(value, key, options={"require": ["exp"], "verify_aud": False})
        return _user(claims, self.claim), float(claims["exp"])


class TrustedHeader:
    """A plain header naming the user, taken as is: the proxies that set it are the only check, so the
    caller (ProxyIdentity) asks `trusts(peer)` first."""

    def __init__(self, header: str, trusted: Iterable[str]) -> None:
        self.header = header.lower()
        self.networks = tuple(ipaddress.ip_network(entry, strict=False) for entry in trusted)

    def trusts(self, peer: str) -> bool:
        try:
            address = ipaddress.ip_address(peer)
        except ValueError:
            return False  # a Unix socket or no peer at all
        if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
            address = address.ipv4_mapped
        return any(address in network for network in self.networks)

    def username(self, value: str) -> tuple[str, float]:
        if not value.strip():
            raise Rejected(f"empty {self.header} header")
        return value.strip(), NO_EXPIRY
