"""The phone against the server as deployed: Chromium films and sends with tus-js-client to the
app under gunicorn with gevent workers in its own process (``vigparent/gunicorn_config.py``),
and the stored file is byte-identical to the phone's."""

from __future__ import annotations

import hashlib
from pathlib import Path

from playwright.sync_api import expect

from tests.browser.conftest import new_context, screenshot
from tests.browser.test_capture import HASH_STORED, SEND
from tests.capture.phone import local_records, wait_until_filmed
from tests.uploads.conftest import Deployment, ServerProcess


def test_phone_films_and_sends_to_gunicorn_byte_for_byte(browser, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    deployment = Deployment(tmp_path / "data")
    server = ServerProcess("gunicorn", deployment.env).start()
    context = new_context(browser, server)
    try:
        signed = deployment.signed
        context.add_cookies(
            [{"name": signed.cookie_name, "value": signed.cookie_value, "url": server.url}]
        )
        page = context.new_page()
        page.goto("/film/")
        page.get_by_role("button", name="Start filming").click()
        expect(page.get_by_text("of 10:00")).to_be_visible()
        wait_until_filmed(page, 4)
        page.get_by_role("button", name="Stop filming").click()
        expect(page.get_by_role("heading", name="Watch it back")).to_be_visible()
        (rec,) = [r for r in local_records(page) if r["state"] == "review"]
        stored = page.evaluate(HASH_STORED, rec["id"])

        page.get_by_role("button", name=SEND).click()
        expect(page.get_by_role("heading", name="Sent. Thank you!")).to_be_visible(timeout=30_000)
        screenshot(page, "deployed-sent")
    finally:
        context.close()
        server.stop()
    recording = deployment.recording()
    assert recording.client_id == rec["id"]
    assert recording.sha256 == stored["native"]
    assert recording.declared_size == stored["size"]
    assert hashlib.sha256(deployment.stored(recording)).hexdigest() == stored["native"]
