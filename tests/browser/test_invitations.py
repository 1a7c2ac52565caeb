"""Invitation to first next step, on phones: the practitioner sends a link, a parent joins.

Every screen is saved under test-artifacts/ for a person to look at. The strict CSP is
checked in the browser itself: any refused inline script or style shows up as a console error.
"""

from __future__ import annotations

import re
from datetime import datetime

from playwright.sync_api import expect

from tests.browser.conftest import DESKTOP, PHONE, new_context, screenshot
from tests.conftest import PASSWORD, Factory
from vigparent import db
from vigparent.families import service as family_service
from vigparent.invitations import service as invitation_service


class ConsoleWatch:
    """Collects console errors and page errors (CSP violations are console errors)."""

    def __init__(self, page) -> None:  # type: ignore[no-untyped-def]
        self.errors: list[str] = []
        page.on("console", self._console)
        page.on("pageerror", lambda e: self.errors.append(str(e)))

    def _console(self, message) -> None:  # type: ignore[no-untyped-def]
        # Refusal pages (and the consent form sent unticked) answer 4xx on purpose, and
        # Chromium logs each of those as an error.
        expected = re.match(
            r"Failed to load resource: .* status of (400|401|404|410)", message.text
        )
        if message.type == "error" and not expected:
            self.errors.append(message.text)

    def assert_clean(self) -> None:
        assert not self.errors, self.errors


def _fits(page, width: int = PHONE["width"]) -> None:  # type: ignore[no-untyped-def]
    assert page.evaluate("document.documentElement.scrollWidth") <= width


def _path(url: str) -> str:
    return "/join/" + url.split("/join/", 1)[1]


def test_practitioner_invites_parent_joins_agrees_goal_and_sees_next_step(
    browser, live_server, make: Factory, frozen_clock
):
    frozen_clock(datetime(2026, 11, 25, 12, 0))  # a Wednesday
    make.practitioner("jo@example.org")

    # --- the practitioner, on their phone in the field -------------------------------------
    staff_ctx = new_context(browser, live_server)
    staff = staff_ctx.new_page()
    staff_console = ConsoleWatch(staff)
    staff.goto("/login")
    staff.get_by_label("Email").fill("jo@example.org")
    staff.get_by_label("Password").fill(PASSWORD)
    staff.get_by_role("button", name="Sign in").click()
    expect(staff.get_by_role("heading", name="Your caseload")).to_be_visible()
    screenshot(staff, "invite-01-caseload-empty")

    staff.get_by_label("Family label").fill("Sam and Alex")
    staff.get_by_label("First carer's name (optional)").fill("Alex")
    staff.get_by_role("button", name="Add family and make a link").click()
    expect(staff.get_by_role("heading", name="Send the link to Alex")).to_be_visible()
    link = staff.get_by_label("Invitation link").input_value()
    assert "/join/" in link
    expect(staff.locator("svg.qr-code")).to_be_visible()
    expect(staff.get_by_role("link", name="Text message")).to_have_attribute(
        "href", re.compile(r"^sms:")
    )
    expect(staff.get_by_role("link", name="Email")).to_have_attribute(
        "href", re.compile(r"^mailto:")
    )
    staff.get_by_role("button", name="Copy link").click()
    expect(staff.locator("[data-share-status]")).not_to_be_empty()
    _fits(staff)
    screenshot(staff, "invite-02-family-share-panel-phone")

    # The practitioner suggests a goal and plans the first filming.
    staff.get_by_role("link", name="Suggest a goal").click()
    staff.get_by_label("Goal: what would you like to be different?").fill(
        "I'd like bath time to be calmer."
    )
    staff.get_by_label("Helping question (optional)").fill("What do I do that helps Sam settle?")
    screenshot(staff, "invite-03-practitioner-suggests-goal")
    staff.get_by_role("button", name="Suggest this goal").click()
    expect(staff.get_by_text("You agreed these words")).to_be_visible()
    screenshot(staff, "invite-04-practitioner-goal-waiting")

    staff.get_by_role("link", name="Sam and Alex").click()
    staff.get_by_role("link", name="Plan filming").click()
    staff.get_by_label("What to film").fill("bath time")
    staff.get_by_label("Film before").fill("2026-12-03")
    staff.get_by_label("At home").check()
    staff.get_by_label("Note for the family (optional)").fill(
        "Five to ten minutes is plenty. Film whatever feels ordinary."
    )
    staff.get_by_label("Review date (optional)").fill("2026-12-10")
    staff.get_by_label("Review time").fill("10:00")
    _fits(staff)
    screenshot(staff, "invite-05-plan-form")
    staff.get_by_role("button", name="Save plan").click()
    expect(staff.get_by_text("Filming plan saved")).to_be_visible()
    screenshot(staff, "invite-06-family-page-planned")
    staff_console.assert_clean()

    # --- the parent, on their own phone ----------------------------------------------------
    parent_ctx = new_context(browser, live_server)
    parent = parent_ctx.new_page()
    parent_console = ConsoleWatch(parent)
    parent.goto(_path(link))
    expect(parent.get_by_role("heading", name="Welcome, Alex")).to_be_visible()
    for heading in ("What is VIG?", "Who will see it?", "How long is it kept?"):
        expect(parent.get_by_role("heading", name=heading)).to_be_visible()
    expect(parent.get_by_role("heading", name="You can stop at any time")).to_be_visible()
    _fits(parent)
    screenshot(parent, "invite-07-parent-welcome")

    parent.get_by_role("link", name="Next: choose what you agree to").click()
    expect(parent.get_by_role("heading", name="Do you agree?")).to_be_visible()
    # Trying without ticking anything explains what is needed and saves nothing.
    parent.get_by_role("button", name="Yes, I agree. Join now").click()
    expect(parent.get_by_role("alert")).to_contain_text("please tick both boxes")
    screenshot(parent, "invite-08-parent-consent-missing")
    parent.get_by_label("I agree to film short videos").check()
    parent.get_by_label("I agree that my videos").check()
    expect(parent.get_by_label("Your first name (optional)")).to_have_value("Alex")
    _fits(parent)
    screenshot(parent, "invite-09-parent-consent")
    parent.get_by_role("button", name="Yes, I agree. Join now").click()

    expect(parent.get_by_role("heading", name="Hello Alex")).to_be_visible()
    expect(parent.locator(".next-step-text")).to_have_text(
        "Read your goal and tell your practitioner if it feels right."
    )
    _fits(parent)
    screenshot(parent, "invite-10-parent-home-goal-waiting")

    parent.get_by_role("link", name="Read your goal").first.click()
    expect(parent.locator(".goal-current .goal-words")).to_have_text(
        "I'd like bath time to be calmer."
    )
    _fits(parent)
    screenshot(parent, "invite-11-parent-goal")
    parent.get_by_role("button", name="Yes, I agree").click()

    expect(parent.get_by_text("You both agree. This is your goal now.")).to_be_visible()
    expect(parent.locator(".next-step-text")).to_have_text(
        "Film bath time before Thursday 3 December."
    )
    expect(parent.get_by_text("Thursday 10 December at 10am")).to_be_visible()
    _fits(parent)
    screenshot(parent, "invite-12-parent-home-next-step")

    parent.get_by_role("link", name="Privacy").click()
    expect(parent.get_by_role("heading", name="What you agreed to")).to_be_visible()
    _fits(parent)
    screenshot(parent, "invite-13-parent-privacy")

    parent.goto("/goals/")
    parent.get_by_text("Change the words", exact=True).click()
    screenshot(parent, "invite-14-parent-goal-agreed-edit-open")
    parent_console.assert_clean()

    # --- the same link again, on another phone ---------------------------------------------
    other_ctx = new_context(browser, live_server)
    other = other_ctx.new_page()
    response = other.goto(_path(link))
    assert response is not None and response.status == 410
    expect(other.get_by_role("heading", name="This link has already been used")).to_be_visible()
    expect(other.get_by_text("ask your practitioner for a new link")).to_be_visible()
    _fits(other)
    screenshot(other, "invite-15-link-already-used")

    # --- back with the practitioner: the family is active, the carer is listed ---------------
    staff.reload()
    expect(staff.get_by_text("Active", exact=True)).to_be_visible()
    expect(staff.get_by_role("heading", name="Alex", exact=True)).to_be_visible()
    expect(staff.get_by_role("button", name="Sign out this device")).to_be_visible()
    screenshot(staff, "invite-16-family-page-joined")
    staff.get_by_role("link", name="Caseload").click()
    expect(staff.get_by_text("Waiting for the family to film bath time")).to_be_visible()
    screenshot(staff, "invite-17-caseload-active")
    staff_console.assert_clean()
    for ctx in (staff_ctx, parent_ctx, other_ctx):
        ctx.close()


def test_refused_links_and_narrow_screens(browser, live_server, make: Factory, frozen_clock):
    """What a parent sees for a cancelled, expired or broken link, on a 320px phone."""
    frozen_clock(datetime(2026, 11, 25, 12, 0))
    practitioner = make.practitioner()
    family, invitation, token = family_service.start_family(practitioner, "Sam and Alex", "Alex")
    _cancelled, cancelled_token = invitation_service.invite_carer(family, practitioner, "Jordan")
    invitation_service.revoke_invitation(_cancelled, practitioner)
    db.session().commit()

    narrow = new_context(browser, live_server, {"width": 320, "height": 640})
    page = narrow.new_page()
    console = ConsoleWatch(page)
    page.goto(f"/join/{token}")
    _fits(page, 320)
    screenshot(page, "invite-20-welcome-320px")
    page.goto(f"/join/{token}/consent")
    _fits(page, 320)
    screenshot(page, "invite-21-consent-320px")

    r = page.goto(f"/join/{cancelled_token}")
    assert r is not None and r.status == 410
    expect(page.get_by_role("heading", name="This link has been cancelled")).to_be_visible()
    screenshot(page, "invite-22-link-cancelled")

    r = page.goto(f"/join/{token[:-4]}")
    assert r is not None and r.status == 404
    expect(page.get_by_role("heading", name="We don't recognise this link")).to_be_visible()
    screenshot(page, "invite-23-link-broken")

    frozen_clock(days=15)
    r = page.goto(f"/join/{token}")
    assert r is not None and r.status == 410
    expect(page.get_by_role("heading", name="This link has run out")).to_be_visible()
    _fits(page, 320)
    screenshot(page, "invite-24-link-expired")

    r = page.goto("/home/")
    assert r is not None and r.status == 401
    screenshot(page, "invite-25-home-without-session")
    console.assert_clean()
    narrow.close()


def test_family_page_on_a_desktop(browser, live_server, make: Factory, frozen_clock):
    """The practitioner at their desk, with a parent beside them scanning the QR code."""
    frozen_clock(datetime(2026, 11, 25, 12, 0))
    make.practitioner("jo@example.org")
    ctx = new_context(browser, live_server, DESKTOP)
    page = ctx.new_page()
    console = ConsoleWatch(page)
    page.goto("/login")
    page.get_by_label("Email").fill("jo@example.org")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.get_by_label("Family label").fill("Riley and Sam")
    page.get_by_role("button", name="Add family and make a link").click()
    expect(page.locator("svg.qr-code")).to_be_visible()
    screenshot(page, "invite-30-family-share-desktop")
    # Cancel and send again from the list of links.
    page.get_by_role("button", name="Cancel link").click()
    expect(page.get_by_text("That link is cancelled")).to_be_visible()
    page.get_by_role("button", name="Send again").click()
    expect(page.get_by_role("heading", name="Send the link")).to_be_visible()
    screenshot(page, "invite-31-links-resent-desktop")
    console.assert_clean()
    ctx.close()
