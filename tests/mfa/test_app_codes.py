"""The authenticator app (TOTP): set up, sign in with it, replay and wrong codes refused,
and guessing limited per person and per address."""

from __future__ import annotations

from sqlalchemy import select

from tests.conftest import Factory, csrf_token, page_text
from tests.mfa.journeys import (
    answer_code,
    code_for,
    post,
    set_up_app,
    sign_in,
    sign_out,
    start_app,
)
from vigparent import db
from vigparent.auth import mfa
from vigparent.models import AuditEvent, AuthenticatorApp
from vigparent.security import limiter


def test_set_up_app_then_sign_in_needs_its_code(client, make: Factory, frozen_clock):
    p = make.practitioner("jo@example.org")
    assert sign_in(client, "jo@example.org").headers["Location"] == "/practice/"
    secret, codes = set_up_app(client)
    assert len(set(codes)) == 10
    sign_out(client)

    frozen_clock(seconds=30)
    r = sign_in(client, "jo@example.org")
    assert r.headers["Location"] == "/sign-in/second-step"
    # The password alone signs nobody in.
    assert client.get("/practice/").headers["Location"].startswith("/login")
    page = page_text(client.get("/sign-in/second-step"))
    assert "Use your authenticator app" in page
    assert "Use your passkey" not in page

    r = answer_code(client, code_for(secret))
    assert r.status_code == 302 and r.headers["Location"] == "/practice/"
    assert client.get("/practice/").status_code == 200
    actions = db.session().scalars(
        select(AuditEvent.action).where(AuditEvent.actor_id == p.id).order_by(AuditEvent.id)
    )
    assert list(actions) == [
        "signed_in",
        "second_factor_added",
        "recovery_codes_made",
        "signed_out",
        "password_accepted",
        "signed_in",
    ]
    detail = db.session().scalar(
        select(AuditEvent.detail)
        .where(AuditEvent.action == "signed_in")
        .order_by(AuditEvent.id.desc())
    )
    assert detail == "second factor: app"


def test_next_page_survives_the_second_step(client, make: Factory, frozen_clock):
    make.practitioner("jo@example.org")
    sign_in(client, "jo@example.org")
    secret, _codes = set_up_app(client)
    sign_out(client)
    frozen_clock(seconds=30)
    sign_in(client, "jo@example.org", next="/account/security")
    assert answer_code(client, code_for(secret)).headers["Location"] == "/account/security"


def test_a_code_is_never_accepted_twice(client, make: Factory, frozen_clock):
    make.practitioner("jo@example.org")
    sign_in(client, "jo@example.org")
    secret, _codes = set_up_app(client)
    sign_out(client)

    frozen_clock(seconds=30)
    code = code_for(secret)
    sign_in(client, "jo@example.org")
    assert answer_code(client, code).headers["Location"] == "/practice/"
    sign_out(client)

    # Same 30-second window, same code (someone who watched it typed): refused.
    frozen_clock(seconds=5)
    sign_in(client, "jo@example.org")
    r = answer_code(client, code)
    assert r.status_code == 400
    assert "That code didn't work" in page_text(r)
    assert client.get("/practice/").status_code == 302
    # An earlier code, still inside the drift window, is refused too: time only moves on.
    assert answer_code(client, code_for(secret, -1)).status_code == 400

    frozen_clock(seconds=30)
    assert answer_code(client, code_for(secret)).headers["Location"] == "/practice/"


def test_confirming_the_app_uses_up_its_code(client, make: Factory, frozen_clock):
    make.practitioner("jo@example.org")
    sign_in(client, "jo@example.org")
    secret, _codes = set_up_app(client)
    sign_out(client)
    sign_in(client, "jo@example.org")
    assert answer_code(client, code_for(secret)).status_code == 400


def test_wrong_and_stale_codes_are_refused(client, make: Factory, frozen_clock):
    make.practitioner("jo@example.org")
    sign_in(client, "jo@example.org")
    secret, _codes = set_up_app(client)
    sign_out(client)
    frozen_clock(minutes=5)
    sign_in(client, "jo@example.org")
    right = code_for(secret)
    wrong = f"{(int(right) + 1) % 1_000_000:06d}"
    # Four wrong tries: one fewer than the lock.
    for bad in (wrong, code_for(secret, -3), code_for(secret, 3), "12345"):
        r = answer_code(client, bad)
        assert r.status_code == 400, bad
        assert client.get("/practice/").status_code == 302
    # People type codes with a space in the middle, as apps show them.
    r = answer_code(client, f"{right[:3]} {right[3:]}")
    assert r.headers["Location"] == "/practice/"


def test_setting_up_needs_a_right_code(client, make: Factory, frozen_clock):
    p = make.practitioner("jo@example.org")
    sign_in(client, "jo@example.org")
    secret = start_app(client)
    r = post(client, "/account/security/app/confirm", page="/account/security/app", code="000000")
    assert r.status_code == 400
    assert "didn't match" in page_text(r)
    assert not mfa.has_second_factor(p)
    app_row = db.session().scalar(select(AuthenticatorApp).where(AuthenticatorApp.user_id == p.id))
    assert app_row is not None and app_row.confirmed_at is None
    # The secret is not stored readable.
    assert secret.encode() not in app_row.secret_sealed


def test_too_many_wrong_codes_lock_the_person_for_a_while(client, make: Factory, frozen_clock):
    make.practitioner("jo@example.org")
    sign_in(client, "jo@example.org")
    secret, _codes = set_up_app(client)
    sign_out(client)
    frozen_clock(seconds=30)
    sign_in(client, "jo@example.org")
    for _ in range(mfa.LOCK_FAILURES):
        assert answer_code(client, "000000").status_code == 400
    r = answer_code(client, code_for(secret))
    assert r.status_code == 429
    assert "Too many wrong codes" in page_text(r)
    assert client.get("/practice/").status_code == 302

    # The lock is on the person, not the device: a fresh sign-in elsewhere is locked too.
    frozen_clock(minutes=5)
    other = client.application.test_client()
    sign_in(other, "jo@example.org")
    assert answer_code(other, code_for(secret)).status_code == 429

    frozen_clock(minutes=11)
    sign_in(other, "jo@example.org")
    assert answer_code(other, code_for(secret)).headers["Location"] == "/practice/"


def test_second_factor_answers_are_rate_limited_per_address(client, make: Factory, frozen_clock):
    make.practitioner("jo@example.org")
    sign_in(client, "jo@example.org")
    set_up_app(client)
    sign_out(client)
    frozen_clock(seconds=30)
    sign_in(client, "jo@example.org")
    limiter.reset()  # Setting the app up answered a code too; count from here.
    allowed = int(client.application.extensions["vig_settings"].second_factor_rate_limit.split()[0])
    statuses = [answer_code(client, "").status_code for _ in range(allowed + 1)]
    # Empty answers are not wrong codes (no lock), but every answer counts for the address.
    assert statuses[:allowed] == [400] * allowed
    assert statuses[allowed] == 429


def test_a_pending_sign_in_expires(client, make: Factory, frozen_clock):
    make.practitioner("jo@example.org")
    sign_in(client, "jo@example.org")
    secret, _codes = set_up_app(client)
    sign_out(client)
    frozen_clock(seconds=30)
    sign_in(client, "jo@example.org")
    frozen_clock(minutes=mfa.PENDING_MINUTES, seconds=1)
    r = client.get("/sign-in/second-step")
    assert r.headers["Location"] == "/login"
    assert "took too long" in page_text(client.get("/login"))


def test_the_pending_secret_is_not_a_signed_in_session(client, make: Factory, frozen_clock):
    make.practitioner("jo@example.org")
    sign_in(client, "jo@example.org")
    set_up_app(client)
    sign_out(client)
    frozen_clock(seconds=30)
    sign_in(client, "jo@example.org")
    with client.session_transaction() as sess:
        sess["_user_id"] = sess["vig_pending_sign_in"]["token"]
    assert client.get("/practice/").headers["Location"].startswith("/login")


def test_a_pending_sign_in_cannot_add_a_factor(client, make: Factory, frozen_clock):
    p = make.practitioner("jo@example.org")
    sign_in(client, "jo@example.org")
    set_up_app(client)
    sign_out(client)
    frozen_clock(seconds=30)
    sign_in(client, "jo@example.org")
    # Someone with only the password must not add their own passkey or app to pass.
    for path in ("/account/security", "/account/security/app"):
        assert client.get(path).headers["Location"] == "/sign-in/second-step"
    r = post(client, "/account/security/passkeys/options", page="/sign-in/second-step")
    assert r.headers["Location"] == "/sign-in/second-step"
    assert mfa.factors_of(p).passkeys == []


def test_cancel_ends_the_pending_sign_in(client, make: Factory, frozen_clock):
    make.practitioner("jo@example.org")
    sign_in(client, "jo@example.org")
    secret, _codes = set_up_app(client)
    sign_out(client)
    frozen_clock(seconds=30)
    sign_in(client, "jo@example.org")
    with client.session_transaction() as sess:
        pending = dict(sess["vig_pending_sign_in"])
    r = post(client, "/sign-in/cancel", page="/sign-in/second-step")
    assert r.headers["Location"] == "/login"
    assert client.get("/sign-in/second-step").headers["Location"] == "/login"
    # An old cookie that still holds the pending secret is no use either: the row is ended.
    token = csrf_token(client, "/login")
    with client.session_transaction() as sess:
        sess["vig_pending_sign_in"] = pending
    r = client.post(
        "/sign-in/second-step/app", data={"csrf_token": token, "code": code_for(secret)}
    )
    assert r.headers["Location"] == "/login"
    assert client.get("/practice/").headers["Location"].startswith("/login")
