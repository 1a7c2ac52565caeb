"""Online VIG in two real browser contexts: the practitioner on a laptop leads a live review,
the parent's phone plays its own copy of each clip and follows (issue 16 acceptance).

Sync is measured as the issue states it: after each command, the phone's `currentTime`
matches the practitioner's within 0.25 s within 1 s; when paused, within one frame. Both
pages run in one browser on one machine, so their clocks agree, and a playing position is
compared at the same instant (each page reports its time and `currentTime` together).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

from flask import Flask
from playwright.sync_api import Page, expect

from tests.browser.conftest import ARTIFACTS, DESKTOP, PHONE, screenshot, sign_in_staff, wait_until
from tests.capture.phone import local_records, recordings_of, sign_in_parent, wait_until_filmed
from tests.conftest import Factory
from tests.media.factories import add_clip, add_cycle, add_recording
from vigparent import db
from vigparent.models import Cycle, Family, Goal, GoalStatus, User

FPS = 25
FRAME = 1 / FPS
VIDEO = "document.querySelector('[data-live-video]')"
# Each page's view of its player: media time, paused, and the wall clock at that moment.
PLAYER = f"""() => {{ const v = {VIDEO};
  return {{t: v.currentTime, paused: v.paused, ready: v.readyState, seeking: v.seeking,
           now: performance.timeOrigin + performance.now()}}; }}"""


@dataclass
class Review:
    family: Family
    parent: User
    cycle: Cycle
    lead: Page
    phone: Page


def _setup(make: Factory, app: Flask, desktop: Page, phone: Page, base_url: str) -> Review:
    practitioner = make.practitioner("lead@example.org")
    family = make.family(practitioner, label="Sam and Alex")
    parent = make.parent_of(family)
    db.session().add(
        Goal(
            family_id=family.id,
            text="I'd like bath time to be calmer.",
            status=GoalStatus.AGREED,
            proposed_by_id=practitioner.id,
        )
    )
    db.session().commit()
    cycle = add_cycle(family)
    recording = add_recording(family, parent, cycle=cycle, seconds=8.0, fps=FPS, size=(320, 240))
    add_clip(recording, start=0.2, end=7.8, title="You waited for Sam", position=1)
    add_clip(
        recording,
        start=1.0,
        end=3.0,
        title="Sam looked back",
        note="You smiled, and Sam smiled back.",
        position=2,
    )

    # The parent is already on their home page, on a call with the practitioner.
    sign_in_parent(app, phone, parent, base_url)
    phone.goto("/home/")
    invite = phone.get_by_role(
        "heading", name="Your practitioner is ready to watch your clips with you"
    )
    expect(invite).to_be_hidden()

    sign_in_staff(desktop, "lead@example.org")
    desktop.goto(f"/practice/clips/families/{family.id}")
    desktop.get_by_role("button", name="Watch together live").click()
    expect(desktop.get_by_role("heading", name="Watching together · Sam and Alex")).to_be_visible()

    # Told on the call, the parent comes back to the app: the invitation is there, no reload.
    phone.evaluate("() => document.dispatchEvent(new Event('visibilitychange'))")
    expect(invite).to_be_visible()
    screenshot(phone, "live-1-parent-home-invite")
    phone.get_by_role("link", name="Join now").click()
    expect(phone.get_by_role("heading", name="Watching together")).to_be_visible()
    return Review(family, parent, cycle, desktop, phone)


def _player(page: Page) -> dict[str, Any]:
    result: dict[str, Any] = page.evaluate(PLAYER)
    return result


def _in_step(review: Review, within: float) -> bool:
    lead, phone = _player(review.lead), _player(review.phone)
    if phone["seeking"] or phone["ready"] < 2 or lead["paused"] != phone["paused"]:
        return False
    # The phone's position at the instant the practitioner's page was read.
    phone_t = phone["t"] - (0 if phone["paused"] else (phone["now"] - lead["now"]) / 1000)
    return abs(phone_t - lead["t"]) <= within


def _follows(review: Review, within: float, seconds: float) -> float:
    """Poll until the phone matches the practitioner within `within` s; returns how long it
    took. The issue's acceptance gives `seconds` as the most it may take."""
    start = time.monotonic()
    while not _in_step(review, within):
        waited = time.monotonic() - start
        assert waited <= seconds, (
            f"the phone did not follow within {seconds} s: "
            f"{_player(review.lead)} vs {_player(review.phone)}"
        )
        review.phone.wait_for_timeout(20)
    return time.monotonic() - start


def _seek(page: Page, at: float) -> None:
    page.evaluate(f"(t) => {{ {VIDEO}.currentTime = t; }}", at)


def test_the_phone_follows_play_pause_seek_step_and_next_clip_and_rejoins(
    desktop: Page, phone: Page, make: Factory, app: Flask, live_server: Any
) -> None:
    review = _setup(make, app, desktop, phone, live_server.url)
    lead = review.lead

    # Who is here, on both sides; the phone has fetched its own copy of both clips.
    expect(lead.locator("[data-present]")).to_have_text("Here now: you and Alex.")
    expect(phone.locator("[data-present]")).to_have_text("Here now: Pat Practitioner and you.")
    expect(phone.locator("[data-ready]")).to_have_text("Your clips are ready on this phone.")
    assert phone.evaluate("document.querySelector('[data-live-parent]').dataset.source") == "copy"
    expect(phone.locator("[data-clip-title]")).to_have_text("You waited for Sam")
    wait_until(lead, f"{VIDEO}.readyState >= 2")
    screenshot(phone, "live-2-parent-joined")
    screenshot(lead, "live-3-practitioner")

    # Seek (paused): the same frame on both screens.
    _seek(lead, 2.0)
    _follows(review, FRAME, 1.0)
    # Play: within 0.25 s, within 1 s.
    lead.get_by_role("button", name="Play", exact=True).click()
    _follows(review, 0.25, 1.0)
    lead.wait_for_timeout(1500)  # let both play on a while, then compare again
    _follows(review, 0.25, 1.0)
    # Seek while playing.
    _seek(lead, 1.0)
    _follows(review, 0.25, 1.0)
    # Pause: the same frame.
    lead.get_by_role("button", name="Pause", exact=True).click()
    _follows(review, FRAME, 1.0)
    paused_at = _player(lead)["t"]
    # Step one frame forward, then back.
    lead.get_by_role("button", name="Forward one frame").click()
    wait_until(lead, f"!{VIDEO}.seeking && {VIDEO}.currentTime > {paused_at}")
    _follows(review, FRAME, 1.0)
    lead.get_by_role("button", name="Back one frame").click()
    wait_until(lead, f"!{VIDEO}.seeking && {VIDEO}.currentTime < {paused_at + FRAME}")
    _follows(review, FRAME, 1.0)
    screenshot(phone, "live-4-parent-paused")

    # "I noticed something here" lands on the practitioner's timeline at that moment.
    noticed_at = _player(phone)["t"]
    phone.get_by_role("button", name="I noticed something here").click()
    expect(phone.get_by_text("Your practitioner can see the moment you chose")).to_be_visible()
    mark = lead.locator(".live-mark")
    expect(mark).to_have_count(1)
    assert abs(float(mark.get_attribute("data-time") or "nan") - noticed_at) < 0.002
    expect(lead.locator("[data-noticed-list]")).to_contain_text("Alex noticed something at 0:0")
    screenshot(lead, "live-5-practitioner-noticed")
    # A practitioner in the field leads from a phone too: it fits a phone's width.
    lead.set_viewport_size(PHONE)
    assert lead.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
    screenshot(lead, "live-5b-practitioner-on-a-phone")
    lead.set_viewport_size(DESKTOP)

    # Notes appear on the phone as they are shown.
    lead.get_by_label("What they did that helped").check()
    lead.get_by_label("A note to show on their phone").fill("Look how Sam turns to you.")
    lead.get_by_role("button", name="Show to the family").click()
    expect(phone.get_by_text("Look how Sam turns to you.")).to_be_visible()
    expect(phone.get_by_role("heading", name="What you did that helped")).to_be_visible()
    expect(phone.get_by_text("You waited, and Sam looked back at you.")).to_be_visible()
    screenshot(phone, "live-6-parent-notes")

    # The phone's signal is cut for 10 s while the practitioner carries on.
    phone.context.set_offline(True)
    drops = "Number(document.querySelector('[data-live-parent]').dataset.drops || 0)"
    _seek(lead, 3.0)
    lead.get_by_role("button", name="Play", exact=True).click()
    lead.wait_for_timeout(4000)
    lead.get_by_role("button", name="Pause", exact=True).click()
    _seek(lead, 4.2)
    lead.wait_for_timeout(6000)
    assert phone.evaluate(drops) > 0, "the phone never lost the room: nothing was tested"
    assert not _in_step(review, 0.25)  # it missed the pause and seek while offline
    expect(phone.get_by_text("No signal right now.")).to_be_visible()
    screenshot(phone, "live-6b-parent-no-signal")
    phone.context.set_offline(False)
    _follows(review, FRAME, 2.0)
    # And it keeps following after rejoining.
    lead.get_by_role("button", name="Play", exact=True).click()
    _follows(review, 0.25, 1.0)
    lead.get_by_role("button", name="Pause", exact=True).click()
    _follows(review, FRAME, 1.0)

    # Next clip: the phone changes clip (from its own copy), at its start, paused.
    lead.get_by_role("button", name="Next clip →").click()
    expect(phone.locator("[data-clip-title]")).to_have_text("Sam looked back")
    _follows(review, FRAME, 1.0)
    assert _player(phone)["t"] < FRAME
    # A new clip shows no note until the practitioner shows one.
    expect(phone.get_by_text("Look how Sam turns to you.")).to_be_hidden()

    # The practitioner ends it: the phone says so, calmly.
    lead.get_by_role("button", name="End watching together").click()
    expect(phone.get_by_role("heading", name="All done for now")).to_be_visible()
    screenshot(phone, "live-7-parent-ended")
    phone.goto("/home/")
    expect(phone.get_by_text("ready to watch your clips with you")).to_be_hidden()
    phone.goto("/live/")
    expect(phone.get_by_text("Your practitioner has not started yet.")).to_be_visible()
    screenshot(phone, "live-12-parent-not-started")


def test_film_when_the_practitioner_asks_only_after_the_parent_taps_start(
    desktop: Page, phone: Page, make: Factory, app: Flask, live_server: Any
) -> None:
    review = _setup(make, app, desktop, phone, live_server.url)
    lead = review.lead
    expect(lead.locator("[data-present]")).to_have_text("Here now: you and Alex.")

    # Asked, then refused: nothing is filmed, nothing kept, nothing sent.
    lead.get_by_role("button", name="Ask to film").click()
    ask = phone.get_by_role("heading", name="Your practitioner asks: can you film now?")
    expect(ask).to_be_visible()
    expect(phone.get_by_role("button", name="Start filming")).to_be_enabled()  # camera preview on
    wait_until(phone, "document.getElementById('rec-preview').videoWidth > 0")
    start = phone.get_by_role("button", name="Start filming").bounding_box()
    assert start is not None and start["y"] + start["height"] <= 844  # no scrolling to find it
    screenshot(phone, "live-8-parent-asked-to-film")
    phone.get_by_role("button", name="Not now").click()
    expect(ask).to_be_hidden()
    expect(lead.get_by_text("The family said not now.")).to_be_visible()
    assert phone.evaluate("!document.getElementById('rec-preview').srcObject")  # camera off
    assert local_records(phone) == []

    # Asked, then ignored and taken back: the same.
    lead.get_by_role("button", name="Ask to film").click()
    expect(ask).to_be_visible()
    lead.get_by_role("button", name="Take back the request to film").click()
    expect(ask).to_be_hidden()
    assert local_records(phone) == []
    before = {r.id for r in recordings_of(app, review.family.id)}
    assert len(before) == 1  # only the one the clips were cut from

    # Asked, and the parent taps Start: filmed, kept and sent like any other video.
    lead.get_by_role("button", name="Ask to film").click()
    expect(ask).to_be_visible()
    phone.get_by_role("button", name="Start filming").click()
    expect(lead.get_by_text("The family is filming now.")).to_be_visible()
    wait_until_filmed(phone, 2)
    screenshot(phone, "live-9-parent-filming")
    phone.get_by_role("button", name="Stop filming").click()
    expect(phone.get_by_role("heading", name="Watch it back")).to_be_visible()
    expect(lead.get_by_text("The family stopped filming.")).to_be_visible()
    phone.get_by_role("button", name="Send to my practitioner").click()
    expect(phone.get_by_role("heading", name="Sent. Thank you!")).to_be_visible(timeout=30_000)
    screenshot(phone, "live-10-parent-sent")
    (new,) = [r for r in recordings_of(app, review.family.id) if r.id not in before]
    assert new.uploaded_by_id == review.parent.id
    assert new.cycle_id == review.cycle.id  # joins the current cycle
    assert new.status.value in ("received", "processing", "ready")
    (kept,) = [r for r in local_records(phone) if r["state"] == "sent"]
    assert kept["sha256"] == new.sha256

    phone.get_by_role("button", name="Back to the clips").click()
    expect(phone.get_by_role("button", name="I noticed something here")).to_be_visible()
    phone.locator("[data-live-parent]").screenshot(path=str(ARTIFACTS / "live-11-parent-back.png"))
