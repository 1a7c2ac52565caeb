"""Recovery codes: shown once, stored hashed, each signs in once, new ones replace old."""

from __future__ import annotations

from sqlalchemy import select

from tests.conftest import Factory, page_text
from tests.mfa.journeys import answer_recovery, post, set_up_app, sign_in, sign_out
from vigparent import db
from vigparent.auth import mfa
from vigparent.models import AuditEvent, RecoveryCode


def test_each_recovery_code_signs_in_once(client, make: Factory, frozen_clock):
    p = make.practitioner("jo@example.org")
    sign_in(client, "jo@example.org")
    _secret, codes = set_up_app(client)
    sign_out(client)

    sign_in(client, "jo@example.org")
    # Typed in capitals and without dashes, as people do.
    r = answer_recovery(client, codes[0].replace("-", "").upper())
    assert r.headers["Location"] == "/practice/"
    assert "You have 9 left" in page_text(client.get("/practice/"))
    sign_out(client)

    sign_in(client, "jo@example.org")
    r = answer_recovery(client, codes[0])
    assert r.status_code == 400
    assert "Each code works only once" in page_text(r)
    assert client.get("/practice/").status_code == 302
    assert answer_recovery(client, codes[1]).headers["Location"] == "/practice/"
    assert mfa.factors_of(p).recovery_codes_left == 8
    used = db.session().scalars(select(AuditEvent.action).where(AuditEvent.actor_id == p.id))
    assert list(used).count("recovery_code_used") == 2


def test_codes_are_stored_only_as_hashes(client, make: Factory):
    p = make.practitioner("jo@example.org")
    sign_in(client, "jo@example.org")
    _secret, codes = set_up_app(client)
    stored = list(db.session().scalars(select(RecoveryCode).where(RecoveryCode.user_id == p.id)))
    assert len(stored) == 10
    plain = {c.replace("-", "") for c in codes}
    for row in stored:
        assert row.code_hash not in plain and len(row.code_hash) == 64
    # The page with the codes is never stored by the browser or a proxy.
    r = post(client, "/account/security/recovery-codes", page="/account/security")
    assert r.headers["Cache-Control"] == "private, no-store"


def test_new_codes_replace_the_old_ones(client, make: Factory, frozen_clock):
    make.practitioner("jo@example.org")
    sign_in(client, "jo@example.org")
    _secret, old_codes = set_up_app(client)
    r = post(client, "/account/security/recovery-codes", page="/account/security")
    assert r.status_code == 200
    assert "The old ones no longer work" in page_text(r)
    sign_out(client)
    sign_in(client, "jo@example.org")
    assert answer_recovery(client, old_codes[0]).status_code == 400


def test_no_codes_without_a_factor(client, make: Factory):
    p = make.practitioner("jo@example.org")
    sign_in(client, "jo@example.org")
    r = post(client, "/account/security/recovery-codes", page="/account/security")
    assert r.headers["Location"] == "/account/security"
    assert mfa.factors_of(p).recovery_codes_left == 0


def test_removing_the_last_factor_drops_the_codes(client, make: Factory):
    p = make.practitioner("jo@example.org")
    sign_in(client, "jo@example.org")
    set_up_app(client)
    r = post(client, "/account/security/app/remove", page="/account/security")
    assert r.headers["Location"] == "/account/security"
    assert not mfa.has_second_factor(p)
    assert mfa.factors_of(p).recovery_codes_left == 0
    sign_out(client)
    # Without a factor (and not required), the password alone signs in again.
    assert sign_in(client, "jo@example.org").headers["Location"] == "/practice/"
