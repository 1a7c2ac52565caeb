"""What a family agreed to: recorded per kind and carer, shown on the privacy page."""

from __future__ import annotations

from flask import Flask

from tests.conftest import Factory
from tests.invitations.conftest import page_text
from vigparent import clock, db
from vigparent.consent import service
from vigparent.models import ConsentKind, ConsentRecord


def test_family_consents_shows_each_carers_current_agreement(make: Factory):
    family = make.family(consents=(ConsentKind.FILMING,))
    alex = make.parent_of(family)
    jordan = make.parent(family, "Jordan")
    service.record_consents(family, jordan, [ConsentKind.STORAGE, ConsentKind.FILMING])
    withdrawn = ConsentRecord(
        family_id=family.id,
        user_id=alex.id,
        kind=ConsentKind.STORAGE,
        wording_version="old",
        withdrawn_at=clock.now(),
    )
    db.session().add(withdrawn)
    db.session().commit()

    by_carer = {c.carer.id: c for c in service.family_consents(family)}
    assert by_carer[alex.id].kinds == {ConsentKind.FILMING}
    assert by_carer[jordan.id].kinds == {ConsentKind.FILMING, ConsentKind.STORAGE}
    versions = {r.wording_version for r in by_carer[jordan.id].records}
    assert versions == {service.CONSENT_WORDING_VERSION}


def test_offered_kinds_follow_the_organisation(make: Factory):
    strict = make.organisation()
    generous = make.organisation("Generous", parents_may_keep_copies=True)
    assert ConsentKind.KEEP_COPY not in service.offered_kinds(strict)
    assert ConsentKind.KEEP_COPY in service.offered_kinds(generous)


def test_privacy_page_shows_what_the_family_agreed_and_leaves_room_for_withdrawal(
    app: Flask, make: Factory, login_as
):
    family = make.family()
    client = app.test_client()
    login_as(make.parent_of(family), on=client)
    r = client.get("/consent/privacy")
    assert r.status_code == 200
    text = page_text(r)
    assert "What you agreed to" in text and "I agree to film short videos" in text
    assert "Stop taking part" in text and 'id="withdraw"' in r.get_data(as_text=True)
    staff = app.test_client()
    login_as(family.practitioner, on=staff)
    assert staff.get("/consent/privacy").status_code == 404
