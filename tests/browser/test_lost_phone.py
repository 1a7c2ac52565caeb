"""A lost phone (issue 14 §4): once its practitioner signs it out, or it is otherwise signed
out, the phone no longer shows the family's goal, filming plan or practitioner's name, not
even offline from the service worker's saved pages. Chromium, phone viewport."""

from __future__ import annotations

from datetime import date, time, timedelta

import pytest
from flask import Flask
from playwright.sync_api import Page, expect

from tests.browser.conftest import SW_READY, LiveServer, screenshot
from tests.capture.phone import sign_in_parent
from tests.conftest import Factory, csrf_token
from vigparent import db
from vigparent.families import service as family_service
from vigparent.goals import service as goal_service
from vigparent.models import FilmingPlace, User

GOAL = "Calmer bath times with Robin"
ACTIVITY = "splashing in the bath"
PRACTITIONER = "Pat Practitioner"

# The shell pages the service worker holds in its caches right now.
CACHED_PAGES = """async () => {
  const out = [];
  for (const name of await caches.keys()) {
    const cache = await caches.open(name);
    for (const request of await cache.keys()) out.push(new URL(request.url).pathname);
  }
  return out;
}"""


def _family_with_goal_and_plan(make: Factory) -> tuple[User, User]:
    practitioner = make.practitioner()
    family = make.family(practitioner)
    parent = make.parent_of(family)
    goal = goal_service.propose_goal(family, practitioner, GOAL, "What helps Robin settle?")
    db.session().flush()
    goal_service.agree_goal(goal, parent, goal_service.latest_revision(goal).id)
    family_service.plan_cycle(
        family,
        practitioner,
        family_service.FilmingPlan(
            film_by=date.today() + timedelta(days=3),
            place=FilmingPlace.HOME,
            activity=ACTIVITY,
            review_on=date.today() + timedelta(days=7),
            review_time=time(10, 0),
        ),
    )
    db.session().commit()
    return practitioner, parent


def _until_cached(page: Page, path: str, present: bool) -> None:
    """Poll the worker's caches (written in the background) until `path` is in or out."""
    for _ in range(100):
        if (path in page.evaluate(CACHED_PAGES)) == present:
            return
        page.wait_for_timeout(100)
    raise AssertionError(f"{path} {'never saved' if present else 'still saved'}")


def _home_offline(page: Page) -> str:
    page.context.set_offline(True)
    try:
        response = page.goto("/")
        assert response is not None and response.from_service_worker
        return page.locator("main").inner_text()
    finally:
        page.context.set_offline(False)


@pytest.mark.parametrize("how", ["practitioner_signs_the_phone_out", "session_ended"])
def test_a_signed_out_phone_shows_nothing_personal_offline(
    phone: Page, make: Factory, app: Flask, live_server: LiveServer, login_as, how: str
) -> None:
    practitioner, parent = _family_with_goal_and_plan(make)
    sign_in_parent(app, phone, parent, live_server.url)
    phone.goto("/home/")
    assert phone.evaluate(SW_READY) == "activated"
    phone.goto("/home/")  # now through the worker, which saves the page
    expect(phone.get_by_text(GOAL)).to_be_visible()
    expect(phone.get_by_text(PRACTITIONER).first).to_be_visible()
    _until_cached(phone, "/home/", True)

    # Before: offline, the saved home page still shows the goal (so the test can fail).
    before = _home_offline(phone)
    assert GOAL in before and ACTIVITY in before and PRACTITIONER in before

    if how == "practitioner_signs_the_phone_out":
        # The practitioner taps "sign out on every device" on the family page.
        staff = login_as(practitioner, on=app.test_client())
        family_page = f"/practice/families/{parent.family_id}"
        r = staff.post(
            f"{family_page}/carers/{parent.id}/sign-out",
            data={"csrf_token": csrf_token(staff, family_page)},
        )
        assert r.status_code == 302
    else:
        phone.context.clear_cookies()

    # The phone is opened once with signal: the server answers 401 (with Clear-Site-Data,
    # tests/hardening/test_sessions.py) and the service worker drops its saved personal pages.
    response = phone.goto("/home/")
    assert response is not None and response.status == 401
    expect(phone.get_by_role("heading", name="Please open your invitation link")).to_be_visible()
    _until_cached(phone, "/home/", False)
    cached = phone.evaluate(CACHED_PAGES)
    assert not {"/home/", "/film/", "/film/videos", "/consent/privacy"} & set(cached)
    assert "/offline" in cached  # the offline page itself is not personal

    after = _home_offline(phone)
    screenshot(phone, "lost-phone-offline-after-sign-out")
    for personal in (GOAL, ACTIVITY, PRACTITIONER, "Alex"):
        assert personal not in after, personal
    expect(phone.get_by_role("heading", name="No signal")).to_be_visible()
