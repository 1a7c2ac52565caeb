"""A parent opens their invitation link: welcome, consent, signed in on this phone.

Every way a link can fail shows a plain page with the right status, and changes nothing.
"""

from __future__ import annotations

import logging
import threading
from datetime import timedelta

import pytest
from flask import Flask
from itsdangerous import URLSafeSerializer
from sqlalchemy import func, select

from tests.conftest import Factory
from tests.invitations.conftest import Invited, csrf_token, give_consent, page_text
from vigparent import db
from vigparent.consent.service import CONSENT_WORDING_VERSION
from vigparent.invitations import service
from vigparent.models import (
    AuditEvent,
    ConsentKind,
    ConsentRecord,
    Family,
    FamilyStatus,
    Invitation,
    LoginSession,
    Role,
    User,
)


def _parents(family_id: int) -> list[User]:
    return list(
        db.session().scalars(
            select(User).where(User.family_id == family_id, User.role == Role.PARENT)
        )
    )


def _fresh(obj):
    db.session().expire_all()
    return db.session().get(type(obj), obj.id)


def _nothing_changed(invited: Invited) -> None:
    invitation = _fresh(invited.invitation)
    assert invitation.used_at is None and invitation.used_by_id is None
    assert _parents(invited.family.id) == []
    assert db.session().scalar(select(func.count()).select_from(ConsentRecord)) == 0
    parent_sessions = select(func.count(LoginSession.id)).join(User).where(User.role == Role.PARENT)
    assert db.session().scalar(parent_sessions) == 0


# --- the happy path -------------------------------------------------------------------------


def test_welcome_explains_vig_in_plain_words_and_does_not_use_the_link(client, invited: Invited):
    first = client.get(invited.path)
    second = client.get(invited.path)  # e.g. an SMS app's link preview, then the parent
    assert first.status_code == second.status_code == 200
    text = page_text(first)
    for words in (
        "Welcome, Alex",
        "Pat Practitioner from Test team has invited you",
        "What is VIG?",
        "What will be filmed?",
        "Who will see it?",
        "How long is it kept?",
        "They are deleted 30 days after your work together ends.",
        "You can stop at any time",
        "all your videos and clips are deleted straight away",
        "Nothing is saved until you say yes",
    ):
        assert words in text, words
    assert first.headers["Cache-Control"] == "private, no-store"
    assert "noindex" in first.headers["X-Robots-Tag"]
    assert client.get(f"{invited.path}/consent").status_code == 200
    _nothing_changed(invited)
    assert _fresh(invited.family).status is FamilyStatus.INVITED


def test_retention_words_follow_the_organisation_setting(client, make: Factory):
    org = make.organisation(retention_days_after_close=90)
    family, _inv, token = _start(make.practitioner(organisation=org))
    assert "deleted 90 days after your work together ends" in page_text(
        client.get(f"/join/{token}")
    )
    org.retention_days_after_close = 0
    db.session().commit()
    assert "deleted as soon as your work together ends" in page_text(client.get(f"/join/{token}"))


def _start(practitioner: User, label: str = "Sam and Alex", carer: str = ""):
    from vigparent.families import service as family_service

    family, invitation, token = family_service.start_family(practitioner, label, carer)
    db.session().commit()
    return family, invitation, token


def test_consent_signs_the_carer_in_for_a_long_time_and_activates_the_family(
    client, frozen_clock, invited: Invited
):
    consent_page = page_text(client.get(f"{invited.path}/consent"))
    assert "I agree to film short videos" in consent_page
    assert "keep a copy" not in consent_page  # this organisation does not allow copies

    r = give_consent(client, invited.path, name="Alex")
    assert r.status_code == 302 and r.headers["Location"].endswith("/home/")
    # A permanent session cookie survives the browser closing: no password, months signed in.
    cookie = r.headers["Set-Cookie"]
    assert "vig_session=" in cookie and "Expires=" in cookie and "HttpOnly" in cookie

    (parent,) = _parents(invited.family.id)
    assert parent.display_name == "Alex" and parent.email is None and parent.password_hash is None
    invitation = _fresh(invited.invitation)
    assert invitation.used_at == frozen_clock() and invitation.used_by_id == parent.id
    assert _fresh(invited.family).status is FamilyStatus.ACTIVE
    records = db.session().scalars(select(ConsentRecord)).all()
    assert {(r.kind, r.user_id, r.wording_version) for r in records} == {
        (ConsentKind.FILMING, parent.id, CONSENT_WORDING_VERSION),
        (ConsentKind.STORAGE, parent.id, CONSENT_WORDING_VERSION),
    }
    (login,) = db.session().scalars(select(LoginSession)).all()
    assert login.user_id == parent.id and login.ended_at is None

    home = client.get("/home/")
    assert home.status_code == 200
    assert "You're in. This phone is now signed in" in page_text(home)
    # Still signed in six months minus a day later (the parent session lifetime).
    frozen_clock(days=179)
    assert client.get("/home/").status_code == 200


def test_keep_a_copy_is_asked_and_recorded_only_where_the_organisation_allows_it(
    client, make: Factory
):
    generous = make.organisation("Copies team", parents_may_keep_copies=True)
    _f, _i, token = _start(make.practitioner(organisation=generous))
    assert "keep a copy of my clips" in page_text(client.get(f"/join/{token}/consent"))
    assert give_consent(client, f"/join/{token}", keep_copy="y").status_code == 302
    kinds = set(db.session().scalars(select(ConsentRecord.kind)))
    assert kinds == {ConsentKind.FILMING, ConsentKind.STORAGE, ConsentKind.KEEP_COPY}


def test_keep_a_copy_is_ignored_where_the_organisation_does_not_allow_it(
    client, invited: Invited, app: Flask
):
    other = app.test_client()
    assert give_consent(other, invited.path, keep_copy="y").status_code == 302
    kinds = set(db.session().scalars(select(ConsentRecord.kind)))
    assert kinds == {ConsentKind.FILMING, ConsentKind.STORAGE}


@pytest.mark.parametrize("ticked", [{}, {"filming": "y"}, {"storage": "y"}])
def test_consent_without_both_required_boxes_changes_nothing(client, invited: Invited, ticked):
    data = {"csrf_token": csrf_token(client, f"{invited.path}/consent"), **ticked}
    r = client.post(f"{invited.path}/consent", data=data)
    assert r.status_code == 400
    text = page_text(r)
    assert "please tick both boxes" in text and "Nothing has been saved" in text
    _nothing_changed(invited)
    # The link still works afterwards.
    assert give_consent(client, invited.path).status_code == 302


def test_consent_without_csrf_token_is_refused_and_changes_nothing(client, invited: Invited):
    client.get(f"{invited.path}/consent")
    r = client.post(f"{invited.path}/consent", data={"filming": "y", "storage": "y"})
    assert r.status_code == 400
    _nothing_changed(invited)


def test_opening_the_used_link_again_on_the_same_phone_just_goes_home(client, invited: Invited):
    give_consent(client, invited.path)
    r = client.get(invited.path)
    assert r.status_code == 302 and r.headers["Location"].endswith("/home/")


# --- refusals: each with a plain page, the right status, and nothing changed -----------------


def _assert_refused(client, invited: Invited, status: int, *words: str) -> None:
    for method, path in (("get", invited.path), ("get", f"{invited.path}/consent")):
        r = getattr(client, method)(path)
        assert r.status_code == status, (path, r.status_code)
        text = page_text(r)
        for w in words:
            assert w in text, w
    # Submitting consent is refused the same way (the token is checked again on POST).
    r = client.post(f"{invited.path}/consent", data={"filming": "y", "storage": "y"})
    assert r.status_code in (status, 400)


def test_used_link_is_refused_in_another_browser(app: Flask, invited: Invited):
    first, second = app.test_client(), app.test_client()
    assert give_consent(first, invited.path).status_code == 302
    r = second.get(invited.path)
    assert r.status_code == 410
    text = page_text(r)
    assert "This link has already been used" in text and "ask your practitioner for" in text
    assert len(_parents(invited.family.id)) == 1


def test_used_link_consent_post_with_valid_csrf_is_refused_with_410(app: Flask, invited: Invited):
    first, second = app.test_client(), app.test_client()
    token = csrf_token(second, "/")
    assert give_consent(first, invited.path).status_code == 302
    r = second.post(
        f"{invited.path}/consent", data={"csrf_token": token, "filming": "y", "storage": "y"}
    )
    assert r.status_code == 410 and "already been used" in page_text(r)
    assert len(_parents(invited.family.id)) == 1
    assert db.session().scalar(select(func.count()).select_from(LoginSession)) == 1


def test_link_works_until_it_expires_then_is_refused(client, make: Factory, frozen_clock):
    practitioner = make.practitioner()
    _f, invitation, token = _start(practitioner)
    assert invitation.expires_at == frozen_clock() + timedelta(days=14)
    frozen_clock(days=14, minutes=-1)
    assert client.get(f"/join/{token}").status_code == 200
    frozen_clock(minutes=1)
    invited = Invited(practitioner, invitation.family, invitation, token)
    _assert_refused(client, invited, 410, "This link has run out", "Ask your practitioner")
    _nothing_changed(invited)


def test_expiry_follows_the_organisation_lifetime(client, make: Factory, frozen_clock):
    org = make.organisation(invitation_lifetime_days=3)
    _f, invitation, token = _start(make.practitioner(organisation=org))
    assert invitation.expires_at == frozen_clock() + timedelta(days=3)
    frozen_clock(days=3)
    assert client.get(f"/join/{token}").status_code == 410


def test_link_expiring_between_opening_and_agreeing_is_refused(
    client, frozen_clock, invited: Invited
):
    frozen_clock(days=14, minutes=-1)
    token = csrf_token(client, f"{invited.path}/consent")
    frozen_clock(minutes=2)
    r = client.post(
        f"{invited.path}/consent", data={"csrf_token": token, "filming": "y", "storage": "y"}
    )
    assert r.status_code == 410 and "This link has run out" in page_text(r)
    _nothing_changed(invited)


def test_revoked_link_is_refused(client, invited: Invited):
    service.revoke_invitation(invited.invitation, invited.practitioner)
    db.session().commit()
    _assert_refused(client, invited, 410, "This link has been cancelled", "newer message")
    _nothing_changed(invited)


@pytest.mark.parametrize(
    "mangle",
    [
        lambda t: t[:-3] + ("aaa" if not t.endswith("aaa") else "bbb"),  # bad signature
        lambda t: t[:10],  # cut short, as a careless copy might
        lambda t: "not-a-token",
    ],
)
def test_tampered_link_is_not_found(client, invited: Invited, mangle):
    bad = Invited(invited.practitioner, invited.family, invited.invitation, mangle(invited.token))
    _assert_refused(client, bad, 404, "We don't recognise this link", "tapping the link")
    _nothing_changed(invited)


def test_correctly_signed_but_unknown_link_is_not_found(client, invited: Invited, app: Flask):
    forged = URLSafeSerializer(app.config["SECRET_KEY"], salt="vigparent.invitation").dumps(
        "a secret that was never issued"
    )
    unknown = Invited(invited.practitioner, invited.family, invited.invitation, forged)
    _assert_refused(client, unknown, 404, "We don't recognise this link")
    _nothing_changed(invited)


def test_link_of_a_family_that_withdrew_consent_is_refused(client, invited: Invited):
    invited.family.status = FamilyStatus.WITHDRAWN
    db.session().commit()
    _assert_refused(client, invited, 410, "Your family has stopped taking part")
    _nothing_changed(invited)


def test_link_of_a_closed_case_is_refused(client, invited: Invited):
    invited.family.status = FamilyStatus.CLOSED
    db.session().commit()
    _assert_refused(client, invited, 410, "This work has finished")
    _nothing_changed(invited)


def test_parent_pages_without_a_session_say_open_your_link(client, make: Factory):
    for path in ("/home/", "/consent/privacy"):
        r = client.get(path)
        assert r.status_code == 401, path
        assert "Please open your invitation link" in page_text(r)


def test_parent_signed_out_by_practitioner_gets_401(client, invited: Invited):
    give_consent(client, invited.path)
    (parent,) = _parents(invited.family.id)
    from vigparent.families import service as family_service

    family_service.sign_out_carer(invited.family, parent, invited.practitioner)
    db.session().commit()
    assert client.get("/home/").status_code == 401


# --- single use under races ----------------------------------------------------------------


def test_two_tabs_submitting_at_once_only_one_succeeds(app: Flask, invited: Invited):
    clients = [app.test_client(), app.test_client()]
    tokens = [csrf_token(c, f"{invited.path}/consent") for c in clients]
    barrier = threading.Barrier(2)
    codes: list[int] = []

    def submit(i: int) -> None:
        barrier.wait()
        r = clients[i].post(
            f"{invited.path}/consent",
            data={"csrf_token": tokens[i], "filming": "y", "storage": "y"},
        )
        codes.append(r.status_code)

    threads = [threading.Thread(target=submit, args=(i,)) for i in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert sorted(codes) == [302, 410]
    assert len(_parents(invited.family.id)) == 1
    assert db.session().scalar(select(func.count()).select_from(LoginSession)) == 1
    assert db.session().scalar(select(func.count()).select_from(ConsentRecord)) == 2


def test_claim_is_atomic_even_when_the_check_already_passed(app: Flask, invited: Invited):
    """The other tab wins between our check and our claim: ours must still be refused."""
    invitation = service.check_invitation(invited.token)
    with db.fresh_session(app) as other_tab:
        row = other_tab.get(Invitation, invitation.id)
        assert row is not None
        row.used_at = row.created_at
        other_tab.commit()
    with pytest.raises(service.InvitationRefused) as refused:
        service.redeem_invitation(invitation, [ConsentKind.FILMING, ConsentKind.STORAGE])
    assert refused.value.problem is service.InvitationProblem.USED
    db.session().commit()
    assert _parents(invited.family.id) == []


def test_withdrawal_between_check_and_claim_refuses(app: Flask, invited: Invited):
    invitation = service.check_invitation(invited.token)
    with db.fresh_session(app) as other:
        family = other.get(Family, invited.family.id)
        assert family is not None
        family.status = FamilyStatus.WITHDRAWN
        other.commit()
    with pytest.raises(service.InvitationRefused) as refused:
        service.redeem_invitation(invitation, [ConsentKind.FILMING, ConsentKind.STORAGE])
    assert refused.value.problem is service.InvitationProblem.WITHDRAWN


# --- rate limit, logs, staff ----------------------------------------------------------------


def test_join_pages_are_rate_limited(client, invited: Invited, app: Flask):
    limit = int(app.extensions["vig_settings"].invitation_rate_limit.split()[0])
    codes = [client.get(f"/join/guess{i}").status_code for i in range(limit)]
    assert set(codes) == {404}
    # The budget is shared by every /join page, so the real link is now refused too.
    r = client.get(f"{invited.path}/consent")
    assert r.status_code == 429 and "Too many tries" in page_text(r)
    _nothing_changed(invited)


def test_tokens_never_reach_logs_or_the_database(
    app: Flask, invited: Invited, caplog: pytest.LogCaptureFixture
):
    caplog.set_level(logging.DEBUG)
    c = app.test_client()
    c.get(invited.path)
    give_consent(c, invited.path)
    c.get(invited.path)  # used now
    app.test_client().get(invited.path)  # refused
    for record in caplog.records:
        assert invited.token not in record.getMessage()
    secret = URLSafeSerializer(app.config["SECRET_KEY"], salt="vigparent.invitation").loads(
        invited.token
    )
    stored = db.session().scalars(select(Invitation.token_hash)).all()
    assert secret not in stored and invited.token not in stored
    for event in db.session().scalars(select(AuditEvent)):
        assert invited.token not in event.detail and secret not in event.detail


def test_a_signed_in_practitioner_cannot_use_up_a_parents_link(client, invited: Invited, login_as):
    login_as(invited.practitioner)
    page = page_text(client.get(invited.path))
    assert "You are signed in as a practitioner" in page
    r = give_consent(client, invited.path)
    assert r.status_code == 409
    _nothing_changed(invited)


# --- several carers, new phones -------------------------------------------------------------


def test_two_carers_each_have_their_own_sign_in(app: Flask, invited: Invited):
    second, token = service.invite_carer(invited.family, invited.practitioner, "Jordan")
    db.session().commit()
    alex, jordan = app.test_client(), app.test_client()
    assert give_consent(alex, invited.path).status_code == 302
    assert give_consent(jordan, f"/join/{token}").status_code == 302
    parents = _parents(invited.family.id)
    assert sorted(p.display_name for p in parents) == ["Alex", "Jordan"]
    sessions = db.session().scalars(select(LoginSession)).all()
    assert sorted(s.user_id for s in sessions) == sorted(p.id for p in parents)
    assert "Hello Alex" in page_text(alex.get("/home/"))
    assert "Hello Jordan" in page_text(jordan.get("/home/"))


def test_new_link_for_a_carer_signs_the_same_carer_in_on_a_new_phone(app: Flask, invited: Invited):
    old_phone, new_phone = app.test_client(), app.test_client()
    give_consent(old_phone, invited.path)
    (alex,) = _parents(invited.family.id)
    _inv, token = service.invite_carer(invited.family, invited.practitioner, carer=alex)
    db.session().commit()
    assert give_consent(new_phone, f"/join/{token}").status_code == 302
    assert [p.id for p in _parents(invited.family.id)] == [alex.id]
    assert new_phone.get("/home/").status_code == 200
    # The old phone stays signed in until the practitioner signs it out.
    assert old_phone.get("/home/").status_code == 200


def test_joining_another_family_on_the_same_phone_ends_the_old_session(
    app: Flask, make: Factory, invited: Invited
):
    phone = app.test_client()
    give_consent(phone, invited.path)
    _f, _i, token = _start(make.practitioner(), "Other family")
    give_consent(phone, f"/join/{token}")
    live = db.session().scalars(select(LoginSession).where(LoginSession.ended_at.is_(None)))
    assert len(live.all()) == 1
