"""Watching together, live, through the app's own routes (the browser test drives the screens)."""

from __future__ import annotations

import re
from collections.abc import Callable

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select

from tests.conftest import Factory, csrf_token, page_text
from tests.live.conftest import Room, first_messages, post_json
from vigparent import db
from vigparent.live import fanout, service
from vigparent.models import AuditEvent, ConsentKind, LiveNotice, LiveReview, User
from vigparent.withdrawal import service as withdrawal

Login = Callable[..., FlaskClient]


def _start(app: Flask, login_as: Login, room: Room) -> tuple[FlaskClient, str]:
    lead = login_as(room.practitioner, on=app.test_client())
    token = csrf_token(lead, f"/practice/clips/families/{room.family.id}")
    answer = lead.post(f"{room.base}/start", data={"csrf_token": token, "set": ""})
    assert answer.status_code == 302 and answer.location.endswith(room.base)
    return lead, token


def _invited(phone: FlaskClient) -> bool:
    """Whether the parent's home shows the invitation (the card is always there, hidden when
    no review is open); the home page's script asks /live/invitation the same question."""
    html = phone.get("/home/").get_data(as_text=True)
    card = re.search(r"<section[^>]*data-live-invite[^>]*>", html)
    assert card is not None
    shown = " hidden" not in card.group(0)
    assert phone.get("/live/invitation").get_json() == {"open": shown}
    return shown


def _parent(app: Flask, login_as: Login, user: User) -> tuple[FlaskClient, str]:
    phone = login_as(user, on=app.test_client())
    return phone, csrf_token(phone, "/home/")


def test_the_parent_is_invited_joins_and_sees_the_clips_and_who_is_here(
    app: Flask, login_as: Login, room: Room
) -> None:
    phone, _ = _parent(app, login_as, room.parent)
    assert not _invited(phone)
    lead, _ = _start(app, login_as, room)
    assert _invited(phone)

    home = page_text(phone.get("/home/"))
    assert "Your practitioner is ready to watch your clips with you" in home
    assert "Join now" in home
    assert phone.get("/live/").status_code == 200

    (snapshot,) = first_messages(phone, f"{room.base}/events")
    assert snapshot["type"] == "snapshot"
    assert [c["id"] for c in snapshot["clips"]] == [c.id for c in room.clips]
    assert all(c["url"] == f"/media/clips/{c['id']}" for c in snapshot["clips"])
    assert snapshot["state"]["clip"] == room.clips[0].id and snapshot["state"]["playing"] is False
    assert [p["role"] for p in snapshot["present"]] == ["parent"]
    assert isinstance(snapshot["now"], int)

    # The practitioner's stream sees the parent who is here (their stream left when closed).
    (lead_snapshot,) = first_messages(lead, f"{room.base}/events")
    assert [p["role"] for p in lead_snapshot["present"]] == ["practitioner"]
    assert lead.get(room.base).status_code == 200


def test_each_command_reaches_the_room_with_the_servers_time(
    app: Flask, login_as: Login, room: Room
) -> None:
    lead, token = _start(app, login_as, room)
    with app.app_context():
        listener = fanout.current().subscribe(service.room(room.family.id))
    try:
        before = service.now_ms()
        answer = post_json(
            lead,
            f"{room.base}/command",
            {"clip": room.clips[1].id, "time": 0.5, "playing": True},
            token,
        )
        assert answer.status_code == 200, answer.get_json()
        event = listener.get(timeout=2)
        assert event is not None
        assert (event["type"], event["clip"], event["time"], event["playing"]) == (
            "state",
            room.clips[1].id,
            0.5,
            True,
        )
        assert before <= event["at"] <= service.now_ms()
        # A time stamped by the practitioner's page is kept, within two seconds of ours.
        post_json(
            lead,
            f"{room.base}/command",
            {"clip": room.clips[1].id, "time": 0.7, "playing": False, "at": before - 60_000},
            token,
        )
        paused = listener.get(timeout=2)
        assert paused is not None and paused["at"] >= before - service.MAX_COMMAND_AGE_MS
        assert paused["seq"] == event["seq"] + 1
    finally:
        listener.close()

    # A reconnecting phone resyncs from the stored state.
    phone, _ = _parent(app, login_as, room.parent)
    (snapshot,) = first_messages(phone, f"{room.base}/events")
    assert (snapshot["state"]["clip"], snapshot["state"]["time"]) == (room.clips[1].id, 0.7)
    assert snapshot["state"]["playing"] is False


@pytest.mark.parametrize(
    "body",
    [
        None,
        [],
        {"clip": "1", "time": 1, "playing": True},
        {"clip": 1, "time": "nan", "playing": True},
        {"clip": 1, "time": 1e309, "playing": True},
        {"clip": True, "time": 1, "playing": True},
        {"time": 1, "playing": "yes"},
    ],
)
def test_a_malformed_command_is_refused_plainly(
    app: Flask, login_as: Login, room: Room, body: object
) -> None:
    lead, token = _start(app, login_as, room)
    answer = post_json(lead, f"{room.base}/command", body, token)
    assert answer.status_code == 400
    assert answer.get_json()["message"] == "That command was not understood."


def test_a_clip_outside_the_review_is_refused(
    app: Flask, login_as: Login, room: Room, make: Factory
) -> None:
    lead, token = _start(app, login_as, room)
    answer = post_json(
        lead, f"{room.base}/command", {"clip": 999999, "time": 0, "playing": False}, token
    )
    assert answer.status_code == 400
    assert answer.get_json()["message"] == "That clip is not in this review."


def test_noticed_marks_the_moment_for_the_practitioner(
    app: Flask, login_as: Login, room: Room
) -> None:
    lead, _ = _start(app, login_as, room)
    phone, token = _parent(app, login_as, room.parent)
    with app.app_context():
        listener = fanout.current().subscribe(service.room(room.family.id))
    try:
        answer = post_json(
            phone, f"{room.base}/noticed", {"clip": room.clips[0].id, "time": 0.83}, token
        )
        assert answer.status_code == 200
        event = listener.get(timeout=2)
    finally:
        listener.close()
    assert event is not None
    assert (event["type"], event["clip"], event["time"], event["by"]) == (
        "noticed",
        room.clips[0].id,
        0.83,
        "Alex",
    )
    (snapshot,) = first_messages(lead, f"{room.base}/events")
    assert [(n["clip"], n["time"]) for n in snapshot["noticed"]] == [(room.clips[0].id, 0.83)]


def test_notes_shown_to_the_family_are_in_the_state(
    app: Flask, login_as: Login, room: Room
) -> None:
    lead, token = _start(app, login_as, room)
    answer = post_json(
        lead, f"{room.base}/note", {"text": "  Look at Sam's face  ", "strength": True}, token
    )
    assert answer.status_code == 200
    phone, _ = _parent(app, login_as, room.parent)
    (snapshot,) = first_messages(phone, f"{room.base}/events")
    assert snapshot["state"]["note"] == "Look at Sam's face"
    assert snapshot["state"]["strength"] == room.clips[0].strength_note
    garbled = post_json(lead, f"{room.base}/note", ["not", "an", "object"], token)
    assert garbled.status_code == 400
    assert garbled.get_json()["message"] == "That was not understood."
    too_long = post_json(lead, f"{room.base}/note", {"text": "x" * 1001, "strength": False}, token)
    assert too_long.status_code == 400
    assert "under 1,000 letters" in too_long.get_json()["message"]


def test_asking_to_film_is_only_a_request_the_parent_answers(
    app: Flask, login_as: Login, room: Room
) -> None:
    lead, token = _start(app, login_as, room)
    phone, phone_token = _parent(app, login_as, room.parent)
    # An answer with no request is refused.
    assert (
        post_json(phone, f"{room.base}/film-answer", {"answer": "filming"}, phone_token).status_code
        == 409
    )
    assert post_json(lead, f"{room.base}/film", {"ask": True}, token).status_code == 200
    (snapshot,) = first_messages(phone, f"{room.base}/events")
    assert snapshot["state"]["film"] == "asked"
    assert (
        post_json(phone, f"{room.base}/film-answer", {"answer": "not_now"}, phone_token).status_code
        == 200
    )
    (after,) = first_messages(lead, f"{room.base}/events")
    assert (after["state"]["film"], after["state"]["film_answer"]) == ("", "not_now")
    actions = list(db.session().scalars(select(AuditEvent.action).order_by(AuditEvent.id)))
    assert actions[-2:] == ["live_film_asked", "live_film_answered"]  # what, never content
    # Only the parent answers, only the practitioner asks.
    assert (
        post_json(lead, f"{room.base}/film-answer", {"answer": "filming"}, token).status_code == 404
    )
    assert post_json(phone, f"{room.base}/film", {"ask": True}, phone_token).status_code == 404


def test_no_request_to_film_without_consent_to_filming(
    app: Flask, login_as: Login, make: Factory, room: Room
) -> None:
    from vigparent.models import ConsentRecord

    s = db.session()
    for record in s.scalars(select(ConsentRecord).where(ConsentRecord.family_id == room.family.id)):
        if record.kind is ConsentKind.FILMING:
            s.delete(record)
    s.commit()
    lead, token = _start(app, login_as, room)
    answer = post_json(lead, f"{room.base}/film", {"ask": True}, token)
    assert answer.status_code == 400
    assert "not agreed to filming" in answer.get_json()["message"]


def test_withdrawal_ends_the_live_review_at_once(app: Flask, login_as: Login, room: Room) -> None:
    _start(app, login_as, room)
    phone, token = _parent(app, login_as, room.parent)
    post_json(phone, f"{room.base}/noticed", {"clip": room.clips[0].id, "time": 0.5}, token)
    with app.app_context():
        listener = fanout.current().subscribe(service.room(room.family.id))
        family = db.session().merge(room.family)
        try:
            withdrawal.withdraw_consent(family, db.session().get(User, room.parent.id))
            event = listener.get(timeout=2)
        finally:
            listener.close()
    assert event == {"type": "ended", "reason": "withdrawn"}  # phones say so, not "again"
    s = db.session()
    s.expire_all()
    review = s.scalar(select(LiveReview).where(LiveReview.family_id == room.family.id))
    assert review is not None and review.ended_at is not None
    # The moments the family marked went with the clips.
    assert s.scalar(select(func.count()).select_from(LiveNotice)) == 0
    assert "ready to watch your clips" not in page_text(phone.get("/home/"))
    # A withdrawn family's phone is sent to its receipt; nothing of the room is sent.
    assert phone.get(f"{room.base}/events").status_code == 303


def test_ending_closes_the_room_for_everyone(app: Flask, login_as: Login, room: Room) -> None:
    lead, token = _start(app, login_as, room)
    phone, _ = _parent(app, login_as, room.parent)
    answer = lead.post(f"{room.base}/end", data={"csrf_token": token})
    assert answer.status_code == 302
    assert not _invited(phone)
    assert "has not started yet" in page_text(phone.get("/live/"))
    refused = post_json(
        lead, f"{room.base}/command", {"clip": room.clips[0].id, "time": 0, "playing": True}, token
    )
    assert refused.status_code == 404


def test_a_signed_out_parent_opening_the_live_review_is_not_sent_to_the_staff_sign_in(client):
    r = client.get("/live/")
    assert r.status_code == 401  # parents come in by their link, never a password
    assert r.headers["Clear-Site-Data"] == '"cache"'
    staff = client.get("/live/families/1")
    assert staff.status_code == 302 and staff.headers["Location"].startswith("/login")


def test_commands_and_moments_do_not_send_the_session_cookie_again(
    app: Flask, login_as: Login, room: Room
) -> None:
    """A command a second or two: the renewed cookie was a fifth of each one's bytes."""
    lead, token = _start(app, login_as, room)
    clip = room.clips[0]
    body = {"clip": clip.id, "time": 1.0, "playing": False}
    answer = post_json(lead, f"{room.base}/command", body, token)
    assert answer.status_code == 200 and "Set-Cookie" not in answer.headers
    phone, phone_token = _parent(app, login_as, room.parent)
    mark = post_json(phone, f"{room.base}/noticed", {"clip": clip.id, "time": 1.0}, phone_token)
    assert mark.status_code == 200 and "Set-Cookie" not in mark.headers
    assert "Set-Cookie" not in phone.get("/live/invitation").headers
    # Pages still renew it, so a parent who uses the app stays signed in.
    assert "vig_session=" in phone.get("/home/").headers["Set-Cookie"]
    assert "vig_session=" in lead.get(room.base).headers["Set-Cookie"]
