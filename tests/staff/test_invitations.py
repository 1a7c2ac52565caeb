"""An admin invites a colleague by email; the link (single use, expiring, only a hash kept)
lets them choose a password and signs them in, through a second factor when required."""

from __future__ import annotations

from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from tests.conftest import PASSWORD, Factory, page_text
from tests.mailbox import Mailbox, body_of
from tests.mfa.journeys import set_up_app, sign_in
from tests.staff.support import NEW_PASSWORD, choose_password, invite, path_of_link
from tests.support.servers import free_port
from vigparent import db
from vigparent.models import AuditEvent, Role, StaffLink, User


def _admin(make: Factory, **org_kw):  # type: ignore[no-untyped-def]
    org = make.organisation("Riverside health visiting", **org_kw)
    return make.practitioner("lead@example.org", organisation=org, role=Role.ADMIN)


def test_an_invited_practitioner_chooses_a_password_and_is_signed_in(
    app: Flask, client: FlaskClient, make: Factory, login_as, mailbox: Mailbox
):
    admin = _admin(make)
    login_as(admin)
    r = invite(client, "  Jo@Example.org ", "Jo Bloggs")
    assert r.status_code == 303
    assert "Invitation sent to jo@example.org" in page_text(client.get("/admin/staff"))

    [message] = mailbox.wait_for("jo@example.org")
    assert message["Subject"] == "You're invited to Riverside health visiting on VIG"
    assert "works once, for 14 days" in body_of(message)
    path = path_of_link(mailbox, "jo@example.org")
    assert path.startswith("/staff/join/")

    jo = db.session().scalar(select(User).where(User.email == "jo@example.org"))
    assert jo is not None and jo.role is Role.PRACTITIONER and jo.password_hash is None
    assert jo.organisation_id == admin.organisation_id
    # Only a hash of the link's secret is stored.
    link = db.session().scalar(select(StaffLink).where(StaffLink.user_id == jo.id))
    assert link is not None and link.token_hash not in path and len(link.token_hash) == 64
    staff_page = page_text(client.get("/admin/staff"))
    assert "Jo Bloggs" in staff_page and "Invited: the link works until" in staff_page

    newcomer = app.test_client()
    # Opening the link (or a mail scanner fetching it) never uses it up.
    assert newcomer.get(path).status_code == 200
    assert "Welcome, Jo Bloggs" in page_text(newcomer.get(path))
    r = choose_password(newcomer, path)
    assert r.status_code == 302 and r.headers["Location"] == "/practice/"
    assert newcomer.get("/practice/").status_code == 200

    # The link worked once.
    again = app.test_client()
    r = again.get(path)
    assert r.status_code == 410 and "already been used" in page_text(r)
    assert choose_password(again, path, "another long password").status_code == 410
    # The password is theirs: the sign-in page takes it.
    assert sign_in(app.test_client(), "jo@example.org", NEW_PASSWORD).status_code == 302
    actions = set(db.session().scalars(select(AuditEvent.action)))
    assert {"staff_invited", "staff_joined", "signed_in"} <= actions
    assert "Active" in page_text(client.get("/admin/staff"))


def test_choosing_a_password_explains_each_mistake(
    app: Flask, client: FlaskClient, make: Factory, login_as, mailbox: Mailbox
):
    login_as(_admin(make))
    invite(client, "jo@example.org")
    path = path_of_link(mailbox, "jo@example.org")
    newcomer = app.test_client()
    r = choose_password(newcomer, path, "short")
    assert r.status_code == 400 and "at least 10 characters" in page_text(r)
    r = choose_password(newcomer, path, NEW_PASSWORD, confirm="something else entirely")
    assert r.status_code == 400 and "The two passwords are different" in page_text(r)
    assert 'id="confirm-error"' in r.get_data(as_text=True)
    r = choose_password(newcomer, path, "", confirm="")
    assert r.status_code == 400
    # None of that used the link up.
    assert choose_password(newcomer, path).status_code == 302


def test_the_invite_form_explains_each_mistake(
    client: FlaskClient, make: Factory, login_as, mailbox: Mailbox
):
    admin = _admin(make)
    make.practitioner("taken@example.org", organisation=admin.organisation)
    login_as(admin)
    r = invite(client, "not an email")
    assert r.status_code == 400 and "Enter an email address like name@example.org" in page_text(r)
    r = invite(client, "new@example.org", name="   ")
    assert r.status_code == 400 and "Enter the person's name" in page_text(r)
    r = invite(client, "TAKEN@example.org")
    assert r.status_code == 400 and "already has an account" in page_text(r)
    r = invite(client, "new@example.org", role="parent")
    assert r.status_code == 400
    assert mailbox.messages == []
    assert db.session().scalar(select(User).where(User.email == "new@example.org")) is None


def test_an_invitation_that_cannot_be_sent_leaves_no_account(
    app: Flask, client: FlaskClient, make: Factory, login_as, mailbox: Mailbox
):
    login_as(_admin(make))
    settings = app.extensions["vig_settings"]
    app.extensions["vig_settings"] = settings.with_overrides(smtp_port=free_port())
    try:
        r = invite(client, "jo@example.org")
    finally:
        app.extensions["vig_settings"] = settings
    assert r.status_code == 200
    assert "We couldn't send the email just now, so nothing was saved" in page_text(r)
    db.session().expire_all()
    assert db.session().scalar(select(User).where(User.email == "jo@example.org")) is None
    assert db.session().scalar(select(StaffLink)) is None


def test_an_expired_link_is_refused_and_a_new_invitation_replaces_the_old(
    app: Flask, client: FlaskClient, make: Factory, login_as, mailbox: Mailbox, frozen_clock
):
    admin = _admin(make, invitation_lifetime_days=3)
    login_as(admin)
    invite(client, "jo@example.org")
    first = path_of_link(mailbox, "jo@example.org")
    frozen_clock(days=3)
    login_as(admin)  # the admin's own session idled out meanwhile
    r = app.test_client().get(first)
    assert r.status_code == 410 and "This link has expired" in page_text(r)
    assert "the link expired before they used it" in page_text(client.get("/admin/staff"))

    jo = db.session().scalar(select(User).where(User.email == "jo@example.org"))
    assert jo is not None
    r = client.post(
        f"/admin/staff/{jo.id}/resend",
        data={"csrf_token": _token(client)},
    )
    assert r.status_code == 303
    second = path_of_link(mailbox, "jo@example.org", count=2)
    assert second != first
    assert choose_password(app.test_client(), second).status_code == 302

    # Sending again while a link is open replaces it.
    invite(client, "amy@example.org", "Amy")
    amy_first = path_of_link(mailbox, "amy@example.org")
    amy = db.session().scalar(select(User).where(User.email == "amy@example.org"))
    client.post(f"/admin/staff/{amy.id}/resend", data={"csrf_token": _token(client)})
    r = app.test_client().get(amy_first)
    assert r.status_code == 410 and "A newer link was sent" in page_text(r)
    # A joined colleague cannot be sent an invitation.
    r = client.post(f"/admin/staff/{jo.id}/resend", data={"csrf_token": _token(client)})
    assert "Only someone who has not joined yet" in page_text(client.get(r.headers["Location"]))


def _token(client: FlaskClient) -> str:
    from tests.conftest import csrf_token

    return csrf_token(client, "/admin/staff")


def test_a_tampered_link_is_refused(
    app: Flask, client: FlaskClient, make: Factory, login_as, mailbox
):
    login_as(_admin(make))
    invite(client, "jo@example.org")
    path = path_of_link(mailbox, "jo@example.org")
    r = app.test_client().get(path[:-3] + "abc")
    assert r.status_code == 404 and "Check you used the whole link" in page_text(r)
    # A reset link is not an invitation link, even with a valid signature for another purpose.
    r = app.test_client().get(path.replace("/staff/join/", "/password/reset/"))
    assert r.status_code == 404


def test_the_organisations_second_factor_rule_applies_on_joining(
    app: Flask, client: FlaskClient, make: Factory, login_as, mailbox: Mailbox
):
    admin = _admin(make)
    login_as(admin)
    invite(client, "jo@example.org")
    admin.organisation.staff_second_factor_required = True
    db.session().commit()
    newcomer = app.test_client()
    r = choose_password(newcomer, path_of_link(mailbox, "jo@example.org"))
    assert r.headers["Location"] == "/account/security"
    # Not signed in until a second factor is set up.
    assert newcomer.get("/practice/").headers["Location"].startswith("/login")
    set_up_app(newcomer)
    assert newcomer.get("/practice/").status_code == 200


def test_an_admin_can_invite_another_admin(
    app: Flask, client: FlaskClient, make: Factory, login_as, mailbox: Mailbox
):
    login_as(_admin(make))
    invite(client, "deputy@example.org", "Dee", role="admin")
    assert "as an admin" in body_of(mailbox.wait_for("deputy@example.org")[0])
    deputy = app.test_client()
    choose_password(deputy, path_of_link(mailbox, "deputy@example.org"))
    assert deputy.get("/admin/staff").status_code == 200


def test_create_practitioner_command_still_works(app: Flask, make: Factory):
    org = make.organisation()
    runner = app.test_cli_runner()
    result = runner.invoke(
        args=["vig", "create-practitioner", "cli@example.org", "--password", PASSWORD]
    )
    assert result.exit_code == 0, result.output
    user = db.session().scalar(select(User).where(User.email == "cli@example.org"))
    assert user is not None and user.password_hash
    assert sign_in(app.test_client(), "cli@example.org").headers["Location"] == "/practice/"
    assert org.id
