"""The public keys proxies sign identity assertions with: fetched when first needed, cached, bounded.

Nothing here runs per request once a key is known. A key id the cache has not seen may mean the proxy
rotated its keys, so it triggers a fetch, but never more than a few per minute however many forged
key ids arrive (each fetch is a request to someone else's server, and an attacker chooses the key id).
Call these from a worker thread: a fetch blocks for up to FETCH_TIMEOUT_S.
"""

from __future__ import annotations

import json
import logging
import re
import threading
import time
import urllib.error
import urllib.request
from collections import OrderedDict, deque
from typing import Any

import jwt
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import load_pem_public_key

FETCH_TIMEOUT_S = 5.0
MAX_BODY = 64 * 1024  # a JWK set or a PEM key is a few hundred bytes
KEYS_TTL_S = 3600.0  # a JWK set is read again after this, so retired keys drop out
PEM_TTL_S = 86_400.0  # a key id names one key for good; kept a day, then fetched again
UNKNOWN_KID_EVERY_S = 30.0  # an unknown key id re-reads a JWK set at most this often
MAX_FETCHES_PER_MINUTE = 10  # per-key-id fetches, whatever the key ids
MAX_PEM_KEYS = 64
_KEY_ID = re.compile(r"[A-Za-z0-9_-]{1,128}")  # ALB's are UUIDs: never a path of our choosing

log = logging.getLogger("tracklight.auth")


class KeyUnavailable(Exception):
    """No key with that id: unknown to the proxy, or its keys could not be read just now."""


def _fetch(url: str) -> bytes:
    request = urllib.request.Request(url, headers={"User-Agent": "tracklight"})
    try:
        with urllib.request.urlopen(request, timeout=FETCH_TIMEOUT_S) as response:  # noqa: S310 - configured URL
            body = response.read(MAX_BODY + 1)
    except urllib.error.HTTPError as exc:
        raise KeyUnavailable(f"{url} answered {exc.code}") from None
    except (OSError, ValueError) as exc:
        raise KeyUnavailable(f"{url} could not be read: {exc}") from None
    if len(body) > MAX_BODY:
        raise KeyUnavailable(f"{url} sent more than {MAX_BODY} bytes")
    return body


def _p256(key: Any, where: str) -> ec.EllipticCurvePublicKey:
    if not isinstance(key, ec.EllipticCurvePublicKey) or not isinstance(key.curve, ec.SECP256R1):
        raise KeyUnavailable(f"{where} is not a P-256 public key")
    return key


class JwkSet:
    """One JWK set URL (Google IAP's): every key at once, re-read hourly or when a new key id shows up."""

    def __init__(self, url: str) -> None:
        self.url = url
        self._keys: dict[str, ec.EllipticCurvePublicKey] = {}
        self._read_at = -float("inf")  # monotonic time of the last successful read
        self._tried_at = -float("inf")  # of the last attempt, successful or not
        self._lock = threading.Lock()

    def key(self, kid: str) -> ec.EllipticCurvePublicKey:
        found = self._keys.get(kid)
        if found is not None and time.monotonic() - self._read_at < KEYS_TTL_S:
            return found
        with self._lock:  # one fetch at a time; the others then find its result
            now = time.monotonic()
            stale = now - self._read_at >= KEYS_TTL_S
            if (stale or kid not in self._keys) and now - self._tried_at >= UNKNOWN_KID_EVERY_S:
                self._tried_at = now
                try:
                    self._keys = self._read()
                    self._read_at = now
                except KeyUnavailable as exc:
                    # Keep the keys we had: a brief outage of the key server must not sign everyone out.
                    log.warning("proxy keys not refreshed: %s", exc)
            found = self._keys.get(kid)
        if found is None:
            raise KeyUnavailable(f"no key {kid!r} in {self.url}")
        return found

    def _read(self) -> dict[str, ec.EllipticCurvePublicKey]:
        try:
            document = json.loads(_fetch(self.url))
            entries = document["keys"]
        except (ValueError, KeyError, TypeError):
            raise KeyUnavailable(f"{self.url} is not a JWK set") from None
        keys: dict[str, ec.EllipticCurvePublicKey] = {}
        for entry in entries if isinstance(entries, list) else []:
            if (
                not isinstance(entry, dict)
                or entry.get("kty") != "EC"
                or not isinstance(entry.get("kid"), str)
            ):
                continue
            try:
                keys[entry["kid"]] = _p256(jwt.PyJWK(entry, algorithm="ES256").key, f"key {entry['kid']!r}")
            except (jwt.PyJWTError, KeyUnavailable, ValueError, TypeError):
                continue  # one odd entry does not spoil the others
        if not keys:
            raise KeyUnavailable(f"{self.url} holds no P-256 keys")
        return keys


class PemKeys:
    """One PEM key per key id at TEMPLATE/<kid> (AWS ALB's), TEMPLATE naming the signer's {region}."""

    def __init__(self, template: str) -> None:
        self.template = template.rstrip("/")
        self._keys: OrderedDict[tuple[str, str], tuple[ec.EllipticCurvePublicKey, float]] = OrderedDict()
        self._missing: dict[tuple[str, str], float] = {}  # recently not found: not asked again for a while
        self._fetched: deque[float] = deque()
        self._lock = threading.Lock()

    def key(self, region: str, kid: str) -> ec.EllipticCurvePublicKey:
        if not _KEY_ID.fullmatch(kid) or not re.fullmatch(r"[a-z0-9-]{1,32}", region):
            raise KeyUnavailable(f"unusable key id {kid[:40]!r}")
        entry = self._keys.get((region, kid))
        if entry is not None and entry[1] > time.monotonic():
            return entry[0]
        with self._lock:
            now = time.monotonic()
            entry = self._keys.get((region, kid))
            if entry is not None and entry[1] > now:
                return entry[0]
            if self._missing.get((region, kid), -float("inf")) > now:
                raise KeyUnavailable(f"key {kid!r} was not found a moment ago")
            while self._fetched and self._fetched[0] <= now - 60:
                self._fetched.popleft()
            if len(self._fetched) >= MAX_FETCHES_PER_MINUTE:
                raise KeyUnavailable(f"key {kid!r} unknown, and too many unknown keys were fetched lately")
            self._fetched.append(now)
            try:
                key = self._read(region, kid)
            except KeyUnavailable:
                if len(self._missing) >= 1024:
                    self._missing.clear()
                self._missing[(region, kid)] = now + UNKNOWN_KID_EVERY_S
                raise
            self._keys[(region, kid)] = (key, now + PEM_TTL_S)
            self._keys.move_to_end((region, kid))
            while len(self._keys) > MAX_PEM_KEYS:
                self._keys.popitem(last=False)
            return key

    def _read(self, region: str, kid: str) -> ec.EllipticCurvePublicKey:
        url = f"{self.template.replace('{region}', region)}/{kid}"
        try:
            key = load_pem_public_key(_fetch(url))
        except ValueError:
            raise KeyUnavailable(f"{url} is not a PEM public key") from None
        return _p256(key, url)
