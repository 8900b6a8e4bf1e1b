"""Dashboard side by side: tracklight's pages vs `mlflow server`'s UI in headless Chromium, same data.

Each server in turn gets a fresh SQLite database, the same data over plain HTTP (bench/uiseed.py), and
then the same three user tasks, repeated in fresh browser contexts (cold cache); medians are reported.
"""

from __future__ import annotations

import argparse
import atexit
import dataclasses
import json
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import quote

sys.path.insert(0, str(Path(__file__).resolve().parent))

import report  # noqa: E402
import uiseed  # noqa: E402
from browser import Browser, clear_click, click_time, settle_network, wait_true  # noqa: E402
from procfs import busy_fraction, loadavg, machine_info  # noqa: E402
from report import Measure, Target  # noqa: E402
from servers import PEER_VENV, ROOT, SPECS, ServerProcess, free_port, stop_all_started  # noqa: E402

BENCH = Path(__file__).resolve().parent
SERVERS = ("tracklight", "mlflow")


def measures(runs: int, points: int, compare: int) -> tuple[Measure, ...]:
    """The table's rows, labelled with the sizes measured."""
    return _measures(f"{runs:,}", f"{points:,}", f"{compare}")


def _measures(runs: str, points: str, compare: str) -> tuple[Measure, ...]:
    return (
        Measure(
            "runs_ms",
            f"experiment of {runs} runs → newest run shown, ms",
            0,
            (Target(None, "<=", 1000.0),),
        ),
        Measure("runs_link_ms", "  via the client's …/#/experiments/<id> link, ms", 0),
        Measure(
            "chart_click_ms",
            f"click the run → {points}-point chart drawn, ms",
            0,
            (Target(None, "<=", 1000.0),),
        ),
        Measure("chart_direct_ms", "  run page URL → chart drawn, ms", 0),
        Measure(
            "compare_ms",
            f"compare {compare} runs → table and first plot drawn, ms",
            0,
            (Target(None, "<=", 1000.0),),
        ),
        Measure("runs_kb", "experiment page: JS+CSS transferred, KB", 1, (Target(None, "<=", 300.0),)),
        Measure("run_kb", "run page: JS+CSS transferred, KB", 1, (Target(None, "<=", 300.0),)),
        Measure("compare_kb", "compare page: JS+CSS transferred, KB", 1, (Target(None, "<=", 300.0),)),
        Measure("runs_total_kb", "experiment page: everything transferred, KB", 1),
    )


def log(msg: str) -> None:
    print(f"[{datetime.now():%H:%M:%S}] {msg}", file=sys.stderr, flush=True)


class Ui:
    """How one product's pages are addressed and what 'ready' means on each (JS expressions)."""

    def __init__(self, name: str, base: str, data: uiseed.Seeded) -> None:
        self.name, self.base, self.data = name, base, data

    @property
    def ours(self) -> bool:
        return self.name == "tracklight"

    def runs_url(self) -> str:
        e = self.data.runs_experiment_id
        return f"{self.base}/experiments/{e}" if self.ours else f"{self.base}/#/experiments/{e}/runs"

    def link_url(self) -> str:
        return f"{self.base}/#/experiments/{self.data.runs_experiment_id}"

    def metric_experiment_url(self) -> str:
        e = self.data.metric_experiment_id
        return f"{self.base}/experiments/{e}" if self.ours else f"{self.base}/#/experiments/{e}/runs"

    def run_url(self) -> str:
        e, r = self.data.metric_experiment_id, self.data.metric_run_id
        if self.ours:
            return f"{self.base}/experiments/{e}/runs/{r}"
        return f"{self.base}/#/experiments/{e}/runs/{r}/model-metrics"

    def compare_url(self) -> str:
        ids = self.data.compare_run_ids
        if self.ours:
            return f"{self.base}/compare?" + "&".join(f"run={r}" for r in ids)
        runs = quote(json.dumps(ids))
        return f"{self.base}/#/compare-runs?runs={runs}&experiments={quote(json.dumps([self.data.runs_experiment_id]))}"

    @staticmethod
    def _link(container: str, run_id: str) -> str:
        return f"!!document.querySelector('{container} a[href$=\"/runs/{run_id}\"]')"

    def runs_ready(self) -> str:
        container = "#runs-table" if self.ours else ".ag-cell"
        return f"document.readyState === 'complete' && {self._link(container, self.data.newest_run_id)}"

    def run_link(self) -> str:
        container = "#runs-table" if self.ours else ".ag-cell"
        return f'{container} a[href$="/runs/{self.data.metric_run_id}"]'

    def chart_drawn(self) -> str:
        if self.ours:
            return f'!!document.querySelector(\'figure.chart[data-key="{uiseed.BIG_KEY}"][data-drawn="true"] canvas\')'
        # Plotly draws the line as an SVG path; a path with a long `d` has the data in it.
        return (
            "Array.from(document.querySelectorAll('.js-plotly-plot .scatterlayer path.js-line'))"
            ".some(p => (p.getAttribute('d') || '').length > 200)"
        )

    def compare_ready(self) -> str:
        last = self.data.compare_run_ids[-1]
        if self.ours:
            table = self._link("#compare-table", last)
            # The first plot on screen: the scatter of params against metrics (data-rendered once painted);
            # the metric charts below it draw as they are scrolled to.
            plotted = "!!document.querySelector('section#scatter[data-rendered=\"true\"] canvas')"
            return f"document.readyState === 'complete' && {table} && {plotted}"
        # The run table and the first visualisation (Plotly's parallel coordinates, axes drawn).
        return f"{self._link('', last)} && !!document.querySelector('.js-plotly-plot .parcoords .axis .tick')"


def _timed_goto(page: Any, url: str, ready: str) -> float:
    """ms from asking for `url` to `ready` holding (wall clock shared by the driver and Chromium)."""
    t0 = time.time() * 1000.0
    page.goto(url, wait_until="commit")
    return wait_true(page, ready) - t0


def measure_runs(browser: Browser, ui: Ui) -> dict[str, Any]:
    ctx, page, traffic = browser.page()
    try:
        ms = _timed_goto(page, ui.runs_url(), ui.runs_ready())
        settle_network(page)
        return {
            "ms": ms,
            "js_css_kb": traffic.kb("Script", "Stylesheet"),
            "total_kb": traffic.kb(*traffic.wire),
            **traffic.summary(),
        }
    finally:
        ctx.close()


def measure_link(browser: Browser, ui: Ui) -> dict[str, Any]:
    """The experiment link the mlflow client prints; MLflow opens its GenAI overview, one click from runs."""
    ctx, page, _ = browser.page()
    try:
        t0 = time.time() * 1000.0
        page.goto(ui.link_url(), wait_until="commit")
        detour = None
        if not ui.ours:
            # Located by text: while the popover below is open the toggle is aria-hidden.
            toggle = page.locator("div[role=button]", has_text="Model training")
            toggle.wait_for()
            # Its router moves on to the overview after first paint; a click before that can be lost.
            page.wait_for_url("**/overview/**")
            detour = page.url
            # A first visit also gets a "Detect Issues" popover that blocks pointer clicks until
            # dismissed; the click goes straight to the toggle, so the figure leaves that step out.
            toggle.dispatch_event("click")
        return {"ms": wait_true(page, ui.runs_ready()) - t0, "landed_on": detour}
    finally:
        ctx.close()


def measure_chart_click(browser: Browser, ui: Ui) -> dict[str, Any]:
    """From the experiment's runs table: click the run, (MLflow: its Model metrics tab), chart drawn."""
    ctx, page, _ = browser.page()
    try:
        page.goto(ui.metric_experiment_url())
        link = page.locator(ui.run_link())
        link.wait_for()
        page.wait_for_load_state("load")
        clear_click(page)
        link.click()
        if not ui.ours:
            page.get_by_role("tab", name="Model metrics").or_(
                page.get_by_text("Model metrics", exact=True)
            ).first.click()
        drawn = wait_true(page, ui.chart_drawn())
        return {"ms": drawn - click_time(page)}
    finally:
        ctx.close()


def measure_chart_direct(browser: Browser, ui: Ui) -> dict[str, Any]:
    ctx, page, traffic = browser.page()
    try:
        ms = _timed_goto(page, ui.run_url(), ui.chart_drawn())
        settle_network(page)
        return {"ms": ms, "js_css_kb": traffic.kb("Script", "Stylesheet"), **traffic.summary()}
    finally:
        ctx.close()


def measure_compare(browser: Browser, ui: Ui) -> dict[str, Any]:
    ctx, page, traffic = browser.page()
    try:
        ms = _timed_goto(page, ui.compare_url(), ui.compare_ready())
        settle_network(page)
        return {"ms": ms, "js_css_kb": traffic.kb("Script", "Stylesheet"), **traffic.summary()}
    finally:
        ctx.close()


TASKS: dict[str, Callable[[Browser, Ui], dict[str, Any]]] = {
    "runs": measure_runs,
    "runs_link": measure_link,
    "chart_click": measure_chart_click,
    "chart_direct": measure_chart_direct,
    "compare": measure_compare,
}


def repeat(task: Callable[[], dict[str, Any]], times: int, name: str) -> dict[str, Any]:
    """One untimed warm-up, then `times` measured visits; the median and every sample."""
    task()
    samples = []
    for _ in range(times):
        samples.append(task())
    ms = [s["ms"] for s in samples]
    log(f"  {name}: median {statistics.median(ms):.0f} ms (samples {', '.join(f'{m:.0f}' for m in ms)})")
    return {"median_ms": statistics.median(ms), "samples": samples}


def _server_argv(name: str, db: Path, artifacts: Path, port: int, mlflow_venv: Path) -> list[str]:
    uri = f"sqlite:///{db}"
    argv = SPECS[name].command(uri, artifacts, port)
    if name == "mlflow":
        argv[0] = str(mlflow_venv / "bin" / "mlflow")
    return argv


def bench_server(name: str, args: argparse.Namespace, workroot: Path) -> dict[str, Any]:
    work = workroot / name
    work.mkdir()
    store = work
    saved = None
    if args.data_dir is not None:
        # A seeded store is kept (per server and size) and reused by later runs.
        store = args.data_dir / f"{name}-{args.runs}-{args.points}-{args.compare}"
        saved = store / "seeded.json"
        if not saved.exists():  # a seeding cut short leaves a store to start again from scratch
            shutil.rmtree(store, ignore_errors=True)
        store.mkdir(parents=True, exist_ok=True)
    port = free_port()
    argv = _server_argv(name, store / "store.db", store / "artifacts", port, args.mlflow_venv)
    server = ServerProcess(SPECS[name], argv, work, work / "server.log")
    out: dict[str, Any] = {"command": " ".join(argv), "figures": {}, "tasks": {}}
    browser = None
    try:
        server.start()
        out["start_s"] = round(server.wait_healthy(port), 2)
        if saved is not None and saved.exists():
            data = uiseed.Seeded(**json.loads(saved.read_text()))
            out["reused_store"] = str(store)
            log(f"{name}: healthy after {out['start_s']} s; reusing the data seeded in {store}")
        else:
            log(
                f"{name}: healthy after {out['start_s']} s; seeding {args.runs} runs and a {args.points}-point metric"
            )
            data = uiseed.seed(port, args.runs, args.points, args.compare, args.threads)
            if saved is not None:
                saved.write_text(json.dumps(dataclasses.asdict(data)))
        out["seed_seconds"] = data.seconds
        log(f"{name}: seeded in {data.seconds}")
        out["busy_before"] = _wait_quiet(args.wait_quiet)
        ui = Ui(name, f"http://127.0.0.1:{port}", data)
        browser = Browser()
        for task, fn in TASKS.items():
            log(f"{name}: {task}")
            out["tasks"][task] = repeat(lambda fn=fn: fn(browser, ui), args.repeat, task)
        out["busy_after"] = round(busy_fraction(2.0), 3)
        t = out["tasks"]
        out["figures"] = {
            "runs_ms": t["runs"]["median_ms"],
            "runs_link_ms": t["runs_link"]["median_ms"],
            "chart_click_ms": t["chart_click"]["median_ms"],
            "chart_direct_ms": t["chart_direct"]["median_ms"],
            "compare_ms": t["compare"]["median_ms"],
            "runs_kb": statistics.median(s["js_css_kb"] for s in t["runs"]["samples"]),
            "run_kb": statistics.median(s["js_css_kb"] for s in t["chart_direct"]["samples"]),
            "compare_kb": statistics.median(s["js_css_kb"] for s in t["compare"]["samples"]),
            "runs_total_kb": statistics.median(s["total_kb"] for s in t["runs"]["samples"]),
        }
    except KeyboardInterrupt:
        raise
    except Exception as exc:  # noqa: BLE001 - one server failing must not lose the other's figures
        out["error"] = f"{type(exc).__name__}: {exc}"
        log(f"{name}: FAILED: {out['error']}\n{server.log_tail(15)}")
    finally:
        if browser is not None:
            browser.close()
        server.stop()
    return out


def _wait_quiet(max_wait: float, threshold: float = 0.25) -> float:
    """Wait (at most max_wait s) for the server's own deferred work and other people's to leave the CPUs."""
    deadline = time.monotonic() + max_wait
    share = busy_fraction(3.0)
    while share >= threshold and time.monotonic() < deadline:
        log(f"machine {share:.0%} busy; waiting for it to calm down")
        share = busy_fraction(5.0)
    return round(share, 3)


def _version(name: str, mlflow_venv: Path) -> str:
    py = ROOT / ".venv" / "bin" / "python" if name == "tracklight" else mlflow_venv / "bin" / "python"
    meta = "import importlib.metadata as m, sys; print(m.version(sys.argv[1]))"
    try:
        v = subprocess.run(
            [str(py), "-c", meta, name], capture_output=True, text=True, timeout=60
        ).stdout.strip()
        if name == "tracklight":
            rev = subprocess.run(
                ["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"],
                capture_output=True,
                text=True,
                timeout=10,
            ).stdout.strip()
            v = f"{v} (git {rev})"
        return v
    except (OSError, subprocess.SubprocessError):
        return "unknown"


def _on_signal(signum: int, _frame: Any) -> None:
    raise KeyboardInterrupt(f"signal {signum}")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--servers", default=",".join(SERVERS), help="comma-separated: tracklight,mlflow")
    ap.add_argument("--runs", type=int, default=10_000, help="runs in the big experiment (default 10000)")
    ap.add_argument("--points", type=int, default=1_000_000, help="points of the charted metric")
    ap.add_argument("--compare", type=int, default=100, help="runs in the compare view (default 100)")
    ap.add_argument("--repeat", type=int, default=5, help="measured visits per task (default 5)")
    ap.add_argument("--threads", type=int, default=8, help="seeding threads (default 8)")
    ap.add_argument("--quick", action="store_true", help="1000 runs, 100,000 points, 3 repetitions")
    ap.add_argument(
        "--mlflow-venv",
        type=Path,
        default=PEER_VENV,
        help=f"virtual environment with mlflow installed (default {PEER_VENV})",
    )
    ap.add_argument(
        "--wait-quiet", type=float, default=60.0, metavar="S", help="wait up to S s for idle CPUs"
    )
    ap.add_argument(
        "--data-dir",
        type=Path,
        help="keep each server's seeded database here and reuse it on later runs with the same sizes",
    )
    ap.add_argument("--keep", action="store_true", help="keep the work directory (databases, server logs)")
    args = ap.parse_args(argv)
    if args.quick:
        args.runs, args.points, args.repeat = 1000, 100_000, 3
    servers = [s.strip() for s in args.servers.split(",") if s.strip()]
    if any(s not in SERVERS for s in servers):
        ap.error(f"--servers takes {','.join(SERVERS)}")
    if "mlflow" in servers and not (args.mlflow_venv / "bin" / "mlflow").exists():
        ap.error(
            f"no mlflow in {args.mlflow_venv}: run bench/run.py once (it installs the peers) or pass --mlflow-venv"
        )

    for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, _on_signal)
    atexit.register(stop_all_started)
    started = datetime.now(UTC)
    workroot = Path(tempfile.mkdtemp(prefix="tracklight-bench-dashboard-"))
    results: dict[str, Any] = {}
    try:
        for name in servers:
            results[name] = bench_server(name, args, workroot)
    finally:
        if args.keep:
            log(f"kept {workroot}")
        else:
            shutil.rmtree(workroot, ignore_errors=True)

    figures = {s: results[s]["figures"] for s in servers}
    table = report.rows(servers, figures, measures(args.runs, args.points, args.compare))
    text = report.markdown_table(servers, table, peers=("mlflow",) if "mlflow" in servers else ())
    out = {
        "started": started.isoformat(),
        "argv": sys.argv,
        "sizes": {"runs": args.runs, "points": args.points, "compare": args.compare, "repeat": args.repeat},
        "machine": machine_info(),
        "loadavg_end": loadavg(),
        "versions": {s: _version(s, args.mlflow_venv) for s in servers},
        "servers": results,
        "table": table,
    }
    results_dir = BENCH / "results"
    results_dir.mkdir(exist_ok=True)
    path = results_dir / f"{started:%Y%m%dT%H%M%SZ}-dashboard.json"
    path.write_text(json.dumps(out, indent=2, default=str))
    print(text)
    print()
    for s in servers:
        r = results[s]
        print(f"- {s} {out['versions'][s]}: `{r['command']}`")
        print(
            f"  start {r.get('start_s')} s; seeding {r.get('seed_seconds')}; "
            f"machine busy before {r.get('busy_before')}, after {r.get('busy_after')}"
            + (f"; ERROR {r['error']}" if r.get("error") else "")
        )
    print(f"\nJSON: {path}")
    return 1 if any(r.get("error") for r in results.values()) else 0


if __name__ == "__main__":
    sys.exit(main())
