"""Every parent page, rendered with a pseudo catalogue, shows no English left over.

The pseudo catalogue (tests/languages/pseudo.py) swaps every letter of every message in the
.pot for a look-alike, so any run of plain ASCII letters on a page is a word that never went
through the catalogue. The app under test is the real one; only its message catalogue is
replaced (Flask-Babel's public Domain), for the family's language, Urdu.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from datetime import date, time, timedelta
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient
from flask_babel import Domain

from tests.conftest import _build_assets_once, make_test_settings
from tests.languages.pseudo import english_left_over, pseudo, write_pseudo_catalogue
from tests.media.factories import add_clip, add_recording
from vigparent import create_app, db
from vigparent.auth import service as auth_service
from vigparent.db import Base
from vigparent.families import service as family_service
from vigparent.goals import service as goal_service
from vigparent.live import service as live_service
from vigparent.models import Family, FilmingPlace, User

# Data a page shows as it is: people's names, the family's label, the organisation, the brand,
# and the language names in the footer switcher (each in its own language).
SHOWN_AS_IS = {
    "Sam and Alex",
    "Alex",
    "Pat Practitioner",
    "Test team",
    "VIG",
    "English",
    "Cymraeg",
    "Polski",
    "bath time",
    "You waited",
    "You waited, and Sam looked back at you.",
    "We want calmer bath times",
    "What helps?",
    # iPhone and Android name their own buttons; the words point at what the phone shows.
    "iPhone",
    "Android",
    "Safari",
    "Chrome",
    "JavaScript",
}


@pytest.fixture(scope="module")
def pseudo_app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Flask]:
    root = write_pseudo_catalogue(tmp_path_factory.mktemp("pseudo"), "ur")
    app = create_app(make_test_settings(tmp_path_factory.mktemp("pseudo-data")))
    domain = Domain(translation_directories=[str(root)])
    app.before_request(domain.as_default)
    _build_assets_once(app)
    with app.app_context():
        Base.metadata.create_all(app.extensions["vig_engine"])
    yield app


def _sign_in(app: Flask, client: FlaskClient, user_id: int) -> None:
    with app.app_context():
        user = db.session().get(User, user_id)
        assert user is not None
        token = auth_service.start_session(user, "test")
        db.session().commit()
    with client.session_transaction() as sess:
        sess["_user_id"] = token
        sess["_fresh"] = True


def _check(client: FlaskClient, path: str, status: int = 200, **kw: object) -> str:
    response = client.get(path, **kw)  # type: ignore[arg-type]
    assert response.status_code == status, (path, response.status_code)
    html = response.get_data(as_text=True)
    assert re.search(r'<html lang="ur" dir="rtl">', html), path
    left = english_left_over(html, SHOWN_AS_IS)
    assert not left, f"English left on {path}: {left}"
    return html


def _csrf(html: str) -> str:
    match = re.search(r'<meta name="csrf-token" content="([^"]+)"', html)
    assert match
    return match.group(1)


def test_pseudo_catalogue_transforms_and_keeps_placeholders() -> None:
    assert (
        pseudo("Before %(film_by)s <b>now</b> &larr;") == "[Ɓḗƒǿřḗ %(film_by)s <b>ƞǿẇ</b> &larr;]"
    )


def test_parent_pages_have_no_english_left(pseudo_app: Flask, tmp_path: Path) -> None:
    client = pseudo_app.test_client()
    with pseudo_app.app_context():
        from tests.conftest import Factory

        make = Factory(pseudo_app)
        practitioner = make.practitioner()
        family = make.family(practitioner)
        family.language = "ur"
        db.session().commit()
        parent = make.parent_of(family)
        goal = goal_service.propose_goal(
            family, practitioner, "We want calmer bath times", "What helps?"
        )
        goal_service.agree_goal(goal, parent, goal_service.latest_revision(goal).id)
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
        recording = add_recording(family, parent, cycle=cycle)
        add_clip(recording)
        parent_id, family_id = parent.id, family.id
    _sign_in(pseudo_app, client, parent_id)

    home = _check(client, "/home/")
    for path in (
        "/film/",
        "/film/videos",
        "/consent/privacy",
        "/review/",
        "/goals/",
        "/withdrawal/videos",
        "/offline",
        "/live/",
    ):
        _check(client, path)
    _check(client, "/no-such-page", 404)

    # Watching together, live: the invitation on home and the phone's own room.
    with pseudo_app.app_context():
        family_row = db.session().get(Family, family_id)
        live_service.start(family_row, family_row.practitioner)
    home = _check(client, "/home/")
    assert 'data-live-invite="/live/invitation">' in home  # shown, not hidden
    _check(client, "/live/")

    # The phone scripts' words come from the same catalogue, every one of them translated.
    island = re.search(r'<script type="application/json" id="vig-words">(.*?)</script>', home)
    assert island, "no script words on a non-English page"
    words = json.loads(island.group(1))
    assert words and all(value == pseudo(key) for key, value in words.items())

    # Withdrawal, then its receipt, in the family's language.
    r = client.post("/withdrawal/withdraw", data={"csrf_token": _csrf(home)})
    assert r.status_code in (302, 303)
    _check(client, "/withdrawal/receipt")
    with pseudo_app.app_context():
        assert db.session().get(type(family), family_id).media_deleted_at is not None  # type: ignore[union-attr]


def test_invitation_pages_have_no_english_left(pseudo_app: Flask) -> None:
    client = pseudo_app.test_client()
    with pseudo_app.app_context():
        from tests.conftest import Factory

        make = Factory(pseudo_app)
        practitioner = make.practitioner()
        family, _invitation, token = family_service.start_family(
            practitioner, "Sam and Alex", "Alex", "ur"
        )
    welcome = _check(client, f"/join/{token}")
    _check(client, f"/join/{token}/consent")
    r = client.post(f"/join/{token}/consent", data={"csrf_token": _csrf(welcome)})
    assert r.status_code == 400
    left = english_left_over(r.get_data(as_text=True), SHOWN_AS_IS)
    assert not left, left
    _check(client, "/join/not-a-real-link", 404, headers={"Accept-Language": "ur"})
    # A parent whose phone was signed out opens the app: the welcome page.
    _check(pseudo_app.test_client(), "/", headers={"Accept-Language": "ur"})


def test_dates_follow_the_language(pseudo_app: Flask) -> None:
    with pseudo_app.test_request_context(headers={"Accept-Language": "pl"}):
        assert family_service.say_date(date(2026, 12, 3)) == "czwartek 3 grudnia"
