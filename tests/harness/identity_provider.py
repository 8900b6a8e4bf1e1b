"""A real OpenID Connect provider process on 127.0.0.1 (PyPI oidc-provider-mock) for the sign-in tests.

Its authorization endpoint is a form that takes the subject to sign in as; each subject's claims (email,
groups…) are set beforehand through its PUT /users/<sub> API and go into the ID tokens it signs.
"""

from __future__ import annotations

import contextlib
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import requests

from harness.server import free_port, server_env

START_TIMEOUT = 30.0


class IdentityProvider:
    def __init__(self, issuer: str, proc: subprocess.Popen[bytes], log_path: Path) -> None:
        self.issuer = issuer  # http://127.0.0.1:PORT, as its discovery document names itself
        self.proc = proc
        self.log_path = log_path

    def set_user(self, sub: str, **claims: Any) -> None:
        """What the provider will say about `sub` from its next sign-in on."""
        got = requests.put(f"{self.issuer}/users/{sub}", json=claims, timeout=30)
        assert got.status_code == 204, got.text

    def authorize(self, authorization_url: str, sub: str) -> str:
        """Sign `sub` in on the provider's authorization page (its form posts back to the same URL);
        returns where the provider sends the browser: our callback, with code and state."""
        got = requests.post(authorization_url, data={"sub": sub}, allow_redirects=False, timeout=30)
        assert got.status_code in (302, 303), f"{got.status_code} {got.text[:300]}"
        return got.headers["location"]

    def log_tail(self, lines: int = 40) -> str:
        return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])


@contextlib.contextmanager
def identity_provider(workdir: Path) -> Iterator[IdentityProvider]:
    port = free_port()
    log_path = workdir / "oidc-provider.log"
    log = log_path.open("wb")
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "oidc_provider_mock",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--require-nonce",
        ],
        stdout=log,
        stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL,
        env=server_env(),
    )
    provider = IdentityProvider(f"http://127.0.0.1:{port}", proc, log_path)
    try:
        deadline = time.monotonic() + START_TIMEOUT
        while True:
            with contextlib.suppress(requests.RequestException):
                if requests.get(provider.issuer + "/.well-known/openid-configuration", timeout=2).ok:
                    break
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"the OIDC provider did not start:\n{provider.log_tail()}")
            time.sleep(0.1)
        yield provider
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        log.close()
