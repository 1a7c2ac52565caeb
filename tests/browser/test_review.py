"""Steps 4–6 of VIG in a real browser: the practitioner (laptop) cuts and publishes a clip from
a family's recording; the parent (phone) watches it, seeks, writes what they noticed and rates
their progress. Screenshots of every screen go to test-artifacts/ for a person to look at.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from flask import Flask
from playwright.sync_api import Page, expect

from tests.browser.conftest import ARTIFACTS, DESKTOP, new_context, screenshot, sign_in_staff
from tests.conftest import Factory
from tests.media.factories import add_clip, add_cycle, add_recording
from tests.support.parent_session import sign_in
from vigparent import db
from vigparent.clips import service as clip_service
from vigparent.models import Clip, ClipStatus, Family, Goal, GoalStatus, User

FPS = 25
AXE = Path(__file__).resolve().parents[2] / "node_modules" / "axe-core" / "axe.min.js"


def _family(make: Factory) -> tuple[User, Family, User]:
    practitioner = make.practitioner("jo@example.org")
    family = make.family(practitioner, label="Sam and Alex")
    parent = make.parent_of(family)
    db.session().add(
        Goal(
            family_id=family.id,
            text="I'd like bath time to be calmer.",
            helping_question="What do I do that helps Sam settle?",
            status=GoalStatus.AGREED,
            proposed_by_id=practitioner.id,
        )
    )
    db.session().commit()
    return practitioner, family, parent


def _sign_in_parent(app: Flask, page: Page, parent: User, base_url: str) -> None:
    signed = sign_in(app, parent.id, "phone")
    page.context.add_cookies(
        [{"name": signed.cookie_name, "value": signed.cookie_value, "url": base_url}]
    )


def _wait(page: Page, predicate: str, selector: str, timeout: float = 10_000) -> None:
    """Wait until predicate(video) holds; a function, because the page's CSP forbids eval."""
    page.wait_for_function(
        f"s => {{ const v = document.querySelector(s); return {predicate}; }}",
        arg=selector,
        timeout=timeout,
        polling=50,
    )


def _video_ready(page: Page, selector: str) -> None:
    _wait(page, "v.readyState >= 2", selector)


def _state(page: Page, selector: str) -> dict:  # type: ignore[type-arg]
    return page.evaluate(
        """s => { const v = document.querySelector(s);
                  return {t: v.currentTime, paused: v.paused, w: v.videoWidth,
                          decoded: v.getVideoPlaybackQuality().totalVideoFrames}; }""",
        selector,
    )


def test_cut_publish_and_review(
    desktop: Page, phone: Page, make: Factory, app: Flask, live_server
) -> None:
    practitioner, family, parent = _family(make)
    cycle = add_cycle(family)
    add_recording(
        family, parent, cycle=cycle, seconds=6.0, fps=FPS, size=(320, 240), original="webm"
    )

    # --- the practitioner, on a laptop --------------------------------------------------
    page = desktop
    sign_in_staff(page, "jo@example.org")
    page.goto(f"/practice/clips/families/{family.id}")
    expect(page.get_by_role("heading", name="Videos from the family")).to_be_visible()
    screenshot(page, "clips-family-before")
    page.get_by_role("link", name="Make clips").click()
    expect(page.get_by_role("heading", name="New clip")).to_be_visible()
    _video_ready(page, "#editor-video")
    # Our controls replace the browser's own.
    assert page.evaluate("document.querySelector('#editor-video').controls") is False
    screenshot(page, "clip-editor")

    page.get_by_role("heading", name="Make clips").click()  # focus the page, not a field
    page.keyboard.press("ArrowRight")  # +1 s
    for _ in range(3):
        page.keyboard.press(".")  # +1 frame each
    expect(page.locator("[data-frame]")).to_have_text(str(FPS + 3))
    page.keyboard.press("i")
    expect(page.get_by_label("Start (seconds)")).to_have_value(f"{(FPS + 3) / FPS:.3f}")
    page.keyboard.press("ArrowRight")
    page.keyboard.press("ArrowRight")
    page.keyboard.press(",")  # back one frame
    expect(page.locator("[data-frame]")).to_have_text(str(3 * FPS + 2))
    page.keyboard.press("o")
    expect(page.get_by_label("End (seconds)")).to_have_value(f"{(3 * FPS + 2) / FPS:.3f}")
    expect(page.locator("[data-length-label]")).to_have_text("1.96 s")
    expect(page.locator("[data-range]")).to_be_visible()  # the range shows on the timeline

    # A button the mouse pressed keeps focus; Space must then play, not press it again.
    page.get_by_role("button", name="+1 frame").click()
    expect(page.locator("[data-frame]")).to_have_text(str(3 * FPS + 3))
    page.keyboard.press(" ")
    _wait(page, "!v.paused", "#editor-video")
    page.keyboard.press(" ")
    _wait(page, "v.paused", "#editor-video")
    assert page.get_by_label("End (seconds)").input_value() == f"{(3 * FPS + 2) / FPS:.3f}"

    # Preview plays the marked range and stops on its last frame.
    page.keyboard.press("p")
    _wait(page, "!v.paused", "#editor-video")
    screenshot(page, "clip-editor-marked")
    _wait(page, "v.paused", "#editor-video")
    stopped = _state(page, "#editor-video")
    assert 2.9 < stopped["t"] < 3.08 + 0.01, stopped
    assert stopped["decoded"] > 0 and stopped["w"] == 320

    page.get_by_label("Title").fill("You waited for Sam")
    page.get_by_label("What the parent is doing that helps").fill(
        "You waited, and Sam looked back at you."
    )
    page.get_by_label("Encouraging initiatives").check()
    page.get_by_role("button", name="Cut this clip").click()
    expect(page.get_by_text(re.compile(r"^Clip \d+ is (ready|saved)"))).to_be_visible()
    card = page.locator(".clip-card", has_text="You waited for Sam")
    expect(card.locator("[data-clip-status-label]")).to_have_text("Ready")
    screenshot(page, "clip-editor-cut")
    card.get_by_role("button", name="Publish").click()
    expect(page.get_by_text("is now shown to the family")).to_be_visible()

    clip = db.session().query(Clip).filter_by(title="You waited for Sam").one()
    assert (clip.start_s, clip.end_s) == (round(28 / FPS, 3), round(77 / FPS, 3))
    assert clip.status is ClipStatus.READY and clip.published_at is not None

    page.goto(f"/practice/clips/families/{family.id}")
    expect(page.get_by_text("Shown to family")).to_be_visible()
    screenshot(page, "clips-family-published")
    page.get_by_role("link", name="Present these clips").click()
    expect(page.get_by_role("heading", name="You waited for Sam")).to_be_visible()
    _video_ready(page, "#present-video")
    screenshot(page, "clips-present-laptop")
    page.set_viewport_size({"width": 1366, "height": 768})
    box = page.locator("#present-video").bounding_box()
    assert box is not None and box["width"] > 700  # large on a shared laptop screen
    assert box["y"] + box["height"] <= 768  # the whole player fits without scrolling

    # --- the parent, on a phone ----------------------------------------------------------
    _sign_in_parent(app, phone, parent, live_server.url)
    phone.goto("/review/")
    expect(phone.get_by_role("heading", name="Your clips")).to_be_visible()
    expect(phone.get_by_text("You waited, and Sam looked back at you.")).to_be_visible()
    expect(phone.get_by_text("I'd like bath time to be calmer.")).to_be_visible()
    screenshot(phone, "review-phone")
    assert phone.evaluate("document.documentElement.scrollWidth") <= 390

    video = f"#clip-{clip.id} video"
    phone.get_by_role("button", name="Play clip 1").click()
    _wait(phone, "v.currentTime > 0.4", video)
    playing = _state(phone, video)
    assert not playing["paused"] and playing["decoded"] > 0 and playing["w"] == 320
    screenshot(phone, "review-phone-playing")
    # Close-up of one clip card as the parent sees it on the phone.
    phone.locator(f"#clip-{clip.id}").screenshot(path=str(ARTIFACTS / "review-phone-clip-card.png"))

    # Seek with the big seek bar, then check playback carries on from there.
    phone.locator(f"#seek-{clip.id}").fill("1.5")
    _wait(phone, "!v.seeking && v.currentTime >= 1.5 && v.currentTime < 1.9", video)
    _wait(phone, "v.currentTime > 1.7", video)
    phone.get_by_role("button", name="Pause", exact=True).click()
    paused_at = _state(phone, video)
    assert paused_at["paused"] and paused_at["t"] > 1.7

    phone.get_by_label("What do you notice in this clip?").fill("I waited and she looked at me.")
    phone.get_by_role("button", name="Save what I noticed about clip 1").click()
    expect(phone.get_by_text("Saved. Thank you.")).to_be_visible()
    expect(phone.get_by_label("What do you notice in this clip?")).to_have_value(
        "I waited and she looked at me."
    )
    screenshot(phone, "review-phone-reflection-saved")

    phone.locator(".score-option", has_text="7").click()
    phone.get_by_role("button", name="Save my answer").click()
    expect(phone.get_by_text("Saved. You can see it on your chart below.")).to_be_visible()
    expect(phone.get_by_role("img", name="Your answers")).to_be_visible()
    expect(phone.get_by_role("table")).to_contain_text("7 out of 10")
    screenshot(phone, "review-phone-rated")
    assert phone.evaluate("document.documentElement.scrollWidth") <= 390

    phone.set_viewport_size({"width": 320, "height": 640})
    phone.goto("/review/")
    assert phone.evaluate("document.documentElement.scrollWidth") <= 320
    screenshot(phone, "review-phone-320")


def test_editor_shows_a_clip_becoming_ready_without_reloading(
    desktop: Page, make: Factory, app: Flask
) -> None:
    practitioner, family, parent = _family(make)
    rec = add_recording(family, parent, cycle=add_cycle(family), seconds=3.0, fps=FPS)
    cutting = add_clip(rec, title="Still cutting", start=0.4, end=1.6, published=False, cut=False)

    sign_in_staff(desktop, "jo@example.org")
    desktop.goto(f"/practice/clips/recordings/{rec.id}")
    card = desktop.locator(f"#clip-{cutting.id}")
    expect(card.locator("[data-clip-status-label]")).to_have_text("Cutting…")
    expect(card.get_by_role("button", name="Publish")).to_be_hidden()
    desktop.get_by_label("Title").fill("Typed but not saved")
    screenshot(desktop, "clip-editor-cutting")

    clip_service.run_cut(cutting.id, 0.4, 1.6)  # the job finishes while the page is open

    expect(card.locator("[data-clip-status-label]")).to_have_text("Ready", timeout=10_000)
    expect(card.get_by_role("button", name="Publish")).to_be_visible()
    expect(card.locator("video")).to_have_count(1)
    # The practitioner's half-typed next clip is still there: the page did not reload.
    expect(desktop.get_by_label("Title")).to_have_value("Typed but not saved")


@pytest.fixture
def axe_page(browser, live_server) -> Iterator[Page]:  # type: ignore[no-untyped-def]
    # axe is injected only here, so this context alone bypasses the page's CSP.
    context = new_context(browser, live_server, bypass_csp=True)
    yield context.new_page()
    context.close()


@pytest.fixture
def axe_desktop(browser, live_server) -> Iterator[Page]:  # type: ignore[no-untyped-def]
    context = new_context(browser, live_server, DESKTOP, bypass_csp=True)
    yield context.new_page()
    context.close()


def _axe(page: Page) -> list[dict]:  # type: ignore[type-arg]
    page.add_script_tag(path=str(AXE))
    result = page.evaluate("async () => (await axe.run(document)).violations")
    return [
        (v["id"], v["nodes"][0]["html"]) for v in result if v["impact"] in ("serious", "critical")
    ]


def test_review_and_editor_pages_have_no_serious_accessibility_problems(
    axe_page: Page, axe_desktop: Page, make: Factory, app: Flask, live_server
) -> None:
    practitioner, family, parent = _family(make)
    cycle = add_cycle(family)
    rec = add_recording(family, parent, cycle=cycle, seconds=2.0, fps=FPS)
    clip = add_clip(rec, start=0.2, end=1.4)
    _sign_in_parent(app, axe_page, parent, live_server.url)
    axe_page.goto("/review/")
    axe_page.wait_for_selector("[data-controls]:not([hidden])")
    assert _axe(axe_page) == []

    sign_in_staff(axe_desktop, "jo@example.org")
    for path in (
        f"/practice/clips/families/{family.id}",
        f"/practice/clips/recordings/{rec.id}",
        f"/practice/clips/{clip.id}/edit",
        f"/practice/clips/families/{family.id}/present",
    ):
        axe_desktop.goto(path)
        assert _axe(axe_desktop) == [], path
