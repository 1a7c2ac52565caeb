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

from tests.browser.conftest import ARTIFACTS, LiveServer, new_context, screenshot
from tests.capture.phone import sign_in_parent
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


@pytest.fixture(params=sorted(SIZES))
def blocked_phone(request, browser, live_server: LiveServer) -> Iterator[tuple[str, Page]]:  # type: ignore[no-untyped-def]
    """A phone whose browser has said no to the camera (the parent tapped "Block")."""
    context = browser.new_context(
        base_url=live_server.url,
        viewport=SIZES[request.param],
        is_mobile=True,
        has_touch=True,
        device_scale_factor=2,
        locale="en-GB",
        user_agent=(
            "Mozilla/5.0 (Linux; Android 13; Pixel 7) AppleWebKit/537.36 (KHTML, like Gecko) "
            "Chrome/120.0.0.0 Mobile Safari/537.36"
        ),
    )
    context.set_default_timeout(15_000)
    # Chromium's fake media UI would say yes; a real blocked camera refuses like this.
    context.add_init_script(
        """navigator.mediaDevices.getUserMedia = () =>
             Promise.reject(new DOMException("Permission denied", "NotAllowedError"));"""
    )
    yield request.param, context.new_page()
    context.close()


def test_camera_blocked_puts_the_working_option_first_with_steps_and_try_again(
    blocked_phone: tuple[str, Page], make: Factory, app: Flask, live_server: LiveServer
) -> None:
    size, page = blocked_phone
    family = make.family()
    sign_in_parent(app, page, make.parent_of(family), live_server.url)
    page.goto("/film/")
    problem = page.locator("#rec-blocked")
    expect(problem.get_by_role("heading", name="The camera is blocked")).to_be_visible()
    # The option that works is first, in view, and the dead red button is gone.
    camera_app = page.get_by_text("Film with the phone's camera app")
    assert in_view_and_on_top(camera_app)
    expect(page.get_by_role("button", name="Start filming")).to_be_hidden()
    # Steps for this browser (Chrome on Android), and a way to try again.
    expect(problem.get_by_text("Tap the lock")).to_be_visible()
    expect(problem.get_by_text("Open the Settings app")).to_be_hidden()
    expect(problem.get_by_role("button", name="Try again")).to_be_visible()
    fallback_top = page.locator("#rec-fallback").bounding_box()
    problem_top = problem.bounding_box()
    assert fallback_top and problem_top and fallback_top["y"] < problem_top["y"]
    screenshot(page, f"task-camera-blocked-{size}")


IPHONE_UA = (
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15 "
    "(KHTML, like Gecko) Version/17.4 Mobile/15E148 Safari/604.1"
)
LAPTOP_UA = "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0"


@pytest.mark.parametrize(
    ("platform", "user_agent", "first_step"),
    [
        ("ios", IPHONE_UA, "Open the Settings app."),
        ("other", LAPTOP_UA, "Open the settings for this website in your browser."),
    ],
)
def test_camera_blocked_shows_the_steps_for_this_phone_only(
    browser, make: Factory, app: Flask, live_server: LiveServer, platform, user_agent, first_step
) -> None:  # type: ignore[no-untyped-def]
    context = browser.new_context(
        base_url=live_server.url, viewport=SIZES["375"], user_agent=user_agent, locale="en-GB"
    )
    context.set_default_timeout(15_000)
    context.add_init_script(
        """navigator.mediaDevices.getUserMedia = () =>
             Promise.reject(new DOMException("Permission denied", "NotAllowedError"));"""
    )
    try:
        page = context.new_page()
        sign_in_parent(app, page, make.parent_of(make.family()), live_server.url)
        page.goto("/film/")
        problem = page.locator("#rec-blocked")
        expect(problem.get_by_text(first_step)).to_be_visible()
        shown = problem.locator("ol:visible")
        expect(shown).to_have_count(1)
        assert shown.get_attribute("data-platform") == platform
        screenshot(page, f"task-camera-blocked-{platform}")
    finally:
        context.close()


def test_privacy_page_shows_withdrawal_and_what_it_deletes_at_once(
    small_phone: tuple[str, Page], make: Factory, app: Flask, live_server: LiveServer
) -> None:
    size, page = small_phone
    family = make.family()
    sign_in_parent(app, page, make.parent_of(family), live_server.url)
    page.goto("/consent/privacy")
    button = page.get_by_role("button", name="Stop and delete all our videos")
    expect(button).to_be_visible()
    page.screenshot(path=str(ARTIFACTS / f"privacy-withdraw-{size}-viewport.png"))
    assert page.evaluate("scrollY") == 0
    assert in_view_and_on_top(button)
    assert in_view_and_on_top(page.locator("#withdraw-consequences"))
    screenshot(page, f"privacy-withdraw-{size}")


PERCENT = re.compile(r"(\d+) %")


def _percent(text: str) -> int:
    match = PERCENT.search(text)
    assert match, text
    return int(match.group(1))


def test_upload_progress_never_goes_back_and_home_shows_the_video_sending(
    phone: Page, make: Factory, app: Flask, live_server: LiveServer
) -> None:
    family = make.family()
    sign_in_parent(app, phone, make.parent_of(family), live_server.url)
    phone.goto("/film/")
    start = phone.get_by_role("button", name="Start filming")
    expect(start).to_be_enabled()
    start.click()
    expect(phone.locator("#rec-clock")).to_have_text("0:06", timeout=15_000)
    phone.get_by_role("button", name="Stop filming").click()
    # A slow phone connection, so the video is still sending as the parent moves around.
    cdp = phone.context.new_cdp_session(phone)
    cdp.send("Network.enable")
    cdp.send(
        "Network.emulateNetworkConditions",
        {
            "offline": False,
            "latency": 50,
            "downloadThroughput": 500_000,
            "uploadThroughput": 40_000,
        },
    )
    phone.get_by_role("button", name="Send to my practitioner").click()
    state = phone.locator("#rec-sending-state")
    phone.wait_for_function(
        "() => /([2-9]\\d) %/.test(document.getElementById('rec-sending-state').textContent)",
        timeout=30_000,
    )
    seen = [_percent(state.inner_text())]

    phone.goto("/home/")
    sending = phone.locator("#home-sending")
    expect(sending).to_contain_text("sending")
    seen.append(_percent(sending.inner_text()))
    screenshot(phone, "home-video-sending")

    phone.get_by_role("link", name="My videos").first.click()
    item = phone.locator(".vid-item").first
    expect(item).to_contain_text("Sending")
    seen.append(_percent(item.inner_text()))
    assert seen == sorted(seen), seen
    cdp.send(
        "Network.emulateNetworkConditions",
        {"offline": False, "latency": 0, "downloadThroughput": -1, "uploadThroughput": -1},
    )


ANDROID_UA = (
    "Mozilla/5.0 (Linux; Android 13; Pixel 7) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/120.0.0.0 Mobile Safari/537.36"
)


def test_my_videos_shows_only_this_phones_install_steps_folded_once_read(
    browser, make: Factory, app: Flask, live_server: LiveServer
) -> None:
    context = new_context(browser, live_server, SIZES["375"], user_agent=ANDROID_UA)
    page = context.new_page()
    try:
        family = make.family()
        sign_in_parent(app, page, make.parent_of(family), live_server.url)
        page.goto("/film/videos")
        card = page.locator("#vig-install")
        expect(card.get_by_text("In Chrome, tap the menu")).to_be_visible()
        expect(card.get_by_text("On iPhone", exact=True)).to_be_hidden()
        screenshot(page, "my-videos-install-first-375")
        page.reload()
        expect(card).to_be_visible()
        expect(card.get_by_text("In Chrome, tap the menu")).to_be_hidden()  # folded away
        card.get_by_text("Put this app on your home screen").click()
        expect(card.get_by_text("In Chrome, tap the menu")).to_be_visible()
        screenshot(page, "my-videos-install-again-375")
    finally:
        context.close()


# WCAG relative luminance and contrast, for colours as the browser computed them.
CONTRAST = """([a, b]) => {
  const lum = (css) => {
    const [r, g, b] = css.match(/\\d+(\\.\\d+)?/g).slice(0, 3).map(Number).map((v) => {
      v /= 255; return v <= 0.03928 ? v / 12.92 : Math.pow((v + 0.055) / 1.055, 2.4);
    });
    return 0.2126 * r + 0.7152 * g + 0.0722 * b;
  };
  const [hi, lo] = [lum(a), lum(b)].sort((x, y) => y - x);
  return (hi + 0.05) / (lo + 0.05);
}"""


def test_focus_ring_contrast_and_link_tap_areas(
    phone: Page, make: Factory, app: Flask, live_server: LiveServer
) -> None:
    family = make.family()
    sign_in_parent(app, phone, make.parent_of(family), live_server.url)
    for path in ("/home/", "/consent/privacy", "/review/"):
        phone.goto(path)
        # Every text link: at least 24 px to tap; one that stands alone (a main action) 44 px.
        sizes = phone.evaluate(
            """() => [...document.querySelectorAll('main a:not(.button), nav a')]
                 .filter((a) => a.offsetParent !== null)
                 .map((a) => ({text: a.textContent.trim(),
                               h: Math.min(...[...a.getClientRects()].map((r) => r.height)),
                               alone: a.parentElement.tagName === 'P'
                                      && a.parentElement.textContent.trim()
                                         === a.textContent.trim()}))"""
        )
        assert sizes, path
        for link in sizes:
            assert link["h"] >= (44 if link["alone"] else 24), (path, link)

    phone.goto("/home/")
    phone.keyboard.press("Tab")  # the skip link
    phone.keyboard.press("Tab")  # the first link on the page (on the paper background)
    ring = phone.evaluate(
        """() => { const s = getComputedStyle(document.activeElement);
                   return [s.outlineColor, getComputedStyle(document.body).backgroundColor]; }"""
    )
    assert phone.evaluate(CONTRAST, ring) >= 3, ring
