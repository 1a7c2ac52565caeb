"""A practitioner signs in on a phone and sees their caseload."""

from __future__ import annotations

from playwright.sync_api import expect

from tests.browser.conftest import screenshot
from tests.conftest import PASSWORD, Factory


def test_practitioner_signs_in_on_phone_and_sees_caseload(phone, make: Factory):
    p = make.practitioner("jo@example.org")
    make.family(p, label="Sam and Alex")

    phone.goto("/login")
    screenshot(phone, "login")
    phone.get_by_label("Email").fill("jo@example.org")
    phone.get_by_label("Password").fill(PASSWORD)
    phone.get_by_role("button", name="Sign in").click()

    expect(phone.get_by_role("heading", name="Your caseload")).to_be_visible()
    expect(phone.get_by_text("Sam and Alex")).to_be_visible()
    screenshot(phone, "caseload")
    # Nothing on the page is wider than the phone (no sideways scrolling).
    assert phone.evaluate("document.documentElement.scrollWidth") <= 390

    phone.get_by_role("button", name="Sign out").click()
    expect(phone.get_by_text("You have signed out.")).to_be_visible()


def test_wrong_password_on_phone_shows_plain_message(phone, make: Factory):
    make.practitioner("jo@example.org")
    phone.goto("/login")
    phone.get_by_label("Email").fill("jo@example.org")
    phone.get_by_label("Password").fill("wrong password")
    phone.get_by_role("button", name="Sign in").click()
    expect(phone.get_by_role("alert")).to_contain_text("do not match")
