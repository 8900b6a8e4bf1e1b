"""Where a webhook may send: its URL's form, and the addresses its host resolves to (no SSRF by default)."""

from __future__ import annotations

import ipaddress
import socket
from urllib.parse import urlsplit

from tracklight.errors import InvalidParameter

SCHEMES = ("http", "https")
MAX_URL_LENGTH = 500  # the column's width, as in MLflow's schema


class AddressRefused(Exception):
    """The host resolves to an address deliveries may not go to, or does not resolve at all."""


def check_url(url: object, *, allow_private: bool) -> str:
    """The URL if a webhook may have it; INVALID_PARAMETER_VALUE (in MLflow's words where its client's
    users match them) if not. With private addresses refused, its host must resolve to public ones only."""
    if not isinstance(url, str):
        raise InvalidParameter(f"Webhook URL must be a string, got {type(url).__name__!r}")
    if not url.strip():
        raise InvalidParameter(f"Webhook URL cannot be empty or just whitespace: {url!r}")
    if len(url) > MAX_URL_LENGTH:
        raise InvalidParameter(f"Webhook URL exceeds the maximum length of {MAX_URL_LENGTH} characters.")
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        raise InvalidParameter(f"Invalid webhook URL {url!r}: {exc}") from None
    if parts.scheme not in SCHEMES:
        raise InvalidParameter(
            f"Invalid webhook URL scheme: {parts.scheme!r}. Allowed schemes are: {', '.join(SCHEMES)}."
        )
    if not parts.hostname:
        raise InvalidParameter(f"Webhook URL must include a hostname: {url!r}")
    if not allow_private:
        try:
            resolve(parts.hostname, port or (443 if parts.scheme == "https" else 80), allow_private=False)
        except AddressRefused as exc:
            raise InvalidParameter(f"Invalid webhook URL {url!r}: {exc}") from None
    return url


def resolve(host: str, port: int, *, allow_private: bool) -> list[str]:
    """Every address `host` resolves to, to connect to in order; AddressRefused if any of them is not
    public (loopback, private, link-local, shared, reserved...) while private addresses are refused.
    Every address is checked, since the connection may fall through to any of them."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError) as exc:
        raise AddressRefused(f"cannot resolve host {host!r}: {exc}") from None
    addresses: list[str] = []
    for info in infos:
        text = str(info[4][0]).split("%", 1)[0]  # an IPv6 zone names the interface, not the address
        if not allow_private:
            address = ipaddress.ip_address(text)
            if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
                address = address.ipv4_mapped
            if not address.is_global or address.is_multicast:
                raise AddressRefused(
                    f"host {host!r} resolves to {address}, which is not a public address "
                    "(set TRACKLIGHT_WEBHOOK_ALLOW_PRIVATE_ADDRESSES=true to allow it)"
                )
        if text not in addresses:
            addresses.append(text)
    if not addresses:
        raise AddressRefused(f"host {host!r} resolves to no address")
    return addresses
