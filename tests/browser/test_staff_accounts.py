"""Running a service from the browser: inviting a practitioner through to their first
sign-in, a forgotten password (links read from the real SMTP server), the organisation's
settings and its audit log. Phone-sized, with screenshots."""

from __future__ import annotations

from urllib.parse import urlsplit

from playwright.sync_api import expect

from tests.browser.conftest import PHONE, new_context, screenshot
from tests.conftest import PASSWORD, Factory
from tests.mailbox import Mailbox, link_in
from vigparent.models import Role

NEW_PASSWORD = "kettle orchard lantern 7"


def _sign_in(page, email: str, password: str = PASSWORD) -> None:  # type: ignore[no-untyped-def]
    page.goto("/login")
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("heading", name="Your caseload")).to_be_visible()


def _no_sideways_scroll(page) -> None:  # type: ignore[no-untyped-def]
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]


def test_admin_invites_a_practitioner_who_joins_and_signs_in(
    phone, browser, live_server, make: Factory, mailbox: Mailbox
):
    org = make.organisation("Riverside health visiting")
    make.practitioner("lead@example.org", organisation=org, role=Role.ADMIN)
    _sign_in(phone, "lead@example.org")
    phone.get_by_role("link", name="Staff", exact=True).click()
    expect(phone.get_by_role("heading", name="Staff", exact=True)).to_be_visible()

    # A mistake first: the error summary names the field.
    phone.get_by_label("Name").fill("Jo Bloggs")
    phone.get_by_label("Email address").fill("jo at example")
    phone.get_by_role("button", name="Send invitation").click()
    expect(phone.get_by_role("alert")).to_contain_text("Enter an email address like")
    screenshot(phone, "staff-invite-error")

    phone.get_by_label("Email address").fill("jo@example.org")
    phone.get_by_role("button", name="Send invitation").click()
    expect(phone.get_by_text("Invitation sent to jo@example.org")).to_be_visible()
    expect(phone.get_by_text("Invited: the link works until")).to_be_visible()
    _no_sideways_scroll(phone)
    screenshot(phone, "staff-invited")

    [message] = mailbox.wait_for("jo@example.org")
    path = urlsplit(link_in(message)).path

    context = new_context(browser, live_server)
    jo = context.new_page()
    try:
        jo.goto(path)
        expect(jo.get_by_role("heading", name="Choose your password")).to_be_visible()
        jo.get_by_label("New password").fill(NEW_PASSWORD)
        jo.get_by_label("Type it again").fill("kettle orchard")
        jo.get_by_role("button", name="Set password and sign in").click()
        expect(jo.get_by_role("alert")).to_contain_text("The two passwords are different")
        screenshot(jo, "staff-join-error")
        jo.get_by_label("New password").fill(NEW_PASSWORD)
        jo.get_by_label("Type it again").fill(NEW_PASSWORD)
        screenshot(jo, "staff-join")
        jo.get_by_role("button", name="Set password and sign in").click()
        expect(jo.get_by_text("Welcome to VIG")).to_be_visible()
        expect(jo.get_by_role("heading", name="Your caseload")).to_be_visible()
        screenshot(jo, "staff-joined-caseload")
        # The first sign-in with the new password, on the sign-in page.
        jo.get_by_role("button", name="Sign out").click()
        _sign_in(jo, "jo@example.org", NEW_PASSWORD)
        # The link is spent.
        jo.goto(path)
        expect(jo.get_by_text("already been used")).to_be_visible()
    finally:
        context.close()

    phone.reload()
    expect(phone.locator(".staff-row", has_text="Jo Bloggs")).to_contain_text("Active")
    screenshot(phone, "staff-active")


def test_a_forgotten_password_is_reset_by_an_emailed_link(phone, make: Factory, mailbox: Mailbox):
    make.practitioner("jo@example.org")
    phone.goto("/login")
    phone.get_by_role("link", name="Forgotten your password?").click()
    expect(phone.get_by_role("heading", name="Forgotten your password?")).to_be_visible()
    screenshot(phone, "password-forgot")
    phone.get_by_label("Email address").fill("jo@example.org")
    phone.get_by_role("button", name="Email me a link").click()
    expect(phone.get_by_role("heading", name="Check your email")).to_be_visible()
    screenshot(phone, "password-forgot-sent")

    [message] = mailbox.wait_for("jo@example.org")
    phone.goto(urlsplit(link_in(message)).path)
    expect(phone.get_by_role("heading", name="Choose a new password")).to_be_visible()
    phone.get_by_label("New password").fill("short")
    phone.get_by_label("Type it again").fill("short")
    phone.get_by_role("button", name="Change password and sign in").click()
    expect(phone.get_by_role("alert")).to_contain_text("at least 10 characters")
    screenshot(phone, "password-reset-error")
    phone.get_by_label("New password").fill(NEW_PASSWORD)
    phone.get_by_label("Type it again").fill(NEW_PASSWORD)
    phone.get_by_role("button", name="Change password and sign in").click()
    expect(phone.get_by_text("Your password is changed")).to_be_visible()
    expect(phone.get_by_role("heading", name="Your caseload")).to_be_visible()
    screenshot(phone, "password-reset-done")
    phone.get_by_role("button", name="Sign out").click()
    _sign_in(phone, "jo@example.org", NEW_PASSWORD)


def test_admin_changes_a_setting_and_finds_it_in_the_audit_log(phone, make: Factory):
    org = make.organisation("Riverside health visiting")
    make.practitioner("lead@example.org", organisation=org, role=Role.ADMIN)
    _sign_in(phone, "lead@example.org")
    phone.get_by_role("link", name="Organisation settings").click()
    expect(phone.get_by_role("heading", name="Organisation settings")).to_be_visible()
    phone.get_by_label("Days to keep videos after a case closes").fill("a month")
    phone.get_by_role("button", name="Save settings").click()
    expect(phone.get_by_role("alert")).to_contain_text("whole number of days")
    _no_sideways_scroll(phone)
    screenshot(phone, "organisation-settings-error")
    phone.get_by_label("Days to keep videos after a case closes").fill("7")
    phone.get_by_label("How families can contact you").fill("0300 123 4567, weekdays 9am to 5pm")
    phone.get_by_role("button", name="Save settings").click()
    expect(phone.get_by_text("applies from the next nightly sweep")).to_be_visible()
    screenshot(phone, "organisation-settings")

    phone.get_by_role("link", name="audit log").click()
    expect(phone.get_by_role("heading", name="Audit log")).to_be_visible()
    expect(phone.get_by_text("retention_days: 30 -> 7")).to_be_visible()
    _no_sideways_scroll(phone)
    screenshot(phone, "audit-log")


def test_the_new_screens_have_no_serious_accessibility_problems(
    browser, live_server, make: Factory, mailbox: Mailbox
):
    from tests.browser.test_accessibility import axe_violations

    org = make.organisation()
    make.practitioner("lead@example.org", organisation=org, role=Role.ADMIN)
    context = new_context(browser, live_server, bypass_csp=True)  # axe is injected
    page = context.new_page()
    try:
        for path in ("/password/forgot", "/staff/join/not-a-link"):
            page.goto(path)
            assert axe_violations(page) == [], path
        _sign_in(page, "lead@example.org")
        page.goto("/admin/staff")
        page.get_by_label("Name").fill("Jo")
        page.get_by_label("Email address").fill("jo@example.org")
        page.get_by_role("button", name="Send invitation").click()
        expect(page.get_by_text("Invitation sent")).to_be_visible()
        for path in ("/admin/staff", "/admin/settings", "/admin/audit", "/admin/audit?since=x"):
            page.goto(path)
            assert axe_violations(page) == [], path
        page.goto(urlsplit(link_in(mailbox.wait_for("jo@example.org")[0])).path)
        assert axe_violations(page) == [], "choose password"
    finally:
        context.close()
