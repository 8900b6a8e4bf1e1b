"""Start-up time of the container's command: process start -> first 200 on /health, against the 1 s goal.

Runs the image's ENTRYPOINT + CMD (`tracklight server`) with the image's environment (the ENV lines of the
Dockerfile's last stage) N times and prints the median, plus an import-time profile of the start-up path.
Two cases:

- restart: an existing, current SQLite database in the working directory (the production path: on MySQL or
  PostgreSQL the schema was migrated beforehand and the server only checks it);
- first start: an empty working directory, so the server creates and migrates its SQLite file (imports Alembic).

    python bench/startup.py                          # .venv/bin/tracklight, 7 starts per case
    python bench/startup.py --tracklight /opt/tracklight/bin/tracklight --runs 15
    python bench/startup.py --backend-store-uri mysql+pymysql://…   # a migrated database instead of SQLite
    python bench/startup.py --baseline-src /tmp/base/src --runs 15   # an older tree's restarts interleaved

The server binds 127.0.0.1 here instead of the image's 0.0.0.0 (the address does not change the timing).
Exit status 1 if a median is over the goal.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from servers import byte_compile  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
GOAL_S = 1.0
# Modules that must never be imported on the way to serving /health (an existing database).
HEAVY = ("boto3", "botocore", "google.cloud", "google.auth", "azure", "alembic", "mlflow")


def image_env(dockerfile: Path = ROOT / "Dockerfile") -> dict[str, str]:
    """The ENV of the Dockerfile's last stage (KEY=VALUE forms; ${PATH} references are dropped)."""
    text = re.sub(r"\\\n", " ", dockerfile.read_text())
    env: dict[str, str] = {}
    for line in text.splitlines():
        line = line.strip()
        if line.upper().startswith("FROM "):
            env = {}
        elif line.upper().startswith("ENV "):
            for key, value in re.findall(r'(\w+)=("[^"]*"|\S+)', line[4:]):
                env[key] = value.strip('"')
    env.pop("PATH", None)
    env.pop("VIRTUAL_ENV", None)
    return env


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _health(port: int) -> bool:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=1) as resp:
            return resp.status == 200
    except (urllib.error.URLError, ConnectionError, TimeoutError):
        return False


def _cpu_s(pid: int) -> float:
    """User + system CPU seconds a process has used so far (Linux /proc; 0 elsewhere)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def one_start(
    binary: str, workdir: Path, extra_env: dict[str, str], timeout: float = 60.0
) -> tuple[float, float]:
    """(seconds from Popen to the first 200 on /health, CPU seconds the server used by then); then stops it."""
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("TRACKLIGHT_", "MLFLOW_"))}
    env.update(image_env())
    env.update({"TRACKLIGHT_HOST": "127.0.0.1", "TRACKLIGHT_PORT": str(port)}, **extra_env)
    # The image turns authentication on, and the first start refuses to run without an admin password.
    env.setdefault("TRACKLIGHT_ADMIN_PASSWORD", "bench-startup-password")
    started = time.monotonic()
    proc = subprocess.Popen(
        [binary, "server"], cwd=workdir, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
    )
    try:
        while not _health(port):
            if proc.poll() is not None:
                raise RuntimeError(
                    f"the server exited with {proc.returncode}:\n{proc.stderr.read().decode()}"
                )
            if time.monotonic() - started > timeout:
                raise RuntimeError(f"no 200 on /health within {timeout:g} s")
            time.sleep(0.005)
        return time.monotonic() - started, _cpu_s(proc.pid)
    finally:
        proc.terminate()
        try:
            proc.communicate(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.communicate()


def import_profile(python: str) -> tuple[float, list[tuple[float, str]], list[str]]:
    """(seconds to import tracklight.http.app, the 10 slowest top-level-ish imports, heavy modules seen)."""
    out = subprocess.run(
        [python, "-X", "importtime", "-c", "import tracklight.cli, tracklight.startup, tracklight.http.app"],
        capture_output=True,
        text=True,
        check=True,
        cwd=tempfile.gettempdir(),
    ).stderr
    rows = []
    for line in out.splitlines():
        m = re.match(r"import time:\s+\d+ \|\s+(\d+) \|( *)(\S+)", line)
        if m:
            rows.append((int(m.group(1)) / 1e6, len(m.group(2)), m.group(3)))
    app = next(s for s, _, name in rows if name == "tracklight.http.app")
    slowest = sorted(((s, name) for s, depth, name in rows if depth <= 4), reverse=True)[:10]
    heavy = sorted({name for _, _, name in rows if name.startswith(HEAVY)})
    return app, slowest, heavy


def compile_package(python: str) -> None:
    """Byte-compile the tracklight that `python` imports, as the image does at build (see servers.byte_compile)."""
    where = subprocess.run(
        [python, "-c", "import os, tracklight; print(os.path.dirname(tracklight.__file__))"],
        capture_output=True,
        text=True,
        check=True,
        cwd=tempfile.gettempdir(),
    ).stdout.strip()
    byte_compile(python, where)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tracklight", default=str(ROOT / ".venv" / "bin" / "tracklight"))
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--backend-store-uri", help="a migrated MySQL/PostgreSQL URI instead of SQLite")
    parser.add_argument("--json", action="store_true", help="print the figures as JSON too")
    parser.add_argument(
        "--baseline-src",
        help="another tree's src (git archive <commit> src | tar -x -C DIR): its restarts interleaved with these",
    )
    args = parser.parse_args()
    python = str(Path(args.tracklight).with_name("python"))
    compile_package(python)

    results: dict[str, list[tuple[float, float]]] = {"restart": [], "first start": []}
    with tempfile.TemporaryDirectory(prefix="tracklight-startup-") as tmp:
        warm = Path(tmp) / "warm"
        warm.mkdir()
        extra = {"TRACKLIGHT_BACKEND_STORE_URI": args.backend_store_uri} if args.backend_store_uri else {}
        if args.backend_store_uri:
            subprocess.run([args.tracklight, "db", "upgrade", args.backend_store_uri], check=True)
            del results["first start"]
        one_start(args.tracklight, warm, extra)  # creates the SQLite file; warms the page cache
        baseline = {**extra, "PYTHONPATH": args.baseline_src} if args.baseline_src else None
        if baseline is not None:
            results["restart, baseline"] = []
            older = Path(tmp) / "baseline"
            older.mkdir()
            byte_compile(python, args.baseline_src)
            one_start(args.tracklight, older, baseline)  # its own SQLite file, at its own schema
        for i in range(args.runs):
            results["restart"].append(one_start(args.tracklight, warm, extra))
            if baseline is not None:
                results["restart, baseline"].append(one_start(args.tracklight, older, baseline))
            if "first start" in results:
                fresh = Path(tmp) / f"fresh-{i}"
                fresh.mkdir()
                results["first start"].append(one_start(args.tracklight, fresh, extra))

    failed = False
    print(
        f"tracklight: {args.tracklight}; {args.runs} starts per case; goal: first 200 on /health <= {GOAL_S:g} s"
    )
    for case, pairs in results.items():
        times = [wall for wall, _ in pairs]
        median = statistics.median(times)
        verdict = "PASS" if median <= GOAL_S else "FAIL"
        if case.endswith("baseline"):
            verdict = f"({args.baseline_src})"
        failed |= verdict == "FAIL"
        cpu = statistics.median(c for _, c in pairs)
        print(
            f"  {case:<12} median {median:.3f} s  (min {min(times):.3f}, max {max(times):.3f};"
            f" server CPU by then {cpu:.2f} s)  {verdict}"
        )
    print(
        f"  load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs (a busy machine inflates wall time)"
    )
    app_s, slowest, heavy = import_profile(python)
    print(f"import tracklight.cli + startup + http.app: {app_s:.3f} s (python -X importtime); slowest:")
    for seconds, name in slowest:
        print(f"  {seconds:6.3f} s  {name}")
    print(f"heavy modules on the import path: {', '.join(heavy) or 'none'}")
    if args.json:
        print(json.dumps({"starts": results, "import_app_s": app_s, "heavy": heavy}))
    return 1 if failed or heavy else 0


if __name__ == "__main__":
    sys.exit(main())
