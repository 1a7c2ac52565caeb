"""Issue 19 in a real browser on a phone: an admin hands a family over, and a supervision
share is made, watched, commented on, and then runs out (the app's clock moves on)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from flask import Flask
from playwright.sync_api import Page, expect

from tests.browser.conftest import LiveServer, new_context, screenshot
from tests.capture.phone import sign_in_parent
from tests.conftest import PASSWORD, Factory
from tests.media.factories import add_clip, add_cycle, add_recording
from vigparent import db
from vigparent.models import Role, User
from vigparent.supervision import service as supervision


def _page_as(browser: Any, app: Flask, live_server: LiveServer, user: User) -> Page:
    context = new_context(browser, live_server)
    page = context.new_page()
    sign_in_parent(app, page, user, live_server.url)  # any user's session cookie
    return page


def test_admin_hands_a_family_over_on_a_phone(
    browser: Any, make: Factory, app: Flask, live_server: LiveServer
) -> None:
    org = make.organisation()
    pat = make.practitioner(organisation=org)
    jo = make.practitioner(organisation=org)
    jo.display_name = "Jo Newcomer"
    admin = make.practitioner(organisation=org, role=Role.ADMIN)
    admin.display_name = "Lee Lead"
    db.session().commit()
    family = make.family(pat, label="Sam and Alex")
    parent = make.parent_of(family)
    add_recording(family, parent, cycle=add_cycle(family), seconds=1.0)

    lead, old, new, home = (
        _page_as(browser, app, live_server, u) for u in (admin, pat, jo, parent)
    )
    try:
        lead.goto(f"/practice/families/{family.id}")
        screenshot(lead, "handover-admin-family-phone")
        lead.get_by_role("link", name="Hand over to another practitioner").click()
        expect(lead.get_by_role("heading", name="Hand over Sam and Alex")).to_be_visible()
        lead.get_by_role("button", name="Hand over").click()
        expect(lead.locator(".error-summary")).to_contain_text("Choose the practitioner")
        screenshot(lead, "handover-error-phone")
        lead.get_by_label("Hand over to").select_option(label="Jo Newcomer")
        screenshot(lead, "handover-confirm-phone")
        lead.get_by_role("button", name="Hand over").click()
        expect(lead.locator(".notice-success")).to_contain_text(
            "Sam and Alex is now with Jo Newcomer. Pat Practitioner can no longer see them."
        )
        screenshot(lead, "handover-done-phone")

        old.goto("/practice/")
        expect(old.get_by_role("link", name="Sam and Alex")).to_have_count(0)
        response = old.goto(f"/practice/families/{family.id}")
        assert response is not None and response.status == 404
        new.goto("/practice/")
        new.get_by_role("link", name="Sam and Alex").click()
        expect(new.get_by_role("heading", name="Videos and clips")).to_be_visible()
        screenshot(new, "handover-new-practitioner-phone")
        home.goto("/home/")
        expect(home.get_by_text("Your practitioner is Jo Newcomer.")).to_be_visible()
        screenshot(home, "handover-parent-home-phone")
    finally:
        for page in (lead, old, new, home):
            page.context.close()


def test_a_supervision_share_is_watched_then_expires(
    browser: Any, make: Factory, app: Flask, live_server: LiveServer, frozen_clock: Any
) -> None:
    org = make.organisation()
    pat = make.practitioner(organisation=org)
    supervision.create_supervisor(org.id, "sue@example.org", PASSWORD, "Sue Supervisor")
    db.session().commit()
    family = make.family(pat, label="Sam and Alex")
    parent = make.parent_of(family)
    recording = add_recording(family, parent, cycle=add_cycle(family), seconds=2.0)
    clip = add_clip(recording, start=0.2, end=1.4, title="You waited")

    phone, practice = (_page_as(browser, app, live_server, u) for u in (parent, pat))
    sup = new_context(browser, live_server).new_page()
    try:
        # The parent agrees on their privacy page.
        phone.goto("/consent/privacy")
        phone.locator("#supervision").scroll_into_view_if_needed()
        screenshot(phone, "supervision-parent-privacy-asked-phone")
        phone.get_by_role("button", name="Yes, they may show my clips").click()
        expect(phone.get_by_text("You said yes to this.")).to_be_visible()

        # The practitioner shares the clip for 7 days.
        practice.goto(f"/practice/families/{family.id}")
        practice.get_by_role("link", name="Share clips with your supervisor").click()
        practice.get_by_label("You waited").check()
        practice.get_by_label("Supervisor").select_option(label="Sue Supervisor")
        practice.get_by_label("7 days").check()
        practice.get_by_label("What would you like to talk about?").fill("My pacing, please.")
        screenshot(practice, "supervision-share-form-phone")
        practice.get_by_role("button", name="Share clips").click()
        expect(practice.locator(".notice-success")).to_contain_text("Shared with Sue Supervisor")

        phone.goto("/consent/privacy")
        shared = phone.get_by_text(
            "Your clips are shared with Sue Supervisor until Wednesday 2 December"
        )
        expect(shared).to_be_visible()
        screenshot(phone, "supervision-parent-privacy-phone")

        # The supervisor signs in with their password and lands on what is shared.
        sup.goto("/login")
        sup.get_by_label("Email").fill("sue@example.org")
        sup.get_by_label("Password").fill(PASSWORD)
        sup.get_by_role("button", name="Sign in").click()
        expect(sup.get_by_role("heading", name="Clips shared with you")).to_be_visible()
        sup.get_by_role("link", name="From Pat Practitioner").click()
        expect(sup.get_by_text("My pacing, please.")).to_be_visible()
        expect(sup.get_by_text("Sam and Alex")).to_have_count(0)
        sup.wait_for_function(
            "() => { const v = document.querySelector('video'); return v && v.readyState >= 2; }",
            polling=50,
        )
        sup.get_by_label("Your comment on this clip").fill("Lovely wait. What did you feel?")
        sup.get_by_role("button", name="Add comment").click()
        expect(sup.get_by_text("Lovely wait. What did you feel?")).to_be_visible()
        screenshot(sup, "supervision-supervisor-share-phone")

        practice.reload()
        expect(practice.get_by_text("Lovely wait. What did you feel?")).to_be_visible()
        screenshot(practice, "supervision-practitioner-shares-phone")

        # A week and a minute later the share has ended everywhere.
        frozen_clock(days=7, minutes=1)
        sup.goto("/login")
        sup.get_by_label("Email").fill("sue@example.org")
        sup.get_by_label("Password").fill(PASSWORD)
        sup.get_by_role("button", name="Sign in").click()
        expect(sup.get_by_text("Nothing is shared with you at the moment.")).to_be_visible()
        screenshot(sup, "supervision-supervisor-expired-phone")
        gone = sup.request.get(f"/media/clips/{clip.id}")
        assert gone.status == 404
        phone.goto("/consent/privacy")
        expect(phone.get_by_text("Your clips are shared with")).to_have_count(0)
        practice_again = _page_as(browser, app, live_server, pat)
        practice_again.goto(f"/practice/families/{family.id}/supervision")
        expect(practice_again.get_by_text("Ended on Wednesday 2 December")).to_be_visible()
        practice_again.context.close()
    finally:
        for page in (phone, practice, sup):
            page.context.close()


def test_the_lead_reads_the_service_report_and_downloads_it(
    browser: Any, make: Factory, app: Flask, live_server: LiveServer
) -> None:
    org = make.organisation("Riverside health visiting")
    pat = make.practitioner(organisation=org)
    for i in range(6):  # 6 families: shown rounded to the nearest 5
        make.family(pat, label=f"Family {i}")
    supervision.create_supervisor(org.id, "sue@example.org", PASSWORD, "Sue Supervisor")
    admin = make.practitioner(organisation=org, role=Role.ADMIN)
    lead = _page_as(browser, app, live_server, admin)
    try:
        lead.goto("/practice/")
        lead.get_by_role("link", name="Supervisors").click()
        expect(lead.get_by_role("cell", name="Sue Supervisor")).to_be_visible()
        screenshot(lead, "supervision-admin-list-phone")
        lead.goto("/practice/")
        lead.get_by_role("link", name="Service report").click()
        expect(lead.get_by_role("row", name="Families invited 5")).to_be_visible()
        expect(lead.get_by_text("Family 0")).to_have_count(0)
        screenshot(lead, "report-phone")
        with lead.expect_download() as info:
            lead.get_by_role("link", name="Download as CSV").click()
        download = info.value
        assert download.suggested_filename.startswith("vig-service-report-")
        text = Path(download.path()).read_text(encoding="utf-8")
        assert "Families invited,5" in text and "Family 0" not in text
    finally:
        lead.context.close()
