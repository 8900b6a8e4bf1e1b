"""Headless Chromium through Playwright: fresh contexts, bytes on the wire per resource type, timed waits."""

from __future__ import annotations

import contextlib
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
VIEWPORT = {"width": 1400, "height": 900}

# The first click after `sessionStorage.__clickAt` is cleared stamps the time; sessionStorage survives
# the navigation the click starts, so the next document can be timed against it.
_CLICK_STAMP = """
document.addEventListener("click", function () {
  if (!sessionStorage.getItem("__clickAt")) {
    sessionStorage.setItem("__clickAt", String(performance.timeOrigin + performance.now()));
  }
}, true);
"""


@dataclass
class Traffic:
    """Bytes Chromium received per resource type (CDP `encodedDataLength`: body as sent plus headers)."""

    wire: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    decoded: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    requests: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    encodings: dict[str, str] = field(default_factory=dict)  # url -> content-encoding, for JS/CSS
    _types: dict[str, tuple[str, str]] = field(default_factory=dict)

    def attach(self, cdp: Any) -> None:
        cdp.send("Network.enable")
        cdp.on("Network.responseReceived", self._response)
        cdp.on("Network.dataReceived", self._data)
        cdp.on("Network.loadingFinished", self._finished)

    def _response(self, e: dict[str, Any]) -> None:
        kind = str(e.get("type", "Other"))
        resp = e.get("response", {})
        self._types[e["requestId"]] = (kind, str(resp.get("url", "")))
        if kind in ("Script", "Stylesheet"):
            headers = {k.lower(): v for k, v in resp.get("headers", {}).items()}
            self.encodings[str(resp.get("url", ""))] = headers.get("content-encoding", "identity")

    def _data(self, e: dict[str, Any]) -> None:
        kind = self._types.get(e["requestId"], ("Other", ""))[0]
        self.decoded[kind] += int(e.get("dataLength", 0))

    def _finished(self, e: dict[str, Any]) -> None:
        kind = self._types.get(e["requestId"], ("Other", ""))[0]
        self.wire[kind] += int(e.get("encodedDataLength", 0))
        self.requests[kind] += 1

    def kb(self, *kinds: str) -> float:
        return sum(self.wire.get(k, 0) for k in kinds) / 1000.0

    def summary(self) -> dict[str, Any]:
        return {
            "wire_bytes": dict(self.wire),
            "decoded_bytes": dict(self.decoded),
            "requests": dict(self.requests),
            "js_css_encodings": sorted(set(self.encodings.values())),
        }


class Browser:
    """One Chromium; every measurement gets its own context (a cold cache, no cookies)."""

    def __init__(self) -> None:
        from playwright.sync_api import sync_playwright

        self._pw = sync_playwright().start()
        self.chromium = self._pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)

    def page(self) -> tuple[Any, Any, Traffic]:
        """(context, page, traffic) for one cold visit; close the context when done."""
        context = self.chromium.new_context(viewport=VIEWPORT)
        context.add_init_script(_CLICK_STAMP)
        page = context.new_page()
        page.set_default_timeout(120_000)
        traffic = Traffic()
        traffic.attach(context.new_cdp_session(page))
        return context, page, traffic

    def close(self) -> None:
        try:
            self.chromium.close()
        finally:
            self._pw.stop()


def wait_true(page: Any, condition: str, timeout_ms: float = 120_000) -> float:
    """Poll `condition` (a JS expression) every animation frame; the page's epoch ms when it first held."""
    handle = page.wait_for_function(
        f"() => ({condition}) ? performance.timeOrigin + performance.now() : false",
        polling="raf",
        timeout=timeout_ms,
    )
    return float(handle.json_value())


def navigation_start(page: Any) -> float:
    return float(page.evaluate("performance.timeOrigin"))


def clear_click(page: Any) -> None:
    page.evaluate("sessionStorage.removeItem('__clickAt')")


def click_time(page: Any) -> float:
    value = page.evaluate("sessionStorage.getItem('__clickAt')")
    if value is None:
        raise RuntimeError("the click was not stamped")
    return float(value)


def settle_network(page: Any, timeout_ms: float = 5000) -> None:
    """Let late requests (lazy chunks, fonts) finish so they are counted; bounded."""
    # A page that keeps polling never idles: then count what came within the bound.
    with contextlib.suppress(Exception):
        page.wait_for_load_state("networkidle", timeout=timeout_ms)
