"""Which Host headers the server answers: a guard against DNS rebinding on a server with no auth."""

from __future__ import annotations

import ipaddress

# Probes from load balancers and orchestrators use whatever Host they like; these routes say nothing.
PROBE_PATHS = ("/health", "/ready")
_VERDICTS_LIMIT = 1024


def unguarded_paths(static_prefix: str) -> frozenset[str]:
    """The exact paths the Host check lets through: the probes under the static prefix, nothing else."""
    return frozenset(static_prefix + path for path in PROBE_PATHS)


class HostGuard:
    """Accepts configured names (exact, "*.domain", or "*"); by default localhost and private addresses."""

    def __init__(self, allowed: tuple[str, ...], bind_host: str) -> None:
        self.allow_all = "*" in allowed
        self.exact = {h.lower() for h in allowed if not h.startswith("*.")}
        self.suffixes = tuple(h[1:].lower() for h in allowed if h.startswith("*."))
        self.default = not allowed
        if self.default:
            self.exact |= {"localhost", bind_host.lower()}
        # Verdicts by Host header as sent: clients send the same one with every request, and an IP
        # address is otherwise parsed anew each time. Bounded, as anyone can send any header.
        self._verdicts: dict[str, bool] = {}

    def allows(self, host_header: str | None) -> bool:
        if self.allow_all:
            return True
        if not host_header:
            return False
        verdict = self._verdicts.get(host_header)
        if verdict is None:
            verdict = self._allows(host_header)
            if len(self._verdicts) >= _VERDICTS_LIMIT:
                self._verdicts.clear()
            self._verdicts[host_header] = verdict
        return verdict

    def _allows(self, host_header: str) -> bool:
        host = _strip_port(host_header.strip().lower())
        if host in self.exact or (self.suffixes and host.endswith(self.suffixes)):
            return True
        if self.default:
            try:
                address = ipaddress.ip_address(host.strip("[]"))
            except ValueError:
                return False
            return address.is_private or address.is_loopback
        return False


def _strip_port(host: str) -> str:
    if host.startswith("["):  # [::1]:5000
        return host.split("]", 1)[0] + "]"
    return host.rsplit(":", 1)[0] if host.count(":") == 1 else host
