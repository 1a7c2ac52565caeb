"""Messages to families and practitioners: what is sent, to whom, when, and what became of it.

Every message is a `Message` row (the outbox) sent by a background job with retries. Rules:

- The words live in Notify's templates (or `wording.push_text`); a message carries only the
  fields `wording.ALLOWED_FIELDS` lets through: a link, and with "full" wording the names of
  the organisation and practitioner. Never the child, the family's label, media or free text.
- A family that withdrew (or whose case closed) gets nothing more: `stopping.stop_family` cancels
  what is queued, and every job checks again just before it sends.
- Filming reminders go only to carers who have not turned them off, on the planned day.

Sending itself (the jobs, retries and delivery status) is `delivery`; who can be reached and
how is `reach`.
"""

from __future__ import annotations

import base64
import binascii
import re
from datetime import timedelta

from sqlalchemy import delete, or_, select

from vigparent import audit, clock, db
from vigparent.families import service as family_service
from vigparent.invitations import service as invitation_service
from vigparent.models import (
    Family,
    Invitation,
    LoginSession,
    Message,
    MessageChannel,
    MessageKind,
    MessageStatus,
    PushSubscription,
    User,
)
from vigparent.notifications import delivery, reach
from vigparent.notifications.stopping import cancel_waiting

# One "clips shared" or "new video" message per family in this time, however many arrive.
QUIET_PERIOD = timedelta(hours=6)


class BadAddress(ValueError):
    """A phone number or email address that cannot be right; the message says how to fix it."""


class NotSendable(Exception):
    """This link can no longer be sent (used, cancelled, ran out, or the family stopped)."""


# -- addresses -----------------------------------------------------------------------------------

_PHONE_CHARS = re.compile(r"[\s\-().]")
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


def clean_address(channel: MessageChannel, raw: str) -> str:
    """The address as Notify wants it, or BadAddress in plain words."""
    value = " ".join((raw or "").split())
    if channel is MessageChannel.SMS:
        digits = _PHONE_CHARS.sub("", value)
        if not re.fullmatch(r"\+?\d{10,15}", digits):
            raise BadAddress("Enter a mobile phone number, like 07700 900123.")
        return digits
    if not _EMAIL.match(value) or len(value) > 320:
        raise BadAddress("Enter an email address, like name@example.com.")
    return value


def address_hint(channel: MessageChannel, address: str) -> str:
    """What the practitioner sees of an address: enough to recognise it, no more."""
    if channel is MessageChannel.SMS:
        return f"number ending {address[-4:]}"
    local, _, domain = address.partition("@")
    return f"{local[:1]}…@{domain}"


# -- creating messages ---------------------------------------------------------------------------


def send_invitation(
    family: Family, invitation: Invitation, token: str, channel: MessageChannel, address: str
) -> Message:
    """Queue the invitation link to one phone number or email address. Commits and enqueues."""
    if channel is MessageChannel.PUSH:
        raise BadAddress("Choose a text message or an email.")
    cleaned = clean_address(channel, address)
    if family.status not in reach.OPEN_FAMILY:
        raise NotSendable("This family's work has ended, so nothing can be sent.")
    if invitation.family_id != family.id or invitation_service.invitation_state(invitation) != (
        "waiting"
    ):
        raise NotSendable("This link can't be used any more. Make a new link and send that.")
    message = Message(
        family_id=family.id,
        kind=MessageKind.INVITATION,
        channel=channel,
        invitation_id=invitation.id,
        address=cleaned,
        address_hint=address_hint(channel, cleaned),
        sealed_link=invitation_service.seal_token(token),
        status=MessageStatus.QUEUED,
    )
    db.session().add(message)
    db.session().flush()
    audit.record("message_queued", family=family, detail=f"message {message.id} invitation")
    db.session().commit()
    delivery.deliver_message_job(message.id)
    return message


def carer_joined(invitation: Invitation, carer: User) -> None:
    """A carer joined: their later messages go where their link was sent, and the family's
    reminders now include them. Commits."""
    sent = (
        db.session()
        .scalars(
            select(Message)
            .where(
                Message.invitation_id == invitation.id,
                Message.channel.in_((MessageChannel.SMS, MessageChannel.EMAIL)),
                Message.address != "",
            )
            .order_by(Message.id.desc())
        )
        .first()
    )
    if sent is not None:
        prefs = reach.preferences(carer)
        if sent.channel is MessageChannel.SMS:
            prefs.phone_number = sent.address
        else:
            prefs.email_address = sent.address
        prefs.updated_at = clock.now()
        db.session().commit()
    plan_reminders(invitation.family)  # a carer joining after the plan was made


def clips_shared(family: Family) -> int:
    """Tell each carer that new clips are there to watch. Returns how many were queued."""
    if _recently(family.id, MessageKind.CLIPS_SHARED):
        return 0
    queued = [
        _queue(family, MessageKind.CLIPS_SHARED, carer, channel)
        for carer in reach.reachable_carers(family)
        if (channel := reach.best_channel(carer)) is not None
    ]
    _commit_and_enqueue(queued)
    return len(queued)


def video_arrived(family: Family) -> bool:
    """Email the family's practitioner that a new video is ready. True if one was queued."""
    practitioner = family.practitioner
    if (
        family.status not in reach.OPEN_FAMILY
        or not practitioner.email
        or practitioner.disabled_at is not None
        or _recently(family.id, MessageKind.VIDEO_ARRIVED)
    ):
        return False
    message = _queue(family, MessageKind.VIDEO_ARRIVED, practitioner, MessageChannel.EMAIL)
    _commit_and_enqueue([message])
    return True


def _queue(family: Family, kind: MessageKind, to: User, channel: MessageChannel) -> Message:
    message = Message(
        family_id=family.id,
        kind=kind,
        channel=channel,
        recipient_id=to.id,
        status=MessageStatus.QUEUED,
    )
    db.session().add(message)
    return message


def _commit_and_enqueue(messages: list[Message]) -> None:
    s = db.session()
    s.flush()
    ids = [m.id for m in messages]
    s.commit()
    for message_id in ids:
        delivery.deliver_message_job(message_id)


def _recently(family_id: int, kind: MessageKind) -> bool:
    since = clock.now() - QUIET_PERIOD
    return (
        db.session().scalar(
            select(Message.id).where(
                Message.family_id == family_id,
                Message.kind == kind,
                Message.created_at >= since,
                Message.status != MessageStatus.CANCELLED,
            )
        )
        is not None
    )


# -- carers: how to reach them, and whether they want reminders -----------------------------------


def set_reminders(carer: User, on: bool) -> None:
    """A parent turns filming reminders on or off. Commits."""
    prefs = reach.preferences(carer)
    prefs.reminders_on = on
    prefs.updated_at = clock.now()
    db.session().flush()
    if not on:
        cancel_waiting(
            (Message.recipient_id == carer.id, Message.kind == MessageKind.FILMING_REMINDER),
            "Reminders were turned off.",
        )
    audit.record("reminders_" + ("on" if on else "off"), actor=carer, family=carer.family)
    db.session().commit()
    if on and carer.family is not None:
        plan_reminders(carer.family)


# -- filming reminders ---------------------------------------------------------------------------


def plan_reminders(family: Family) -> int:
    """Make the family's scheduled reminders match its current filming plan. Commits.

    One reminder per carer who wants them, at 09:00 on the planned day; earlier reminders
    for other plans or dates are cancelled. Returns how many are scheduled now.
    """
    cycle = family_service.current_cycle(family)
    due = reach.reminder_time(cycle.film_by) if cycle is not None and cycle.film_by else None
    keep: set[int] = set()
    if cycle is not None and due is not None and due > clock.now():
        for carer in reach.reachable_carers(family):
            channel = reach.best_channel(carer)
            if not reach.reminders_on(carer) or channel is None:
                continue
            existing = db.session().scalar(
                select(Message).where(
                    Message.kind == MessageKind.FILMING_REMINDER,
                    Message.recipient_id == carer.id,
                    Message.cycle_id == cycle.id,
                    Message.send_after == due,
                    Message.status == MessageStatus.SCHEDULED,
                )
            )
            if existing is None:
                existing = Message(
                    family_id=family.id,
                    kind=MessageKind.FILMING_REMINDER,
                    # Decided again when it is sent: the phone may subscribe to push meanwhile.
                    channel=channel,
                    recipient_id=carer.id,
                    cycle_id=cycle.id,
                    send_after=due,
                    status=MessageStatus.SCHEDULED,
                )
                db.session().add(existing)
                db.session().flush()
            keep.add(existing.id)
    cancel_waiting(
        (
            Message.family_id == family.id,
            Message.kind == MessageKind.FILMING_REMINDER,
            Message.id.not_in(keep),
        ),
        "The filming plan changed.",
    )
    db.session().commit()
    return len(keep)


def scheduled_reminders(family: Family) -> list[Message]:
    return list(
        db.session().scalars(
            select(Message).where(
                Message.family_id == family.id,
                Message.kind == MessageKind.FILMING_REMINDER,
                Message.status == MessageStatus.SCHEDULED,
            )
        )
    )


# -- stopping ------------------------------------------------------------------------------------


def forget_ended_devices(user_id: int) -> None:
    """Signed-out devices get no more pushes: delete their subscriptions. Commits."""
    ended = select(LoginSession.id).where(
        LoginSession.user_id == user_id, LoginSession.ended_at.is_not(None)
    )
    db.session().execute(
        delete(PushSubscription).where(
            PushSubscription.user_id == user_id,
            or_(
                PushSubscription.login_session_id.in_(ended),
                PushSubscription.login_session_id.is_(None),
            ),
        )
    )
    db.session().commit()


# -- push subscriptions ---------------------------------------------------------------------------


def subscribe(carer: User, login_session_id: int, endpoint: str, p256dh: str, auth: str) -> None:
    """Remember this phone's push subscription. Commits."""
    sender = reach.push_sender()
    if sender is None or carer.family_id is None:
        raise BadAddress("Notifications are not available here.")
    if not sender.accepts_endpoint(endpoint) or not _key_ok(p256dh, 65) or not _key_ok(auth, 16):
        raise BadAddress("This phone's notification details were not right.")
    s = db.session()
    existing = s.scalar(select(PushSubscription).where(PushSubscription.endpoint == endpoint))
    if existing is not None and existing.user_id != carer.id:
        s.delete(existing)
        s.flush()
        existing = None
    if existing is None:
        existing = PushSubscription(user_id=carer.id, family_id=carer.family_id, endpoint=endpoint)
        s.add(existing)
    existing.p256dh, existing.auth = p256dh, auth
    existing.login_session_id = login_session_id
    audit.record("push_subscribed", actor=carer, family=carer.family)
    s.commit()
    if carer.family is not None:
        plan_reminders(carer.family)  # a carer with no number can now get reminders


def unsubscribe(carer: User, endpoint: str) -> bool:
    """Forget one of this carer's subscriptions. Commits. False if it was not known."""
    result = db.session().execute(
        delete(PushSubscription).where(
            PushSubscription.user_id == carer.id, PushSubscription.endpoint == endpoint
        )
    )
    db.session().commit()
    return bool(getattr(result, "rowcount", 0))


def is_subscribed(carer: User, endpoint: str) -> bool:
    return any(sub.endpoint == endpoint for sub in reach.live_subscriptions(carer))


def _key_ok(value: str, length: int) -> bool:
    try:
        raw = base64.urlsafe_b64decode(value + "=" * (-len(value) % 4))
    except (binascii.Error, ValueError):
        return False
    return len(raw) == length if length != 16 else len(raw) >= 16


# -- sending (background jobs) -------------------------------------------------------------------


# -- what the practitioner sees ------------------------------------------------------------------

STATUS_WORDS = {
    MessageStatus.SCHEDULED: "planned",
    MessageStatus.QUEUED: "waiting to send",
    MessageStatus.RETRYING: "not sent yet",
    MessageStatus.SENT: "sent, waiting for delivery",
    MessageStatus.DELIVERED: "delivered",
    MessageStatus.LOGGED: "not really sent (this server only logs messages)",
    MessageStatus.FAILED: "not delivered",
    MessageStatus.CANCELLED: "cancelled",
}
KIND_WORDS = {
    MessageKind.INVITATION: "Invitation link",
    MessageKind.FILMING_REMINDER: "Filming-day reminder",
    MessageKind.CLIPS_SHARED: "Clips shared",
    MessageKind.VIDEO_ARRIVED: "New video (email to you)",
}
CHANNEL_WORDS = {
    MessageChannel.SMS: "by text",
    MessageChannel.EMAIL: "by email",
    MessageChannel.PUSH: "to the app",
}


def family_messages(family: Family, limit: int = 10) -> list[Message]:
    return list(
        db.session().scalars(
            select(Message)
            .where(Message.family_id == family.id)
            .order_by(Message.created_at.desc(), Message.id.desc())
            .limit(limit)
        )
    )
