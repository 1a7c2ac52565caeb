"""Web Push to a parent's phone through a local push service that checks the VAPID signature
and decrypts the payload (aes128gcm) with the phone's own key: what the phone would show."""

from __future__ import annotations

from datetime import datetime

from flask.testing import FlaskClient
from sqlalchemy import select

from tests.conftest import Factory, csrf_token, page_text
from tests.media.factories import add_clip, add_recording
from tests.notifications.conftest import CARER_NAME, CHILD_NAME, FAMILY_LABEL, assert_private
from tests.notifications.fake_push import FakePushService, PhoneSubscription
from vigparent import db
from vigparent.clips import service as clips_service
from vigparent.models import (
    FamilyStatus,
    Message,
    MessageKind,
    MessageStatus,
    Organisation,
    PushSubscription,
    User,
)
from vigparent.notifications import delivery, service
from vigparent.withdrawal import service as withdrawal

PLAIN = {"title": "New message", "body": "You have a new message from your health visitor."}


def subscribe(phone: FlaskClient, subscription: PhoneSubscription) -> int:
    r = phone.post(
        "/api/push/subscription",
        json=subscription.as_json(),
        headers={"X-CSRFToken": csrf_token(phone, "/home/")},
    )
    return r.status_code


def _family_with_phone(make: Factory, login_as, app):  # type: ignore[no-untyped-def]
    practitioner = make.practitioner()
    family = make.family(practitioner, label=FAMILY_LABEL)
    parent = make.parent_of(family)
    parent.display_name = CARER_NAME
    db.session().commit()
    phone = login_as(parent, app.test_client())
    return practitioner, family, parent, phone


def _share_a_clip(family, parent, practitioner) -> None:  # type: ignore[no-untyped-def]
    clip = add_clip(
        add_recording(family, parent),
        title=f"{CHILD_NAME} smiles",
        note=f"{CHILD_NAME} smiles at {CARER_NAME}.",
        published=False,
    )
    clips_service.publish([clip], practitioner)


def test_clips_shared_reaches_the_phone_signed_and_encrypted(
    app, make: Factory, login_as, push_service: FakePushService
):
    practitioner, family, parent, phone = _family_with_phone(make, login_as, app)
    home = page_text(phone.get("/home/"))
    assert "data-push-key" in home and "Turn on notifications" in home
    handset = push_service.new_phone()
    assert subscribe(phone, handset) == 201

    _share_a_clip(family, parent, practitioner)

    [got] = push_service.received
    assert push_service.refused == []
    assert got.payload == PLAIN | {"url": "http://127.0.0.1:5000/review/"}
    assert got.vapid_key == app.extensions["vig_push"].public_key
    assert got.claims["aud"] == push_service.origin
    assert got.claims["sub"] == "mailto:vig-test@example.org"
    assert int(got.ttl) > 0
    [message] = db.session().scalars(
        select(Message).where(Message.kind == MessageKind.CLIPS_SHARED)
    )
    assert (message.channel.value, message.status) == ("push", MessageStatus.SENT)


def test_full_wording_on_the_phone_still_names_no_family_or_child(
    app, make: Factory, login_as, push_service: FakePushService
):
    practitioner, family, parent, phone = _family_with_phone(make, login_as, app)
    org = db.session().get(Organisation, family.organisation_id)
    assert org is not None
    org.message_wording = "full"
    db.session().commit()
    subscribe(phone, push_service.new_phone())
    _share_a_clip(family, parent, practitioner)
    [got] = push_service.received
    assert got.payload["title"] == "Your clips are ready"
    assert got.payload["body"] == f"{practitioner.display_name} has shared your clips."
    assert_private(str(got.payload))


def test_filming_reminder_by_push_only_for_parents_who_want_them(
    app, make: Factory, login_as, push_service: FakePushService, frozen_clock
):
    frozen_clock(datetime(2026, 11, 25, 12, 0))
    practitioner, family, parent, phone = _family_with_phone(make, login_as, app)
    subscribe(phone, push_service.new_phone())
    staff = login_as(practitioner, app.test_client())
    url = f"/practice/families/{family.id}/plan"
    staff.post(
        url,
        data={
            "csrf_token": csrf_token(staff, url),
            "film_by": "2026-11-26",
            "place": "home",
            "activity": f"{CHILD_NAME}'s bath time",
        },
    )
    frozen_clock(datetime(2026, 11, 26, 9, 30))
    assert delivery.release_due_messages() == 1
    assert [r.payload for r in push_service.received] == [
        PLAIN | {"url": "http://127.0.0.1:5000/home/"}
    ]

    # Turned off: the next plan's reminder is never even scheduled.
    phone.post(
        "/home/reminders", data={"csrf_token": csrf_token(phone, "/home/"), "reminders": "off"}
    )
    staff = login_as(practitioner, app.test_client())  # a new working day, a new sign-in
    cycle_url = f"/practice/families/{family.id}/plan"
    staff.post(
        cycle_url,
        data={"csrf_token": csrf_token(staff, cycle_url), "film_by": "2026-11-30", "place": "home"},
    )
    frozen_clock(datetime(2026, 11, 30, 10, 0))
    assert delivery.release_due_messages() == 0
    assert len(push_service.received) == 1


def test_a_phone_that_dropped_its_subscription_is_forgotten(
    app, make: Factory, login_as, push_service: FakePushService
):
    practitioner, family, parent, phone = _family_with_phone(make, login_as, app)
    handset = push_service.new_phone()
    subscribe(phone, handset)
    push_service.gone.add(handset.endpoint)
    _share_a_clip(family, parent, practitioner)
    assert db.session().scalars(select(PushSubscription)).all() == []
    [message] = db.session().scalars(
        select(Message).where(Message.kind == MessageKind.CLIPS_SHARED)
    )
    assert message.status is MessageStatus.FAILED


def test_only_real_push_services_are_accepted(app, make: Factory, login_as, push_service):
    _, _, _, phone = _family_with_phone(make, login_as, app)
    handset = push_service.new_phone()
    for endpoint in ("http://10.0.0.7/push/x", "https://intranet.example.org/push", "file:///etc"):
        bad = handset.as_json() | {"endpoint": endpoint}
        r = phone.post(
            "/api/push/subscription",
            json=bad,
            headers={"X-CSRFToken": csrf_token(phone, "/home/")},
        )
        assert r.status_code == 400
    assert db.session().scalars(select(PushSubscription)).all() == []
    sender = app.extensions["vig_push"]
    assert sender.accepts_endpoint("https://fcm.googleapis.com/fcm/send/abc")
    assert sender.accepts_endpoint("https://web.push.apple.com/QGx")
    assert not sender.accepts_endpoint("http://fcm.googleapis.com/fcm/send/abc")
    assert not sender.accepts_endpoint("https://fcm.googleapis.com.evil.example/x")


def test_signing_out_and_withdrawing_delete_the_subscription(
    app, make: Factory, login_as, push_service: FakePushService
):
    practitioner, family, parent, phone = _family_with_phone(make, login_as, app)
    handset = push_service.new_phone()
    subscribe(phone, handset)
    check = {"endpoint": handset.endpoint}
    token = csrf_token(phone, "/home/")
    assert phone.post(
        "/api/push/subscription/check", json=check, headers={"X-CSRFToken": token}
    ).get_json() == {"subscribed": True}

    # The practitioner signs the lost phone out: its subscription goes, and the phone hears so.
    staff = login_as(practitioner, app.test_client())
    page = f"/practice/families/{family.id}"
    staff.post(f"{page}/carers/{parent.id}/sign-out", data={"csrf_token": csrf_token(staff, page)})
    assert db.session().scalars(select(PushSubscription)).all() == []
    assert (
        phone.post(
            "/api/push/subscription/check", json=check, headers={"X-CSRFToken": token}
        ).status_code
        == 401
    )

    # A new sign-in subscribes again; withdrawal deletes it at once.
    phone = login_as(db.session().get(User, parent.id), app.test_client())
    assert subscribe(phone, handset) == 201
    withdrawal.withdraw_consent(family, parent)
    db.session().expire_all()
    assert db.session().scalars(select(PushSubscription)).all() == []
    assert family.status is FamilyStatus.WITHDRAWN
    _share_a_clip_after = service.clips_shared(family)
    assert _share_a_clip_after == 0 and push_service.received == []


def test_turning_notifications_off_from_the_phone(app, make, login_as, push_service):  # type: ignore[no-untyped-def]
    _, _, _, phone = _family_with_phone(make, login_as, app)
    handset = push_service.new_phone()
    subscribe(phone, handset)
    token = csrf_token(phone, "/home/")
    r = phone.post(
        "/api/push/subscription/forget",
        json={"endpoint": handset.endpoint},
        headers={"X-CSRFToken": token},
    )
    assert r.get_json() == {"subscribed": False}
    assert db.session().scalars(select(PushSubscription)).all() == []


def test_a_welsh_familys_phone_gets_welsh_words(
    app, make: Factory, login_as, push_service: FakePushService
):
    practitioner, family, parent, phone = _family_with_phone(make, login_as, app)
    family.language = "cy"
    db.session().commit()
    subscribe(phone, push_service.new_phone())
    _share_a_clip(family, parent, practitioner)
    [got] = push_service.received
    assert got.payload["title"] == "Neges newydd"
    assert got.payload["body"] == "Mae gennych neges newydd gan eich ymwelydd iechyd."
    assert_private(str(got.payload))


def test_a_nul_character_in_a_subscription_is_refused_at_the_door(
    app, make: Factory, login_as, push_service: FakePushService
):
    """PostgreSQL cannot hold a NUL in text; a JSON body carrying one is a 400, never a 500."""
    _, _, _, phone = _family_with_phone(make, login_as, app)
    handset = push_service.new_phone()
    token = csrf_token(phone, "/home/")
    for path, body in (
        ("/api/push/subscription", handset.as_json() | {"endpoint": handset.endpoint + "\x00"}),
        ("/api/push/subscription/check", {"endpoint": "https://fcm.googleapis.com/\x00"}),
        ("/api/push/subscription/forget", {"endpoint": "x", "keys": {"p256dh": ["\x00"]}}),
    ):
        r = phone.post(path, json=body, headers={"X-CSRFToken": token})
        assert r.status_code == 400, path
    assert db.session().scalars(select(PushSubscription)).all() == []
