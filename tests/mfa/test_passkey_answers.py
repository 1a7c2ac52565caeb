"""The server side of passkeys: options name the site from VIGPARENT_BASE_URL, the challenge
stays on the server, and answers that prove nothing are refused. (The real ceremony runs in
Chromium: tests/browser/test_second_factor.py.)"""

from __future__ import annotations

import base64
import json

import pytest
from flask import Flask
from sqlalchemy import select

from tests.conftest import Factory, page_text
from tests.mfa.journeys import post, set_up_app, sign_in, sign_out
from vigparent import db
from vigparent.auth import passkeys
from vigparent.models import AuditEvent, LoginSession, Passkey


@pytest.fixture
def named_site(app: Flask, monkeypatch) -> str:  # type: ignore[no-untyped-def]
    origin = "http://localhost:5000"
    settings = app.extensions["vig_settings"].with_overrides(base_url=origin)
    monkeypatch.setitem(app.extensions, "vig_settings", settings)
    return origin


def _cookie(client) -> str:  # type: ignore[no-untyped-def]
    cookie = client.get_cookie("vig_session")
    assert cookie is not None
    payload = cookie.value.split(".")[0]
    return base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)).decode(errors="replace")


def test_options_name_the_site_and_keep_the_challenge_on_the_server(
    client, make: Factory, named_site
):
    p = make.practitioner("jo@example.org")
    sign_in(client, "jo@example.org")
    r = post(client, "/account/security/passkeys/options", page="/account/security")
    assert r.status_code == 200 and r.mimetype == "application/json"
    options = json.loads(r.get_data(as_text=True))
    assert options["rp"] == {"id": "localhost", "name": "VIG"}
    assert options["user"]["name"] == "jo@example.org"
    # The user handle is a hash (no email, no id in clear), as the spec asks.
    handle = base64.urlsafe_b64decode(options["user"]["id"] + "==")
    assert len(handle) == 32 and b"jo@" not in handle
    login = db.session().scalar(
        select(LoginSession).where(LoginSession.user_id == p.id, LoginSession.ended_at.is_(None))
    )
    assert login is not None and login.webauthn_challenge == options["challenge"]
    assert options["challenge"] not in _cookie(client)


def test_an_answer_that_proves_nothing_adds_no_passkey(client, make: Factory, named_site):
    p = make.practitioner("jo@example.org")
    sign_in(client, "jo@example.org")
    post(client, "/account/security/passkeys/options", page="/account/security")
    forged = {
        "id": "AAAA",
        "rawId": "AAAA",
        "type": "public-key",
        "response": {"clientDataJSON": "e30", "attestationObject": "oA"},
    }
    r = post(
        client,
        "/account/security/passkeys",
        page="/account/security",
        credential=json.dumps(forged),
    )
    assert r.headers["Location"] == "/account/security"
    assert "We couldn't add that passkey" in page_text(client.get("/account/security"))
    assert db.session().scalars(select(Passkey).where(Passkey.user_id == p.id)).all() == []
    # The challenge was used up by that answer: it cannot be answered again.
    login = db.session().scalar(
        select(LoginSession).where(LoginSession.user_id == p.id, LoginSession.ended_at.is_(None))
    )
    assert login is not None and login.webauthn_challenge is None


def test_a_forged_passkey_answer_does_not_sign_in(client, make: Factory, named_site, frozen_clock):
    p = make.practitioner("jo@example.org")
    sign_in(client, "jo@example.org")
    set_up_app(client)
    sign_out(client)
    sign_in(client, "jo@example.org")
    r = post(client, "/sign-in/second-step/passkey/options", page="/sign-in/second-step")
    assert json.loads(r.get_data(as_text=True))["rpId"] == "localhost"
    forged = {
        "id": "AAAA",
        "rawId": "AAAA",
        "type": "public-key",
        "response": {"clientDataJSON": "e30", "authenticatorData": "AA", "signature": "AA"},
    }
    for credential in (json.dumps(forged), "not json", ""):
        r = post(
            client,
            "/sign-in/second-step/passkey",
            page="/sign-in/second-step",
            credential=credential,
        )
        assert r.status_code == 400
        assert "That passkey didn't work" in page_text(r)
        assert client.get("/practice/").headers["Location"].startswith("/login")
    failed = db.session().scalars(
        select(AuditEvent.detail).where(
            AuditEvent.actor_id == p.id, AuditEvent.action == "second_factor_failed"
        )
    )
    assert list(failed) == ["passkey", "passkey"]


def test_passkeys_are_not_offered_at_an_ip_address(app: Flask, client, make: Factory):
    # The default test site is http://127.0.0.1:5000: browsers refuse an IP as RP id.
    with app.test_request_context():
        assert not passkeys.available()
    make.practitioner("jo@example.org")
    sign_in(client, "jo@example.org")
    page = page_text(client.get("/account/security"))
    assert "Passkeys don't work at this web address" in page
    assert "Add a passkey" not in page
