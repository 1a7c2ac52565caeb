"""Withdrawal on a phone (issue 7 acceptance): one tap empties the phone at once, the server
when it can, and shows a plain receipt. Every screen is saved under test-artifacts/."""

from __future__ import annotations

import re
from typing import Any

import pytest
from flask import Flask
from playwright.sync_api import Page, expect

from tests.browser.conftest import PHONE, SW_READY, LiveServer, screenshot, wait_until
from tests.capture.phone import sign_in_parent
from tests.conftest import Factory
from tests.withdrawal.conftest import (  # noqa: F401 - shared fixtures
    FamilyMedia,
    assert_family_gone,
    with_media,
)
from vigparent import db, media_store
from vigparent.models import DeletionReceipt

pytestmark = pytest.mark.xdist_group("browser-withdrawal")

BUTTON = "Stop and delete all our videos"


# A recording waiting on the phone, as the recorder leaves it (capture's own store API).
SEED_PENDING = """async (clientId) => {
  const id = clientId || vig.newId();
  await vig.store.create({ id: id, state: "queued", mimeType: "video/webm" });
  await vig.store.appendChunk(id, 0, new Uint8Array(300000).fill(7).buffer);
  return id;
}"""

# What the phone holds, read straight from IndexedDB and Cache Storage (not through the app).
PHONE_STATE = """async () => {
  let records = 0, chunks = 0;
  const names = indexedDB.databases ? (await indexedDB.databases()).map((d) => d.name) : [];
  if (names.includes("vig-local")) {
    const db = await new Promise((ok, no) => {
      const req = indexedDB.open("vig-local");
      req.onsuccess = () => ok(req.result);
      req.onerror = () => no(req.error);
    });
    const count = (store) => new Promise((ok) => {
      if (!db.objectStoreNames.contains(store)) return ok(0);
      const req = db.transaction(store).objectStore(store).count();
      req.onsuccess = () => ok(req.result);
    });
    records = await count("recordings");
    chunks = await count("chunks");
    db.close();
  }
  const cacheNames = await caches.keys();
  // Anything cached but the app's fingerprinted bundles and icons: pages, media, API answers.
  const personal = [];
  for (const name of cacheNames) {
    for (const req of await (await caches.open(name)).keys()) {
      if (!new URL(req.url).pathname.startsWith("/static/")) personal.push(req.url);
    }
  }
  return { records: records, chunks: chunks, caches: cacheNames.length,
           cached: personal.length, urls: personal,
           pending: localStorage.getItem("vig.withdrawal.pending") };
}"""


class ConsoleWatch:
    """Console errors (a CSP refusal is one); an offline fetch failing is expected."""

    def __init__(self, page: Page) -> None:
        self.errors: list[str] = []
        page.on("console", self._console)
        page.on("pageerror", lambda e: self.errors.append(str(e)))

    def _console(self, message: Any) -> None:
        expected = re.search(r"ERR_INTERNET_DISCONNECTED|status of (400|401|403|404)", message.text)
        if message.type == "error" and not expected:
            self.errors.append(message.text)

    def assert_clean(self) -> None:
        assert not self.errors, self.errors


def _fits(page: Page) -> None:
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]


def test_withdrawing_offline_empties_the_phone_at_once_and_the_server_when_back_online(
    phone: Page,
    app: Flask,
    live_server: LiveServer,
    with_media,  # noqa: F811 - the shared fixture
    frozen_clock,
) -> None:
    fm: FamilyMedia = with_media(recordings=1, clips=1)  # the one already sent
    tokens = fm.tokens()
    sign_in_parent(app, phone, fm.parent, live_server.url)
    console = ConsoleWatch(phone)

    phone.goto("/consent/privacy")
    assert phone.evaluate(SW_READY) == "activated"
    phone.reload()  # now controlled: the shell (this page included) is cached
    phone.evaluate(SEED_PENDING, None)
    phone.evaluate(
        "async () => (await caches.open('vig-media-test')).put('/media/x', new Response('v'))"
    )
    before = phone.evaluate(PHONE_STATE)
    assert before["records"] == 1 and before["chunks"] == 1 and before["cached"] >= 2

    phone.context.set_offline(True)
    phone.reload()  # the privacy page, from the phone's own cache
    panel = phone.locator("#withdraw")
    expect(panel.get_by_text("1 video you sent us")).to_be_visible()
    expect(panel.get_by_text("1 clip made from them")).to_be_visible()
    expect(panel.get_by_text("videos still on this phone")).to_be_visible()
    panel.scroll_into_view_if_needed()
    _fits(phone)
    screenshot(phone, "withdraw-1-privacy-panel")

    phone.get_by_role("button", name=BUTTON).click()

    status = phone.locator("[data-withdraw-status]")
    expect(status).to_contain_text("You are offline, so we will delete the videos we hold")
    expect(phone.get_by_role("button", name=BUTTON)).to_be_disabled()
    screenshot(phone, "withdraw-2-queued-offline")
    # The phone is empty at once, offline...
    wait_until(phone, "async () => (await caches.keys()).length === 0")
    now = phone.evaluate(PHONE_STATE)
    assert (now["records"], now["chunks"], now["caches"]) == (0, 0, 0)
    assert now["pending"] is not None
    # ...and the server has not heard yet.
    with app.app_context():
        assert media_store.store().names(fm.id)

    phone.context.set_offline(False)

    expect(phone.get_by_role("heading", name="Your videos are deleted")).to_be_visible()
    expect(phone.locator(".receipt-sentence")).to_have_text(
        "We deleted 1 video and 1 clip on Wednesday 25 November at 12pm."
    )
    expect(
        phone.get_by_text("We also deleted 1 video that was still waiting on this phone.")
    ).to_be_visible()
    expect(phone.locator("nav.parent-nav")).to_have_count(0)  # nothing left to go to
    _fits(phone)
    screenshot(phone, "withdraw-3-receipt")
    after = phone.evaluate(PHONE_STATE)
    assert (after["records"], after["chunks"], after["cached"]) == (0, 0, 0)
    assert after["pending"] is None
    with app.app_context():
        assert_family_gone(app, fm, tokens)
    # Any other page now leads to the receipt.
    phone.goto("/home/")
    expect(phone.get_by_role("heading", name="Your videos are deleted")).to_be_visible()
    console.assert_clean()


def test_one_tap_online_double_tap_harmless_and_a_single_video_deleted_first(
    phone: Page,
    app: Flask,
    live_server: LiveServer,
    with_media,  # noqa: F811 - the shared fixture
) -> None:
    fm: FamilyMedia = with_media(recordings=2, clips=1)
    tokens = fm.tokens()
    first_client_id = fm.recordings[0].client_id
    sign_in_parent(app, phone, fm.parent, live_server.url)
    console = ConsoleWatch(phone)

    # The phone still holds its own copy of the first video (say it was still sending).
    phone.goto("/withdrawal/videos")
    phone.evaluate(SEED_PENDING, first_client_id)
    phone.reload()
    _fits(phone)
    screenshot(phone, "withdraw-4-one-video-list")
    # The video this phone holds a copy of (the list shows the newest first).
    phone.locator(f'form[data-client-id="{first_client_id}"]').get_by_role("button").click()
    expect(phone.get_by_text(re.compile(r"We deleted that video and the 1 clip"))).to_be_visible()
    wait_until(phone, "async () => (await vig.store.all()).length === 0")
    screenshot(phone, "withdraw-5-one-video-deleted")

    phone.goto("/consent/privacy")
    expect(phone.locator("#withdraw").get_by_text("1 video you sent us")).to_be_visible()
    phone.get_by_role("button", name=BUTTON).dblclick()
    expect(phone.get_by_role("heading", name="Your videos are deleted")).to_be_visible()
    expect(phone.locator(".receipt-sentence")).to_have_text(
        re.compile(r"^We deleted 1 video and 1 clip on .+\.$")
    )
    state = phone.evaluate(PHONE_STATE)
    assert (state["records"], state["chunks"], state["cached"]) == (0, 0, 0)
    with app.app_context():
        assert_family_gone(app, fm, tokens)
        # The first deletion and the withdrawal: two receipts, the double tap made no third.
        assert len(db.session().query(DeletionReceipt).all()) == 2
    console.assert_clean()


def test_staff_screens_on_a_phone(
    phone: Page,
    app: Flask,
    live_server: LiveServer,
    make: Factory,
    with_media,  # noqa: F811 - the shared fixture
) -> None:
    from vigparent.models import Role

    org = make.organisation()
    practitioner = make.practitioner(organisation=org)
    fm: FamilyMedia = with_media(recordings=2, clips=2, practitioner=practitioner)
    sign_in_parent(app, phone, practitioner, live_server.url)
    phone.goto(f"/withdrawal/families/{fm.id}/close")
    expect(phone.get_by_role("heading", name="Close the case for Sam and Alex")).to_be_visible()
    _fits(phone)
    screenshot(phone, "withdraw-6-close-case")
    phone.get_by_role("button", name="Close this case").click()
    expect(
        phone.get_by_text(re.compile(r"Case closed\. Its videos and clips will be deleted on"))
    ).to_be_visible()
    _fits(phone)
    screenshot(phone, "withdraw-7-family-receipts")

    admin = make.practitioner(organisation=org, role=Role.ADMIN)
    phone.context.clear_cookies()
    sign_in_parent(app, phone, admin, live_server.url)
    phone.goto(f"/withdrawal/families/{fm.id}/erase")
    _fits(phone)
    screenshot(phone, "withdraw-8-erase")
    phone.get_by_label(re.compile("Type the family's label")).fill("Sam and Alex")
    phone.get_by_role("button", name="Erase this family").click()
    expect(phone.get_by_text(re.compile(r"Sam and Alex is erased\."))).to_be_visible()
    _fits(phone)
    screenshot(phone, "withdraw-9-admin-receipts")


def test_receipt_counts_only_videos_that_were_waiting_and_gives_a_reference(
    phone: Page,
    app: Flask,
    live_server: LiveServer,
    with_media,  # noqa: F811 - the shared fixture
) -> None:
    fm: FamilyMedia = with_media(recordings=2, clips=1)
    fm.family.organisation.family_contact = "0300 123 4567, Monday to Friday, 9am to 5pm"
    db.session().commit()
    sign_in_parent(app, phone, fm.parent, live_server.url)
    phone.goto("/consent/privacy")
    # Two videos this phone already sent (it keeps a small note of each) and one still waiting.
    for rec in fm.recordings:
        phone.evaluate(
            "async (id) => vig.store.create({id: id, state: 'sent', mimeType: 'video/webm'})",
            rec.client_id,
        )
    phone.evaluate(SEED_PENDING, None)
    phone.get_by_role("button", name=BUTTON).click()

    panel = phone.locator(".panel-confirmation")
    expect(panel.get_by_role("heading", name="Your videos are deleted")).to_be_visible()
    expect(panel).to_contain_text(re.compile(r"Your reference number\s*VIG-\d{5}"))
    expect(phone.locator(".receipt-sentence")).to_have_text(
        re.compile(r"^We deleted 2 videos and 2 clips on \w+day \d+ \w+ at \d")
    )
    expect(
        phone.get_by_text("We also deleted 1 video that was still waiting on this phone.")
    ).to_be_visible()
    expect(phone.get_by_role("heading", name="What happens next")).to_be_visible()
    expect(phone.get_by_role("heading", name="Who to contact")).to_be_visible()
    expect(phone.get_by_text("0300 123 4567, Monday to Friday, 9am to 5pm")).to_be_visible()
    screenshot(phone, "withdraw-10-receipt-panel")
