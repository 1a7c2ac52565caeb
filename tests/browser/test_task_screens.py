"""The parent's task screens on small phones: the main action is in view, nothing covers it.

Run at 375×667 (iPhone SE/8) and 320×568 (the smallest phones still in use). Screenshots go
to test-artifacts/ for a person to look at.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from flask import Flask
from playwright.sync_api import Locator, Page, expect

from tests.browser.conftest import LiveServer, new_context, screenshot
from tests.capture.support import sign_in_parent
from tests.conftest import Factory

SIZES = {"375": {"width": 375, "height": 667}, "320": {"width": 320, "height": 568}}

# True when the element's centre is inside the viewport and the element itself is what a tap
# there would hit (not a fixed bar drawn over it).
IN_VIEW_AND_ON_TOP = """el => {
  const r = el.getBoundingClientRect();
  const x = r.left + r.width / 2, y = r.top + r.height / 2;
  if (r.top < 0 || r.bottom > innerHeight || r.left < 0 || r.right > innerWidth) return false;
  const hit = document.elementFromPoint(x, y);
  return hit === el || el.contains(hit);
}"""


def in_view_and_on_top(locator: Locator) -> bool:
    return bool(locator.evaluate(IN_VIEW_AND_ON_TOP))


@pytest.fixture(params=sorted(SIZES))
def small_phone(request, browser, live_server: LiveServer) -> Iterator[tuple[str, Page]]:  # type: ignore[no-untyped-def]
    context = new_context(browser, live_server, SIZES[request.param])
    yield request.param, context.new_page()
    context.close()


def test_watch_it_back_shows_send_without_scrolling(
    small_phone: tuple[str, Page], make: Factory, app: Flask, live_server: LiveServer
) -> None:
    size, page = small_phone
    family = make.family()
    sign_in_parent(app, page, make.parent_of(family), live_server.url)
    page.goto("/film/")
    start = page.get_by_role("button", name="Start filming")
    expect(start).to_be_enabled()
    # Filming is a task screen: no tab bar, and a way home and to privacy in the header.
    expect(page.locator("nav.parent-nav")).to_have_count(0)
    expect(page.locator(".site-header").get_by_role("link", name="Privacy")).to_be_visible()
    assert in_view_and_on_top(start)
    screenshot(page, f"task-film-{size}")
    start.click()
    expect(page.locator("#rec-clock")).to_have_text("0:02", timeout=10_000)
    page.get_by_role("button", name="Stop filming").click()
    expect(page.get_by_role("heading", name="Watch it back")).to_be_visible()
    send = page.get_by_role("button", name="Send to my practitioner")
    expect(send).to_be_visible()
    # Plain words: the length in words, no file size.
    expect(page.locator("#rec-review-meta")).to_have_text(re.compile(r"^\d+ seconds? · saved"))
    page.wait_for_function("() => scrollY === 0")
    assert in_view_and_on_top(send)
    screenshot(page, f"task-watch-back-{size}")
