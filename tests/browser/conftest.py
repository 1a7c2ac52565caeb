"""A live server and Debian's Chromium driven by Playwright, on a phone-sized viewport.

In CI (`REQUIRE_BROWSER=1`) a missing browser is a failure, never a skip.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from werkzeug.serving import make_server

from tests.conftest import PASSWORD

CHROMIUM = Path(os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium"))
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--use-fake-device-for-media-stream",
    "--use-fake-ui-for-media-stream",
]
PHONE = {"width": 390, "height": 844}
DESKTOP = {"width": 1280, "height": 800}
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"

# Resolves once the page's service worker is active and controls it (offline tests need it).
SW_READY = """async () => {
  const reg = await navigator.serviceWorker.ready;
  if (!navigator.serviceWorker.controller) {
    await new Promise((r) => navigator.serviceWorker.addEventListener("controllerchange", r));
  }
  const worker = reg.active;
  if (worker.state !== "activated") {
    await new Promise((r) => worker.addEventListener(
      "statechange", () => worker.state === "activated" && r()));
  }
  return worker.state;
}"""


def closing_every_response(app: Any) -> Any:
    """The app, with each answer closed even when the browser hangs up halfway through it.

    werkzeug's development server skips the answer's `close()` when the client drops the
    connection mid-answer (a page navigated away while an icon was still being sent), leaving
    the open file to the garbage collector's ResourceWarning, which this suite treats as an
    error. A generator's `finally` runs when it is collected, so the file is closed either way.
    """

    def wsgi(environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
        answer = app(environ, start_response)
        try:
            yield from answer
        finally:
            if hasattr(answer, "close"):
                answer.close()

    return wsgi


class LiveServer:
    def __init__(self, app: Flask) -> None:
        self.server = make_server("127.0.0.1", 0, closing_every_response(app), threaded=True)
        self.url = f"http://127.0.0.1:{self.server.server_port}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> LiveServer:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()


@pytest.fixture(scope="session")
def live_server(app: Flask) -> Iterator[LiveServer]:
    with LiveServer(app) as server:
        yield server


@pytest.fixture(scope="session")
def browser() -> Iterator[object]:
    if not CHROMIUM.exists():
        message = f"Chromium not found at {CHROMIUM}; install Debian's chromium package."
        if os.environ.get("REQUIRE_BROWSER") == "1":
            pytest.fail(message)
        pytest.skip(message)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        b = pw.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS)
        yield b
        b.close()


def new_context(browser, live_server: LiveServer, viewport: dict[str, int] = PHONE, **kw):  # type: ignore[no-untyped-def]
    phone = viewport == PHONE
    context = browser.new_context(
        base_url=live_server.url,
        viewport=viewport,
        is_mobile=phone,
        has_touch=phone,
        device_scale_factor=2 if phone else 1,
        permissions=["camera", "microphone"],
        locale="en-GB",
        **kw,
    )
    context.set_default_timeout(15_000)
    return context


@pytest.fixture
def phone(browser, live_server: LiveServer) -> Iterator[object]:  # type: ignore[no-untyped-def]
    """A page in a fresh phone-sized context (its own cookies and storage)."""
    context = new_context(browser, live_server)
    page = context.new_page()
    yield page
    context.close()


@pytest.fixture
def desktop(browser, live_server: LiveServer) -> Iterator[object]:  # type: ignore[no-untyped-def]
    context = new_context(browser, live_server, DESKTOP)
    page = context.new_page()
    yield page
    context.close()


def sign_in_staff(page, email: str) -> None:  # type: ignore[no-untyped-def]
    """Sign a member of staff in through the sign-in page, as they would."""
    page.goto("/login")
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url("**/practice/")


def screenshot(page, name: str) -> Path:  # type: ignore[no-untyped-def]
    """Save a screenshot under test-artifacts/ for a person to look at."""
    ARTIFACTS.mkdir(exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path


def wait_until(page, condition: str, arg: Any = None, timeout: float = 30) -> None:  # type: ignore[no-untyped-def]
    """Poll a JavaScript condition (async allowed) until it holds.

    ``page.wait_for_function`` cannot do this for an async condition: it takes the Promise
    such a function returns as a true answer at once.
    """
    deadline = time.monotonic() + timeout
    while not page.evaluate(condition, arg):
        if time.monotonic() > deadline:
            raise AssertionError(f"still not true after {timeout} s: {condition}")
        page.wait_for_timeout(100)
