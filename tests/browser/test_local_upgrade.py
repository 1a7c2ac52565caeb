"""A phone keeps its videos across updates of the app's IndexedDB schema (vig-store.js).

The database is built here as version 1 of the app built it (two stores, no index), with a
real video waiting to send in it. Then the app opens it, which upgrades it step by step from
the version it finds; the video must still be listed and must arrive whole. And a page of
this version must keep working when a newer version of the app, in another tab, upgrades the
database under it.
"""

from __future__ import annotations

import base64
import hashlib
import io
import re
from typing import Any

from flask import Flask
from playwright.sync_api import Page, expect

from tests.browser.conftest import LiveServer, screenshot
from tests.capture.phone import local_records, recordings_of, sign_in_parent
from tests.conftest import Factory
from tests.support.videos import make_video

# Version 1 of vig-store.js, as released: its upgrade() and the record its store.create() and
# appendChunk() wrote for a video the parent had tapped Send on.
VERSION_1_WITH_A_WAITING_VIDEO = """async ({ id, video, chunkBytes }) => {
  const db = await new Promise((resolve, reject) => {
    const req = indexedDB.open("vig-local", 1);
    req.onupgradeneeded = () => {
      req.result.createObjectStore("recordings", { keyPath: "id" });
      req.result.createObjectStore("chunks", { keyPath: ["recordingId", "seq"] });
    };
    req.onsuccess = () => resolve(req.result);
    req.onerror = () => reject(req.error);
  });
  const bytes = Uint8Array.from(atob(video), (c) => c.charCodeAt(0));
  const tx = db.transaction(["recordings", "chunks"], "readwrite");
  const chunkSizes = [];
  for (let at = 0, seq = 0; at < bytes.length; at += chunkBytes, seq++) {
    const part = bytes.slice(at, at + chunkBytes);
    tx.objectStore("chunks").put({ recordingId: id, seq: seq, data: part.buffer });
    chunkSizes.push(part.length);
  }
  const filmed = Date.now() - 3600 * 1000;
  tx.objectStore("recordings").put({
    id: id, createdAt: filmed, updatedAt: filmed, mimeType: "video/webm", size: bytes.length,
    chunkSizes: chunkSizes, state: "queued", uploadUrl: null, error: null, sha256: null,
    sent: 0, source: "camera", durationMs: 2000,
  });
  await new Promise((resolve, reject) => {
    tx.oncomplete = resolve;
    tx.onerror = () => reject(tx.error);
  });
  db.close();
  return db.version;
}"""

DATABASE_VERSION = """() => new Promise((resolve, reject) => {
  const req = indexedDB.open("vig-local");
  req.onsuccess = () => { const v = req.result.version; req.result.close(); resolve(v); };
  req.onerror = () => reject(req.error);
})"""


def _video() -> bytes:
    out = io.BytesIO()
    make_video(out, container="webm", seconds=2.0)
    return out.getvalue()


def test_a_video_saved_by_version_1_is_listed_and_sent_after_the_upgrade(
    phone: Page, make: Factory, app: Flask, live_server: LiveServer
) -> None:
    family = make.family()
    video = _video()
    rid = "0b4c1e52-6a7d-4c1f-9a57-3c2d1e0f9a11"
    # A signed-out page of the same origin: none of the app's phone scripts open the database.
    phone.goto("/")
    assert phone.evaluate("() => typeof vig.store") == "undefined"
    built = {"id": rid, "video": base64.b64encode(video).decode(), "chunkBytes": 64 * 1024}
    assert phone.evaluate(VERSION_1_WITH_A_WAITING_VIDEO, built) == 1

    sign_in_parent(app, phone, make.parent_of(family), live_server.url)
    errors: list[str] = []
    phone.on("pageerror", lambda e: errors.append(str(e)))
    phone.goto("/film/videos")
    item = phone.locator(f'[data-key="{rid}"]')
    expect(item).to_be_visible()
    expect(item.locator(".vid-words")).to_have_text(
        re.compile(r"^Sent\. Your practitioner (has it|will see it soon)\.$"), timeout=30_000
    )
    screenshot(phone, "local-upgrade-sent")
    assert errors == []
    assert phone.evaluate(DATABASE_VERSION) == 2

    (recording,) = recordings_of(app, family.id)
    assert recording.client_id == rid
    assert recording.sha256 == hashlib.sha256(video).hexdigest()
    assert recording.received_size == len(video)
    (rec,) = local_records(phone)
    assert rec["id"] == rid and rec["state"] == "sent"


# A newer version of the app in another tab: version 3, which adds a store.
NEWER_APP_UPGRADES = """() => new Promise((resolve, reject) => {
  const req = indexedDB.open("vig-local", 3);
  req.onupgradeneeded = () => req.result.createObjectStore("newer");
  req.onsuccess = () => { const v = req.result.version; req.result.close(); resolve(v); };
  req.onerror = () => reject(req.error);
  req.onblocked = () => reject(new Error("blocked by an open page"));
})"""


def test_a_page_keeps_working_when_a_newer_version_upgrades_the_database(
    phone: Page, make: Factory, app: Flask, live_server: LiveServer
) -> None:
    sign_in_parent(app, phone, make.parent_of(make.family()), live_server.url)
    phone.goto("/film/videos")
    phone.evaluate(
        "async () => vig.store.create({ id: 'kept', state: 'review', mimeType: 'video/webm' })"
    )
    expect(phone.locator('[data-key="kept"]')).to_be_visible()

    newer = phone.context.new_page()
    newer.goto("/")
    assert newer.evaluate(NEWER_APP_UPGRADES) == 3
    newer.close()

    # This page's store opens the database as the newer version left it, and carries on.
    ids: list[Any] = phone.evaluate(
        """async () => {
          await vig.store.create({ id: 'after', state: 'review', mimeType: 'video/webm' });
          return (await vig.store.all()).map((r) => r.id);
        }"""
    )
    assert ids == ["after", "kept"]
    expect(phone.locator('[data-key="after"]')).to_be_visible()
