"""The practitioner's family page on a laptop (1366×768): in columns, not one long strip."""

from __future__ import annotations

from flask import Flask
from playwright.sync_api import expect

from tests.browser.conftest import LiveServer, new_context, screenshot
from tests.capture.phone import sign_in_parent
from tests.conftest import Factory
from tests.media.factories import add_clip, add_cycle, add_recording

LAPTOP = {"width": 1366, "height": 768}
PHONE_SIZE = {"width": 375, "height": 667}


def test_family_page_uses_the_width_of_a_laptop(
    browser, make: Factory, app: Flask, live_server: LiveServer
) -> None:
    practitioner = make.practitioner()
    family = make.family(practitioner)
    parent = make.parent_of(family)
    add_clip(add_recording(family, parent, cycle=add_cycle(family)))
    context = new_context(browser, live_server, LAPTOP)
    page = context.new_page()
    try:
        sign_in_parent(app, page, practitioner, live_server.url)  # any user's session cookie
        page.goto(f"/practice/families/{family.id}")
        expect(page.get_by_role("heading", name="Next step")).to_be_visible()
        height = page.evaluate("document.documentElement.scrollHeight")
        screenshot(page, "practitioner-family-1366")
        # Two columns: the page is well under twice the window's height.
        assert height < 2 * LAPTOP["height"], height
        videos = page.locator("#videos").bounding_box()
        plans = page.locator("#plans").bounding_box()
        assert videos and plans and videos["x"] != plans["x"]
    finally:
        context.close()


def test_a_wrong_plan_shows_the_error_summary_and_the_message_by_the_field(
    browser, make: Factory, app: Flask, live_server: LiveServer
) -> None:
    practitioner = make.practitioner()
    family = make.family(practitioner)
    for name, viewport in (("1366", LAPTOP), ("375", PHONE_SIZE)):
        context = new_context(browser, live_server, viewport)
        page = context.new_page()
        try:
            sign_in_parent(app, page, practitioner, live_server.url)
            page.goto(f"/practice/families/{family.id}/plan")
            page.fill("#film_by", "2099-06-10")
            page.fill("#review_on", "2099-06-01")
            page.get_by_role("button", name="Save plan").click()
            summary = page.locator(".error-summary")
            expect(summary).to_be_focused()
            expect(summary.get_by_role("link")).to_have_text(
                "The review should be on or after the filming date."
            )
            expect(page.locator("#review_on-error")).to_be_visible()
            assert page.title().startswith("Error: ")
            screenshot(page, f"practitioner-plan-error-{name}")
        finally:
            context.close()
