"""The admin's organisation settings: checked, audited, and in force where they matter."""

from __future__ import annotations

from datetime import timedelta

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from tests.conftest import Factory, csrf_token, page_text
from tests.withdrawal.conftest import assert_family_gone, readable_digest
from vigparent import clock, db, retention
from vigparent.consent import service as consent_service
from vigparent.families import service as families
from vigparent.invitations import service as invitation_service
from vigparent.models import AuditEvent, ConsentKind, ConsentRecord, Organisation, Role
from vigparent.withdrawal import service as withdrawal

GOOD = {
    "retention_days": "30",
    "keep_copies": "",
    "invitation_days": "14",
    "wording_version": consent_service.CONSENT_WORDING_VERSION,
    "family_contact": "",
}


def _save(client: FlaskClient, **changes: str):  # type: ignore[no-untyped-def]
    data = {**GOOD, **changes, "csrf_token": csrf_token(client, "/admin/settings")}
    if not data["keep_copies"]:
        del data["keep_copies"]
    return client.post("/admin/settings", data=data)


def _admin(make: Factory, login_as, **org_kw):  # type: ignore[no-untyped-def]
    org = make.organisation(**org_kw)
    admin = make.practitioner("lead@example.org", organisation=org, role=Role.ADMIN)
    login_as(admin)
    return admin


def _settings_events() -> list[str]:
    return list(
        db.session().scalars(
            select(AuditEvent.detail)
            .where(AuditEvent.action == "setting_changed")
            .order_by(AuditEvent.id)
        )
    )


def test_each_change_is_saved_and_audited(client: FlaskClient, make: Factory, login_as):
    admin = _admin(make, login_as)
    page = client.get("/admin/settings")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert 'value="30"' in html and 'value="14"' in html

    r = _save(client, retention_days="7", keep_copies="y", invitation_days="5")
    assert r.status_code == 303
    notice = page_text(client.get("/admin/settings"))
    assert "applies from the next nightly sweep" in notice
    org = db.session().get(Organisation, admin.organisation_id)
    db.session().refresh(org)
    assert (
        org.retention_days_after_close,
        org.parents_may_keep_copies,
        org.invitation_lifetime_days,
    ) == (7, True, 5)
    assert _settings_events() == [
        "retention_days: 30 -> 7",
        "keep_copies: False -> True",
        "invitation_days: 14 -> 5",
    ]
    event = db.session().scalar(select(AuditEvent).where(AuditEvent.action == "setting_changed"))
    assert event is not None
    assert (event.actor_id, event.organisation_id) == (admin.id, admin.organisation_id)

    # Saving the same values changes (and audits) nothing.
    _save(client, retention_days="7", keep_copies="y", invitation_days="5")
    assert "Nothing changed" in page_text(client.get("/admin/settings"))
    assert len(_settings_events()) == 3


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("retention_days", "", "whole number of days"),
        ("retention_days", "thirty", "whole number of days"),
        ("retention_days", "-1", "whole number of days"),
        ("retention_days", "2.5", "whole number of days"),
        ("retention_days", "٣", "whole number of days"),
        ("retention_days", "99999", "between 0 and 3650 days"),
        ("retention_days", "9" * 19, "between 0 and 3650 days"),
        ("invitation_days", "0", "between 1 and 60 days"),
        ("invitation_days", "61", "between 1 and 60 days"),
        ("wording_version", "1999-01-01.1", "Choose one of the consent wordings"),
    ],
)
def test_wrong_values_get_a_plain_message_and_change_nothing(
    client: FlaskClient, make: Factory, login_as, field: str, value: str, message: str
):
    _admin(make, login_as)
    r = _save(client, **{field: value})
    assert r.status_code == 400
    html = r.get_data(as_text=True)
    assert message in page_text(r)
    assert f'href="#{field}"' in html and f'id="{field}-error"' in html
    assert _settings_events() == []


def test_several_wrong_values_are_each_named(client: FlaskClient, make: Factory, login_as):
    _admin(make, login_as)
    r = _save(client, retention_days="x", invitation_days="0")
    text = page_text(r)
    assert "how long to keep videos" in text and "how long invitation links work" in text


def test_a_shorter_retention_period_applies_at_the_next_sweep(
    app: Flask, client: FlaskClient, make: Factory, login_as, with_media, frozen_clock
):
    admin = _admin(make, login_as, retention_days_after_close=30)
    practitioner = make.practitioner(organisation=admin.organisation)
    closed = with_media(recordings=1, clips=1, practitioner=practitioner)
    assert readable_digest(closed)
    tokens = closed.tokens()
    families.close_case(closed.family, practitioner)

    frozen_clock(days=10)
    assert str(retention.sweep()) == "Nothing to delete."
    assert readable_digest(closed)

    login_as(admin)  # the admin's session idled out over ten days
    assert _save(client, retention_days="7").status_code == 303
    report = retention.sweep()
    assert f"Closed case, family {closed.id}" in str(report)
    assert_family_gone(app, closed, tokens)


def test_the_invitation_lifetime_applies_to_new_links(
    client: FlaskClient, make: Factory, login_as, frozen_clock
):
    admin = _admin(make, login_as)
    _save(client, invitation_days="3")
    practitioner = make.practitioner(organisation=admin.organisation)
    family = make.family(practitioner)
    invitation, _token = invitation_service.invite_carer(family, practitioner, "Jo")
    assert invitation.expires_at == clock.now() + timedelta(days=3)


def test_keep_copies_decides_what_parents_are_asked(client: FlaskClient, make: Factory, login_as):
    admin = _admin(make, login_as)
    assert ConsentKind.KEEP_COPY not in consent_service.offered_kinds(admin.organisation)
    _save(client, keep_copies="y")
    db.session().refresh(admin.organisation)
    assert ConsentKind.KEEP_COPY in consent_service.offered_kinds(admin.organisation)


def test_the_chosen_consent_wording_is_what_new_parents_agree_to(
    app: Flask, client: FlaskClient, make: Factory, login_as, monkeypatch
):
    newer = "2027-01-15.1"
    wording = dict(consent_service.CONSENT_STATEMENTS)
    wording[ConsentKind.FILMING] = "I agree to film short videos (newer wording)."
    monkeypatch.setitem(consent_service.CONSENT_WORDINGS, newer, wording)
    admin = _admin(make, login_as)
    page = client.get("/admin/settings").get_data(as_text=True)
    assert f'value="{newer}"' in page

    assert _save(client, wording_version=newer).status_code == 303
    assert _settings_events() == [
        f"consent_wording: {consent_service.CONSENT_WORDING_VERSION} -> {newer}"
    ]
    practitioner = make.practitioner(organisation=admin.organisation)
    family = make.family(practitioner, with_parent=False)
    _invitation, token = invitation_service.invite_carer(family, practitioner, "Jo")
    db.session().commit()
    parent_phone = app.test_client()
    consent_page = parent_phone.get(f"/join/{token}/consent")
    assert "(newer wording)" in page_text(consent_page)
    parent_phone.post(
        f"/join/{token}/consent",
        data={
            "csrf_token": csrf_token(parent_phone, f"/join/{token}/consent"),
            "filming": "y",
            "storage": "y",
            "name": "Jo",
        },
    )
    versions = set(
        db.session().scalars(
            select(ConsentRecord.wording_version).where(ConsentRecord.family_id == family.id)
        )
    )
    assert versions == {newer}


def test_how_families_contact_the_service_is_saved_and_shown_on_their_receipt(
    client: FlaskClient, make: Factory, login_as
):
    admin = _admin(make, login_as)
    contact = "0300 123 4567, Monday to Friday, 9am to 5pm"
    assert _save(client, family_contact=f"  {contact}\n").status_code == 303
    org = db.session().get(Organisation, admin.organisation_id)
    db.session().refresh(org)
    assert org.family_contact == contact  # spaces and line breaks tidied
    assert _settings_events() == ["family_contact: old -> new"]  # what was typed stays out

    family = make.family(make.practitioner("hv@example.org", organisation=org))
    parent = make.parent_of(family)
    withdrawal.withdraw_consent(family, parent)
    login_as(parent)
    text = page_text(client.get("/withdrawal/receipt"))
    assert f"You can also contact {org.name}: {contact}" in text


def test_a_contact_too_long_is_refused_with_a_plain_message(
    client: FlaskClient, make: Factory, login_as
):
    _admin(make, login_as)
    r = _save(client, family_contact="9" * 201)
    assert r.status_code == 400
    assert "200 characters or fewer" in page_text(r)
    assert 'href="#family_contact"' in r.get_data(as_text=True)
    assert _settings_events() == []
