"""Texts and emails through a local GOV.UK Notify: the invitation from the family page with its
delivery status, Notify's errors in plain words, filming-day reminders, clips shared and a new
video; and that nothing private is ever in a message."""

from __future__ import annotations

import json
import logging
import re
import time
from datetime import datetime
from urllib.parse import urlsplit

import jwt
import pytest
import requests
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from tests.conftest import Factory, csrf_token, page_text
from tests.media.factories import add_clip, add_recording
from tests.notifications import fake_notify
from tests.notifications.conftest import (
    CARER_NAME,
    CHILD_NAME,
    FAMILY_LABEL,
    TEMPLATE_IDS,
    assert_private,
)
from tests.notifications.fake_notify import FakeNotify
from vigparent import db
from vigparent.clips import service as clips_service
from vigparent.models import (
    CarerMessaging,
    Family,
    FamilyStatus,
    Message,
    MessageKind,
    MessageStatus,
    Organisation,
    RecordingStatus,
    User,
)
from vigparent.notifications import backends, delivery
from vigparent.notifications.backends import NotifyNotifier
from vigparent.recordings import jobs as recording_jobs
from vigparent.withdrawal import service as withdrawal

_SEND_ACTION = re.compile(r'action="(/practice/families/\d+/invitations/(\d+)/send)"')
_SEALED = re.compile(r'name="sealed" value="([^"]+)"')


def make_link(client: FlaskClient, family: Family, carer_name: str = CARER_NAME) -> tuple[str, str]:
    """Make a link on the family page; returns the send form's action and sealed link."""
    page = f"/practice/families/{family.id}"
    r = client.post(
        f"{page}/invitations",
        data={"csrf_token": csrf_token(client, page), "carer_name": carer_name},
    )
    assert r.status_code in (302, 303)
    html = client.get(page).get_data(as_text=True)
    action, sealed = _SEND_ACTION.search(html), _SEALED.search(html)
    assert action and sealed, "the share panel offers no sending"
    return action.group(1), sealed.group(1)


def send_link(
    client: FlaskClient, family: Family, channel: str, address: str, carer_name: str = CARER_NAME
) -> FlaskClient:
    action, sealed = make_link(client, family, carer_name)
    token = csrf_token(client, f"/practice/families/{family.id}")
    r = client.post(
        action,
        data={"csrf_token": token, "channel": channel, "address": address, "sealed": sealed},
    )
    assert r.status_code in (302, 303)
    return client


def words(html: str) -> str:
    """A page's text as a person reads it: no tags, single spaces."""
    return " ".join(re.sub(r"<[^>]+>", " ", html).split()).replace(" ,", ",").replace(" .", ".")


def family_page(client: FlaskClient, family: Family) -> str:
    return words(page_text(client.get(f"/practice/families/{family.id}")))


def join_from_text(app: Flask, link: str, name: str) -> FlaskClient:
    """A parent taps the link in their text message and agrees: a new phone."""
    phone = app.test_client()
    path = urlsplit(link).path
    r = phone.post(
        f"{path}/consent",
        data={
            "csrf_token": csrf_token(phone, f"{path}/consent"),
            "name": name,
            "filming": "y",
            "storage": "y",
        },
    )
    assert r.status_code in (302, 303), r.get_data(as_text=True)[:500]
    return phone


def sent_text(notify: FakeNotify) -> str:
    return json.dumps([s.body for s in notify.sent])


def messages_of(family: Family, kind: MessageKind | None = None) -> list[Message]:
    db.session().expire_all()
    stmt = select(Message).where(Message.family_id == family.id).order_by(Message.id)
    if kind is not None:
        stmt = stmt.where(Message.kind == kind)
    return list(db.session().scalars(stmt))


@pytest.fixture
def practitioner_family(make: Factory, login_as) -> tuple[User, Family]:  # type: ignore[no-untyped-def]
    practitioner = make.practitioner()
    family = make.family(
        practitioner, label=FAMILY_LABEL, status=FamilyStatus.INVITED, with_parent=False
    )
    login_as(practitioner)
    return practitioner, family


# -- the invitation ------------------------------------------------------------------------------


def test_invitation_by_text_sends_only_the_link_and_shows_its_delivery(
    client, practitioner_family, notify: FakeNotify
):
    _, family = practitioner_family
    send_link(client, family, "sms", "07700 900123")

    assert len(notify.sent) == 1
    sent = notify.sent[0]
    assert sent.path == "/v2/notifications/sms"
    assert sent.body["phone_number"] == "07700900123"
    assert sent.body["template_id"] == TEMPLATE_IDS["invitation_sms"]
    assert set(sent.body["personalisation"]) == {"link"}
    link = sent.body["personalisation"]["link"]
    assert re.fullmatch(r"http://127\.0\.0\.1:5000/join/[\w.\-]+", link)
    assert_private(sent_text(notify))
    assert notify.refused_tokens == []

    page = family_page(client, family)
    assert "Invitation link by text to number ending 0123" in page
    assert "sent, waiting for delivery" in page

    notify.set_status("delivered")
    assert delivery.refresh_delivery() == 1
    page = family_page(client, family)
    assert "Invitation link by text to number ending 0123" in page and "delivered" in page
    assert "sent, waiting for delivery" not in page
    # The link in the text is the real, working invitation.
    assert client.get(urlsplit(link).path).status_code == 200


def test_a_text_notify_could_not_deliver_says_why(client, practitioner_family, notify: FakeNotify):
    _, family = practitioner_family
    send_link(client, family, "sms", "07700900123")
    notify.set_status("permanent-failure")
    assert delivery.refresh_delivery() == 1
    page = family_page(client, family)
    assert "Invitation link by text to number ending 0123" in page and ": not delivered." in page
    assert "Not delivered: the phone number or email address does not exist" in page
    assert delivery.refresh_delivery() == 0  # a final answer is not asked for again


def test_invitation_by_email(client, practitioner_family, notify: FakeNotify):
    _, family = practitioner_family
    send_link(client, family, "email", " Parent.Person@Example.org ")
    sent = notify.sent[0]
    assert sent.path == "/v2/notifications/email"
    assert sent.body["email_address"] == "Parent.Person@Example.org"
    assert sent.body["template_id"] == TEMPLATE_IDS["invitation_email"]
    assert set(sent.body["personalisation"]) == {"link"}
    assert "Invitation link by email to P…@Example.org" in family_page(client, family)


@pytest.mark.parametrize(
    ("answer", "status_words", "plain"),
    [
        (fake_notify.BAD_PHONE, "not delivered", backends.BAD_PHONE),
        (fake_notify.TRIAL_MODE, "not delivered", backends.TRIAL_MODE),
        (fake_notify.RATE_LIMIT, "not sent yet", backends.RATE_LIMITED),
        (fake_notify.SERVER_ERROR, "not sent yet", backends.UNREACHABLE),
    ],
)
def test_each_notify_error_is_shown_plainly(
    client, practitioner_family, notify: FakeNotify, answer, status_words, plain
):
    _, family = practitioner_family
    notify.errors.append(answer)
    send_link(client, family, "sms", "07700900456")

    page = family_page(client, family)
    assert "Invitation link by text to number ending 0456, " in page
    assert f": {status_words}." in page
    assert plain in page
    assert answer[2] not in page  # Notify's own words stay out of the page

    [message] = messages_of(family)
    if answer[0] in (429, 500):
        # A temporary problem: the job is retried, and the next try goes through.
        assert message.status is MessageStatus.RETRYING
        delivery.deliver_message_job.call_local(message.id)
        assert messages_of(family)[0].status is MessageStatus.SENT
        assert len(notify.sent) == 2
        assert "sent, waiting for delivery" in family_page(client, family)
    else:
        assert message.status is MessageStatus.FAILED
        assert delivery.deliver(message.id) is None  # a failed message is never sent again
        assert len(notify.sent) == 1


def test_rate_limited_five_times_fails_for_good(client, practitioner_family, notify: FakeNotify):
    _, family = practitioner_family
    notify.errors.extend([fake_notify.RATE_LIMIT] * delivery.MAX_ATTEMPTS)
    send_link(client, family, "sms", "07700900456")
    [message] = messages_of(family)
    for _ in range(delivery.MAX_ATTEMPTS - 1):
        with pytest.raises(delivery.TryAgainLater):
            delivery.deliver(message.id)
        # (the first try ran in the request; the last one below ends it)
        if messages_of(family)[0].attempts == delivery.MAX_ATTEMPTS - 1:
            break
    delivery.deliver(message.id)
    [message] = messages_of(family)
    assert message.status is MessageStatus.FAILED
    assert message.attempts == delivery.MAX_ATTEMPTS
    page = family_page(client, family)
    assert backends.GAVE_UP in page
    assert "We will try again" not in page


def test_notify_refuses_a_wrong_key_and_the_page_says_so(
    client, app, practitioner_family, notify: FakeNotify
):
    _, family = practitioner_family
    wrong = f"vigparent_test-{fake_notify.SERVICE_ID}-{'0' * 8}-0000-0000-0000-{'0' * 12}"
    app.extensions["vig_notifier"] = NotifyNotifier(wrong, notify.url)
    send_link(client, family, "sms", "07700900123")
    assert notify.sent == []
    assert notify.refused_tokens == ["Invalid token: API key not found"]
    assert backends.KEY_REFUSED in family_page(client, family)


def test_fake_notify_checks_the_token_like_notify(notify: FakeNotify):
    """The fake is strict: a stale or foreign token is refused, so the tests above mean
    something."""

    def post(claims: dict[str, object], secret: str = fake_notify.SECRET) -> requests.Response:
        token = jwt.encode(claims, secret, algorithm="HS256")
        return requests.post(
            f"{notify.url}/v2/notifications/sms",
            json={"phone_number": "07700900123", "template_id": "x"},
            headers={"Authorization": f"Bearer {token}"},
            timeout=5,
        )

    now = int(time.time())
    stale = post({"iss": fake_notify.SERVICE_ID, "iat": now - 120})
    assert stale.status_code == 403
    assert stale.json()["errors"][0] == {
        "error": "AuthError",
        "message": "Error: Your system clock must be accurate to within 30 seconds",
    }
    assert post({"iss": "another-service", "iat": now}).status_code == 403
    assert post({"iss": fake_notify.SERVICE_ID}).status_code == 403
    wrong_secret = "0f0e0d0c-0b0a-4909-8807-060504030201"
    assert post({"iss": fake_notify.SERVICE_ID, "iat": now}, wrong_secret).status_code == 403
    assert post({"iss": fake_notify.SERVICE_ID, "iat": now}).status_code == 201
    assert notify.sent and notify.sent[-1].body["phone_number"] == "07700900123"


def test_a_wrong_number_is_refused_before_anything_is_sent(
    client, practitioner_family, notify: FakeNotify
):
    _, family = practitioner_family
    send_link(client, family, "sms", "call me maybe")
    page = family_page(client, family)
    assert "There is a problem" in page
    assert "Enter a mobile phone number, like 07700 900123." in page
    assert "Or we send it for you" in page  # the same link is offered again
    assert notify.sent == [] and messages_of(family) == []


def test_a_used_link_is_not_sent(client, app, practitioner_family, notify: FakeNotify):
    _, family = practitioner_family
    action, sealed = make_link(client, family)
    token = csrf_token(client, f"/practice/families/{family.id}")
    invitation_id = int(action.rsplit("/", 2)[-2])
    client.post(
        f"/practice/families/{family.id}/invitations/{invitation_id}/revoke",
        data={"csrf_token": token},
    )
    client.post(
        action,
        data={"csrf_token": token, "channel": "sms", "address": "07700900123", "sealed": sealed},
    )
    assert notify.sent == []
    assert "This link can't be used any more." in family_page(client, family)


def test_full_wording_may_name_the_organisation_and_practitioner_only(
    client, practitioner_family, notify: FakeNotify
):
    practitioner, family = practitioner_family
    org = db.session().get(Organisation, family.organisation_id)
    assert org is not None
    org.message_wording = "full"
    db.session().commit()
    send_link(client, family, "sms", "07700900123")
    sent = notify.sent[0]
    assert sent.body["template_id"] == TEMPLATE_IDS["invitation_sms_full"]
    assert sent.body["personalisation"]["organisation"] == org.name
    assert sent.body["personalisation"]["practitioner"] == practitioner.display_name
    assert set(sent.body["personalisation"]) == {"link", "organisation", "practitioner"}
    assert_private(sent_text(notify))


def test_the_log_backend_logs_the_kind_only(client, practitioner_family, caplog):
    _, family = practitioner_family
    with caplog.at_level(logging.INFO):
        send_link(client, family, "sms", "07700 900999")
    logged = "\n".join(r.getMessage() for r in caplog.records)
    assert "not sent (log-only backend): invitation by sms" in logged
    for secret in ("900999", "0999", "/join/", CARER_NAME, FAMILY_LABEL):
        assert secret not in logged
    assert "not really sent (this server only logs messages)" in family_page(client, family)


# -- reminders, clips and new videos, after the parent joined from a text -------------------------


def _joined_family(app, client, practitioner_family, notify, number="07700900123", name=CARER_NAME):  # type: ignore[no-untyped-def]
    _, family = practitioner_family
    send_link(client, family, "sms", number, name)
    link = notify.sent[-1].body["personalisation"]["link"]
    phone = join_from_text(app, link, name)
    return family, phone


def _plan(client: FlaskClient, family: Family, film_by: str) -> None:
    url = f"/practice/families/{family.id}/plan"
    r = client.post(
        url,
        data={
            "csrf_token": csrf_token(client, url),
            "film_by": film_by,
            "place": "home",
            "activity": f"{CHILD_NAME}'s bath time",
            "note": f"{CHILD_NAME} loves the yellow duck.",
        },
    )
    assert r.status_code in (302, 303), page_text(r)[:800]


def test_filming_day_reminder_goes_by_text_on_the_day_and_says_nothing_private(
    app, client, practitioner_family, notify: FakeNotify, frozen_clock
):
    frozen_clock(datetime(2026, 11, 25, 12, 0))
    family, _ = _joined_family(app, client, practitioner_family, notify)
    _plan(client, family, "2026-11-28")
    [reminder] = messages_of(family, MessageKind.FILMING_REMINDER)
    assert reminder.status is MessageStatus.SCHEDULED
    assert reminder.send_after == datetime(2026, 11, 28, 9, 0)  # 9am in London (GMT)
    assert "Filming-day reminder by text" in family_page(client, family)

    frozen_clock(datetime(2026, 11, 28, 8, 59))
    assert delivery.release_due_messages() == 0
    frozen_clock(datetime(2026, 11, 28, 9, 0))
    assert delivery.release_due_messages() == 1
    [reminder] = messages_of(family, MessageKind.FILMING_REMINDER)
    assert (reminder.status, reminder.error) == (MessageStatus.SENT, "")
    sent = notify.sent[-1]
    assert sent.body["phone_number"] == "07700900123"
    assert sent.body["template_id"] == TEMPLATE_IDS["filming_reminder_sms"]
    assert sent.body["personalisation"] == {"link": "http://127.0.0.1:5000/home/"}
    assert_private(sent_text(notify))
    assert delivery.release_due_messages() == 0  # once only


def test_a_changed_plan_moves_the_reminder(
    app, client, practitioner_family, notify: FakeNotify, frozen_clock
):
    frozen_clock(datetime(2026, 7, 1, 12, 0))
    family, _ = _joined_family(app, client, practitioner_family, notify)
    _plan(client, family, "2026-07-03")
    cycle_id = messages_of(family, MessageKind.FILMING_REMINDER)[0].cycle_id
    url = f"/practice/families/{family.id}/cycles/{cycle_id}"
    client.post(
        url,
        data={"csrf_token": csrf_token(client, url), "film_by": "2026-07-06", "place": "home"},
    )
    reminders = messages_of(family, MessageKind.FILMING_REMINDER)
    assert [r.status for r in reminders] == [MessageStatus.CANCELLED, MessageStatus.SCHEDULED]
    assert reminders[1].send_after == datetime(2026, 7, 6, 8, 0)  # 9am in London (BST)


def test_parents_who_turned_reminders_off_get_none(
    app, client, practitioner_family, notify: FakeNotify, frozen_clock
):
    frozen_clock(datetime(2026, 11, 25, 12, 0))
    family, first = _joined_family(app, client, practitioner_family, notify, "07700900111")
    send_link(client, family, "sms", "07700900222", "Second carer")
    second = join_from_text(app, notify.sent[-1].body["personalisation"]["link"], "Second carer")
    _plan(client, family, "2026-11-27")
    assert len(messages_of(family, MessageKind.FILMING_REMINDER)) == 2

    home = words(page_text(second.get("/home/")))
    assert "Filming-day reminders are on" in home
    r = second.post(
        "/home/reminders", data={"csrf_token": csrf_token(second, "/home/"), "reminders": "off"}
    )
    assert r.status_code in (302, 303)
    home = words(page_text(second.get("/home/")))
    assert "Filming-day reminders are off" in home and "Turn reminders on" in home

    before = len(notify.sent)
    frozen_clock(datetime(2026, 11, 27, 10, 0))
    assert delivery.release_due_messages() == 1
    assert [s.body["phone_number"] for s in notify.sent[before:]] == ["07700900111"]
    assert "Filming-day reminders are on" in words(page_text(first.get("/home/")))


def test_withdrawal_cancels_queued_reminders_and_forgets_numbers(
    app, client, practitioner_family, notify: FakeNotify, frozen_clock
):
    frozen_clock(datetime(2026, 11, 25, 12, 0))
    family, _ = _joined_family(app, client, practitioner_family, notify)
    _plan(client, family, "2026-11-27")
    # And a message that Notify was too busy to take: it waits for its retry.
    notify.errors.append(fake_notify.RATE_LIMIT)
    parent = db.session().scalar(select(User).where(User.family_id == family.id))
    assert parent is not None
    clip = add_clip(add_recording(family, parent), published=False)
    clips_service.publish([clip], family.practitioner)
    statuses = {m.kind: m.status for m in messages_of(family)}
    assert statuses[MessageKind.FILMING_REMINDER] is MessageStatus.SCHEDULED
    assert statuses[MessageKind.CLIPS_SHARED] is MessageStatus.RETRYING
    assert db.session().get(CarerMessaging, parent.id) is not None

    withdrawal.withdraw_consent(family, parent)

    waiting = [m for m in messages_of(family) if m.kind is not MessageKind.INVITATION]
    assert {m.status for m in waiting} == {MessageStatus.CANCELLED}
    assert all(m.address == "" and m.sealed_link == "" for m in messages_of(family))
    assert db.session().get(CarerMessaging, parent.id) is None
    before = len(notify.sent)
    for m in waiting:
        delivery.deliver_message_job.call_local(m.id)  # a retry that was already queued
    frozen_clock(datetime(2026, 11, 27, 10, 0))
    assert delivery.release_due_messages() == 0
    assert len(notify.sent) == before


def test_clips_shared_tells_the_parent_once_without_saying_what(
    app, client, practitioner_family, notify: FakeNotify
):
    family, _ = _joined_family(app, client, practitioner_family, notify)
    parent = db.session().scalar(select(User).where(User.family_id == family.id))
    assert parent is not None
    recording = add_recording(family, parent)
    first = add_clip(
        recording,
        title=f"{CHILD_NAME} laughs",
        note=f"{CHILD_NAME} looks up at you.",
        published=False,
    )
    second = add_clip(recording, title="Turn taking", position=2, published=False)
    staff = family.practitioner
    before = len(notify.sent)
    clips_service.publish([first], staff)
    clips_service.publish([second], staff)  # soon after: no second message
    new = notify.sent[before:]
    assert len(new) == 1
    assert new[0].body["template_id"] == TEMPLATE_IDS["clips_shared_sms"]
    assert new[0].body["personalisation"] == {"link": "http://127.0.0.1:5000/review/"}
    assert_private(sent_text(notify))


def test_a_new_video_emails_the_practitioner(app, client, practitioner_family, notify: FakeNotify):
    practitioner, _ = practitioner_family
    family, _ = _joined_family(app, client, practitioner_family, notify)
    parent = db.session().scalar(select(User).where(User.family_id == family.id))
    recording = add_recording(family, parent, status=RecordingStatus.RECEIVED, transcode=False)
    before = len(notify.sent)
    recording_jobs.process_recording(recording.id)
    [email] = notify.sent[before:]
    assert email.path == "/v2/notifications/email"
    assert email.body["email_address"] == practitioner.email
    assert email.body["template_id"] == TEMPLATE_IDS["video_arrived_email"]
    assert email.body["personalisation"] == {
        "link": f"http://127.0.0.1:5000/practice/families/{family.id}"
    }
    assert_private(sent_text(notify))
    assert "New video (email to you)" in family_page(client, family)
