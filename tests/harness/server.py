"""Run `tracklight server` as a real subprocess: free port, db upgrade, health wait, log capture, stop/kill/restart."""

from __future__ import annotations

import collections
import contextlib
import os
import random
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import ClassVar

REPO_ROOT = Path(__file__).resolve().parents[2]

# Environment variables the harness strips from a server's environment unless passed explicitly, so that a
# developer's shell cannot change what the tests start.
_STRIP_PREFIXES = ("TRACKLIGHT_", "MLFLOW_")


class ServerStartError(RuntimeError):
    """The server did not become healthy; the message carries the tail of its log."""


def tracklight_bin() -> str:
    """The tracklight executable: $TRACKLIGHT_BIN, else .venv/bin/tracklight in the repository."""
    return os.environ.get("TRACKLIGHT_BIN") or str(REPO_ROOT / ".venv" / "bin" / "tracklight")


def reference_mode() -> bool:
    """TRACKLIGHT_TEST_SERVER=mlflow runs the suite against a stock `mlflow server` (to validate the tests)."""
    return os.environ.get("TRACKLIGHT_TEST_SERVER", "").strip().lower() == "mlflow"


def _reference_bin() -> str:
    return os.environ.get("TRACKLIGHT_TEST_MLFLOW_BIN") or str(REPO_ROOT / ".venv" / "bin" / "mlflow")


# Ports come from a band below the kernel's ephemeral range (32768 and up on Linux), one band per pytest-xdist
# worker (six bands; more workers share them): a port found free here cannot then be taken by another
# worker's server, nor by an outgoing connection's source port, in the moment before our server binds it.
# A port handed out recently is not handed out again, in case its server has not bound it yet.
_BANDS, _BAND_WIDTH = 6, 2000
_recent: collections.deque[int] = collections.deque(maxlen=500)


def _port_band() -> range:
    worker = os.environ.get("PYTEST_XDIST_WORKER", "")
    index = int(worker[2:]) + 1 if worker.startswith("gw") and worker[2:].isdigit() else 0
    start = 20000 + (index % _BANDS) * _BAND_WIDTH
    return range(start, start + _BAND_WIDTH)


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port in this worker's band that is free now and was not handed out recently."""
    band = _port_band()
    for _ in range(1000):
        port = random.choice(band)
        if port in _recent:
            continue
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
            try:
                sock.bind((host, port))
            except OSError:
                continue
        _recent.append(port)
        return port
    raise RuntimeError(f"could not find a free port in {band.start}-{band.stop - 1}")


def server_env(extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """The environment for a server or CLI subprocess: ours without TRACKLIGHT_*/MLFLOW_*, plus `extra`."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(_STRIP_PREFIXES)}
    env["PYTHONUNBUFFERED"] = "1"
    if extra:
        env.update(extra)
    return env


def run_cli(
    args: Sequence[str],
    *,
    timeout: float = 180.0,
    env: Mapping[str, str] | None = None,
    cwd: str | os.PathLike[str] | None = None,
) -> subprocess.CompletedProcess[str]:
    """Run `tracklight ARGS...` to completion and return the result (stdout and stderr as text)."""
    return subprocess.run(
        [tracklight_bin(), *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        env=server_env(env),
        cwd=cwd,
        stdin=subprocess.DEVNULL,
        check=False,
    )


def db_upgrade(uri: str, *, timeout: float = 180.0) -> subprocess.CompletedProcess[str]:
    """Run `tracklight db upgrade URI`; raise with its output if it fails."""
    if reference_mode():  # a stock mlflow server creates and migrates its schema itself
        return subprocess.CompletedProcess(["mlflow"], 0, "", "")
    result = run_cli(["db", "upgrade", uri], timeout=timeout)
    if result.returncode != 0:
        raise RuntimeError(
            f"`tracklight db upgrade {uri}` exited {result.returncode}\n"
            f"--- stdout ---\n{result.stdout[-4000:]}\n--- stderr ---\n{result.stderr[-4000:]}"
        )
    return result


def http_get(url: str, timeout: float = 2.0) -> tuple[int, bytes]:
    """A GET with the standard library (the harness must not depend on the client under test)."""
    try:
        with urllib.request.urlopen(url, timeout=timeout) as resp:  # noqa: S310 - loopback URL we built
            return resp.status, resp.read()
    except urllib.error.HTTPError as err:
        return err.code, err.read()


class ServerProcess:
    """One server process on one backend store; several may share a database (replicas)."""

    started: ClassVar[list[ServerProcess]] = []  # every process started in this session, for failure logs

    def __init__(
        self,
        backend_store_uri: str,
        artifacts_dir: str | os.PathLike[str],
        log_path: str | os.PathLike[str],
        *,
        host: str = "127.0.0.1",
        port: int | None = None,
        static_prefix: str = "",
        workers: int | None = None,
        extra_args: Sequence[str] = (),
        env: Mapping[str, str] | None = None,
        cwd: str | os.PathLike[str] | None = None,
        name: str = "server",
        argv: Sequence[str] | None = None,
    ) -> None:
        """`argv`, if given, replaces every flag: the process runs `tracklight ARGV...` exactly (host, port and
        static_prefix then only tell the harness where to look for /health)."""
        self.backend_store_uri = str(backend_store_uri)
        self.artifacts_dir = Path(artifacts_dir)
        self.log_path = Path(log_path)
        self.host = host
        self.port = port if port is not None else free_port(host)
        self.static_prefix = static_prefix.rstrip("/")
        self.workers = workers
        self.extra_args = list(extra_args)
        self.env = dict(env or {})
        self.cwd = cwd
        self.name = name
        self.argv = list(argv) if argv is not None else None
        self.proc: subprocess.Popen[bytes] | None = None
        self.starts = 0

    # -- addresses -------------------------------------------------------------------------------------
    @property
    def base_url(self) -> str:
        """Scheme, host and port, without the static prefix."""
        return f"http://{self.host}:{self.port}"

    @property
    def url(self) -> str:
        """The tracking URI: base URL plus static prefix."""
        return f"{self.base_url}{self.static_prefix}"

    def api(self, path: str, version: str = "2.0") -> str:
        """URL of an /api/<version>/mlflow/<path> endpoint."""
        return f"{self.url}/api/{version}/mlflow/{path.lstrip('/')}"

    # -- lifecycle -------------------------------------------------------------------------------------
    def command(self) -> list[str]:
        if self.argv is not None:
            return [tracklight_bin(), *self.argv]
        if reference_mode():
            cmd = [_reference_bin(), "server", "--workers", str(self.workers or 1)]
        else:
            cmd = [tracklight_bin(), "server"]
            if self.workers is not None:
                cmd += ["--workers", str(self.workers)]
        uri = self.backend_store_uri
        if reference_mode() and uri.startswith("postgresql://"):
            uri = (
                "postgresql+psycopg2://" + uri[len("postgresql://") :]
            )  # SQLAlchemy 2.1 defaults to psycopg 3
        cmd += [
            "--backend-store-uri",
            uri,
            "--artifacts-destination",
            str(self.artifacts_dir),
            "--host",
            self.host,
            "--port",
            str(self.port),
        ]
        if self.static_prefix:
            cmd += ["--static-prefix", self.static_prefix]
        return cmd + self.extra_args

    @property
    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def start(self, timeout: float = 60.0) -> ServerProcess:
        """Start the process and wait for GET /health == 200; on failure stop it and raise with the log tail."""
        if self.running:
            raise RuntimeError(f"{self.name} is already running (pid {self.proc.pid})")  # type: ignore[union-attr]
        self.artifacts_dir.mkdir(parents=True, exist_ok=True)
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        cmd = self.command()
        with open(self.log_path, "ab") as log:
            log.write(f"\n=== harness: starting {self.name}: {' '.join(cmd)}\n".encode())
            log.flush()
            self.proc = subprocess.Popen(
                cmd,
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                env=server_env(self.env),
                cwd=self.cwd,
                start_new_session=True,  # its own process group, so workers die with it
            )
        self.starts += 1
        if self not in ServerProcess.started:
            ServerProcess.started.append(self)
        try:
            self.wait_healthy(timeout)
        except ServerStartError:
            self.kill()
            raise
        return self

    def wait_healthy(self, timeout: float = 60.0) -> None:
        deadline = time.monotonic() + timeout
        last = "no answer yet"
        while True:
            if self.proc is not None and self.proc.poll() is not None:
                raise ServerStartError(
                    f"{self.name} exited with code {self.proc.returncode} before answering /health\n"
                    f"command: {' '.join(self.command())}\n--- log tail ---\n{self.log_tail()}"
                )
            try:
                status, body = http_get(f"{self.url}/health", timeout=2.0)
                if status == 200:
                    return
                last = f"HTTP {status}: {body[:200]!r}"
            except OSError as exc:
                last = repr(exc)
            if time.monotonic() > deadline:
                raise ServerStartError(
                    f"{self.name} not healthy after {timeout:.0f}s at {self.url}/health (last: {last})\n"
                    f"command: {' '.join(self.command())}\n--- log tail ---\n{self.log_tail()}"
                )
            time.sleep(0.1)

    def _signal_group(self, sig: signal.Signals) -> None:
        if self.proc is None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.proc.pid, sig)

    def stop(self, timeout: float = 15.0) -> int | None:
        """SIGTERM the process group, then SIGKILL after `timeout`; returns the exit code."""
        if self.proc is None:
            return None
        if self.proc.poll() is None:
            self._signal_group(signal.SIGTERM)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self._signal_group(signal.SIGKILL)
                self.proc.wait(10)
        self._signal_group(signal.SIGKILL)  # stragglers (workers) that outlived their parent
        return self.proc.returncode

    def kill(self) -> None:
        """kill -9 the whole process group, as a crash would."""
        if self.proc is None:
            return
        self._signal_group(signal.SIGKILL)
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(10)

    def restart(self, timeout: float = 60.0, *, new_port: bool = False) -> ServerProcess:
        """Stop (if running) and start again on the same database (and the same port unless new_port)."""
        if self.running:
            self.stop()
        if new_port:
            self.port = free_port(self.host)
        return self.start(timeout)

    # -- logs ------------------------------------------------------------------------------------------
    def log_size(self) -> int:
        try:
            return self.log_path.stat().st_size
        except FileNotFoundError:
            return 0

    def log_text(self, since: int = 0) -> str:
        try:
            with open(self.log_path, "rb") as fh:
                fh.seek(since)
                return fh.read().decode("utf-8", "replace")
        except FileNotFoundError:
            return ""

    def log_tail(self, lines: int = 60, since: int = 0) -> str:
        return "\n".join(self.log_text(since).splitlines()[-lines:])

    def __repr__(self) -> str:
        state = "running" if self.running else "stopped"
        return f"<ServerProcess {self.name} {self.url} {state} uri={self.backend_store_uri}>"
