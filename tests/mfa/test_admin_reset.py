"""An organisation admin clears a practitioner's factors (audited, signing them out);
nobody else can, and the organisation's rule is the admin's to set."""

from __future__ import annotations

from flask.testing import FlaskClient
from sqlalchemy import select

from tests.conftest import Factory, page_text
from tests.mfa.journeys import post, set_up_app, sign_in
from vigparent import db
from vigparent.auth import mfa
from vigparent.models import AuditEvent, LoginSession, Role


def _practitioner_with_app(app, make: Factory, org=None):  # type: ignore[no-untyped-def]
    p = make.practitioner("jo@example.org", organisation=org)
    phone = app.test_client()
    sign_in(phone, "jo@example.org")
    set_up_app(phone)
    return p, phone


def test_admin_resets_a_practitioners_factors(app, client: FlaskClient, make: Factory, login_as):
    org = make.organisation()
    p, phone = _practitioner_with_app(app, make, org)
    assert phone.get("/practice/").status_code == 200
    admin = make.practitioner("boss@example.org", organisation=org, role=Role.ADMIN)
    login_as(admin)

    page = page_text(client.get("/admin/security"))
    assert "jo@example.org" in page and "authenticator app" in page

    r = post(client, f"/admin/security/staff/{p.id}/reset", page="/admin/security")
    assert r.headers["Location"] == "/admin/security"
    assert "are cleared and they are signed out" in page_text(client.get("/admin/security"))
    assert not mfa.has_second_factor(p)
    assert mfa.factors_of(p).recovery_codes_left == 0
    # Signed out everywhere: the phone's session is over.
    assert phone.get("/practice/").headers["Location"].startswith("/login")
    live = db.session().scalars(
        select(LoginSession).where(LoginSession.user_id == p.id, LoginSession.ended_at.is_(None))
    )
    assert list(live) == []
    event = db.session().scalar(
        select(AuditEvent).where(AuditEvent.action == "second_factor_reset")
    )
    assert event is not None
    assert (event.actor_id, event.organisation_id, event.detail) == (
        admin.id,
        org.id,
        f"staff {p.id}",
    )
    # The organisation does not require a factor: the password alone works again.
    assert sign_in(phone, "jo@example.org").headers["Location"] == "/practice/"


def test_admin_of_another_organisation_cannot_reset(app, client, make: Factory, login_as):
    p, phone = _practitioner_with_app(app, make)
    other_admin = make.practitioner(
        "other@example.org", organisation=make.organisation("Other team"), role=Role.ADMIN
    )
    login_as(other_admin)
    r = post(client, f"/admin/security/staff/{p.id}/reset", page="/admin/security")
    assert r.status_code == 404
    assert "jo@example.org" not in page_text(client.get("/admin/security"))
    assert mfa.has_second_factor(p)
    assert phone.get("/practice/").status_code == 200


def test_practitioners_and_parents_cannot_reset(app, client, make: Factory, login_as):
    p, _phone = _practitioner_with_app(app, make)
    colleague = make.practitioner("amy@example.org", organisation=p.organisation)
    login_as(colleague)
    assert client.get("/admin/security").status_code == 404
    r = post(client, f"/admin/security/staff/{p.id}/reset", page="/account/security")
    assert r.status_code == 404

    parent_client = app.test_client()
    login_as(make.parent_of(make.family(colleague)), on=parent_client)
    for path in ("/admin/security", "/account/security"):
        assert parent_client.get(path).status_code == 404
    assert mfa.has_second_factor(p)


def test_admin_sets_the_rule_only_with_a_factor_of_their_own(client, make: Factory, login_as):
    org = make.organisation()
    admin = make.practitioner("boss@example.org", organisation=org, role=Role.ADMIN)
    sign_in(client, "boss@example.org")
    r = post(client, "/admin/security/requirement", page="/admin/security", required="y")
    assert r.headers["Location"] == "/admin/security"
    assert "Set up your own passkey" in page_text(client.get("/admin/security"))
    db.session().refresh(org)
    assert not org.staff_second_factor_required

    set_up_app(client)
    post(client, "/admin/security/requirement", page="/admin/security", required="y")
    db.session().refresh(org)
    assert org.staff_second_factor_required
    actions = db.session().scalars(select(AuditEvent.action).where(AuditEvent.actor_id == admin.id))
    assert "second_factor_required" in list(actions)

    # While it is required, nobody removes their last factor.
    r = post(client, "/account/security/app/remove", page="/account/security")
    assert r.headers["Location"] == "/account/security"
    assert "Add another one before you remove this one" in page_text(
        client.get("/account/security")
    )
    assert mfa.has_second_factor(admin)


def test_the_operator_clears_a_staff_members_factors_from_the_command_line(app, make: Factory):
    """`vig reset-second-factor`: for the admin who lost their own passkey, and for supervisors."""
    p, phone = _practitioner_with_app(app, make)
    runner = app.test_cli_runner()
    r = runner.invoke(args=["vig", "reset-second-factor", "JO@example.org "])
    assert r.exit_code == 0, r.output
    assert "Cleared the second factor of jo@example.org; signed out 1 device(s)." in r.output
    assert not mfa.has_second_factor(p)
    assert phone.get("/practice/").headers["Location"].startswith("/login")
    assert (
        db.session().scalar(
            select(AuditEvent.detail).where(AuditEvent.action == "second_factor_reset")
        )
        == f"staff {p.id} (cli)"
    )

    make.practitioner("sup@example.org", role=Role.SUPERVISOR)
    r = runner.invoke(args=["vig", "reset-second-factor", "sup@example.org"])
    assert r.exit_code == 0, r.output
    family = make.family()
    r = runner.invoke(args=["vig", "reset-second-factor", make.parent_of(family).email or "x"])
    assert r.exit_code != 0 and "No member of staff with email" in r.output
