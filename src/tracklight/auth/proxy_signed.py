"""Google IAP's and AWS ALB's signed identity assertions (ES256 JWTs), verified against their published keys.

Imported only when the server runs behind one of those proxies: PyJWT and the parts of cryptography it
loads are ~8 MB of memory and a noticeable part of start-up.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import jwt

from tracklight.auth.proxy_assertions import Rejected
from tracklight.auth.proxy_keys import JwkSet, KeyUnavailable, PemKeys

IAP_HEADER = "x-goog-iap-jwt-assertion"
ALB_HEADER = "x-amzn-oidc-data"
IAP_ISSUER = "https://cloud.google.com/iap"
LEEWAY_S = 30  # clock skew between the proxy and us, on exp and iat


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
