"""Where webhooks may deliver: address literals of every non-public kind are refused unless allowed (no DNS
needed for these), public ones pass, and malformed URLs get MLflow's messages."""

from __future__ import annotations

import pytest

from tracklight.errors import InvalidParameter
from tracklight.services.webhook_addresses import AddressRefused, check_url, resolve


@pytest.mark.parametrize(
    "host",
    [
        "127.0.0.1",
        "127.8.9.10",
        "0.0.0.0",
        "10.0.0.1",
        "172.16.5.4",
        "192.168.1.1",
        "169.254.169.254",  # cloud metadata
        "100.64.0.1",  # shared address space
        "192.0.2.1",  # documentation
        "224.0.0.1",  # multicast
        "::1",
        "fe80::1",
        "fc00::1",
        "::ffff:127.0.0.1",  # IPv4-mapped loopback
        "::ffff:169.254.169.254",
    ],
)
def test_non_public_addresses_are_refused(host: str) -> None:
    with pytest.raises(AddressRefused, match="not a public address"):
        resolve(host, 80, allow_private=False)
    assert resolve(host, 80, allow_private=True)  # allowed by the setting


@pytest.mark.parametrize("host", ["8.8.8.8", "1.1.1.1", "2001:4860:4860::8888"])
def test_public_addresses_pass(host: str) -> None:
    assert resolve(host, 443, allow_private=False) == [host]


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("   ", "Webhook URL cannot be empty or just whitespace"),
        ("ftp://example.com", "Invalid webhook URL scheme"),
        ("http://[invalid", "Invalid webhook URL"),
        ("https://", "Webhook URL must include a hostname"),
        ("http://127.0.0.1:8080/hook", "not a public address"),
        ("http://[::1]/hook", "not a public address"),
        ("https://8.8.8.8:99999/hook", "Invalid webhook URL"),
    ],
)
def test_malformed_and_private_urls_are_invalid_parameters(url: str, message: str) -> None:
    with pytest.raises(InvalidParameter, match=message.replace("[", r"\[")):
        check_url(url, allow_private=False)


def test_a_public_literal_needs_no_resolution() -> None:
    assert check_url("https://8.8.8.8/hook", allow_private=False) == "https://8.8.8.8/hook"
    assert check_url("http://127.0.0.1:9/hook", allow_private=True) == "http://127.0.0.1:9/hook"
