"""The parent's journey in Welsh, Polish and Urdu on a 320 px phone, and the footer's language
switcher: nothing wider than the screen, no text cut off, right to left in Urdu."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import time, timedelta
from typing import Any

import pytest
from flask import Flask
from playwright.sync_api import Page, expect
from sqlalchemy import select

from tests.browser.conftest import (
    SW_READY,
    LiveServer,
    new_context,
    screenshot,
    sign_in_staff,
    wait_until,
)
from tests.capture.phone import sign_in_parent
from tests.conftest import Factory
from tests.media.factories import add_clip, add_recording
from vigparent import db
from vigparent.families import service as family_service
from vigparent.goals import service as goal_service
from vigparent.models import Family, FilmingPlace, Role, User

NARROW = {"width": 320, "height": 568}

# Every element with text of its own that is cut off: wider than the screen, or hiding part
# of its content behind overflow (an ellipsis, a clipped button label).
CLIPPED = """() => {
  const width = document.documentElement.clientWidth;
  const bad = [];
  for (const el of document.body.querySelectorAll("*")) {
    const style = getComputedStyle(el);
    if (style.display === "none" || style.visibility === "hidden") continue;
    const own = [...el.childNodes].some((n) => n.nodeType === 3 && n.textContent.trim());
    if (!own) continue;
    const box = el.getBoundingClientRect();
    if (!box.width || !box.height) continue;
    if (el.closest(".visually-hidden, .skip-link")) continue;
    const where = el.outerHTML.slice(0, 80);
    if (box.left < -1 || box.right > width + 1) bad.push("off screen: " + where);
    // Text spilling out of its own box (a word wider than its button), shown or hidden.
    if (style.display !== "inline" && el.clientWidth && el.scrollWidth > el.clientWidth + 1) {
      bad.push("cut: " + el.outerHTML.slice(0, 80));
    }
  }
  return bad;
}"""


@pytest.fixture
def narrow(browser: Any, live_server: LiveServer) -> Iterator[Page]:
    context = new_context(browser, live_server, NARROW)
    yield context.new_page()
    context.close()


def _fits(page: Page, name: str) -> None:
    """No sideways scrolling and nothing cut off; a screenshot for a person to look at."""
    scroll = page.evaluate("document.documentElement.scrollWidth")
    wide = page.evaluate(
        """(w) => [...document.querySelectorAll("body *")]
          .filter((el) => el.getBoundingClientRect().right > w + 1)
          .map((el) => el.outerHTML.slice(0, 100))""",
        NARROW["width"],
    )
    assert scroll <= NARROW["width"], f"{name}: the page is {scroll} px wide: {wide[:3]}"
    assert page.evaluate(CLIPPED) == [], name
    screenshot(page, f"lang-{name}")


def _invite(make: Factory, language: str) -> tuple[str, User]:
    practitioner = make.practitioner()
    _family, _invitation, token = family_service.start_family(
        practitioner, "Sam and Alex", "Alex", language
    )
    db.session().commit()
    return f"/join/{token}", practitioner


def _film_and_plan(app: Flask, practitioner_id: int) -> None:
    """What the practitioner does meanwhile: a goal, a plan, a video and one clip shared."""
    with app.app_context():
        s = db.session()
        practitioner = s.get(User, practitioner_id)
        assert practitioner is not None
        family = s.scalars(select(Family).where(Family.practitioner_id == practitioner_id)).one()
        parent = s.scalars(
            select(User).where(User.family_id == family.id, User.role == Role.PARENT)
        ).one()
        goal_service.propose_goal(
            family, practitioner, "I'd like bath time to be calmer.", "What helps Sam settle?"
        )
        cycle = family_service.plan_cycle(
            family,
            practitioner,
            family_service.FilmingPlan(
                film_by=family_service.today() + timedelta(days=3),
                place=FilmingPlace.HOME,
                activity="bath time",
                review_on=family_service.today() + timedelta(days=10),
                review_time=time(10, 30),
            ),
        )
        add_clip(add_recording(family, parent, cycle=cycle))


JOURNEY = {
    "cy": {
        "next": "Nesaf: dewiswch beth rydych chi'n cytuno iddo",
        "join": "Ydw, rwy'n cytuno. Ymuno nawr",
        "missing": "ticiwch y ddau flwch",
        "home": "Beth sy'n digwydd nesaf",
        "agree": "Ydw, rwy'n cytuno",
        "film": "Dechrau ffilmio",
        "privacy": "Stopio a dileu ein holl fideos",
        "review": "Chwarae",
    },
    "pl": {
        "next": "Dalej: wybierz, na co się zgadzasz",
        "join": "Tak, zgadzam się. Dołącz teraz",
        "missing": "zaznacz oba pola",
        "home": "Co dalej",
        "agree": "Tak, zgadzam się",
        "film": "Zacznij nagrywać",
        "privacy": "Zakończ i usuń wszystkie nasze filmy",
        "review": "Odtwórz",
    },
    "ur": {
        "next": "اگلا قدم: چنیں کہ آپ کس بات پر رضامند ہیں",
        "join": "ہاں، میں متفق ہوں۔ ابھی شامل ہوں",
        "missing": "دونوں خانوں پر نشان لگائیں",
        "home": "آگے کیا ہوگا",
        "agree": "ہاں، میں متفق ہوں",
        "film": "ویڈیو بنانا شروع کریں",
        "privacy": "رکیں اور ہماری تمام ویڈیوز مٹا دیں",
        "review": "چلائیں",
    },
}


@pytest.mark.parametrize("language", ["cy", "pl", "ur"])
def test_parent_journey_at_320px(
    narrow: Page, make: Factory, app: Flask, live_server: LiveServer, language: str
) -> None:
    words = JOURNEY[language]
    page = narrow
    link, practitioner = _invite(make, language)

    page.goto(link)
    html = page.locator("html")
    expect(html).to_have_attribute("lang", language)
    if language == "ur":
        expect(html).to_have_attribute("dir", "rtl")
    _fits(page, f"{language}-01-welcome")

    page.get_by_role("link", name=words["next"]).click()
    page.get_by_role("button", name=words["join"]).click()
    expect(page.get_by_role("alert")).to_contain_text(words["missing"])
    _fits(page, f"{language}-02-consent-missing")
    for box in page.locator(".consent-choices input[type=checkbox]").all()[:2]:
        box.check()
    page.get_by_role("button", name=words["join"]).click()
    expect(page.get_by_role("heading", name=words["home"])).to_be_visible()
    _fits(page, f"{language}-03-home-joined")

    _film_and_plan(app, practitioner.id)
    page.goto("/goals/")
    _fits(page, f"{language}-04-goal")
    page.get_by_role("button", name=words["agree"]).click()
    expect(page.get_by_role("heading", name=words["home"])).to_be_visible()
    _fits(page, f"{language}-05-home-planned")

    page.goto("/film/")
    expect(page.get_by_role("button", name=words["film"])).to_be_enabled()
    _fits(page, f"{language}-06-film")
    page.goto("/film/videos")
    _fits(page, f"{language}-07-my-videos")
    page.goto("/consent/privacy")
    expect(page.get_by_role("button", name=words["privacy"])).to_be_visible()
    _fits(page, f"{language}-08-privacy")
    page.goto("/review/")
    expect(page.locator(".review-play").first).to_have_text(words["review"])
    _fits(page, f"{language}-09-review")

    if language == "ur":
        _right_to_left(page)


def _right_to_left(page: Page) -> None:
    """Urdu reads from the right: the layout mirrors, the seek bar follows the video's time."""
    assert page.evaluate("getComputedStyle(document.body).direction") == "rtl"
    width = NARROW["width"]
    brand = page.locator(".brand").bounding_box()
    assert brand and brand["x"] > width / 2, "the brand starts on the right"
    tabs = [page.locator(".parent-nav a").nth(i).bounding_box() for i in range(3)]
    xs = [box["x"] for box in tabs if box]
    assert xs == sorted(xs, reverse=True), "the first tab (Home) is on the right"
    buttons = page.locator(".review-buttons .button")
    first, last = buttons.first.bounding_box(), buttons.last.bounding_box()
    assert first and last and first["x"] > last["x"], (
        "Start again is on the right, Full screen left"
    )
    seek = page.locator(".review-seek").first
    assert seek.evaluate("(el) => getComputedStyle(el).direction") == "ltr"
    # The Urdu font is the one the page asks for (not a box for each letter).
    family = page.evaluate("getComputedStyle(document.querySelector('h1')).fontFamily")
    assert "Nastaliq" in family or "Naskh" in family


def test_language_switcher_is_two_taps_from_any_page(
    narrow: Page, make: Factory, app: Flask, live_server: LiveServer
) -> None:
    family = make.family()
    parent = make.parent_of(family)
    sign_in_parent(app, narrow, parent, live_server.url)
    narrow.goto("/film/videos")
    expect(narrow.locator("html")).to_have_attribute("lang", "en-GB")

    narrow.get_by_text("Language: English").click()  # tap 1
    _fits(narrow, "switcher-open-en")
    narrow.get_by_role("button", name="Cymraeg").click()  # tap 2
    expect(narrow.locator("html")).to_have_attribute("lang", "cy")
    assert narrow.url.endswith("/film/videos"), "the parent stays on the same page"
    expect(narrow.get_by_role("heading", name="Fy fideos")).to_be_visible()

    narrow.get_by_text("Iaith: Cymraeg").click()
    narrow.get_by_role("button", name="اردو").click()
    expect(narrow.locator("html")).to_have_attribute("dir", "rtl")
    narrow.get_by_text("زبان: اردو").click()
    _fits(narrow, "switcher-open-ur")
    narrow.get_by_role("button", name="English").click()
    expect(narrow.locator("html")).to_have_attribute("lang", "en-GB")


def test_offline_pages_speak_the_familys_language(
    narrow: Page, make: Factory, app: Flask, live_server: LiveServer
) -> None:
    """The service worker saves the shell pages in the family's language, and again in the
    new one when the parent switches."""
    family = make.family()
    family.language = "cy"
    db.session().commit()
    sign_in_parent(app, narrow, make.parent_of(family), live_server.url)
    context = narrow.context
    narrow.goto("/film/videos")
    assert narrow.evaluate(SW_READY) == "activated"

    context.set_offline(True)
    response = narrow.goto("/home/")
    assert response is not None and response.from_service_worker
    expect(narrow.locator("html")).to_have_attribute("lang", "cy")
    narrow.goto("/review/")  # not saved: the offline page, in Welsh
    expect(narrow.get_by_role("heading", name="Dim signal")).to_be_visible()
    context.set_offline(False)

    # Switch to Urdu; the new worker saves the pages again, in Urdu, before it takes over.
    narrow.goto("/film/videos")
    narrow.get_by_text("Iaith: Cymraeg").click()
    narrow.get_by_role("button", name="اردو").click()
    expect(narrow.locator("html")).to_have_attribute("dir", "rtl")
    wait_until(
        narrow,
        """async () => {
          const reg = await navigator.serviceWorker.getRegistration();
          if (!reg || !reg.active || reg.waiting || reg.installing) return false;
          const names = await caches.keys();
          if (names.length !== 1) return false;
          const home = await (await caches.open(names[0])).match("/offline");
          return !!home && (await home.text()).includes('<html lang="ur" dir="rtl">');
        }""",
    )
    context.set_offline(True)
    narrow.goto("/review/")
    expect(narrow.locator("html")).to_have_attribute("dir", "rtl")
    expect(narrow.get_by_role("heading", name="سگنل نہیں ہے")).to_be_visible()
    screenshot(narrow, "lang-ur-offline")
    context.set_offline(False)


def test_staff_choose_the_language_and_review_translations(
    narrow: Page, make: Factory, live_server: LiveServer
) -> None:
    """The screens staff use for languages, at 320 px: add a family in Polish, invite in Urdu,
    mark Welsh as checked."""
    org = make.organisation()
    admin = make.practitioner(organisation=org, role=Role.ADMIN)
    sign_in_staff(narrow, admin.email or "")
    if narrow.locator("details.add-family[open]").count() == 0:  # open while the list is empty
        narrow.locator("summary", has_text="Add a family").click()
    narrow.get_by_label("Family label").fill("Ola and Kuba")
    narrow.get_by_label("The family's language").select_option("pl")
    _fits(narrow, "staff-add-family-language")
    narrow.get_by_role("button", name="Add family and make a link").click()
    expect(narrow.get_by_text("Added Ola and Kuba")).to_be_visible()
    expect(narrow.locator("#invite-language")).to_have_value("pl")
    narrow.locator("#invite-language").scroll_into_view_if_needed()
    _fits(narrow, "staff-family-invite-language")

    narrow.goto("/admin/settings")
    expect(narrow.get_by_text("Welsh: not yet reviewed by a qualified translator")).to_be_visible()
    _fits(narrow, "staff-settings-languages")
    narrow.get_by_role("link", name="Translations: review status").click()
    narrow.get_by_role("button", name="Mark Welsh as checked by a qualified translator").click()
    expect(narrow.get_by_text("Welsh marked as checked by a qualified translator.")).to_be_visible()
    expect(narrow.locator("html")).to_have_attribute("lang", "en-GB")
    _fits(narrow, "staff-translations")
