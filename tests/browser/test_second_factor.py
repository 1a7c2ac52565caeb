"""Staff second factor in Chromium: a passkey on Chromium's virtual authenticator, and the
authenticator-app path on a phone, with screenshots of each new screen."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pyotp
import pytest
from playwright.sync_api import Page, expect
from sqlalchemy import select

from tests.browser.conftest import PHONE, LiveServer, new_context, screenshot
from tests.browser.test_accessibility import axe_violations
from tests.conftest import PASSWORD, Factory
from vigparent import db
from vigparent.auth import mfa, totp
from vigparent.models import AuditEvent, Passkey, Role

LAPTOP = {"width": 1366, "height": 768}


@pytest.fixture
def named_origin(app, live_server: LiveServer, monkeypatch) -> str:  # type: ignore[no-untyped-def]
    """Serve as http://localhost:<port>: WebAuthn refuses an IP address as relying party id,
    and the RP id and origin come from VIGPARENT_BASE_URL (the settings)."""
    origin = f"http://localhost:{live_server.server.server_port}"
    settings = app.extensions["vig_settings"]
    monkeypatch.setitem(app.extensions, "vig_settings", settings.with_overrides(base_url=origin))
    return origin


@pytest.fixture
def laptop(browser, live_server: LiveServer, named_origin: str) -> Iterator[Page]:  # type: ignore[no-untyped-def]
    context = browser.new_context(base_url=named_origin, viewport=LAPTOP, locale="en-GB")
    context.set_default_timeout(15_000)
    yield context.new_page()
    context.close()


def _virtual_authenticator(page: Page) -> tuple[Any, str]:
    cdp = page.context.new_cdp_session(page)
    cdp.send("WebAuthn.enable")
    added = cdp.send(
        "WebAuthn.addVirtualAuthenticator",
        {
            "options": {
                "protocol": "ctap2",
                "transport": "internal",
                "hasResidentKey": True,
                "hasUserVerification": True,
                "isUserVerified": True,
                "automaticPresenceSimulation": True,
            }
        },
    )
    return cdp, added["authenticatorId"]


def _password(page: Page, email: str) -> None:
    page.goto("/login")
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()


def _no_sideways_scroll(page: Page) -> None:
    width = page.viewport_size["width"] if page.viewport_size else 0
    assert page.evaluate("document.documentElement.scrollWidth") <= width


def test_passkey_registered_then_used_to_sign_in(laptop: Page, make: Factory):
    p = make.practitioner("jo@example.org")
    cdp, authenticator = _virtual_authenticator(laptop)

    _password(laptop, "jo@example.org")
    expect(laptop.get_by_role("heading", name="Your caseload")).to_be_visible()
    laptop.get_by_role("link", name="Sign-in security").click()
    expect(laptop.get_by_role("heading", name="Sign-in security")).to_be_visible()
    screenshot(laptop, "mfa-security-laptop")
    laptop.get_by_label("Name for this passkey (optional)").fill("Work laptop")
    laptop.get_by_role("button", name="Add a passkey").click()

    expect(laptop.get_by_role("heading", name="Save your recovery codes")).to_be_visible()
    expect(laptop.get_by_text("Your passkey is added.")).to_be_visible()
    assert laptop.get_by_role("list", name="Recovery codes").get_by_role("listitem").count() == 10
    screenshot(laptop, "mfa-recovery-codes-laptop")
    held = cdp.send("WebAuthn.getCredentials", {"authenticatorId": authenticator})["credentials"]
    assert len(held) == 1
    keys = list(db.session().scalars(select(Passkey).where(Passkey.user_id == p.id)))
    assert [k.name for k in keys] == ["Work laptop"]

    laptop.get_by_role("link", name="I've saved my codes, carry on").click()
    laptop.goto("/account/security")
    expect(laptop.get_by_role("listitem").filter(has_text="Work laptop")).to_be_visible()
    expect(laptop.get_by_text("You have 10 unused recovery codes.")).to_be_visible()
    screenshot(laptop, "mfa-security-with-passkey-laptop")
    laptop.get_by_role("button", name="Sign out").click()
    expect(laptop.get_by_text("You have signed out.")).to_be_visible()

    _password(laptop, "jo@example.org")
    expect(laptop.get_by_role("heading", name="One more step")).to_be_visible()
    screenshot(laptop, "mfa-second-step-laptop")
    # Nothing else opens until the second step passes.
    laptop.goto("/practice/")
    expect(laptop.get_by_role("heading", name="Practitioner sign in")).to_be_visible()
    laptop.goto("/sign-in/second-step")
    laptop.get_by_role("button", name="Use my passkey").click()
    expect(laptop.get_by_role("heading", name="Your caseload")).to_be_visible()

    db.session().expire_all()
    detail = db.session().scalar(
        select(AuditEvent.detail)
        .where(AuditEvent.actor_id == p.id, AuditEvent.action == "signed_in")
        .order_by(AuditEvent.id.desc())
    )
    assert detail == "second factor: passkey"
    key = db.session().scalar(select(Passkey).where(Passkey.user_id == p.id))
    assert key is not None and key.last_used_at is not None


def test_authenticator_app_on_a_phone_when_the_organisation_requires_it(
    browser, live_server: LiveServer, make: Factory, frozen_clock
):
    org = make.organisation(staff_second_factor_required=True)
    make.practitioner("jo@example.org", organisation=org)
    make.practitioner("boss@example.org", organisation=org, role=Role.ADMIN)
    context = new_context(browser, live_server, PHONE)
    phone = context.new_page()

    _password(phone, "jo@example.org")
    expect(phone.get_by_role("heading", name="Sign-in security")).to_be_visible()
    expect(
        phone.get_by_text("Your organisation asks everyone to use a second factor")
    ).to_be_visible()
    # At 127.0.0.1 passkeys cannot work (an IP address): the page says so and offers the app.
    expect(phone.get_by_text("Passkeys don't work at this web address")).to_be_visible()
    screenshot(phone, "mfa-set-up-phone")
    _no_sideways_scroll(phone)
    phone.get_by_role("button", name="Set up an authenticator app").click()

    expect(phone.get_by_role("heading", name="Set up your authenticator app")).to_be_visible()
    expect(phone.get_by_role("img", name="QR code for your authenticator app")).to_be_visible()
    screenshot(phone, "mfa-app-phone")
    _no_sideways_scroll(phone)
    secret = re.sub(r"\s", "", phone.locator(".setup-key").inner_text())
    code = pyotp.TOTP(secret).generate_otp(totp.current_step())
    phone.get_by_label("6-digit code from your authenticator app").fill(code)
    phone.get_by_role("button", name="Check code and finish").click()

    expect(phone.get_by_role("heading", name="Save your recovery codes")).to_be_visible()
    screenshot(phone, "mfa-recovery-codes-phone")
    _no_sideways_scroll(phone)
    phone.get_by_role("link", name="I've saved my codes, carry on").click()
    expect(phone.get_by_role("heading", name="Your caseload")).to_be_visible()
    phone.get_by_role("button", name="Sign out").click()

    frozen_clock(seconds=30)
    _password(phone, "jo@example.org")
    expect(phone.get_by_role("heading", name="One more step")).to_be_visible()
    screenshot(phone, "mfa-second-step-phone")
    _no_sideways_scroll(phone)
    phone.get_by_label("6-digit code from your authenticator app").fill("000000")
    phone.get_by_role("button", name="Continue").click()
    expect(phone.get_by_role("alert")).to_contain_text("That code didn't work")
    code = pyotp.TOTP(secret).generate_otp(totp.current_step())
    phone.get_by_label("6-digit code from your authenticator app").fill(code)
    phone.get_by_role("button", name="Continue").click()
    expect(phone.get_by_role("heading", name="Your caseload")).to_be_visible()
    context.close()


def test_admin_resets_a_practitioner_on_phone_and_laptop(
    browser, live_server: LiveServer, make: Factory
):
    org = make.organisation()
    jo = make.practitioner("jo@example.org", organisation=org)
    make.practitioner("boss@example.org", organisation=org, role=Role.ADMIN)
    # Jo set up an app earlier (the service the set-up page uses), then lost the phone.
    secret = totp.start_setup(jo)
    assert totp.confirm_setup(jo, pyotp.TOTP(secret).generate_otp(totp.current_step()))
    mfa.new_recovery_codes(jo)
    db.session().commit()

    for name, viewport in (("phone", PHONE), ("laptop", LAPTOP)):
        context = new_context(browser, live_server, viewport)
        page = context.new_page()
        _password(page, "boss@example.org")
        page.get_by_role("link", name="Staff sign-in security").click()
        expect(page.get_by_role("heading", name="Staff sign-in security")).to_be_visible()
        row = page.get_by_role("listitem").filter(has_text="jo@example.org")
        if name == "phone":
            expect(row).to_contain_text("authenticator app")
            row.get_by_text("Reset second factor…").click()
            expect(row.get_by_role("button", name="Reset and sign them out")).to_be_visible()
        screenshot(page, f"mfa-admin-{name}")
        _no_sideways_scroll(page)
        if name == "phone":
            row.get_by_role("button", name="Reset and sign them out").click()
            expect(page.get_by_role("status")).to_contain_text("are cleared")
            expect(row).to_contain_text("No second factor")
        context.close()
    assert not mfa.has_second_factor(jo)


def test_new_screens_have_no_serious_accessibility_problems(
    browser, live_server: LiveServer, make: Factory, frozen_clock
):
    make.practitioner("boss@example.org", organisation=make.organisation(), role=Role.ADMIN)
    # axe is injected, which the page's CSP forbids: only this context bypasses it.
    context = new_context(browser, live_server, PHONE, bypass_csp=True)
    page = context.new_page()
    _password(page, "boss@example.org")
    for path in ("/account/security", "/admin/security"):
        page.goto(path)
        assert axe_violations(page) == [], path
    page.goto("/account/security")
    page.get_by_role("button", name="Set up an authenticator app").click()
    expect(page.get_by_role("heading", name="Set up your authenticator app")).to_be_visible()
    assert axe_violations(page) == [], "app set-up"
    secret = re.sub(r"\s", "", page.locator(".setup-key").inner_text())
    page.get_by_label("6-digit code from your authenticator app").fill(
        pyotp.TOTP(secret).generate_otp(totp.current_step())
    )
    page.get_by_role("button", name="Check code and finish").click()
    expect(page.get_by_role("heading", name="Save your recovery codes")).to_be_visible()
    assert axe_violations(page) == [], "recovery codes"
    page.get_by_role("link", name="I've saved my codes, carry on").click()
    page.get_by_role("button", name="Sign out").click()
    frozen_clock(seconds=30)
    _password(page, "boss@example.org")
    expect(page.get_by_role("heading", name="One more step")).to_be_visible()
    page.get_by_text("Lost your passkey and phone?").click()
    assert axe_violations(page) == [], "second step"
    context.close()
