"""Which language a page speaks, how the family's language is set and changed, and what a
parent's consent record says about the words they read."""

from __future__ import annotations

import re

import pytest
from flask.testing import FlaskClient
from sqlalchemy import select

from tests.conftest import Factory, csrf_token, page_text
from tests.invitations.conftest import Invited, give_consent
from vigparent import db, i18n
from vigparent.consent.service import CONSENT_WORDING_VERSION, translation_version
from vigparent.families import service as family_service
from vigparent.models import (
    AuditEvent,
    ConsentKind,
    ConsentRecord,
    Family,
    FamilyStatus,
    MessageChannel,
    MessageKind,
)
from vigparent.notifications import delivery

# One sentence each page shows, in each language, to tell which one it speaks.
HOME_WORD = {
    "en": "What happens next",
    "cy": "Beth sy'n digwydd nesaf",
    "pl": "Co dalej",
    "ur": "آگے کیا ہوگا",
}
WELCOME_WORD = {
    "en": "Please read this first.",
    "cy": "Darllenwch hwn yn gyntaf.",
    "pl": "Najpierw przeczytaj to.",
    "ur": "براہ کرم پہلے یہ پڑھیں۔",
}


def _html_tag(client: FlaskClient, path: str) -> str:
    match = re.search(r"<html[^>]*>", client.get(path).get_data(as_text=True))
    assert match
    return match.group(0)


def _family(make: Factory, language: str) -> Family:
    family = make.family()
    family.language = language
    db.session().commit()
    return family


@pytest.mark.parametrize("language", list(i18n.LANGUAGES))
def test_a_parent_sees_their_familys_language(make: Factory, login_as, client, language: str):
    login_as(make.parent_of(_family(make, language)))
    r = client.get("/home/")
    assert HOME_WORD[language] in page_text(r)
    tag = re.search(r"<html[^>]*>", r.get_data(as_text=True)).group(0)  # type: ignore[union-attr]
    if language == "en":
        assert tag == '<html lang="en-GB">'  # exactly as before languages existed
    elif language == "ur":
        assert tag == '<html lang="ur" dir="rtl">'
    else:
        assert tag == f'<html lang="{language}">'


def test_english_pages_carry_no_words_table(make: Factory, login_as, client):
    login_as(make.parent_of(_family(make, "en")))
    assert 'id="vig-words"' not in client.get("/home/").get_data(as_text=True)


def test_a_visitor_gets_their_phones_language_among_ours(client: FlaskClient):
    assert _html_tag(client, "/offline") == '<html lang="en-GB">'
    r = client.get("/offline", headers={"Accept-Language": "pl-PL,pl;q=0.9,en;q=0.5"})
    assert '<html lang="pl">' in r.get_data(as_text=True)
    r = client.get("/offline", headers={"Accept-Language": "fr-FR,de;q=0.9"})
    assert '<html lang="en-GB">' in r.get_data(as_text=True)


def test_staff_pages_stay_english_whatever_the_phone_says(make: Factory, login_as, client):
    login_as(make.practitioner())
    r = client.get("/practice/", headers={"Accept-Language": "cy"}, follow_redirects=True)
    html = r.get_data(as_text=True)
    assert '<html lang="en-GB">' in html
    assert "language-switcher" not in html


def test_the_invitation_link_opens_in_the_familys_language(make: Factory, client: FlaskClient):
    practitioner = make.practitioner()
    _family_, _invitation, token = family_service.start_family(practitioner, "Sam", "Alex", "cy")
    r = client.get(f"/join/{token}", headers={"Accept-Language": "pl"})
    assert WELCOME_WORD["cy"] in page_text(r)
    assert '<html lang="cy">' in r.get_data(as_text=True)


def test_the_practitioner_chooses_the_language_when_inviting(make: Factory, login_as, client):
    practitioner = make.practitioner()
    login_as(practitioner)
    token = csrf_token(client, "/practice/")
    r = client.post(
        "/practice/families",
        data={"csrf_token": token, "label": "Ola and Kuba", "carer_name": "Ola", "language": "pl"},
    )
    assert r.status_code in (302, 303)
    family = db.session().scalar(select(Family).where(Family.label == "Ola and Kuba"))
    assert family is not None and family.language == "pl"
    # Inviting another carer may change it, for the whole family (audited).
    r = client.post(
        f"/practice/families/{family.id}/invitations",
        data={
            "csrf_token": csrf_token(client, f"/practice/families/{family.id}"),
            "language": "ur",
        },
    )
    assert r.status_code in (302, 303)
    db.session().expire_all()
    assert db.session().get(Family, family.id).language == "ur"  # type: ignore[union-attr]
    assert db.session().scalar(
        select(AuditEvent).where(
            AuditEvent.family_id == family.id, AuditEvent.action == "language_changed"
        )
    )


def test_the_footer_switcher_changes_the_familys_language(make: Factory, login_as, client):
    family = _family(make, "en")
    login_as(make.parent_of(family))
    html = client.get("/film/videos").get_data(as_text=True)
    form = re.search(r'<form method="post" action="/language".*?</form>', html, re.S)
    assert form, "no language switcher in the footer"
    assert 'name="next" value="/film/videos"' in form.group(0)
    for code, language in i18n.LANGUAGES.items():
        assert f'value="{code}"' in form.group(0) and language.name in form.group(0)
    r = client.post(
        "/language",
        data={
            "csrf_token": csrf_token(client, "/film/videos"),
            "language": "cy",
            "next": "/film/videos",
        },
    )
    assert r.status_code == 303 and r.headers["Location"] == "/film/videos"
    db.session().expire_all()
    assert db.session().get(Family, family.id).language == "cy"  # type: ignore[union-attr]
    assert '<html lang="cy">' in client.get("/film/videos").get_data(as_text=True)


@pytest.mark.parametrize("target", ["https://evil.example/", "//evil.example/x", "/\\evil", "home"])
def test_the_switcher_only_goes_back_to_this_site(client: FlaskClient, target: str):
    r = client.post(
        "/language",
        data={"csrf_token": csrf_token(client, "/offline"), "language": "pl", "next": target},
    )
    assert r.status_code == 303
    assert r.headers["Location"] == "/"


def test_an_unknown_language_is_refused_and_changes_nothing(make: Factory, login_as, client):
    family = _family(make, "pl")
    login_as(make.parent_of(family))
    r = client.post(
        "/language", data={"csrf_token": csrf_token(client, "/home/"), "language": "xx"}
    )
    assert r.status_code == 400
    db.session().expire_all()
    assert db.session().get(Family, family.id).language == "pl"  # type: ignore[union-attr]


def test_a_visitor_choice_before_joining_wins_and_becomes_the_familys(
    invited: Invited, client: FlaskClient
):
    invited.family.language = "cy"
    db.session().commit()
    token = csrf_token(client, invited.path)
    client.post("/language", data={"csrf_token": token, "language": "ur", "next": invited.path})
    assert WELCOME_WORD["ur"] in page_text(client.get(invited.path))
    r = give_consent(client, invited.path, read_in="ur")
    assert r.status_code in (302, 303)
    db.session().expire_all()
    assert db.session().get(Family, invited.family.id).language == "ur"  # type: ignore[union-attr]


@pytest.mark.parametrize("language", list(i18n.LANGUAGES))
def test_the_consent_record_says_which_wording_and_language(
    invited: Invited, client: FlaskClient, language: str
):
    invited.family.language = language
    db.session().commit()
    consent_page = page_text(client.get(f"{invited.path}/consent"))
    assert f'name="read_in" type="hidden" value="{language}"' in consent_page
    r = give_consent(client, invited.path, read_in=language)
    assert r.status_code in (302, 303)
    records = (
        db.session()
        .scalars(select(ConsentRecord).where(ConsentRecord.family_id == invited.family.id))
        .all()
    )
    assert {r.kind for r in records} == {ConsentKind.FILMING, ConsentKind.STORAGE}
    for record in records:
        assert record.wording_version == CONSENT_WORDING_VERSION
        assert record.language == language
    with client.application.test_request_context():
        expected = translation_version(CONSENT_WORDING_VERSION, language)
    assert {r.translation_version for r in records} == {expected}
    if language == "en":
        assert expected == CONSENT_WORDING_VERSION
    else:
        assert expected.startswith(f"{language}-") and len(expected) <= 20


def test_each_translation_of_the_consent_wording_has_its_own_version(app):
    with app.test_request_context():
        versions = {translation_version(CONSENT_WORDING_VERSION, code) for code in i18n.LANGUAGES}
    assert len(versions) == len(i18n.LANGUAGES)


@pytest.mark.parametrize("language", list(i18n.LANGUAGES))
def test_withdrawal_works_the_same_in_every_language(
    make: Factory, login_as, client: FlaskClient, language: str
):
    family = _family(make, language)
    login_as(make.parent_of(family))
    token = csrf_token(client, "/consent/privacy")
    r = client.post("/withdrawal/withdraw", data={"csrf_token": token})
    assert r.status_code in (302, 303)
    db.session().expire_all()
    family = db.session().get(Family, family.id)  # type: ignore[assignment]
    assert family.status is FamilyStatus.WITHDRAWN
    assert family.media_deleted_at is not None
    receipt = client.get("/withdrawal/receipt")
    assert receipt.status_code == 200
    text = page_text(receipt)
    assert re.search(r"VIG-\d{5}", text), "the reference number is on the receipt"
    words = {
        "en": "Your videos are deleted",
        "cy": "Mae eich fideos wedi'u dileu",
        "pl": "Twoje filmy zostały usunięte",
        "ur": "آپ کی ویڈیوز مٹا دی گئی ہیں",
    }
    assert words[language] in text


def test_texts_and_emails_use_the_familys_language_template_when_there_is_one(app, monkeypatch):
    settings = app.extensions["vig_settings"].with_overrides(
        notify_templates=(("invitation_sms", "english-id"), ("invitation_sms_cy", "welsh-id"))
    )
    monkeypatch.setitem(app.extensions, "vig_settings", settings)
    with app.app_context():
        sms, kind = MessageChannel.SMS, MessageKind.INVITATION
        assert delivery.template_id(kind, sms, "private", "cy") == "welsh-id"
        assert delivery.template_id(kind, sms, "private", "pl") == "english-id"
        assert delivery.template_id(kind, sms, "private") == "english-id"
        assert delivery.template_id(kind, sms, "full", "cy") == "welsh-id"


def test_the_staff_sign_in_page_stays_english_for_a_welsh_phone(client: FlaskClient):
    html = client.get("/login", headers={"Accept-Language": "cy"}).get_data(as_text=True)
    assert '<html lang="en-GB">' in html and "language-switcher" not in html
    # The welcome page a signed-out parent sees speaks their phone's language.
    html = client.get("/", headers={"Accept-Language": "cy"}).get_data(as_text=True)
    assert '<html lang="cy">' in html and "Rhieni a gofalwyr" in html


def test_the_practitioner_sees_which_language_consent_was_read_in(
    invited: Invited, client: FlaskClient, login_as
):
    invited.family.language = "pl"
    db.session().commit()
    give_consent(client, invited.path, read_in="pl")
    staff = client.application.test_client()
    login_as(invited.practitioner, on=staff)
    page = page_text(staff.get(f"/practice/families/{invited.family.id}"))
    with client.application.test_request_context():
        version = translation_version(CONSENT_WORDING_VERSION, "pl")
    assert f"(wording {CONSENT_WORDING_VERSION}, read in Polish: {version})" in page


def test_the_filming_step_on_home_speaks_the_familys_language(make: Factory, login_as, client):
    """The most common next step: the plan in one sentence, in Welsh (the activity as typed)."""
    from datetime import timedelta

    from vigparent.goals import service as goal_service
    from vigparent.models import FilmingPlace

    family = _family(make, "cy")
    parent = make.parent_of(family)
    goal = goal_service.propose_goal(
        family, family.practitioner, "Calmer bath times", "What helps?"
    )
    goal_service.agree_goal(goal, parent, goal_service.latest_revision(goal).id)
    family_service.plan_cycle(
        family,
        family.practitioner,
        family_service.FilmingPlan(
            film_by=family_service.today() + timedelta(days=3), place=FilmingPlace.HOME
        ),
    )
    assert family_service.next_step(family).stage == "film"
    login_as(parent)
    text = page_text(client.get("/home/"))
    assert "Ffilmiwch amser arferol gyda'ch plentyn cyn " in text
    assert "Film " not in text
