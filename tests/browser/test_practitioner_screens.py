"""The practitioner's family page on a laptop (1366×768): in columns, not one long strip."""

from __future__ import annotations

from flask import Flask
from playwright.sync_api import expect

from tests.browser.conftest import LiveServer, new_context, screenshot
from tests.capture.support import sign_in_parent
from tests.conftest import Factory
from tests.media.factories import add_clip, add_cycle, add_recording

LAPTOP = {"width": 1366, "height": 768}


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
