"""What a parent's phone downloads: the first signed-in load and a repeat visit, in bytes.

A parent on a pay-as-you-go data plan pays for every byte. One run builds a real app
(SQLite, temporary data dir) with one consenting family, serves it on loopback, and opens
Debian's Chromium (Playwright) on a phone viewport with an empty cache:

- first load: open Home signed in, and wait until the service worker is installed and the
  network is idle (everything the worker pre-caches counts too);
- repeat visit: open Home again in the same browser.

Bytes are transfer sizes as Chromium reports them over CDP (Network.loadingFinished
``encodedDataLength``: headers and body as sent, compressed where the server compressed), for
the page's own requests; the service worker's requests are counted from Playwright's request
sizes (the same CDP figures, from the worker's target); the worker script and the manifest,
which Chromium fetches for itself, are fetched once more here as Chromium asks for them.
Printed per request and in total, with the targets beside them (first load ≤ 100 KB, repeat
visit < 10 KB).

    .venv/bin/python bench/page_weight.py [--page /home/] [--verbose]
"""

from __future__ import annotations

import argparse
import logging
import os
import tempfile
import threading
import urllib.error
import urllib.request
from collections import defaultdict
from pathlib import Path
from typing import Any

import repo_root  # noqa: F401  (tests.support below)

KB = 1000
CHROMIUM = os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium")
SW_READY = """async () => {
  const reg = await navigator.serviceWorker.ready;
  const worker = reg.active;
  if (worker.state !== "activated") {
    await new Promise((r) => worker.addEventListener(
      "statechange", () => worker.state === "activated" && r()));
  }
  return worker.state;
}"""


def build(root: Path):  # type: ignore[no-untyped-def]
    from bench_app import bench_app

    from tests.support.parent_session import create_consenting_family, sign_in

    app = bench_app(root)
    signed = sign_in(app, create_consenting_family(app), "bench")
    return app, signed.cookie_value


class Meter:
    """Transfer sizes of one browser context: the page's over CDP, the worker's from Playwright."""

    def __init__(self, context: Any, page: Any) -> None:
        self.rows: list[tuple[str, str, int]] = []
        self._urls: dict[str, str] = {}
        cdp = context.new_cdp_session(page)
        cdp.on("Network.requestWillBeSent", self._sent)
        cdp.on("Network.loadingFinished", self._finished)
        cdp.send("Network.enable")
        context.on("requestfinished", self._worker_request)

    def _sent(self, event: dict[str, Any]) -> None:
        self._urls[event["requestId"]] = event["request"]["url"]

    def _finished(self, event: dict[str, Any]) -> None:
        url = self._urls.get(event["requestId"], "?")
        self.rows.append(("page", url, int(event["encodedDataLength"])))

    def _worker_request(self, request: Any) -> None:
        if request.service_worker is None:
            return  # the page's own requests are counted over CDP
        sizes = request.sizes()
        self.rows.append(
            ("worker", request.url, sizes["responseHeadersSize"] + sizes["responseBodySize"])
        )

    def take(self) -> list[tuple[str, str, int]]:
        rows, self.rows = self.rows, []
        return rows


def browser_fetches(url: str, cookie: str, repeat: bool = False) -> list[tuple[str, str, int]]:
    """The worker script and the manifest: Chromium fetches them itself, outside the page and
    the worker, so neither CDP session sees them. Fetched here as Chromium asks for them (on a
    repeat visit it re-checks the worker with the ETag it holds)."""
    rows = []
    etag = ""
    for path in ("/sw.js",) if repeat else ("/sw.js", "/manifest.webmanifest"):
        headers = {"Accept-Encoding": "gzip, deflate, br", "Cookie": f"vig_session={cookie}"}
        if repeat:
            with urllib.request.urlopen(urllib.request.Request(url + path, headers=headers)) as r:  # noqa: S310
                etag = r.headers.get("ETag", "")
            headers["If-None-Match"] = etag
        request = urllib.request.Request(url + path, headers=headers)
        try:
            with urllib.request.urlopen(request) as response:  # noqa: S310 - loopback server
                body, answer = response.read(), response.headers
        except urllib.error.HTTPError as not_modified:  # 304 comes as an "error" here
            body, answer = b"", not_modified.headers
        head = sum(len(k) + len(v) + 4 for k, v in answer.items()) + 17
        rows.append(("browser", url + path, head + len(body)))
    return rows


def report(title: str, rows: list[tuple[str, str, int]], target: str, verbose: bool) -> int:
    total = sum(n for _, _, n in rows)
    print(f"{title}: {total / KB:.1f} KB in {len(rows)} requests (target {target})")
    by_kind: dict[str, int] = defaultdict(int)
    for who, _, n in rows:
        by_kind[who] += n
    print("  " + ", ".join(f"{who} {n / KB:.1f} KB" for who, n in sorted(by_kind.items())))
    if verbose:
        for who, url, n in sorted(rows, key=lambda r: -r[2]):
            print(f"  {n / KB:7.1f} KB  {who:6}  {url.split('//', 1)[-1].split('/', 1)[-1]}")
    return total


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--page", default="/home/")
    parser.add_argument("--verbose", action="store_true")
    args = parser.parse_args()
    logging.getLogger("werkzeug").setLevel(logging.ERROR)  # one line per request otherwise

    from playwright.sync_api import sync_playwright
    from werkzeug.serving import make_server

    with tempfile.TemporaryDirectory() as tmp:
        app, cookie = build(Path(tmp))
        server = make_server("127.0.0.1", 0, app, threaded=True)
        url = f"http://127.0.0.1:{server.server_port}"
        threading.Thread(target=server.serve_forever, daemon=True).start()
        with sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=CHROMIUM, headless=True)
            context = browser.new_context(
                base_url=url,
                viewport={"width": 375, "height": 667},
                is_mobile=True,
                has_touch=True,
            )
            context.add_cookies([{"name": "vig_session", "value": cookie, "url": url}])
            page = context.new_page()
            meter = Meter(context, page)
            page.goto(args.page, wait_until="networkidle")
            page.evaluate(SW_READY)
            page.wait_for_load_state("networkidle")
            page.wait_for_timeout(500)  # let the last worker responses report their sizes
            first = report(
                f"First signed-in load of {args.page}",
                [r for r in meter.take() if not r[1].endswith("/sw.js")]
                + browser_fetches(url, cookie),
                "≤ 100 KB",
                args.verbose,
            )
            page.goto(args.page, wait_until="networkidle")
            page.wait_for_timeout(500)
            repeat = report(
                "Repeat visit",
                [r for r in meter.take() if not r[1].endswith("/sw.js")]
                + browser_fetches(url, cookie, repeat=True),
                "< 10 KB",
                args.verbose,
            )
            print(
                f"Ratios to target: first {first / (100 * KB):.2f}, repeat {repeat / (10 * KB):.2f}"
            )
            browser.close()
        server.shutdown()


if __name__ == "__main__":
    main()
