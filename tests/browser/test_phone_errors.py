"""A script error on a parent's phone reaches the team (issue 14 §8): Chromium on a phone
viewport reports it through common.js, and an admin sees it on their page."""

from __future__ import annotations

from flask import Flask
from playwright.sync_api import Page, expect
from sqlalchemy import select

from tests.browser.conftest import DESKTOP, LiveServer, new_context, screenshot
from tests.capture.phone import sign_in_parent
from tests.conftest import PASSWORD, Factory
from vigparent import db
from vigparent.models import ClientError, Role


def _reports() -> list[ClientError]:
    db.session().expire_all()
    return list(db.session().scalars(select(ClientError)))


def test_a_script_error_on_the_phone_is_listed_for_the_admin(
    phone: Page, browser, make: Factory, app: Flask, live_server: LiveServer
) -> None:  # type: ignore[no-untyped-def]
    org = make.organisation()
    practitioner = make.practitioner(organisation=org)
    parent = make.parent_of(make.family(practitioner))
    admin = make.practitioner(organisation=org, role=Role.ADMIN)
    sign_in_parent(app, phone, parent, live_server.url)
    phone.goto("/home/")

    with phone.expect_response("**/api/client-errors") as sent:
        # An error nothing catches, thrown the way a bug in a phone script would be.
        phone.evaluate("() => { setTimeout(() => { null.send(); }, 0); }")
    assert sent.value.status == 204
    (report,) = _reports()
    assert report.kind == "script_error" and "TypeError" in report.message
    assert report.page == "/home/" and "Chrome" in report.browser and report.app_version

    # A swallowed failure reported by the helper the scripts call.
    with phone.expect_response("**/api/client-errors") as sent:
        phone.evaluate(
            "() => vig.reportError('storage_failed',"
            " new DOMException('full', 'QuotaExceededError'))"
        )
    assert sent.value.status == 204
    assert {r.kind for r in _reports()} == {"script_error", "storage_failed"}

    context = new_context(browser, live_server, DESKTOP)
    try:
        page = context.new_page()
        page.goto("/login")
        page.get_by_label("Email").fill(admin.email or "")
        page.get_by_label("Password").fill(PASSWORD)
        page.get_by_role("button", name="Sign in").click()
        screenshot(page, "phone-errors-caseload-link")
        page.get_by_role("link", name="Errors on parents' phones").click()
        expect(page.get_by_role("heading", name="Errors on parents' phones")).to_be_visible()
        expect(page.get_by_text("QuotaExceededError: full")).to_be_visible()
        expect(page.get_by_role("cell", name="Script error")).to_be_visible()
        screenshot(page, "phone-errors-admin")
    finally:
        context.close()


def test_a_failure_with_no_signal_is_reported_when_the_signal_is_back(
    phone: Page, make: Factory, app: Flask, live_server: LiveServer
) -> None:
    """Uploads fail most with no signal: the report waits on the phone, then is sent."""
    sign_in_parent(app, phone, make.parent_of(make.family()), live_server.url)
    phone.goto("/home/")
    phone.context.set_offline(True)
    try:
        phone.evaluate("() => vig.reportError('upload_failed', new Error('network gone'))")
        assert phone.evaluate("() => JSON.parse(localStorage.getItem('vig-error-reports')).length")
    finally:
        with phone.expect_response("**/api/client-errors") as sent:
            phone.context.set_offline(False)
    assert sent.value.status == 204
    (report,) = _reports()
    assert report.kind == "upload_failed" and report.message == "Error: network gone"
    assert phone.evaluate("() => localStorage.getItem('vig-error-reports')") is None
