"""A forgotten password: an emailed single-use link, rate-limited, that never says whether an
address has an account, and that ends the person's other sessions."""

from __future__ import annotations

import logging
import re

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from tests.conftest import Factory, page_text
from tests.mailbox import Mailbox, body_of
from tests.mfa.journeys import set_up_app, sign_in
from tests.staff.support import NEW_PASSWORD, ask_for_reset, choose_password, path_of_link
from vigparent import db
from vigparent.models import AuditEvent, LoginSession, StaffLink

_CSRF = re.compile(r'(name="csrf-token" content="|name="csrf_token" type="hidden" value=")[^"]+')


def _answer(response) -> str:  # type: ignore[no-untyped-def]
    return _CSRF.sub(r"\1…", response.get_data(as_text=True))


def test_a_reset_link_sets_a_new_password_and_signs_other_devices_out(
    app: Flask, make: Factory, mailbox: Mailbox, caplog: pytest.LogCaptureFixture
):
    make.practitioner("jo@example.org")
    laptop = app.test_client()
    sign_in(laptop, "jo@example.org")
    assert laptop.get("/practice/").status_code == 200

    phone = app.test_client()
    with caplog.at_level(logging.INFO):
        r = ask_for_reset(phone, "Jo@Example.org")
    assert r.status_code == 200 and "Check your email" in page_text(r)
    [message] = mailbox.wait_for("jo@example.org")
    assert message["Subject"] == "Reset your VIG password"
    assert "works once, for 60 minutes" in body_of(message)
    path = path_of_link(mailbox, "jo@example.org")
    assert path.startswith("/password/reset/")
    token = path.rsplit("/", 1)[1]

    with caplog.at_level(logging.INFO):
        assert phone.get(path).status_code == 200
        r = choose_password(phone, path)
    assert r.headers["Location"] == "/practice/"
    assert "Your password is changed" in page_text(phone.get("/practice/"))
    # The other device is signed out; the old password no longer works; the new one does.
    assert laptop.get("/practice/").headers["Location"].startswith("/login")
    assert sign_in(app.test_client(), "jo@example.org").status_code == 401
    assert sign_in(app.test_client(), "jo@example.org", NEW_PASSWORD).status_code == 302
    # Single use.
    again = app.test_client().get(path)
    assert again.status_code == 410 and "already been used" in page_text(again)
    # The link's secret is in no log line of the app's and not in the database. (The test's
    # own SMTP server, logging as "mail.log", is the recipient and may say what it got.)
    ours = "\n".join(r.getMessage() for r in caplog.records if r.name != "mail.log")
    assert token not in ours and "jo@example.org" not in ours
    assert "password_reset" in ours  # the mail's kind is logged
    link = db.session().scalar(select(StaffLink))
    assert link is not None and link.token_hash != token
    event = db.session().scalar(select(AuditEvent).where(AuditEvent.action == "password_reset"))
    assert event is not None and event.detail == "devices signed out: 1"


def test_the_answer_is_the_same_whether_or_not_the_address_has_an_account(
    app: Flask, make: Factory, mailbox: Mailbox
):
    make.practitioner("jo@example.org")
    switched_off = make.practitioner("gone@example.org")
    from vigparent import clock

    switched_off.disabled_at = clock.now()
    db.session().commit()
    client = app.test_client()
    known = ask_for_reset(client, "jo@example.org")
    unknown = ask_for_reset(client, "nobody@example.org")
    gone = ask_for_reset(client, "gone@example.org")
    assert known.status_code == unknown.status_code == gone.status_code == 200
    assert _answer(known) == _answer(unknown) == _answer(gone)
    mailbox.wait_for("jo@example.org")
    assert [m["To"] for m in mailbox.messages] == ["jo@example.org"]


def test_a_reset_link_expires_and_a_newer_one_replaces_it(
    app: Flask, make: Factory, mailbox: Mailbox, frozen_clock
):
    make.practitioner("jo@example.org")
    client = app.test_client()
    ask_for_reset(client, "jo@example.org")
    first = path_of_link(mailbox, "jo@example.org")
    ask_for_reset(client, "jo@example.org")
    second = path_of_link(mailbox, "jo@example.org", 2)
    r = client.get(first)
    assert r.status_code == 410 and "A newer link was sent" in page_text(r)
    frozen_clock(minutes=60)
    r = client.get(second)
    assert r.status_code == 410 and "This link has expired" in page_text(r)
    assert "Ask for a new link" in page_text(r)
    assert choose_password(app.test_client(), second).status_code == 410


def test_a_reset_does_not_skip_the_second_factor(app: Flask, make: Factory, mailbox: Mailbox):
    make.practitioner("jo@example.org")
    laptop = app.test_client()
    sign_in(laptop, "jo@example.org")
    set_up_app(laptop)
    phone = app.test_client()
    ask_for_reset(phone, "jo@example.org")
    r = choose_password(phone, path_of_link(mailbox, "jo@example.org"))
    assert r.headers["Location"] == "/sign-in/second-step"
    assert phone.get("/practice/").headers["Location"].startswith("/login")
    # The reset still ended the laptop's session.
    assert laptop.get("/practice/").headers["Location"].startswith("/login")
    live = db.session().scalars(
        select(LoginSession).where(
            LoginSession.ended_at.is_(None), LoginSession.pending_until.is_(None)
        )
    )
    assert list(live) == []


def test_resets_are_limited_per_address_and_per_client(app: Flask, make: Factory, mailbox: Mailbox):
    make.practitioner("jo@example.org")
    # Per address, whoever asks: 3 an hour.
    for n in range(3):
        c = app.test_client()
        r = ask_for_reset(c, "jo@example.org", environ_base={"REMOTE_ADDR": f"10.0.0.{n}"})
        assert r.status_code == 200
    r = ask_for_reset(app.test_client(), "jo@example.org", environ_base={"REMOTE_ADDR": "10.0.1.1"})
    assert r.status_code == 429
    # Unknown addresses are limited the same way, so the limit says nothing either.
    for n in range(3):
        r = ask_for_reset(
            app.test_client(), "x@example.org", environ_base={"REMOTE_ADDR": f"10.0.2.{n}"}
        )
        assert r.status_code == 200
    r = ask_for_reset(app.test_client(), "x@example.org", environ_base={"REMOTE_ADDR": "10.0.3.1"})
    assert r.status_code == 429
    assert len(mailbox.wait_for("jo@example.org", 3)) == 3

    # Per client address: 5 in 15 minutes, whatever addresses it tries.
    client = app.test_client()
    for n in range(5):
        r = ask_for_reset(client, f"p{n}@example.org", environ_base={"REMOTE_ADDR": "10.9.9.9"})
        assert r.status_code == 200
    r = ask_for_reset(client, "p9@example.org", environ_base={"REMOTE_ADDR": "10.9.9.9"})
    assert r.status_code == 429


def test_the_form_explains_a_missing_address(client: FlaskClient, mailbox: Mailbox):
    r = ask_for_reset(client, "")
    assert r.status_code == 400 and "Enter your work email address" in page_text(r)
    assert 'id="email-error"' in r.get_data(as_text=True)
    assert "Forgotten your password?" in page_text(client.get("/login"))
