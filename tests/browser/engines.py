"""Safari's engine (WebKitGTK's MiniBrowser, through WebKitWebDriver and Selenium) and
Firefox (Debian's ESR, through WebDriver BiDi and puppeteer-core), driven through one small
interface so one journey test runs in both.

Playwright's WebKit and Firefox are its own patched builds, which cannot be installed here;
these are the browsers Debian ships. In CI (`REQUIRE_BROWSER=1`) a missing browser is a
failure, never a skip.
"""

from __future__ import annotations

import json
import os
import queue
import shutil
import subprocess
import threading
import time
import warnings
from pathlib import Path
from typing import Any

import pytest

from tests.browser.conftest import ARTIFACTS

ROOT = Path(__file__).resolve().parents[2]
MINIBROWSER = Path(
    os.environ.get("MINIBROWSER_PATH", "/usr/lib/x86_64-linux-gnu/webkit2gtk-4.1/MiniBrowser")
)
WEBKIT_DRIVER = Path(os.environ.get("WEBKIT_DRIVER_PATH", "/usr/bin/WebKitWebDriver"))
FIREFOX = Path(os.environ.get("FIREFOX_PATH", "/usr/bin/firefox-esr"))
FIREFOX_BRIDGE = Path(__file__).with_name("firefox_bridge.mjs")
PUPPETEER = ROOT / "node_modules" / "puppeteer-core"
# Safari on an iPhone: the app tells iPhone owners how to keep their videos (install card).
IPHONE_UA = (
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 "
    "(KHTML, like Gecko) Version/17.5 Mobile/15E148 Safari/604.1"
)
PHONE_SIZE = (390, 844)

# Runs a page function with arguments and reports its value or its error (WebDriver classic).
_ASYNC_CALL = """
const done = arguments[arguments.length - 1];
const args = arguments[0];
const fn = (%s);
Promise.resolve().then(() => fn(...args)).then(
  (value) => done({ ok: true, value: value === undefined ? null : value }),
  (err) => done({ ok: false, error: String((err && err.stack) || err) }));
"""

# Marks the visible button, link or label whose words are `text`, so a real click can find it.
_MARK_BY_TEXT = """(text, mark) => {
  const words = (el) => el.textContent.replace(/\\s+/g, " ").trim();
  const all = [...document.querySelectorAll("button, a, label, summary")]
    .filter((el) => el.offsetParent !== null && words(el) === text);
  if (all.length !== 1) return all.length;
  all[0].setAttribute("data-test-target", mark);
  all[0].scrollIntoView({ block: "center" });
  return 1;
}"""


class EngineMissing(Exception):
    pass


def require(*paths: Path) -> None:
    """Fail (CI) or skip (a laptop without the browser) when a browser part is missing."""
    missing = [str(p) for p in paths if not p.exists()]
    if not missing:
        return
    message = f"Browser not installed: {', '.join(missing)} (see .ci/run for the packages)."
    if os.environ.get("REQUIRE_BROWSER") == "1":
        pytest.fail(message)
    pytest.skip(message)


class PhonePage:
    """What a journey test needs from a phone's browser; each engine fills in the transport."""

    name = "engine"

    def __init__(self, base_url: str) -> None:
        self.base_url = base_url
        self._marks = 0

    # --- transport, per engine
    def goto(self, path: str) -> None:
        raise NotImplementedError

    def reload(self) -> None:
        raise NotImplementedError

    def run(self, source: str, *args: Any) -> Any:
        """Call the page function `source` with `args` (awaited) and return its value."""
        raise NotImplementedError

    def click(self, selector: str) -> None:
        raise NotImplementedError

    def choose_file(self, selector: str, path: Path) -> None:
        raise NotImplementedError

    def screenshot(self, name: str) -> Path:
        raise NotImplementedError

    def close(self) -> None:
        raise NotImplementedError

    # --- built on the transport
    def wait_for(self, source: str, *args: Any, timeout: float = 20.0) -> Any:
        """Poll until the page function returns something truthy; returns it."""
        deadline = time.monotonic() + timeout
        last: Any = None
        while True:
            try:
                last = self.run(source, *args)
            except EngineError as e:  # a navigation replaced the page under us: ask again
                last = e
            else:
                if last:
                    return last
            if time.monotonic() > deadline:
                raise AssertionError(
                    f"{self.name}: still false after {timeout} s: {source} -> {last}"
                )
            time.sleep(0.1)

    def text(self) -> str:
        return str(self.run("() => document.body.innerText"))

    def wait_for_text(self, text: str, timeout: float = 20.0) -> None:
        self.wait_for("(t) => document.body.innerText.includes(t)", text, timeout=timeout)

    def press(self, text: str) -> None:
        """Tap the visible button, link or label that says exactly `text`."""
        self._marks += 1
        mark = f"t{self._marks}"
        found = self.wait_for(_MARK_BY_TEXT, text, mark, timeout=10)
        assert found == 1, f"{self.name}: {found} controls say {text!r}"
        self.click(f'[data-test-target="{mark}"]')

    def fits(self) -> bool:
        return bool(self.run("() => document.documentElement.scrollWidth <= window.innerWidth"))


class EngineError(Exception):
    pass


class WebKitPhone(PhonePage):
    """MiniBrowser (WebKitGTK) under Xvfb, with mock camera and microphone."""

    name = "webkit"

    def __init__(self, base_url: str) -> None:
        super().__init__(base_url)
        from selenium import webdriver
        from selenium.webdriver.webkitgtk.service import Service

        self._xvfb, display = _start_xvfb()
        options = webdriver.WebKitGTKOptions()
        options.binary_location = str(MINIBROWSER)
        options.add_argument("--automation")
        options.add_argument("--enable-mock-capture-devices=true")
        options.add_argument(f"--user-agent={IPHONE_UA}")
        # The back-forward cache stays on, as on an iPhone. A page frozen in it mid-write
        # held up every later page's store (this journey failed 2 runs in 6 so); the app ends
        # its transactions as a page is put away (vig-store.js, "pagehide"): 0 in 12.
        env = {**os.environ, "DISPLAY": f":{display}"}
        service = Service(executable_path=str(WEBKIT_DRIVER), env=env)
        try:
            with warnings.catch_warnings():
                # Selenium's own WebKitGTK driver still uses its deprecated RemoteConnection
                # argument (selenium 4.51); nothing of ours to change.
                warnings.simplefilter("ignore", DeprecationWarning)
                self.driver = webdriver.WebKitGTK(options=options, service=service)
        except Exception:
            self._xvfb.terminate()
            self._xvfb.wait(10)
            raise
        self.driver.set_script_timeout(30)
        self.driver.set_page_load_timeout(30)
        # MiniBrowser's window will not go narrower than its toolbar (447 CSS px).
        self.driver.set_window_size(*PHONE_SIZE)

    def close(self) -> None:
        try:
            self.driver.quit()
        finally:
            self._xvfb.terminate()
            self._xvfb.wait(10)

    def goto(self, path: str) -> None:
        self.driver.get(self.base_url + path)

    def reload(self) -> None:
        self.driver.refresh()

    def run(self, source: str, *args: Any) -> Any:
        from selenium.common.exceptions import WebDriverException

        try:
            answer = self.driver.execute_async_script(_ASYNC_CALL % source, list(args))
        except WebDriverException as e:
            raise EngineError(str(e)) from e
        if not isinstance(answer, dict) or not answer.get("ok"):
            raise EngineError(f"page function failed: {answer}")
        return answer.get("value")

    def click(self, selector: str) -> None:
        from selenium.webdriver.common.by import By

        self.driver.find_element(By.CSS_SELECTOR, selector).click()

    def choose_file(self, selector: str, path: Path) -> None:
        from selenium.webdriver.common.by import By

        self.driver.find_element(By.CSS_SELECTOR, selector).send_keys(str(path))

    def screenshot(self, name: str) -> Path:
        ARTIFACTS.mkdir(exist_ok=True)
        out = ARTIFACTS / f"{name}.png"
        self.driver.save_screenshot(str(out))
        return out


class FirefoxPhone(PhonePage):
    """Firefox ESR, headless, through tests/browser/firefox_bridge.mjs (puppeteer-core)."""

    name = "firefox"

    def __init__(self, base_url: str) -> None:
        super().__init__(base_url)
        node = shutil.which("node")
        if node is None:
            raise EngineMissing("node")
        env = {
            **os.environ,
            "FIREFOX": str(FIREFOX),
            "VIEWPORT": "x".join(map(str, PHONE_SIZE)),
            "MOZ_HEADLESS": "1",
        }
        self._proc = subprocess.Popen(
            [node, str(FIREFOX_BRIDGE)],
            cwd=ROOT,
            env=env,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        self._answers: queue.Queue[str] = queue.Queue()
        threading.Thread(target=self._read, daemon=True).start()
        self._next = 0
        try:
            self.version = self._call("version", timeout=90)
        except EngineError:
            self._proc.kill()
            self._proc.wait(10)
            raise

    def _read(self) -> None:
        assert self._proc.stdout is not None
        for line in self._proc.stdout:
            self._answers.put(line)
        self._answers.put("")

    def _call(self, op: str, timeout: float = 60, **kw: Any) -> Any:
        assert self._proc.stdin is not None
        self._next += 1
        self._proc.stdin.write(json.dumps({"id": self._next, "op": op, **kw}) + "\n")
        self._proc.stdin.flush()
        try:
            line = self._answers.get(timeout=timeout)
        except queue.Empty:
            raise EngineError(f"firefox: no answer to {op} in {timeout} s") from None
        if not line:
            raise EngineError(f"firefox: the bridge stopped (exit {self._proc.poll()})")
        answer = json.loads(line)
        assert answer["id"] == self._next
        if not answer["ok"]:
            raise EngineError(answer["error"])
        return answer.get("value")

    def close(self) -> None:
        if self._proc.poll() is None:
            assert self._proc.stdin is not None
            try:
                self._proc.stdin.write(json.dumps({"op": "quit"}) + "\n")
                self._proc.stdin.close()
                self._proc.wait(30)
            except (OSError, subprocess.TimeoutExpired):
                self._proc.kill()
                self._proc.wait(10)
        if self._proc.stdout is not None:
            self._proc.stdout.close()

    def goto(self, path: str) -> None:
        self._call("goto", url=self.base_url + path)

    def reload(self) -> None:
        self._call("reload")

    def run(self, source: str, *args: Any) -> Any:
        return self._call("run", source=source, args=list(args))

    def click(self, selector: str) -> None:
        self._call("click", selector=selector)

    def choose_file(self, selector: str, path: Path) -> None:
        self._call("upload", selector=selector, path=str(path))

    def screenshot(self, name: str) -> Path:
        ARTIFACTS.mkdir(exist_ok=True)
        out = ARTIFACTS / f"{name}.png"
        self._call("screenshot", path=str(out))
        return out

    def page_errors(self) -> list[str]:
        return list(self._call("errors"))


def _start_xvfb() -> tuple[subprocess.Popen[bytes], str]:
    """A private X display (Xvfb picks a free number and tells us which)."""
    read, write = os.pipe()
    proc = subprocess.Popen(
        ["Xvfb", "-displayfd", str(write), "-screen", "0", "1024x1024x24", "-nolisten", "tcp"],
        pass_fds=(write,),
        stderr=subprocess.DEVNULL,
    )
    os.close(write)
    with os.fdopen(read) as f:
        display = f.readline().strip()
    if not display:
        proc.kill()
        raise EngineMissing("Xvfb did not start")
    return proc, display


def open_engine(name: str, base_url: str) -> PhonePage:
    """Start the engine's browser (the caller closes it)."""
    if name == "webkit":
        require(MINIBROWSER, WEBKIT_DRIVER, Path(shutil.which("Xvfb") or "/usr/bin/Xvfb"))
        return WebKitPhone(base_url)
    require(FIREFOX, PUPPETEER, Path(shutil.which("node") or "/usr/bin/node"))
    return FirefoxPhone(base_url)
