"""Artifact proxy benchmark: a big file up and down through each server with the stock mlflow client.

Tracklight and `mlflow server` in turn, on local disk or on the S3 emulator (moto); see bench/README.md.
"""

from __future__ import annotations

import argparse
import atexit
import hashlib
import http.client
import json
import os
import resource
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import report  # noqa: E402
from procfs import machine_busy_seconds, machine_info, tree_cpu_seconds, tree_memory  # noqa: E402
from report import Measure, Target  # noqa: E402
from run import RESULTS, RssSampler, ensure_peer_venv, log, server_version, settle, wait_quiet  # noqa: E402
from servers import PEER_VENV, QUIET_ENV, ROOT, SPECS, ServerProcess, ServerSpec, free_port, stop_all_started  # noqa: E402

MB = 1024 * 1024
BUCKET = "tlbench"
CLIENT_PYTHON = PEER_VENV / "bin" / "python"  # PyPI mlflow 3.x, the stock client
MOTO_PYTHON = ROOT / ".venv" / "bin" / "python"  # moto[server] is a dev dependency of tracklight
SERVERS = ("tracklight", "mlflow")

# Both directions through the proxy. Unset, the 3.x client follows the server's /server-info, and on S3
# (where both servers advertise direct transfers) it moves big files straight to/from the bucket.
CLIENT_ENV = {
    "MLFLOW_ENABLE_PROXY_MULTIPART_UPLOAD": "false",
    "MLFLOW_ENABLE_PROXY_MULTIPART_DOWNLOAD": "false",
    "MLFLOW_HTTP_REQUEST_TIMEOUT": "1800",  # one 1 GiB request; the default 120 s could cut a slow server off
    "MLFLOW_HTTP_REQUEST_MAX_RETRIES": "0",  # a retried transfer would hide an error and double its time
}

# The client side: one fresh interpreter per transfer, timing only the mlflow call itself.
CLIENT_CODE = r"""
import json, sys, time
op = sys.argv[1]
import mlflow
from mlflow.tracking import MlflowClient
if op == "setup":
    c = MlflowClient()
    run = c.create_run(c.create_experiment(sys.argv[2]))
    print(json.dumps({"run_id": run.info.run_id, "artifact_uri": run.info.artifact_uri}))
    sys.exit(0)
run_id, arg, where = sys.argv[2:5]
t0, c0 = time.perf_counter(), time.process_time()
if op == "upload":
    mlflow.log_artifact(arg, artifact_path=where, run_id=run_id)
    out = None
else:
    out = mlflow.artifacts.download_artifacts(run_id=run_id, artifact_path=arg, dst_path=where)
t1, c1 = time.perf_counter(), time.process_time()
print(json.dumps({"seconds": t1 - t0, "client_cpu_s": c1 - c0, "path": out}))
"""


def measures(size_mib: int, repeat: int) -> tuple[Measure, ...]:
    what = f"{size_mib} MiB" if size_mib != 1024 else "1 GiB"
    return (
        Measure("up_mibs", f"upload {what}, MiB/s (median of {repeat})", 1, (Target("mlflow", ">=", 1.5),)),
        Measure(
            "down_mibs", f"download {what}, MiB/s (median of {repeat})", 1, (Target("mlflow", ">=", 1.5),)
        ),
        Measure("idle_rss_mb", "idle RSS before the transfers, MB (process tree)", 0),
        Measure("peak_rss_up_mb", "peak RSS during uploads, MB", 0),
        Measure("peak_rss_down_mb", "peak RSS during downloads, MB", 0),
        Measure(
            "rss_growth_mb", "RSS growth: peak in transfers − idle before, MB", 0, (Target(None, "<=", 64.0),)
        ),
        Measure("cpu_up", "server CPU s per GiB uploaded (median)", 2),
        Measure("cpu_down", "server CPU s per GiB downloaded (median)", 2),
    )


def make_payload(path: Path, size_mib: int) -> str:
    """Write size_mib MiB of os.urandom to path; return its sha256."""
    h = hashlib.sha256()
    chunk = 8 * MB
    with open(path, "wb") as fh:
        left = size_mib * MB
        while left:
            block = os.urandom(min(chunk, left))
            h.update(block)
            fh.write(block)
            left -= len(block)
    return h.hexdigest()


def sha256_file(path: Path) -> str:
    with open(path, "rb") as fh:
        return hashlib.file_digest(fh, "sha256").hexdigest()


def children_cpu() -> float:
    ru = resource.getrusage(resource.RUSAGE_CHILDREN)
    return ru.ru_utime + ru.ru_stime


class Moto:
    """A fresh moto S3 server with one bucket, for one server's turn (so nothing is inherited)."""

    SPEC = ServerSpec("moto", (), lambda uri, artifacts, port: [], health_path="/", start_timeout=60.0)

    def __init__(self, workdir: Path) -> None:
        self.port = free_port()
        argv = [str(MOTO_PYTHON), "-m", "moto.server", "-H", "127.0.0.1", "-p", str(self.port)]
        self.command = " ".join(argv)
        self.proc = ServerProcess(self.SPEC, argv, workdir, workdir / "moto.log")
        self.proc.start()
        self.proc.wait_healthy(self.port)
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
        conn.request("PUT", f"/{BUCKET}")
        resp = conn.getresponse()
        resp.read()
        conn.close()
        if resp.status != 200:
            raise RuntimeError(f"moto: creating bucket {BUCKET} -> {resp.status}")

    @property
    def pid(self) -> int:
        return self.proc.pid

    def env(self) -> dict[str, str]:
        return {
            "AWS_ACCESS_KEY_ID": "test",
            "AWS_SECRET_ACCESS_KEY": "test",
            "AWS_DEFAULT_REGION": "us-east-1",
            "MLFLOW_S3_ENDPOINT_URL": f"http://127.0.0.1:{self.port}",
            "AWS_EC2_METADATA_DISABLED": "true",
        }

    def stop(self) -> None:
        self.proc.stop()


class ArtifactBench:
    """One server's turn: start it (and a fresh moto), then `repeat` × (upload, download) with the stock client."""

    def __init__(
        self, name: str, args: argparse.Namespace, workroot: Path, payload: Path, digest: str
    ) -> None:
        self.spec = SPECS[name]
        self.name, self.args, self.payload, self.digest = name, args, payload, digest
        self.workdir = workroot / name
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.figures: dict[str, float | None] = {}
        self.details: dict[str, Any] = {"version": server_version(name), "transfers": []}
        self.server: ServerProcess | None = None
        self.moto: Moto | None = None
        self.port = 0
        self.idle_rate = 0.0

    def client(self, *argv: str) -> dict[str, Any]:
        env = {
            **os.environ,
            **QUIET_ENV,
            **CLIENT_ENV,
            "MLFLOW_TRACKING_URI": f"http://127.0.0.1:{self.port}",
        }
        for k in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "MLFLOW_S3_ENDPOINT_URL"):
            env.pop(k, None)  # the client knows the tracking server only
        done = subprocess.run(
            [str(CLIENT_PYTHON), "-c", CLIENT_CODE, *argv],
            env=env,
            cwd=self.workdir,
            capture_output=True,
            text=True,
            timeout=1800,
            start_new_session=True,
        )
        if done.returncode != 0:
            raise RuntimeError(f"client {argv[0]} failed ({done.returncode}):\n{done.stderr[-3000:]}")
        return json.loads(done.stdout.strip().splitlines()[-1])

    def run(self) -> None:
        args, name = self.args, self.name
        self.details["machine_busy_before"] = wait_quiet(args.wait_quiet)
        if args.store == "s3":
            self.moto = Moto(self.workdir)
            self.details["moto_command"] = self.moto.command
            dest: Path | str = f"s3://{BUCKET}/{name}"
            extra = self.moto.env()
        else:
            dest, extra = self.workdir / "artifacts", {}
        self.port = free_port()
        argv = self.spec.command(f"sqlite:///{self.workdir / 'mlflow.db'}", dest, self.port)
        env_text = " ".join(f"{k}={v}" for k, v in extra.items())
        self.details["command"] = f"{env_text} {' '.join(argv)}".strip()
        self.server = ServerProcess(
            self.spec, argv, self.workdir, self.workdir / "server.log", extra_env=extra
        )
        self.server.start()
        self.details["start_s"] = round(self.server.wait_healthy(self.port), 2)
        pid = self.server.pid
        setup = self.client("setup", f"artifacts-bench-{int(time.time())}")
        self.details["artifact_uri"] = setup["artifact_uri"]
        run_id = setup["run_id"]

        # Idle: let lazily started workers come up (mlflow answers /health from its first worker).
        self.details["idle_settle_s"] = round(settle(pid, 0.0, max_wait=30.0, min_wait=3.0), 2)
        self.server.remember_tree()
        mem = []
        for _ in range(3):
            mem.append(tree_memory(pid))
            time.sleep(0.3)
        idle_rss = statistics.median(m[0] for m in mem)
        self.figures["idle_rss_mb"] = idle_rss / MB
        self.details["idle_pss_mb"] = round(statistics.median(m[1] for m in mem) / MB, 1)
        self.details["idle_processes"] = mem[-1][2]
        c0, t0 = tree_cpu_seconds(pid), time.monotonic()
        time.sleep(3.0)
        self.idle_rate = (tree_cpu_seconds(pid) - c0) / (time.monotonic() - t0)
        self.details["idle_cpu_share_of_one_cpu"] = round(self.idle_rate, 3)

        gib = args.size_mib / 1024
        for i in range(args.repeat):
            up = self.transfer("upload", run_id, str(self.payload), f"rep{i}")
            log(
                f"{name}: upload {i + 1}/{args.repeat}: {up['mib_s']:.1f} MiB/s, peak RSS {up['peak_rss_mb']:.0f} MB"
            )
            dst = self.workdir / f"download{i}"
            dst.mkdir()
            down = self.transfer("download", run_id, f"rep{i}/{self.payload.name}", str(dst))
            got = Path(down.pop("path") or dst / self.payload.name)
            down["sha256_ok"] = got.exists() and sha256_file(got) == self.digest
            shutil.rmtree(dst, ignore_errors=True)
            log(
                f"{name}: download {i + 1}/{args.repeat}: {down['mib_s']:.1f} MiB/s, peak RSS "
                f"{down['peak_rss_mb']:.0f} MB, sha256 {'ok' if down['sha256_ok'] else 'MISMATCH'}"
            )
            if not down["sha256_ok"]:
                raise RuntimeError(f"downloaded file differs from the upload (repeat {i + 1})")
        ups = [t for t in self.details["transfers"] if t["op"] == "upload"]
        downs = [t for t in self.details["transfers"] if t["op"] == "download"]
        self.figures["up_mibs"] = statistics.median(t["mib_s"] for t in ups)
        self.figures["down_mibs"] = statistics.median(t["mib_s"] for t in downs)
        self.figures["peak_rss_up_mb"] = max(t["peak_rss_mb"] for t in ups)
        self.figures["peak_rss_down_mb"] = max(t["peak_rss_mb"] for t in downs)
        self.figures["rss_growth_mb"] = max(t["peak_rss_mb"] for t in ups + downs) - idle_rss / MB
        self.figures["cpu_up"] = statistics.median(t["server_cpu_s"] for t in ups) / gib
        self.figures["cpu_down"] = statistics.median(t["server_cpu_s"] for t in downs) / gib
        self.details["rss_after_mb"] = round(tree_memory(pid)[0] / MB, 1)

    def transfer(self, op: str, run_id: str, arg: str, where: str) -> dict[str, Any]:
        """One client call, with the server tree's CPU and peak RSS (and moto's CPU) around it."""
        assert self.server is not None
        pid = self.server.pid
        before = tree_memory(pid)[0]
        sampler = RssSampler(pid, interval=0.25)
        sampler.start()
        moto_pid = self.moto.pid if self.moto else None
        cpu0, busy0, kids0 = tree_cpu_seconds(pid), machine_busy_seconds(), children_cpu()
        moto0 = tree_cpu_seconds(moto_pid) if moto_pid else 0.0
        w0 = time.monotonic()
        for attempt in range(3):  # a failed attempt is logged and kept in the JSON, never timed
            try:
                res = self.client(op, run_id, arg, where)
                break
            except RuntimeError as exc:
                if attempt == 2:
                    raise
                self.details.setdefault("failed_attempts", []).append(f"{op}: {str(exc)[-600:]}")
                log(f"{self.name}: {op} failed, trying again: {str(exc).splitlines()[-1][:300]}")
                time.sleep(2.0)
        wall = time.monotonic() - w0
        settle_s = settle(pid, self.idle_rate)  # work done after the last byte still counts
        cpu1, busy1, kids1 = tree_cpu_seconds(pid), machine_busy_seconds(), children_cpu()
        moto1 = tree_cpu_seconds(moto_pid) if moto_pid else 0.0
        sampler.finish()
        server_cpu, moto_cpu, client_cpu = cpu1 - cpu0, moto1 - moto0, kids1 - kids0
        span = wall + settle_s
        other = max(0.0, (busy1 - busy0) - server_cpu - moto_cpu - client_cpu)
        t = {
            "op": op,
            "seconds": round(res["seconds"], 3),
            "mib_s": self.args.size_mib / res["seconds"],
            "client_wall_s": round(wall, 2),
            "settle_s": round(settle_s, 2),
            "server_cpu_s": round(server_cpu, 2),
            "client_cpu_s": round(client_cpu, 2),  # the whole client process, mlflow import included
            "client_cpu_in_call_s": round(res["client_cpu_s"], 2),
            "moto_cpu_s": round(moto_cpu, 2) if moto_pid else None,
            "other_cpu_share": round(other / (span * (os.cpu_count() or 1)), 3),
            "rss_before_mb": round(before / MB, 1),
            "peak_rss_mb": max(sampler.peak_rss, before) / MB,
            "peak_pss_mb": round(sampler.peak_pss / MB, 1),
            "path": res["path"],
        }
        self.details["transfers"].append(t)
        return t

    def stop(self) -> None:
        for proc in (self.server, self.moto):
            if proc is not None:
                proc.stop()
        self.server = self.moto = None


def bench_one(
    name: str, args: argparse.Namespace, workroot: Path, payload: Path, digest: str
) -> dict[str, Any]:
    b = ArtifactBench(name, args, workroot, payload, digest)
    error = None
    try:
        b.run()
    except KeyboardInterrupt:
        raise
    except Exception as exc:  # noqa: BLE001 - one server failing must not lose the other's figures
        error = f"{type(exc).__name__}: {exc}"
        log(f"{name}: FAILED: {error}")
        if b.server is not None:
            log(f"{name}: server log tail:\n{b.server.log_tail()}")
    finally:
        b.stop()
    return {"figures": b.figures, "details": b.details, "error": error}


def _on_signal(signum: int, _frame: Any) -> None:
    raise KeyboardInterrupt(f"signal {signum}")


def _notes(d: dict[str, Any]) -> str:
    ts = d.get("transfers") or []
    parts = []
    for op in ("upload", "download"):
        mine = [t for t in ts if t["op"] == op]
        if not mine:
            continue

        def each(key: str, fmt: str = "{}", mine: list[dict[str, Any]] = mine) -> str:
            return ", ".join(fmt.format(t[key]) for t in mine)

        text = (
            f"{op}s {each('mib_s', '{:.0f}')} MiB/s, server CPU {each('server_cpu_s')} s, "
            f"client CPU in the call {each('client_cpu_in_call_s')} s"
        )
        if mine[0]["moto_cpu_s"] is not None:
            text += f", moto CPU {each('moto_cpu_s')} s"
        share = max(t["other_cpu_share"] for t in mine)
        parts.append(f"{text}, other processes up to {share:.0%} of the CPUs")
    if "idle_processes" in d:
        parts.append(
            f"{d['idle_processes']} processes, idle PSS {d['idle_pss_mb']} MB, idle CPU "
            f"{d.get('idle_cpu_share_of_one_cpu', 0):.0%} of one CPU, RSS after the transfers {d.get('rss_after_mb')} MB"
        )
    if d.get("failed_attempts"):
        parts.append(f"{len(d['failed_attempts'])} failed client attempts (retried; see the JSON)")
    if "machine_busy_before" in d:
        parts.append(f"machine {d['machine_busy_before']:.0%} busy before start")
    if "artifact_uri" in d:
        parts.append(f"run artifact URI `{d['artifact_uri']}`")
    return "; ".join(parts)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--store", choices=["local", "s3"], default="local")
    ap.add_argument("--size-mib", type=int, default=1024, help="file size in MiB (default 1024)")
    ap.add_argument("--servers", default="tracklight,mlflow", help="comma-separated: tracklight,mlflow")
    ap.add_argument("--repeat", type=int, default=3, help="upload+download rounds per server (default 3)")
    ap.add_argument("--keep", action="store_true", help="keep the work directory (stores, server logs)")
    ap.add_argument(
        "--wait-quiet", type=float, default=90.0, metavar="S", help="wait up to S s for quiet CPUs"
    )
    args = ap.parse_args(argv)
    servers = [s.strip() for s in args.servers.split(",") if s.strip()]
    if bad := [s for s in servers if s not in SERVERS]:
        ap.error(f"unknown servers: {bad}")
    if args.size_mib < 1 or args.repeat < 1:
        ap.error("--size-mib and --repeat must be positive")

    for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, _on_signal)
    atexit.register(stop_all_started)
    ensure_peer_venv(servers)

    started = datetime.now(UTC)
    machine = machine_info()
    workroot = Path(tempfile.mkdtemp(prefix=f"tracklight-artifacts-{args.store}-"))
    log(f"work directory {workroot}; machine {machine}")
    results: dict[str, Any] = {}
    try:
        payload = workroot / "payload.bin"
        log(f"writing {args.size_mib} MiB of random bytes to {payload}")
        digest = make_payload(payload, args.size_mib)
        for name in servers:
            log(f"{name}: {args.store} store")
            results[name] = bench_one(name, args, workroot, payload, digest)
    except KeyboardInterrupt:
        log("interrupted: stopping servers")
        stop_all_started()
        return 130
    finally:
        stop_all_started()
        if not args.keep:
            shutil.rmtree(workroot, ignore_errors=True)

    ms = measures(args.size_mib, args.repeat)
    figures = {s: results[s]["figures"] for s in servers}
    table = report.rows(servers, figures, ms)
    elapsed = (datetime.now(UTC) - started).total_seconds()
    doc = {
        "started": started.isoformat(timespec="seconds"),
        "elapsed_s": round(elapsed, 1),
        "store": args.store,
        "size_mib": args.size_mib,
        "repeat": args.repeat,
        "client": {"python": str(CLIENT_PYTHON), "env_added": CLIENT_ENV},
        "machine": machine,
        "servers": results,
        "table": [{k: v for k, v in row.items() if k != "cells"} for row in table],
    }
    RESULTS.mkdir(parents=True, exist_ok=True)
    out = RESULTS / f"{started:%Y%m%dT%H%M%SZ}-artifacts-{args.store}.json"
    out.write_text(json.dumps(doc, indent=2, default=str))

    print(f"\n### Artifacts through the proxy, {args.store} store, {started:%Y-%m-%d %H:%M} UTC\n")
    print(
        f"Machine: {machine['nproc']} CPUs ({machine['cpu_model']}), {machine['ram_gib']} GiB RAM, "
        f"kernel {machine['kernel']}, load average at start {machine['loadavg_at_start']}\n"
    )
    print(report.markdown_table(servers, table, peers=("mlflow",)))
    print()
    for name in servers:
        r, d = results[name], results[name]["details"]
        line = f"- **{name}** {d.get('version', '')}: `{d.get('command', '?')}`"
        if r["error"]:
            line += f" — **error**: {r['error']}"
        print(line)
        if notes := _notes(d):
            print(f"  - {notes}")
    if args.store == "s3":
        moto = next(
            (d["details"].get("moto_command") for d in results.values() if d["details"].get("moto_command")),
            "",
        )
        print(f"\nS3: a fresh `{moto}` with bucket `{BUCKET}` per server.")
    client_env = " ".join(f"{k}={v}" for k, v in CLIENT_ENV.items())
    print(
        f"\nClient: `{CLIENT_PYTHON.relative_to(ROOT)}` (stock mlflow), one process per transfer, "
        f"`mlflow.log_artifact` / `mlflow.artifacts.download_artifacts` timed inside it, with `{client_env}`: "
        "every byte goes through the server. Direct transfers exist: on S3 both servers advertise them in "
        "`/server-info`, and without these variables the client's default there is to move files of 500 MB "
        "and more straight to and from the bucket through presigned URLs, the server carrying no bytes. "
        f"Results: {out.relative_to(ROOT)} ({elapsed:.0f} s in all)"
    )
    return 0


if __name__ == "__main__":
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    sys.exit(main())
