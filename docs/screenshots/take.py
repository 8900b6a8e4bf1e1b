"""Takes the README's dashboard screenshots: a fresh server, the dashboard tests' seed data, headless Chromium.

Run from the repository root: `.venv/bin/python docs/screenshots/take.py` (writes the PNGs next to this file).
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
OUT = Path(__file__).resolve().parent
sys.path.insert(0, str(ROOT / "tests"))

from dashboard.seed import seed  # noqa: E402
from dashboard.traces_seed import seed_traces  # noqa: E402

CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_healthy(url: str, deadline: float) -> None:
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(url + "/health", timeout=2) as resp:
                if resp.status == 200:
                    return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError("the server did not start")


def main() -> int:
    import mlflow
    from playwright.sync_api import sync_playwright

    with tempfile.TemporaryDirectory() as tmp:
        port = free_port()
        url = f"http://127.0.0.1:{port}"
        server = subprocess.Popen(
            [
                str(ROOT / ".venv" / "bin" / "tracklight"),
                "server",
                "--backend-store-uri",
                f"sqlite:///{tmp}/store.db",
                "--artifacts-destination",
                f"{tmp}/artifacts",
                "--port",
                str(port),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
        try:
            wait_healthy(url, time.monotonic() + 60)
            data = seed(mlflow.MlflowClient(tracking_uri=url), "image-classifier")
            traced = seed_traces(mlflow, url, "support-bot")
            with sync_playwright() as p:
                browser = p.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS)
                page = browser.new_page(viewport={"width": 1280, "height": 720})
                page.goto(f"{url}/experiments/{traced.experiment_id}/traces")
                page.screenshot(path=str(OUT / "traces-list.png"))
                page.goto(f"{url}/experiments/{traced.experiment_id}/traces/{traced.pipeline}")
                page.locator("#span-tree a", has_text="retrieve").click()
                page.wait_for_selector("#span-detail h3:has-text('retrieve')")
                page.evaluate("document.getElementById('request-heading').scrollIntoView()")
                page.screenshot(path=str(OUT / "trace-page.png"))
                page.goto(f"{url}/experiments/{data.experiment_id}")
                page.screenshot(path=str(OUT / "runs-table.png"))

                run = data.runs["train-1"]
                page.goto(f"{url}/experiments/{data.experiment_id}/runs/{run}")
                page.evaluate("document.getElementById('params-heading').scrollIntoView()")
                page.wait_for_selector("figure.chart[data-key='loss'][data-drawn='true']")
                page.wait_for_selector("figure.chart[data-key='accuracy'][data-drawn='true']")
                page.screenshot(path=str(OUT / "run-charts.png"))

                runs = "&".join(f"run={data.runs[f'train-{i}']}" for i in range(4))
                page.goto(f"{url}/compare?{runs}")
                page.wait_for_selector("figure.chart[data-drawn='true']")
                page.screenshot(path=str(OUT / "compare.png"))

                browser.close()
        finally:
            os.killpg(server.pid, signal.SIGTERM)
            server.wait(timeout=30)
    for name in ("runs-table", "run-charts", "compare", "traces-list", "trace-page"):
        print(OUT / f"{name}.png")
    return 0


if __name__ == "__main__":
    sys.exit(main())
