"""One webhook POST: to the addresses checked for its host (never re-resolved), redirects checked the same way."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING
from urllib.parse import urljoin, urlsplit

from tracklight.services.webhook_addresses import SCHEMES, AddressRefused, resolve

if TYPE_CHECKING:
    import urllib3

MAX_REDIRECTS = 3
MAX_BODY_BYTES = 64 * 1024  # of the receiver's answer kept for `test` and the log
_REDIRECTS = (301, 302, 303, 307, 308)


@dataclass(frozen=True, slots=True)
class Outcome:
    status_code: int | None  # the receiver's final answer; None when there was none
    body: str | None
    error: str | None  # why it failed, when it did
    retryable: bool  # a later attempt may succeed (a 5xx, 429 or 408, a timeout, a refused connection)

    @property
    def success(self) -> bool:
        return self.error is None and self.status_code is not None and 200 <= self.status_code < 300


def post(
    url: str, payload: bytes, headers: dict[str, str], *, timeout_s: float, allow_private: bool
) -> Outcome:
    """POST `payload` to `url`. The host is resolved here and every address it has is checked (unless
    private addresses are allowed); the connection goes to one of those addresses, so a DNS answer that
    changes between the check and the connection cannot send it elsewhere. A redirect is followed (the
    body posted again) only to a URL that passes the same checks."""
    # Imported at the first delivery: ~15 ms of start-up for servers that have no webhooks.
    from urllib3.exceptions import HTTPError

    for _ in range(MAX_REDIRECTS + 1):
        parts = urlsplit(url)
        if parts.scheme not in SCHEMES or not parts.hostname:
            return Outcome(None, None, f"refused to post to {url!r}: not an http(s) URL", False)
        try:
            port = parts.port or (443 if parts.scheme == "https" else 80)
            addresses = resolve(parts.hostname, port, allow_private=allow_private)
        except AddressRefused as exc:
            return Outcome(None, None, f"refused to post to {url!r}: {exc}", False)
        except ValueError as exc:  # a malformed port
            return Outcome(None, None, f"refused to post to {url!r}: {exc}", False)
        try:
            status, location, text = _post_once(parts, port, addresses, payload, headers, timeout_s)
        except (HTTPError, OSError) as exc:
            return Outcome(None, None, f"{type(exc).__name__}: {exc}", True)
        if status in _REDIRECTS and location:
            url = urljoin(url, location)
            continue
        if 200 <= status < 300:
            return Outcome(status, text, None, False)
        retryable = status >= 500 or status in (408, 429)
        return Outcome(status, text, f"the receiver answered {status}", retryable)
    return Outcome(None, None, f"more than {MAX_REDIRECTS} redirects", False)


def _post_once(
    parts,  # noqa: ANN001 - urllib.parse.SplitResult
    port: int,
    addresses: list[str],
    payload: bytes,
    headers: dict[str, str],
    timeout_s: float,
) -> tuple[int, str | None, str]:
    host = parts.hostname
    host_header = f"[{host}]" if ":" in host else host
    if parts.port is not None:
        host_header += f":{parts.port}"
    import urllib3

    target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    timeout = urllib3.Timeout(connect=timeout_s, read=timeout_s)
    last_error: Exception | None = None
    for address in addresses:
        if parts.scheme == "https":
            # Connected to the checked address, the certificate is still verified for the host's name.
            pool: urllib3.HTTPConnectionPool = urllib3.HTTPSConnectionPool(
                address,
                port,
                timeout=timeout,
                retries=False,
                server_hostname=host,
                assert_hostname=host,
                cert_reqs="CERT_REQUIRED",
            )
        else:
            pool = urllib3.HTTPConnectionPool(address, port, timeout=timeout, retries=False)
        try:
            response = pool.urlopen(
                "POST",
                target,
                body=payload,
                headers={**headers, "Host": host_header},
                redirect=False,
                assert_same_host=False,
                preload_content=False,
            )
        except urllib3.exceptions.NewConnectionError as exc:
            last_error = exc  # try the host's next address
            pool.close()
            continue
        try:
            text = response.read(MAX_BODY_BYTES).decode("utf-8", "replace")
            return response.status, response.headers.get("Location"), text
        finally:
            response.release_conn()
            pool.close()
    assert last_error is not None
    raise last_error
