"""What a parent's phone downloads on the first signed-in load, measured in Chromium (CDP)."""

from __future__ import annotations

from collections import Counter
from typing import Any

from flask import Flask

from tests.browser.conftest import SW_READY, LiveServer, wait_until
from tests.capture.phone import sign_in_parent
from tests.conftest import Factory

KB = 1000


def test_first_signed_in_load_is_small_and_downloads_nothing_twice(
    phone: Any, make: Factory, app: Flask, live_server: LiveServer
) -> None:
    sign_in_parent(app, phone, make.parent_of(make.family()), live_server.url)
    page_bytes: dict[str, int] = {}
    urls: dict[str, str] = {}
    worker: list[tuple[str, int]] = []
    cdp = phone.context.new_cdp_session(phone)
    cdp.on(
        "Network.requestWillBeSent", lambda e: urls.__setitem__(e["requestId"], e["request"]["url"])
    )
    cdp.on(
        "Network.loadingFinished",
        lambda e: page_bytes.__setitem__(e["requestId"], int(e["encodedDataLength"])),
    )
    cdp.send("Network.enable")

    def on_finished(request: Any) -> None:
        if request.service_worker is not None:
            sizes = request.sizes()
            worker.append((request.url, sizes["responseBodySize"]))

    phone.context.on("requestfinished", on_finished)
    phone.goto("/home/", wait_until="networkidle")
    phone.evaluate(SW_READY)
    phone.wait_for_load_state("networkidle")
    wait_until(phone, "async () => (await caches.keys()).length > 0")

    total = sum(page_bytes.values()) + sum(n for _, n in worker)
    assert total <= 100 * KB, (total, sorted(worker, key=lambda r: -r[1]))
    # The worker takes bundles the page already has from the HTTP cache: no body twice.
    page_gen = {urls[r] for r in page_bytes if "/static/gen/" in urls.get(r, "")}
    again = [url for url, body in worker if url in page_gen and body > 0]
    assert again == []
    # Only Home's own scripts, and no tus-js-client until a video is sent.
    scripts = Counter(
        u.rsplit("/", 1)[-1].split(".")[0] for u in urls.values() if u.endswith(".js")
    )
    assert "tus_js" not in scripts and scripts["capture_js"] == 1

    # A repeat visit: Home again in the same browser downloads next to nothing (the worker
    # answers the shell from its cache and only the page itself comes over the network).
    page_bytes.clear()
    worker.clear()
    phone.goto("/home/", wait_until="networkidle")
    repeat = sum(page_bytes.values()) + sum(n for _, n in worker)
    assert repeat < 10 * KB, (repeat, [urls.get(r) for r in page_bytes], worker)
