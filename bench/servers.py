"""How each server is started and stopped, and the bookkeeping that guarantees it is stopped."""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import os
import signal
import socket
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from client import wait_http_200
from procfs import read_stat, tree

ROOT = Path(__file__).resolve().parent.parent
TRACKLIGHT_BIN = ROOT / ".venv" / "bin" / "tracklight"
# .venv may be shared between git worktrees (an editable install points at one of them): the
# tracklight under test is always this checkout's src/.
TRACKLIGHT_ENV = {"PYTHONPATH": str(ROOT / "src")}
PEER_VENV = ROOT / ".venv-bench"
MLFLOW_BIN = PEER_VENV / "bin" / "mlflow"
FML_BIN = PEER_VENV / "bin" / "fml"


def byte_compile(python: Path | str, where: Path | str) -> None:
    """Byte-compile the source under `where` with `python`, as `pip install` and the image do for what they
    install: an editable checkout under a shell's PYTHONDONTWRITEBYTECODE would otherwise compile its 200
    modules at every server start (0.45 s of a 1 s start-up), which no installed tracklight does, while
    the peers' packages came compiled from pip."""
    subprocess.run([str(python), "-m", "compileall", "-q", str(where)], check=True, stdout=subprocess.DEVNULL)


@functools.cache
def compile_tracklight() -> None:
    """Byte-compile the tracklight source under test, once per run."""
    byte_compile(TRACKLIGHT_BIN.parent / "python", ROOT / "src")


# Keep the peers from phoning home; this changes no server setting.
QUIET_ENV = {"MLFLOW_DISABLE_TELEMETRY": "true", "DO_NOT_TRACK": "true"}


@dataclass
class ServerSpec:
    """A server under test: its start command and what it supports."""

    name: str
    backends: tuple[str, ...]
    command: Callable[[str, Path | str, int], list[str]]  # (db URI, artifacts dir or URI, port)
    prepare: Callable[[str, str], list[str] | None] = lambda uri, backend: None
    has_bulk_interval: bool = True
    env: dict[str, str] = field(default_factory=dict)  # on top of os.environ and QUIET_ENV
    health_path: str = "/health"
    start_timeout: float = 120.0
    before_start: Callable[[], None] = lambda: None  # once-per-run set-up of the server's own code


def _server_cmd(binary: Path, uri: str, artifacts: Path | str, port: int) -> list[str]:
    """`<binary> server` with the flags tracklight and mlflow share."""
    return [
        str(binary),
        "server",
        "--backend-store-uri",
        uri,
        "--artifacts-destination",
        str(artifacts),
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
    ]


def _tracklight_cmd(uri: str, artifacts: Path | str, port: int) -> list[str]:
    return _server_cmd(TRACKLIGHT_BIN, uri, artifacts, port)


def _tracklight_prepare(uri: str, backend: str) -> list[str] | None:
    return [str(TRACKLIGHT_BIN), "db", "upgrade", uri] if backend != "sqlite" else None


def _mlflow_cmd(uri: str, artifacts: Path | str, port: int) -> list[str]:
    return _server_cmd(MLFLOW_BIN, uri, artifacts, port)


def _fml_cmd(uri: str, artifacts: Path | str, port: int) -> list[str]:
    return [
        str(FML_BIN),
        "server",
        "--database-uri",
        uri,
        "--listen-address",
        f"127.0.0.1:{port}",
        "--default-artifact-root",
        str(artifacts),
    ]


SPECS: dict[str, ServerSpec] = {
    "tracklight": ServerSpec(
        "tracklight",
        ("sqlite", "postgresql", "mysql"),
        _tracklight_cmd,
        _tracklight_prepare,
        env=TRACKLIGHT_ENV,
        before_start=compile_tracklight,
    ),
    "mlflow": ServerSpec("mlflow", ("sqlite", "postgresql", "mysql"), _mlflow_cmd, start_timeout=180.0),
    # fml supports SQLite and PostgreSQL only and has no get-history-bulk-interval route.
    "fml": ServerSpec("fml", ("sqlite", "postgresql"), _fml_cmd, has_bulk_interval=False),
}

# tracklight from another source tree (an older commit's), for a before/after column in the same run.
BEFORE = "tracklight-before"


def baseline_spec(src: Path) -> ServerSpec:
    """The tracklight spec, run from `src` (a `src` directory) instead of this checkout's."""
    return dataclasses.replace(
        SPECS["tracklight"],
        name=BEFORE,
        env={"PYTHONPATH": str(src)},
        before_start=functools.cache(lambda: byte_compile(TRACKLIGHT_BIN.parent / "python", src)),
    )


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


# Every process group this benchmark started and has not yet reaped, for the last-resort cleanup.
_LIVE: dict[int, ServerProcess] = {}


@dataclass
class ServerProcess:
    """One running server: a subprocess in its own process group, logging to a file."""

    spec: ServerSpec
    argv: list[str]
    cwd: Path
    log_path: Path
    proc: subprocess.Popen[bytes] | None = None
    started_at: float = 0.0
    seen: set[tuple[int, int]] = field(default_factory=set)
    extra_env: dict[str, str] = field(default_factory=dict)  # on top of os.environ, QUIET_ENV, spec.env

    def start(self) -> None:
        self.spec.before_start()
        env = {**os.environ, **QUIET_ENV, **self.spec.env}
        env.pop("MLFLOW_TRACKING_URI", None)
        env.update(self.extra_env)
        log = open(self.log_path, "ab")  # noqa: SIM115 - owned by the child for its lifetime
        self.started_at = time.monotonic()
        self.proc = subprocess.Popen(
            self.argv,
            cwd=self.cwd,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        log.close()
        _LIVE[self.proc.pid] = self

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def wait_healthy(self, port: int) -> float:
        """Seconds from Popen to the first 200 on the health path; raises if it never comes."""
        deadline = self.started_at + self.spec.start_timeout
        if not wait_http_200(port, self.spec.health_path, deadline, self.alive):
            raise RuntimeError(f"{self.spec.name} did not become healthy; log tail:\n{self.log_tail()}")
        return time.monotonic() - self.started_at

    def remember_tree(self) -> None:
        """Note the pids of the current tree, so stray children can be stopped by id later."""
        if self.alive():
            self.seen.update((p.pid, p.starttime) for p in tree(self.pid))

    def stop(self, grace: float = 20.0) -> None:
        """SIGTERM the process group, wait, then SIGKILL the group and any remembered pid still there."""
        if self.proc is None:
            return
        self.remember_tree()
        pgid = self.proc.pid  # start_new_session: the group id is the leader's pid
        _signal_group(pgid, signal.SIGTERM)
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.proc.wait(timeout=grace)
        deadline = time.monotonic() + grace
        while time.monotonic() < deadline and _group_alive(pgid):
            time.sleep(0.1)
        _signal_group(pgid, signal.SIGKILL)
        for pid, starttime in self.seen:
            _kill_if_same(pid, starttime)
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.proc.wait(timeout=10)
        _LIVE.pop(self.proc.pid, None)
        self.proc = None

    def log_tail(self, n: int = 30) -> str:
        try:
            lines = self.log_path.read_text(errors="replace").splitlines()
        except OSError:
            return ""
        return "\n".join(lines[-n:])


def _signal_group(pgid: int, sig: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, sig)


def _group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
        return True
    except (ProcessLookupError, PermissionError):
        return False


def _kill_if_same(pid: int, starttime: int) -> None:
    """SIGKILL a remembered descendant only if that pid is still the very process we saw (same start time)."""
    st = read_stat(pid)
    if st is None or st.starttime != starttime or pid == os.getpid():
        return
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.kill(pid, signal.SIGKILL)


def stop_all_started() -> None:
    """Last resort (atexit / signal): kill every process group we started that is still there."""
    for server in list(_LIVE.values()):
        server.stop(grace=5.0)


def run_prepare(
    argv: list[str], cwd: Path, log_path: Path, timeout: float = 300.0, env: dict[str, str] | None = None
) -> None:
    """Run a one-off setup command (e.g. `tracklight db upgrade`), bounded in time."""
    with open(log_path, "ab") as log:
        subprocess.run(
            argv,
            cwd=cwd,
            env={**os.environ, **QUIET_ENV, **(env or {})},
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            check=True,
            timeout=timeout,
            start_new_session=True,
        )
