"""The screens issue 13 changed, at 375×667 and 320×568 (and 1366×768 for practitioners):
axe-core finds nothing serious, and a screenshot of each goes to test-artifacts/."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from flask import Flask
from playwright.sync_api import Page, expect

from tests.browser.conftest import LiveServer, new_context, screenshot
from tests.browser.test_accessibility import axe_violations
from tests.capture.phone import sign_in_parent
from tests.conftest import Factory
from tests.media.factories import add_clip, add_cycle, add_recording
from vigparent import clock, db
from vigparent.families import service as family_service
from vigparent.models import Goal, GoalStatus
from vigparent.withdrawal import service as withdrawal

SIZES = {"375": {"width": 375, "height": 667}, "320": {"width": 320, "height": 568}}
LAPTOP = {"width": 1366, "height": 768}


def _context(browser: Any, live_server: LiveServer, viewport: dict[str, int]) -> Any:
    # The page's CSP forbids injected scripts; axe is injected only in these test contexts.
    return new_context(browser, live_server, viewport, bypass_csp=True)


@pytest.fixture(params=sorted(SIZES))
def small(request, browser, live_server: LiveServer) -> Iterator[tuple[str, Page]]:  # type: ignore[no-untyped-def]
    context = _context(browser, live_server, SIZES[request.param])
    yield request.param, context.new_page()
    context.close()


def _check(page: Page, name: str) -> None:
    assert axe_violations(page) == [], name
    screenshot(page, name)


def _goal(family_id: int, by_id: int) -> None:
    db.session().add(
        Goal(
            family_id=family_id,
            text="I'd like bath time to be calmer.",
            helping_question="What do I do that helps my child settle?",
            status=GoalStatus.AGREED,
            proposed_by_id=by_id,
        )
    )
    db.session().commit()


def test_parent_screens(
    small: tuple[str, Page], make: Factory, app: Flask, live_server: LiveServer
) -> None:
    size, page = small
    practitioner = make.practitioner()
    family = make.family(practitioner)
    parent = make.parent_of(family)
    add_clip(add_recording(family, parent, cycle=add_cycle(family)))
    _goal(family.id, practitioner.id)
    sign_in_parent(app, page, parent, live_server.url)

    page.goto("/home/")
    _check(page, f"changed-home-{size}")
    page.goto("/film/")
    expect(page.get_by_role("button", name="Start filming")).to_be_enabled()
    _check(page, f"changed-film-{size}")
    page.goto("/consent/privacy")
    _check(page, f"changed-privacy-{size}")
    page.goto("/review/")
    page.get_by_role("button", name="Save what I noticed").first.click()
    expect(page.locator(".error-summary")).to_be_focused()
    _check(page, f"changed-review-error-{size}")
    page.goto("/goals/")
    _check(page, f"changed-goal-{size}")
    page.goto("/consent/privacy")
    page.get_by_role("button", name="Stop and delete all our videos").click()
    expect(page.locator(".panel-confirmation")).to_be_visible()
    _check(page, f"changed-receipt-{size}")


def test_consent_error_screen(small: tuple[str, Page], make: Factory) -> None:
    size, page = small
    practitioner = make.practitioner()
    _, _, token = family_service.start_family(practitioner, "Sam and Alex", "Alex")
    db.session().commit()
    page.goto(f"/join/{token}/consent")
    page.get_by_role("button", name="Yes, I agree. Join now").click()
    expect(page.locator(".error-summary")).to_be_visible()
    assert page.title().startswith("Error: ")
    page.locator(".error-summary a").first.click()
    expect(page.locator("#consent-filming")).to_be_focused()
    _check(page, f"changed-consent-error-{size}")


def test_practitioner_screens(browser, make: Factory, app: Flask, live_server: LiveServer) -> None:
    context = _context(browser, live_server, LAPTOP)
    page = context.new_page()
    try:
        practitioner = make.practitioner()
        family = make.family(practitioner, label="Sam and Alex")
        parent = make.parent_of(family)
        cycle = add_cycle(family)
        cycle.review_at = clock.now() + timedelta(days=3)
        db.session().commit()
        add_clip(add_recording(family, parent, cycle=cycle))
        add_clip(add_recording(family, parent, cycle=cycle), published=False)
        add_recording(family, parent, cycle=cycle)
        _goal(family.id, practitioner.id)
        gone = make.family(practitioner, label="Kim and Jo")
        withdrawal.withdraw_consent(gone, make.parent_of(gone))
        sign_in_parent(app, page, practitioner, live_server.url)

        page.goto("/practice/")
        expect(page.get_by_role("link", name="Watch the new video")).to_be_visible()
        _check(page, "changed-caseload-1366")
        page.goto(f"/practice/families/{family.id}")
        _check(page, "changed-family-1366")
        page.goto(f"/practice/clips/families/{family.id}")
        _check(page, "changed-clips-family-1366")
        page.goto(f"/practice/clips/families/{family.id}/present")
        expect(page.get_by_text("I'd like bath time to be calmer.")).to_be_visible()
        _check(page, "changed-present-1366")
        page.goto(f"/practice/families/{gone.id}")
        _check(page, "changed-family-withdrawn-1366")
        page.goto(f"/withdrawal/families/{gone.id}/close")
        _check(page, "changed-close-withdrawn-1366")
    finally:
        context.close()
