"""Fixtures for the dashboard tests: a live server seeded through the mlflow client, and headless Chromium."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from harness.server import ServerProcess
from playwright.sync_api import expect

from dashboard.seed import Seeded, seed, seed_xss
from dashboard.traces_seed import SeededTraces, seed_traces

# Playwright's assertions wait 5 s by default; on a loaded 2-core CI machine, with servers and chromium
# sharing it, a page can take longer than that to settle, and a slow pass is not a failure.
expect.set_options(timeout=20_000)

SCREENSHOTS = Path(__file__).resolve().parent / "screenshots"
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@dataclass
class Dashboard:
    """The seeded server: its URL, the client used to seed it, and what was seeded."""

    server: ServerProcess
    client: Any
    data: Seeded
    backend: str

    @property
    def url(self) -> str:
        return self.server.url


@pytest.fixture(scope="module")
def dashboard(tracking_server: ServerProcess, session_backend: Any) -> Dashboard:
    import uuid

    import mlflow

    client = mlflow.MlflowClient(tracking_uri=tracking_server.url)
    suffix = uuid.uuid4().hex[:8]
    data = seed(client, f"dash-{suffix}")
    data.xss_experiment_id, data.xss_run_id = seed_xss(client, f"xss-{suffix}")
    return Dashboard(tracking_server, client, data, session_backend.backend)


@pytest.fixture(scope="module")
def traced(tracking_server: ServerProcess) -> Iterator[tuple[ServerProcess, SeededTraces]]:
    """The server and an experiment of traces made through the mlflow client (see traces_seed)."""
    import uuid

    import mlflow

    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("MLFLOW_TRACKING_URI", tracking_server.url)
        yield tracking_server, seed_traces(mlflow, tracking_server.url, f"traces-{uuid.uuid4().hex[:8]}")


def launched_chromium() -> Iterator[Any]:
    """Debian's chromium driven by Playwright (which cannot download its own browser here), for a fixture."""
    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} is missing: apt-get install chromium (scripts/test does it)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        instance = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            yield instance
        finally:
            instance.close()


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    yield from launched_chromium()


@dataclass
class Watched:
    """A page plus what it reported: dialogs opened, CSP violations, script errors, failed requests."""

    page: Any
    dialogs: list[str]
    violations: list[str]
    errors: list[str]
    accept_dialogs: bool = False  # a test that clicks a confirm() button sets this; any other dialog fails

    def clean(self) -> None:
        assert self.dialogs == [], f"dialogs fired: {self.dialogs}"
        assert self.errors == [], f"script errors: {self.errors}"
        assert self.violations == [], f"CSP violations: {self.violations}"
        assert self.page.evaluate("window.__xss") is None, "an injected payload ran"

    def sandbox_blocked(self) -> None:
        """An HTML artifact's script reached for this page and the sandbox stopped it: expected, once seen."""
        # The console message arrives on its own schedule (slower on a loaded machine): wait for it.
        for _ in range(100):
            blocked = [e for e in self.errors if 'Blocked a frame with origin "null"' in e]
            if blocked:
                break
            self.page.wait_for_timeout(100)
        assert blocked, f"no sandboxed script was blocked: {self.errors}"
        self.errors = [e for e in self.errors if e not in blocked]

    def shot(self, name: str, full_page: bool = True) -> Path:
        SCREENSHOTS.mkdir(exist_ok=True)
        path = SCREENSHOTS / f"{name}.png"
        self.page.screenshot(path=str(path), full_page=full_page)
        return path


@pytest.fixture
def page(browser: Any) -> Iterator[Watched]:
    context = browser.new_context(viewport={"width": 1400, "height": 900})
    context.add_init_script(
        "window.__violations = [];"
        "document.addEventListener('securitypolicyviolation', e => "
        "window.__violations.push(e.violatedDirective + ' ' + e.blockedURI + ' at ' + e.sourceFile + ':' + e.lineNumber));"
    )
    p = context.new_page()
    watched = Watched(p, [], [], [])

    def on_dialog(dialog: Any) -> None:
        if watched.accept_dialogs and dialog.type == "confirm":
            dialog.accept()
            return
        watched.dialogs.append(dialog.message)
        dialog.dismiss()

    p.on("dialog", on_dialog)
    p.on("pageerror", lambda exc: watched.errors.append(str(exc)))
    p.on(
        "console",
        lambda msg: watched.violations.append(msg.text) if "Content Security Policy" in msg.text else None,
    )
    try:
        yield watched
    finally:
        context.close()
