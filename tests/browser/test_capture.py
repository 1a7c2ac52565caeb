"""Filming on the phone, offline first, sent with tus (issue 5 acceptance, phone half).

Chromium on a phone viewport with the fake camera. The server half is the real tus endpoint;
the page gets a 64 KiB tus chunk size in tests (capture/service.py), so even short
recordings cross several PATCHes.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Iterator
from typing import Any

import pytest
from flask import Flask
from playwright.sync_api import Page, expect

from tests.browser.conftest import (
    PHONE,
    SW_READY,
    LiveServer,
    new_context,
    screenshot,
    wait_until,
)
from tests.capture.phone import (
    local_records,
    recordings_of,
    sign_in_parent,
    wait_until_chunks_saved,
    wait_until_filmed,
)
from tests.conftest import Factory
from vigparent.capture.service import TEST_UPLOAD_CHUNK_BYTES
from vigparent.models import Family

SEND = "Send to my practitioner"

# Runs in the page: sha256 of the stored bytes with WebCrypto, independently of the uploader.
# (The page's own incremental SHA-256, for files over ~190 MB, is checked against Node's crypto
# in tests/js/sha256.test.mjs.)
HASH_STORED = """async (id) => {
  const blob = await vig.store.blob(id);
  const digest = await crypto.subtle.digest("SHA-256", await blob.arrayBuffer());
  const hex = (b) => b.toString(16).padStart(2, "0");
  const native = Array.from(new Uint8Array(digest), hex).join("");
  return { native: native, size: blob.size };
}"""
CHUNK_COUNT = "async (id) => (await vig.store.readChunks(id)).length"


def body_size(request: Any) -> int:
    """Bytes in a request body (Playwright does not keep Blob bodies, but knows their length)."""
    return int(request.all_headers().get("content-length", 0))


class Phone:
    """A signed-in parent's phone and what it sent over the network."""

    def __init__(self, page: Page, family: Family, app: Flask) -> None:
        self.page = page
        self.family = family
        self.app = app
        self.requests: list[Any] = []
        page.context.on("request", self._on_request)

    def _on_request(self, request: Any) -> None:
        if "/api/uploads" in request.url:
            self.requests.append(request)

    def methods(self, method: str) -> list[Any]:
        return [r for r in self.requests if r.method == method]

    def film(self, seconds: float) -> str:
        """Film on /film/ for `seconds` and stop; returns the recording id, now in review."""
        page = self.page
        if not page.url.endswith("/film/"):
            page.goto("/film/")
        start = page.get_by_role("button", name="Start filming")
        expect(start).to_be_enabled()
        start.click()
        expect(page.get_by_text("of 10:00")).to_be_visible()
        wait_until_filmed(page, seconds)
        page.get_by_role("button", name="Stop filming").click()
        expect(page.get_by_role("heading", name="Watch it back")).to_be_visible()
        (rec,) = [r for r in local_records(page) if r["state"] == "review"]
        return str(rec["id"])

    def record(self, rid: str) -> dict[str, Any]:
        (rec,) = [r for r in local_records(self.page) if r["id"] == rid]
        return rec

    def recordings(self) -> list[Any]:
        return recordings_of(self.app, self.family.id)


@pytest.fixture
def parent_phone(phone: Page, make: Factory, app: Flask, live_server: LiveServer) -> Phone:
    family = make.family()
    sign_in_parent(app, phone, make.parent_of(family), live_server.url)
    return Phone(phone, family, app)


@pytest.fixture
def phone_without_sw(browser, live_server: LiveServer) -> Iterator[Page]:  # type: ignore[no-untyped-def]
    """Playwright cannot intercept requests of a page a service worker controls."""
    context = new_context(browser, live_server, PHONE, service_workers="block")
    yield context.new_page()
    context.close()


def test_film_online_is_sent_whole_and_exactly_once(parent_phone: Phone) -> None:
    page = parent_phone.page
    page.goto("/film/")
    expect(page.get_by_role("button", name="Start filming")).to_be_enabled()
    screenshot(page, "capture-1-record")
    camera = page.evaluate(
        "() => document.getElementById('rec-preview').srcObject.getVideoTracks()[0].getSettings()"
    )
    assert max(camera["width"], camera["height"]) <= 1280  # at most 720p
    assert min(camera["width"], camera["height"]) <= 720
    rid = parent_phone.film(10)
    screenshot(page, "capture-2-review")

    stored = page.evaluate(HASH_STORED, rid)
    rec = parent_phone.record(rid)
    assert stored["size"] == rec["size"] == sum(rec["chunkSizes"])
    assert len(rec["chunkSizes"]) >= 8  # one chunk a second, written while filming
    assert rec["mimeType"].startswith("video/webm")
    assert 8_000 <= rec["durationMs"] <= 13_000

    page.get_by_role("button", name=SEND).click()
    expect(page.get_by_role("heading", name="Sent. Thank you!")).to_be_visible(timeout=30_000)
    screenshot(page, "capture-3-sent")

    (recording,) = parent_phone.recordings()
    assert recording.client_id == rid
    assert recording.sha256 == stored["native"]
    assert recording.declared_size == recording.received_size == stored["size"]
    assert recording.status.value in ("received", "processing", "ready")
    # One creation, and every byte sent once, in 64 KiB PATCHes.
    assert len(parent_phone.methods("POST")) == 1
    patches = parent_phone.methods("PATCH")
    assert len(patches) == math.ceil(stored["size"] / TEST_UPLOAD_CHUNK_BYTES)
    assert sum(body_size(p) for p in patches) == stored["size"]
    assert all(p.headers["upload-checksum"].startswith("sha1 ") for p in patches)

    # The phone's copy is gone only now; a small note of it stays for the list.
    sent = parent_phone.record(rid)
    assert sent["state"] == "sent" and sent["sha256"] == stored["native"]
    assert page.evaluate(CHUNK_COUNT, rid) == 0

    page.get_by_role("link", name="See my videos").click()
    expect(page.get_by_text("Sent. Your practitioner")).to_be_visible()
    assert page.evaluate("document.documentElement.scrollWidth") <= 390


def test_offline_recording_survives_reload_and_sends_itself_when_online(
    parent_phone: Phone,
) -> None:
    page = parent_phone.page
    context = page.context
    page.goto("/film/videos")
    assert page.evaluate(SW_READY) == "activated"
    page.goto("/film/")

    context.set_offline(True)
    rid = parent_phone.film(3)
    page.get_by_role("button", name=SEND).click()
    expect(page.get_by_text("Waiting for signal. It will send by itself.")).to_be_visible()
    page.get_by_role("link", name="See my videos").click()
    expect(page.get_by_role("heading", name="My videos")).to_be_visible()

    # Reload while offline: the service worker answers from its cache.
    failed: list[str] = []
    context.on("requestfailed", lambda r: failed.append(r.url))
    response = page.reload()
    assert response is not None and response.from_service_worker
    assert any(url.endswith("/film/videos") for url in failed)  # the network really was gone
    item = page.get_by_role("listitem").filter(has_text="Waiting for signal")
    expect(item).to_be_visible()
    expect(page.get_by_text("No signal right now.")).to_be_visible()
    screenshot(page, "capture-4-pending-offline")
    assert parent_phone.recordings() == []
    assert parent_phone.record(rid)["state"] == "queued"

    # The app opens at "/" (manifest start_url): offline that is the cached home page.
    response = page.goto("/")
    assert response is not None and response.from_service_worker
    expect(page.locator('.parent-nav a[aria-current="page"]')).to_have_text("Home")
    # Any other page offline gets the offline page, not the browser's error.
    page.goto("/review/")
    expect(page.get_by_role("heading", name="No signal")).to_be_visible()
    screenshot(page, "capture-5-offline-page")
    page.goto("/film/videos")

    context.set_offline(False)
    expect(page.get_by_text("Sent. Your practitioner")).to_be_visible(timeout=30_000)
    screenshot(page, "capture-6-pending-sent")
    (recording,) = parent_phone.recordings()
    assert recording.client_id == rid
    assert recording.sha256 == parent_phone.record(rid)["sha256"]
    assert len(parent_phone.methods("POST")) == 1


def test_dropped_connection_resumes_without_resending_confirmed_bytes(
    phone_without_sw: Page, make: Factory, app: Flask, live_server: LiveServer
) -> None:
    page = phone_without_sw
    family = make.family()
    sign_in_parent(app, page, make.parent_of(family), live_server.url)
    phone = Phone(page, family, app)
    rid = phone.film(4)
    size = phone.record(rid)["size"]
    assert size > 3 * TEST_UPLOAD_CHUNK_BYTES

    sent: list[int] = []  # body bytes of each PATCH that reached the server
    accepted: list[int] = []  # bytes the server said it stored (its new offset - old offset)
    offsets: list[int] = []
    held: list[Any] = []
    patches_seen = 0

    def forward(route: Any) -> None:
        offset = int(route.request.headers["upload-offset"])
        offsets.append(offset)
        sent.append(len(route.request.post_data_buffer or b""))
        response = route.fetch()
        accepted.append(int(response.headers["upload-offset"]) - offset)
        route.fulfill(response=response)

    def handle(route: Any) -> None:
        nonlocal patches_seen
        if route.request.method != "PATCH":
            route.continue_()
            return
        patches_seen += 1
        if patches_seen == 2:
            held.append(route)  # a slow moment, to look at the page while it sends
        elif patches_seen == 3:
            route.abort("connectionreset")  # the signal drops during the third PATCH
        else:
            forward(route)

    page.route("**/api/uploads/*", handle)
    page.get_by_role("button", name=SEND).click()
    for _ in range(150):  # until the second PATCH is being held
        if held:
            break
        page.wait_for_timeout(100)
    assert len(held) == 1
    expect(page.get_by_text("Sending… ")).to_be_visible()
    screenshot(page, "capture-13-sending")
    forward(held[0])
    expect(page.get_by_role("heading", name="Sent. Thank you!")).to_be_visible(timeout=30_000)

    # After the drop the client asked where the server was (HEAD) and went on from there:
    # the server received every byte exactly once.
    assert patches_seen == len(sent) + 1
    assert sum(sent) == sum(accepted) == size
    assert offsets == sorted(offsets) and len(set(offsets)) == len(offsets)
    assert len(phone.methods("HEAD")) >= 1
    (recording,) = phone.recordings()
    assert recording.received_size == size
    assert recording.sha256 == phone.record(rid)["sha256"]


def test_double_tapping_send_creates_one_recording(
    parent_phone: Phone, browser, live_server: LiveServer
) -> None:  # type: ignore[no-untyped-def]
    page = parent_phone.page
    rid = parent_phone.film(3)
    send = page.get_by_role("button", name=SEND)
    send.dblclick()
    # A second tap from code and from a second tab of the same phone, while the first runs.
    same = page.evaluate("(id) => vig.uploader.start(id) === vig.uploader.start(id)", rid)
    assert same
    other = page.context.new_page()
    other.goto("/film/videos")
    other.evaluate("(id) => vig.uploader.start(id)", rid)
    expect(page.get_by_role("heading", name="Sent. Thank you!")).to_be_visible(timeout=30_000)
    expect(other.get_by_text("Sent. Your practitioner")).to_be_visible(timeout=30_000)

    assert len(parent_phone.recordings()) == 1
    assert len(parent_phone.methods("POST")) == 1
    size = parent_phone.record(rid)["size"]
    assert sum(body_size(p) for p in parent_phone.methods("PATCH")) == size


def test_closed_tab_while_filming_keeps_what_was_saved(parent_phone: Phone) -> None:
    page = parent_phone.page
    page.goto("/film/")
    page.get_by_role("button", name="Start filming").click()
    wait_until_chunks_saved(page, 3)  # cut back to its last whole piece: 2 or more stay
    page.on("dialog", lambda dialog: dialog.accept())  # "Leave? Filming will stop."
    page.goto("/film/videos")  # leaves mid-recording, like a crash or a closed tab

    item = page.get_by_role("listitem").filter(has_text="Filming was interrupted")
    expect(item).to_be_visible()
    screenshot(page, "capture-7-pending-interrupted")
    (rec,) = local_records(page)
    assert rec["state"] == "review" and len(rec["chunkSizes"]) >= 2

    item.get_by_role("link", name="Watch and send").click()
    expect(page.get_by_role("heading", name="Watch it back")).to_be_visible()
    page.get_by_role("button", name=SEND).click()
    expect(page.get_by_role("heading", name="Sent. Thank you!")).to_be_visible(timeout=30_000)
    (recording,) = parent_phone.recordings()
    assert recording.sha256 == parent_phone.record(rec["id"])["sha256"]


def test_video_chosen_from_the_phone_is_copied_then_sent_byte_for_byte(
    parent_phone: Phone, tmp_path
) -> None:  # type: ignore[no-untyped-def]
    from tests.support.videos import make_video

    path = tmp_path / "holiday.webm"
    make_video(path, container="webm", seconds=2.0)
    data = path.read_bytes()
    page = parent_phone.page
    page.goto("/film/")
    page.set_input_files("#rec-file-pick", str(path))
    expect(page.get_by_role("heading", name="Watch it back")).to_be_visible()
    screenshot(page, "capture-8-review-chosen")
    page.get_by_role("button", name=SEND).click()
    expect(page.get_by_role("heading", name="Sent. Thank you!")).to_be_visible(timeout=30_000)
    (recording,) = parent_phone.recordings()
    assert recording.sha256 == hashlib.sha256(data).hexdigest()
    assert recording.declared_size == len(data)


def test_discarding_after_watching_deletes_the_phone_copy(parent_phone: Phone) -> None:
    page = parent_phone.page
    rid = parent_phone.film(2)
    page.get_by_role("button", name="Delete this video").click()
    expect(page.get_by_text("Delete this video for good?")).to_be_visible()
    screenshot(page, "capture-9-review-delete-confirm")
    page.get_by_role("button", name="Yes, delete it").click()
    expect(page.get_by_text("Deleted. Nothing was sent.")).to_be_visible()
    assert local_records(page) == []
    assert page.evaluate(CHUNK_COUNT, rid) == 0
    assert parent_phone.requests == []


def test_full_phone_stops_filming_and_says_so(parent_phone: Phone) -> None:
    page = parent_phone.page
    # Simulate IndexedDB refusing the third chunk for lack of space.
    page.add_init_script(
        """window.addEventListener("DOMContentLoaded", () => {
          const append = vig.store.appendChunk;
          vig.store.appendChunk = (id, seq, buf) =>
            seq >= 2 ? Promise.reject(new vig.StorageFullError()) : append(id, seq, buf);
        });"""
    )
    page.goto("/film/")
    page.get_by_role("button", name="Start filming").click()
    expect(page.get_by_text("Your phone is full, so filming stopped.")).to_be_visible(
        timeout=10_000
    )
    expect(page.get_by_role("heading", name="Watch it back")).to_be_visible()
    (rec,) = local_records(page)
    assert len(rec["chunkSizes"]) == 2  # what was saved is whole and kept


def test_a_recorder_that_saves_nothing_puts_the_camera_app_first(parent_phone: Phone) -> None:
    """Some iPhones' recorders run, count and stop but hand over no video."""
    page = parent_phone.page
    page.add_init_script(
        """const add = MediaRecorder.prototype.addEventListener;
        MediaRecorder.prototype.addEventListener = function (type, listener, options) {
          const empty = () => listener({ data: new Blob([]) });
          return add.call(this, type, type === "dataavailable" ? empty : listener, options);
        };"""
    )
    page.goto("/film/")
    page.get_by_role("button", name="Start filming").click()
    wait_until(page, "() => document.getElementById('rec-clock').textContent >= '0:02'")
    page.get_by_role("button", name="Stop filming").click()
    expect(
        page.get_by_text(
            "Filming did not work on this phone, so nothing was saved. Please film with your "
            "phone's camera app instead, with the button at the top."
        )
    ).to_be_visible()
    assert local_records(page) == []  # no empty video left to confuse anyone
    fallback = page.locator("#rec-fallback").bounding_box()
    start = page.get_by_role("button", name="Start filming")
    start_box = start.bounding_box()
    assert fallback and start_box and fallback["y"] < start_box["y"]  # the way that works first
    assert fallback["y"] < PHONE["height"]  # and in view
    red = "rgb(179, 38, 30)"
    assert start.evaluate("b => getComputedStyle(b).backgroundColor") != red
    screenshot(page, "capture-16-record-filming-saved-nothing")
    assert parent_phone.requests == []


def test_nearly_full_phone_is_warned_before_filming(parent_phone: Phone) -> None:
    page = parent_phone.page
    page.add_init_script(
        """navigator.storage.estimate = () =>
             Promise.resolve({ quota: 150 * 1e6, usage: 20 * 1e6 });"""
    )
    page.goto("/film/")
    warning = page.get_by_role("alert")
    expect(warning).to_contain_text("Your phone is nearly full (about 130 MB free)")
    screenshot(page, "capture-10-record-nearly-full")


def test_phone_without_wake_lock_is_told_to_keep_the_screen_on(parent_phone: Phone) -> None:
    page = parent_phone.page
    page.add_init_script("delete Navigator.prototype.wakeLock;")  # iPhones before iOS 16.4
    page.goto("/film/")
    page.get_by_role("button", name="Start filming").click()
    hint = page.get_by_text("This phone may lock its screen while you film")
    expect(hint).to_be_visible()
    screenshot(page, "capture-15-record-no-wake-lock")
    # Stopped before the recorder handed over any bytes, there would be nothing to watch.
    wait_until(page, "async () => (await vig.store.all()).some((r) => r.size > 0)")
    page.get_by_role("button", name="Stop filming").click()
    expect(page.get_by_role("heading", name="Watch it back")).to_be_visible()
    expect(hint).to_be_hidden()


def test_install_guidance_shows_in_a_browser_tab_and_can_be_dismissed(
    parent_phone: Phone,
) -> None:
    page = parent_phone.page
    page.goto("/film/videos")
    card = page.get_by_role("region", name="Put this app on your home screen")
    expect(card).to_be_visible()
    # The test browser says it is desktop Linux: the general steps, not both phones' steps.
    expect(card.get_by_text("Open your browser's menu.")).to_be_visible()
    expect(card.get_by_text("On Android")).to_be_hidden()
    screenshot(page, "capture-11-pending-install")
    card.get_by_role("button", name="Not now").click()
    expect(card).to_be_hidden()
    page.reload()
    expect(page.get_by_role("heading", name="My videos")).to_be_visible()
    expect(card).to_be_hidden()


def test_wipe_all_empties_the_phone(parent_phone: Phone) -> None:
    page = parent_phone.page
    page.goto("/film/videos")
    page.evaluate(SW_READY)
    page.context.set_offline(True)
    rid = parent_phone.film(2)
    page.get_by_role("button", name=SEND).click()
    assert page.evaluate("() => caches.keys()")
    result = page.evaluate("() => vig.localRecordings.wipeAll()")
    assert result["recordings"] == 1 and result["chunks"] >= 2 and result["caches"] >= 1
    assert local_records(page) == []
    assert page.evaluate(CHUNK_COUNT, rid) == 0
    assert page.evaluate("() => caches.keys()") == []


def test_new_version_waits_while_filming_then_takes_over_without_reloading(
    parent_phone: Phone, monkeypatch: pytest.MonkeyPatch
) -> None:
    from vigparent.pwa import routes as pwa_routes

    page = parent_phone.page
    page.goto("/film/")
    page.evaluate(SW_READY)
    old_caches = page.evaluate("() => caches.keys()")
    assert len(old_caches) == 1 and old_caches[0].startswith("vig-shell-")
    page.evaluate("() => { window.sameDocument = true; }")
    page.get_by_role("button", name="Start filming").click()
    expect(page.get_by_text("of 10:00")).to_be_visible()

    # A deploy: the worker script changes (as it does when any bundle's hash changes).
    original = pwa_routes.service_worker_config
    monkeypatch.setattr(
        pwa_routes, "service_worker_config", lambda: {**original(), "deploy": "next"}
    )
    page.evaluate(
        """async () => {
          // Count the page's requests that a waiting version take over.
          window.takeOverAsked = 0;
          const post = ServiceWorker.prototype.postMessage;
          ServiceWorker.prototype.postMessage = function (message, ...rest) {
            if (message && message.type === "SKIP_WAITING") window.takeOverAsked += 1;
            return post.call(this, message, ...rest);
          };
          const reg = await navigator.serviceWorker.getRegistration();
          // Listening after the page's own listeners (added when it loaded): once this
          // resolves, the page has already decided what to do with the new version.
          const installed = new Promise((resolve) => reg.addEventListener("updatefound", () => {
            const worker = reg.installing;
            worker.addEventListener("statechange", () => worker.state === "installed" && resolve());
          }));
          await reg.update();
          await installed;
        }"""
    )
    # While filming, the new version waits and the old one keeps its cache.
    assert page.evaluate("() => window.takeOverAsked") == 0
    assert page.evaluate("async () => !!(await navigator.serviceWorker.getRegistration()).waiting")
    assert len(page.evaluate("() => caches.keys()")) == 2

    page.get_by_role("button", name="Stop filming").click()
    expect(page.get_by_role("heading", name="Watch it back")).to_be_visible()
    wait_until(page, "async () => !(await navigator.serviceWorker.getRegistration()).waiting")
    wait_until(page, "async () => (await caches.keys()).length === 1")
    new_caches = page.evaluate("() => caches.keys()")
    assert new_caches != old_caches
    assert page.evaluate("() => window.sameDocument === true")  # never reloaded under the parent
    expect(page.get_by_role("heading", name="Watch it back")).to_be_visible()


def test_withdrawn_consent_empties_the_phone_queue(parent_phone: Phone, app: Flask) -> None:
    from datetime import datetime

    from sqlalchemy import update

    from vigparent import db
    from vigparent.models import ConsentRecord, FamilyStatus
    from vigparent.models import Family as FamilyModel

    page = parent_phone.page
    page.goto("/film/videos")
    page.evaluate(SW_READY)
    page.context.set_offline(True)
    parent_phone.film(2)
    page.get_by_role("button", name=SEND).click()
    expect(page.get_by_text("Waiting for signal")).to_be_visible()
    page.goto("/film/videos")
    expect(page.get_by_text("Waiting for signal")).to_be_visible()

    with app.app_context():
        now = datetime(2026, 11, 25, 21, 0)
        fid = parent_phone.family.id
        db.session().execute(
            update(ConsentRecord).where(ConsentRecord.family_id == fid).values(withdrawn_at=now)
        )
        db.session().execute(
            update(FamilyModel)
            .where(FamilyModel.id == fid)
            .values(status=FamilyStatus.WITHDRAWN, withdrawn_at=now)
        )
        db.session().commit()

    page.context.set_offline(False)
    wait_until(page, "async () => (await vig.store.all()).length === 0")
    expect(page.locator("#vid-notice")).to_be_visible()
    screenshot(page, "capture-12-pending-after-withdrawal")
    assert parent_phone.recordings() == []


def test_capture_pages_fit_a_320px_phone(parent_phone: Phone) -> None:
    page = parent_phone.page
    page.set_viewport_size({"width": 320, "height": 640})
    for path in ("/film/", "/film/videos"):
        page.goto(path)
        expect(page.locator("main")).to_be_visible()
        assert page.evaluate("document.documentElement.scrollWidth") <= 320, path
    page.goto("/film/")
    expect(page.get_by_role("button", name="Start filming")).to_be_enabled()
    screenshot(page, "capture-14-record-320")
    # Every control is a big enough target.
    small = page.evaluate(
        """() => [...document.querySelectorAll("main button:not([hidden]), main label.button")]
             .filter((b) => b.offsetParent !== null)
             .filter((b) => { const r = b.getBoundingClientRect(); return r.height < 44; })
             .map((b) => b.textContent.trim())"""
    )
    assert small == []
