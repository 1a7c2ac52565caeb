"""Each translation shows as not yet reviewed until an admin marks it checked (audited)."""

from __future__ import annotations

from sqlalchemy import select

from tests.conftest import Factory, csrf_token, page_text
from vigparent import db
from vigparent.languages import service
from vigparent.models import AuditEvent, Role, TranslationReview


def test_admin_sees_every_translation_unreviewed_then_marks_one(make: Factory, login_as, client):
    org = make.organisation()
    admin = make.practitioner(organisation=org, role=Role.ADMIN)
    login_as(admin)
    settings = page_text(client.get("/admin/settings"))
    for name in ("Welsh", "Polish", "Urdu"):
        assert f"{name}: <strong>not yet reviewed by a qualified translator</strong>" in settings
    page = page_text(client.get("/admin/translations"))
    assert page.count("Not yet reviewed by a qualified translator.") == 3

    r = client.post(
        "/admin/translations/cy", data={"csrf_token": csrf_token(client, "/admin/translations")}
    )
    assert r.status_code == 303
    page = page_text(client.get("/admin/translations"))
    assert "Welsh marked as checked by a qualified translator." in page
    assert page.count("Not yet reviewed by a qualified translator.") == 2
    assert "Checked by a qualified translator" in page
    assert "Welsh: checked by a qualified translator" in page_text(client.get("/admin/settings"))
    event = db.session().scalar(
        select(AuditEvent).where(
            AuditEvent.organisation_id == org.id, AuditEvent.action == "translation_reviewed"
        )
    )
    assert event is not None and event.detail == f"cy {service.catalogue_version('cy')}"
    log = page_text(client.get("/admin/audit?kind=languages"))
    assert "Marked a translation as checked by a qualified translator" in log


def test_a_review_is_for_the_words_checked_and_one_organisation(make: Factory, app_ctx):
    org, other = make.organisation(), make.organisation("Other team")
    admin = make.practitioner(organisation=org, role=Role.ADMIN)
    assert service.mark_reviewed(admin, "pl") is True
    assert service.mark_reviewed(admin, "pl") is False  # twice changes nothing
    assert service.is_reviewed(org, "pl") and not service.is_reviewed(other, "pl")
    # New words (a changed catalogue) need a new review.
    review = db.session().scalar(select(TranslationReview))
    review.catalogue_version = "older-words"
    db.session().commit()
    assert not service.is_reviewed(org, "pl")


def test_only_admins_reach_the_review_page(make: Factory, login_as, client):
    login_as(make.practitioner())
    assert client.get("/admin/translations").status_code == 404
    r = client.post("/admin/translations/cy", data={"csrf_token": csrf_token(client, "/practice/")})
    assert r.status_code == 404


def test_an_unknown_language_cannot_be_marked(make: Factory, login_as, client):
    login_as(make.practitioner(role=Role.ADMIN))
    token = csrf_token(client, "/admin/translations")
    assert client.post("/admin/translations/en", data={"csrf_token": token}).status_code == 404
    assert client.post("/admin/translations/xx", data={"csrf_token": token}).status_code == 404


def test_each_language_has_its_own_words_version():
    versions = {service.catalogue_version(code) for code in ("cy", "pl", "ur")}
    empty = "e3b0c44298fc1c14"  # the fingerprint of no words at all
    assert len(versions) == 3 and empty not in versions
