"""What an authenticating proxy says about the caller: a plain header, believed only from the proxies' own
addresses, or a signed JWT (Google IAP's or AWS ALB's: see proxy_signed)."""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable
from typing import Protocol

NO_EXPIRY = float("inf")


class Rejected(Exception):
    """An assertion that does not hold; the message says why, and never carries the token."""


class Assertions(Protocol):
    header: str  # lower-case, as ASGI gives header names

    def username(self, value: str) -> tuple[str, float]:
        """The user the header's value vouches for, and until when (epoch seconds); or raise Rejected."""
        ...


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
