"""Switching a colleague's account off ends their sessions at once; switching on again."""

from __future__ import annotations

from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from tests.conftest import Factory, csrf_token, page_text
from tests.mailbox import Mailbox
from tests.mfa.journeys import sign_in
from tests.staff.support import choose_password, invite, path_of_link
from vigparent import db
from vigparent.models import AuditEvent, LoginSession, Role


def _post(client: FlaskClient, path: str):  # type: ignore[no-untyped-def]
    return client.post(path, data={"csrf_token": csrf_token(client, "/admin/staff")})


def test_switching_off_signs_them_out_everywhere_at_once(
    app: Flask, client: FlaskClient, make: Factory, login_as
):
    org = make.organisation()
    admin = make.practitioner("lead@example.org", organisation=org, role=Role.ADMIN)
    jo = make.practitioner("jo@example.org", organisation=org)
    laptop, phone = app.test_client(), app.test_client()
    sign_in(laptop, "jo@example.org")
    sign_in(phone, "jo@example.org")
    assert laptop.get("/practice/").status_code == 200
    assert phone.get("/practice/").status_code == 200

    login_as(admin)
    r = _post(client, f"/admin/staff/{jo.id}/switch-off")
    assert r.status_code == 303
    assert "switched off. They were signed out everywhere" in page_text(client.get("/admin/staff"))
    # The very next request of each device is signed out.
    assert laptop.get("/practice/").headers["Location"].startswith("/login")
    assert phone.get("/practice/").headers["Location"].startswith("/login")
    live = db.session().scalars(
        select(LoginSession).where(LoginSession.user_id == jo.id, LoginSession.ended_at.is_(None))
    )
    assert list(live) == []
    assert sign_in(app.test_client(), "jo@example.org").status_code == 401
    event = db.session().scalar(select(AuditEvent).where(AuditEvent.action == "staff_switched_off"))
    assert event is not None and event.actor_id == admin.id
    assert event.detail == f"staff {jo.id}; devices: 2"
    assert "Switched off: can't sign in" in page_text(client.get("/admin/staff"))

    _post(client, f"/admin/staff/{jo.id}/switch-on")
    assert sign_in(app.test_client(), "jo@example.org").headers["Location"] == "/practice/"
    assert db.session().scalar(select(AuditEvent).where(AuditEvent.action == "staff_switched_on"))


def test_a_session_already_open_is_refused_even_if_only_the_flag_changes(app: Flask, make: Factory):
    """The per-request check itself (auth.service) refuses a switched-off account."""
    from vigparent import clock

    jo = make.practitioner("jo@example.org")
    laptop = app.test_client()
    sign_in(laptop, "jo@example.org")
    jo.disabled_at = clock.now()
    db.session().commit()
    assert laptop.get("/practice/").headers["Location"].startswith("/login")


def test_an_admin_cannot_switch_themselves_off(client: FlaskClient, make: Factory, login_as):
    admin = make.practitioner("lead@example.org", role=Role.ADMIN)
    login_as(admin)
    r = _post(client, f"/admin/staff/{admin.id}/switch-off")
    assert "You can't switch off your own account" in page_text(client.get(r.headers["Location"]))
    assert client.get("/admin/staff").status_code == 200


def test_switching_off_an_invited_colleague_kills_their_link(
    app: Flask, client: FlaskClient, make: Factory, login_as, mailbox: Mailbox
):
    admin = make.practitioner("lead@example.org", role=Role.ADMIN)
    login_as(admin)
    invite(client, "jo@example.org")
    path = path_of_link(mailbox, "jo@example.org")
    from vigparent.models import User

    jo = db.session().scalar(select(User).where(User.email == "jo@example.org"))
    _post(client, f"/admin/staff/{jo.id}/switch-off")
    r = app.test_client().get(path)
    assert r.status_code == 410 and "This account is switched off" in page_text(r)
    _post(client, f"/admin/staff/{jo.id}/switch-on")
    # Switched on again, the old link stays dead: a new invitation is needed.
    assert app.test_client().get(path).status_code == 410
    assert "link expired before they used it" in page_text(client.get("/admin/staff"))
    _post(client, f"/admin/staff/{jo.id}/resend")
    assert (
        choose_password(app.test_client(), path_of_link(mailbox, "jo@example.org", 2)).status_code
        == 302
    )


def test_only_the_organisations_own_admin_can_switch_anyone_off(
    app: Flask, client: FlaskClient, make: Factory, login_as
):
    org = make.organisation()
    jo = make.practitioner("jo@example.org", organisation=org)
    colleague = make.practitioner("amy@example.org", organisation=org)
    other_admin = make.practitioner(
        "other@example.org", organisation=make.organisation("Other team"), role=Role.ADMIN
    )
    for who in (colleague, other_admin):
        c = app.test_client()
        login_as(who, on=c)
        home = "/practice/"
        r = c.post(f"/admin/staff/{jo.id}/switch-off", data={"csrf_token": csrf_token(c, home)})
        assert r.status_code == 404
    db.session().refresh(jo)
    assert jo.disabled_at is None
