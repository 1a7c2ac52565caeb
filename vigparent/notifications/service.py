"""Messages to families and practitioners: what is sent, to whom, when, and what became of it.

Every message is a `Message` row (the outbox) sent by a background job with retries. Rules:

- The words live in Notify's templates (or `wording.push_text`); a message carries only the
  fields `wording.ALLOWED_FIELDS` lets through: a link, and with "full" wording the names of
  the organisation and practitioner. Never the child, the family's label, media or free text.
- A family that withdrew (or whose case closed) gets nothing more: `stop_family` cancels what
  is queued, and every job checks again just before it sends.
- Filming reminders go only to carers who have not turned them off, on the planned day.
- Delivery status is polled from Notify by a periodic job (`refresh_delivery_job`), not on
  page view: a page must never wait on Notify, and a failure should be recorded even when
  nobody is looking at the family page.
"""

from __future__ import annotations

import base64
import binascii
import logging
import re
from collections.abc import Iterable
from datetime import UTC, date, datetime, time, timedelta

from flask import Flask, current_app
from huey import crontab
from sqlalchemy import delete, or_, select, update

from vigparent import audit, clock, db, jobs
from vigparent.families import service as family_service
from vigparent.invitations import service as invitation_service
from vigparent.models import (
    CarerMessaging,
    Cycle,
    Family,
    FamilyStatus,
    Invitation,
    LoginSession,
    Message,
    MessageChannel,
    MessageKind,
    MessageStatus,
    PushSubscription,
    Recording,
    Role,
    User,
)
from vigparent.notifications import wording
from vigparent.notifications.backends import (
    Notifier,
    Outgoing,
    SendRefused,
    SendUnavailable,
    notifier_for,
)
from vigparent.notifications.push import PushGone, PushSender, PushUnavailable, push_sender_for

log = logging.getLogger(__name__)

MAX_ATTEMPTS = 5
RETRY_DELAY_S = 120
# A filming reminder goes out at this local time on the planned day.
REMINDER_AT = time(9, 0)
# One "clips shared" or "new video" message per family in this time, however many arrive.
QUIET_PERIOD = timedelta(hours=6)
# How long after sending we keep asking Notify what became of a message.
POLL_FOR = timedelta(days=3)
# An invitation's sealed link must reach Notify within this time, retries included.
LINK_SEAL_SECONDS = 2 * 24 * 3600

_WAITING = (MessageStatus.SCHEDULED, MessageStatus.QUEUED, MessageStatus.RETRYING)
_OPEN_FAMILY = (FamilyStatus.INVITED, FamilyStatus.ACTIVE)


class BadAddress(ValueError):
    """A phone number or email address that cannot be right; the message says how to fix it."""


class NotSendable(Exception):
    """This link can no longer be sent (used, cancelled, ran out, or the family stopped)."""


class TryAgainLater(Exception):
    """Raised inside the job so Huey retries it; carries ids only, never content."""


def init_app(app: Flask) -> None:
    """Build the backends from settings once (tests may swap in others for a fake server)."""
    settings = app.extensions["vig_settings"]
    app.extensions["vig_notifier"] = notifier_for(settings)
    app.extensions["vig_push"] = push_sender_for(settings)


def notifier() -> Notifier:
    found: Notifier = current_app.extensions["vig_notifier"]
    return found


def push_sender() -> PushSender | None:
    found: PushSender | None = current_app.extensions.get("vig_push")
    return found


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
    if family.status not in _OPEN_FAMILY:
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
    deliver_message_job(message.id)
    return message


def carer_joined(invitation: Invitation, carer: User) -> None:
    """The carer's later messages go where their link was sent (not committed)."""
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
    if sent is None:
        return
    prefs = _preferences(carer)
    if sent.channel is MessageChannel.SMS:
        prefs.phone_number = sent.address
    else:
        prefs.email_address = sent.address
    prefs.updated_at = clock.now()


def clips_shared(family: Family) -> int:
    """Tell each carer that new clips are there to watch. Returns how many were queued."""
    if _recently(family.id, MessageKind.CLIPS_SHARED):
        return 0
    queued = [
        _queue(family, MessageKind.CLIPS_SHARED, carer, channel)
        for carer in _reachable_carers(family)
        if (channel := _best_channel(carer)) is not None
    ]
    _commit_and_enqueue(queued)
    return len(queued)


def video_arrived(family: Family) -> bool:
    """Email the family's practitioner that a new video is ready. True if one was queued."""
    practitioner = family.practitioner
    if (
        family.status not in _OPEN_FAMILY
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
        deliver_message_job(message_id)


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


def _preferences(carer: User) -> CarerMessaging:
    s = db.session()
    prefs = s.get(CarerMessaging, carer.id)
    if prefs is None:
        assert carer.family_id is not None
        prefs = CarerMessaging(user_id=carer.id, family_id=carer.family_id, reminders_on=True)
        s.add(prefs)
    return prefs


def reminders_on(carer: User) -> bool:
    prefs = db.session().get(CarerMessaging, carer.id)
    return prefs is None or prefs.reminders_on


def how_reached(carer: User) -> str:
    """For the parent's page: how messages reach them, in plain words."""
    channel = _best_channel(carer)
    if channel is MessageChannel.PUSH:
        return "We send them to this app on your phone."
    if channel is MessageChannel.SMS:
        return "We send them by text message."
    if channel is MessageChannel.EMAIL:
        return "We send them by email."
    return "Turn on notifications below to get them on this phone."


def set_reminders(carer: User, on: bool) -> None:
    """A parent turns filming reminders on or off. Commits."""
    prefs = _preferences(carer)
    prefs.reminders_on = on
    prefs.updated_at = clock.now()
    db.session().flush()
    if not on:
        _cancel(
            (Message.recipient_id == carer.id, Message.kind == MessageKind.FILMING_REMINDER),
            "Reminders were turned off.",
        )
    audit.record("reminders_" + ("on" if on else "off"), actor=carer, family=carer.family)
    db.session().commit()
    if on and carer.family is not None:
        plan_reminders(carer.family)


def _reachable_carers(family: Family) -> list[User]:
    if family.status not in _OPEN_FAMILY:
        return []
    return list(
        db.session().scalars(
            select(User).where(
                User.family_id == family.id,
                User.role == Role.PARENT,
                User.disabled_at.is_(None),
            )
        )
    )


def _live_subscriptions(carer: User) -> list[PushSubscription]:
    return list(
        db.session().scalars(
            select(PushSubscription)
            .join(LoginSession, LoginSession.id == PushSubscription.login_session_id)
            .where(PushSubscription.user_id == carer.id, LoginSession.ended_at.is_(None))
        )
    )


def _best_channel(carer: User) -> MessageChannel | None:
    """Push if the phone subscribed (free, and the app opens), else text, else email."""
    if push_sender() is not None and _live_subscriptions(carer):
        return MessageChannel.PUSH
    prefs = db.session().get(CarerMessaging, carer.id)
    if prefs is not None and prefs.phone_number:
        return MessageChannel.SMS
    if prefs is not None and prefs.email_address:
        return MessageChannel.EMAIL
    return None


# -- filming reminders ---------------------------------------------------------------------------


def reminder_time(film_on: date) -> datetime:
    """09:00 UK time on the filming day, as the naive UTC the database keeps."""
    local = datetime.combine(film_on, REMINDER_AT, tzinfo=family_service.LOCAL_TZ)
    return local.astimezone(UTC).replace(tzinfo=None)


def plan_reminders(family: Family) -> int:
    """Make the family's scheduled reminders match its current filming plan. Commits.

    One reminder per carer who wants them, at 09:00 on the planned day; earlier reminders
    for other plans or dates are cancelled. Returns how many are scheduled now.
    """
    cycle = family_service.current_cycle(family)
    due = reminder_time(cycle.film_by) if cycle is not None and cycle.film_by else None
    keep: set[int] = set()
    if cycle is not None and due is not None and due > clock.now():
        for carer in _reachable_carers(family):
            channel = _best_channel(carer)
            if not reminders_on(carer) or channel is None:
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
    _cancel(
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


def _cancel(conditions: Iterable[object], why: str) -> int:
    result = db.session().execute(
        update(Message)
        .where(Message.status.in_(_WAITING), *conditions)  # type: ignore[arg-type]
        .values(status=MessageStatus.CANCELLED, error=why, sealed_link="", updated_at=clock.now())
        .execution_options(synchronize_session=False)
    )
    return int(getattr(result, "rowcount", 0) or 0)


def stop_family(family_id: int) -> int:
    """Withdrawal or closing: cancel every waiting message, forget numbers, addresses and
    push subscriptions (not committed: it joins the caller's transaction). Returns how many
    messages were cancelled."""
    s = db.session()
    cancelled = _cancel((Message.family_id == family_id,), "The family's work has ended.")
    s.execute(
        update(Message)
        .where(Message.family_id == family_id)
        .values(address="", sealed_link="")
        .execution_options(synchronize_session=False)
    )
    s.execute(delete(CarerMessaging).where(CarerMessaging.family_id == family_id))
    s.execute(delete(PushSubscription).where(PushSubscription.family_id == family_id))
    return cancelled


def forget_ended_devices(user_id: int) -> None:
    """Signed-out devices get no more pushes: delete their subscriptions (not committed)."""
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


# -- push subscriptions ---------------------------------------------------------------------------


def subscribe(carer: User, login_session_id: int, endpoint: str, p256dh: str, auth: str) -> None:
    """Remember this phone's push subscription. Commits."""
    sender = push_sender()
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
    return any(sub.endpoint == endpoint for sub in _live_subscriptions(carer))


def _key_ok(value: str, length: int) -> bool:
    try:
        raw = base64.urlsafe_b64decode(value + "=" * (-len(value) % 4))
    except (binascii.Error, ValueError):
        return False
    return len(raw) == length if length != 16 else len(raw) >= 16


# -- sending (background jobs) -------------------------------------------------------------------


def _why_not(message: Message) -> str | None:
    """Why this message must not go out now, or None."""
    s = db.session()
    family = s.get(Family, message.family_id)
    if family is None or family.status not in _OPEN_FAMILY:
        return "The family's work has ended."
    if message.kind is MessageKind.INVITATION:
        invitation = s.get(Invitation, message.invitation_id)
        if invitation is None or invitation_service.invitation_state(invitation) != "waiting":
            return "The link was used, cancelled or ran out before it was sent."
        return None
    to = s.get(User, message.recipient_id) if message.recipient_id is not None else None
    if to is None or to.disabled_at is not None:
        return "Nobody to send it to."
    if to.is_parent and to.family_id != family.id:
        return "Nobody to send it to."
    if message.kind is MessageKind.FILMING_REMINDER:
        if not reminders_on(to):
            return "Reminders were turned off."
        cycle = s.get(Cycle, message.cycle_id) if message.cycle_id is not None else None
        if (
            cycle is None
            or cycle.film_by is None
            or reminder_time(cycle.film_by) != (message.send_after)
        ):
            return "The filming plan changed."
        filmed = s.scalar(select(Recording.id).where(Recording.cycle_id == cycle.id))
        if filmed is not None:
            return "They have already filmed."
    return None


def _fields(message: Message, family: Family) -> dict[str, str]:
    """The only things a message may carry: a link, and (full wording) two names."""
    base: str = current_app.extensions["vig_settings"].base_url
    if message.kind is MessageKind.INVITATION:
        token = invitation_service.unseal_token(message.sealed_link, max_age=LINK_SEAL_SECONDS)
        if token is None:
            raise SendRefused("The link was too old to send. Make a new link.", "link_expired")
        link = invitation_service.invitation_url(token)
    elif message.kind is MessageKind.VIDEO_ARRIVED:
        link = base + _path("practitioner.family", family_id=family.id)
    elif message.kind is MessageKind.CLIPS_SHARED:
        link = base + _path("review.index")
    else:
        link = base + _path("parent.home")
    return {
        "link": link,
        "organisation": family.organisation.name,
        "practitioner": family.practitioner.display_name or "Your practitioner",
    }


def _path(endpoint: str, **values: object) -> str:
    # Jobs run outside any request, so the path is built from the URL map itself.
    return str(current_app.url_map.bind("localhost").build(endpoint, values))


def _wording_of(message: Message, family: Family) -> str:
    if message.kind is MessageKind.VIDEO_ARRIVED:
        return wording.PRIVATE
    chosen = family.organisation.message_wording
    return chosen if chosen in wording.WORDINGS else wording.PRIVATE


def template_id(kind: MessageKind, channel: MessageChannel, chosen: str) -> str:
    """The Notify template for this message; "full" falls back to the private one."""
    templates = dict(current_app.extensions["vig_settings"].notify_templates)
    found = templates.get(wording.template_name(kind, channel, chosen))
    if found is None and chosen != wording.PRIVATE:
        found = templates.get(wording.template_name(kind, channel, wording.PRIVATE))
    return found or ""


def _address(message: Message) -> str:
    if message.kind is MessageKind.INVITATION:
        return message.address
    to = db.session().get(User, message.recipient_id)
    if to is None:
        return ""
    if to.is_staff:
        return to.email or ""
    prefs = db.session().get(CarerMessaging, to.id)
    if prefs is None:
        return ""
    return prefs.phone_number if message.channel is MessageChannel.SMS else prefs.email_address


def deliver(message_id: int) -> MessageStatus | None:
    """Send one message now if it still should go. Raises TryAgainLater for a retry."""
    s = db.session()
    # Fresh from the database: another job or a withdrawal may have changed it meanwhile.
    message = s.get(Message, message_id, populate_existing=True)
    if message is None or message.status not in (MessageStatus.QUEUED, MessageStatus.RETRYING):
        return None
    why_not = _why_not(message)
    if (
        why_not is None
        and message.recipient_id is not None
        and message.kind is not (MessageKind.VIDEO_ARRIVED)
    ):
        to = s.get(User, message.recipient_id)
        channel = _best_channel(to) if to is not None else None
        if channel is None:
            why_not = "There is no way to reach them yet."
        else:
            message.channel = channel
    if why_not is not None:
        _finish(message, MessageStatus.CANCELLED, why_not)
        return message.status
    family = s.get(Family, message.family_id)
    assert family is not None
    message.attempts += 1
    message.updated_at = clock.now()
    s.commit()
    try:
        status = _hand_over(message, family)
    except SendRefused as refused:
        _finish(message, MessageStatus.FAILED, refused.plain)
        log.warning("message %s refused: %s", message.id, refused.code)
        return message.status
    except SendUnavailable as busy:
        log.warning("message %s not sent yet: %s", message.id, busy.code)
        if message.attempts >= MAX_ATTEMPTS:
            _finish(message, MessageStatus.FAILED, busy.plain.split(". We will")[0] + ".")
            return message.status
        message.status = MessageStatus.RETRYING
        message.error = busy.plain
        message.updated_at = clock.now()
        s.commit()
        raise TryAgainLater(f"message {message.id}: {busy.code}") from None
    message.status = status
    message.error = ""
    message.sealed_link = ""
    message.updated_at = clock.now()
    s.commit()
    return message.status


def _hand_over(message: Message, family: Family) -> MessageStatus:
    chosen = _wording_of(message, family)
    fields = _fields(message, family)
    if message.channel is MessageChannel.PUSH:
        return _push(message, chosen, fields)
    template = template_id(message.kind, message.channel, chosen)
    backend = notifier()
    if not template and backend.name != "log":
        raise SendRefused(
            "This kind of message has no GOV.UK Notify template yet. "
            "Ask your administrator to set one up.",
            "no_template",
        )
    address = _address(message)
    if not address:
        raise SendRefused("There is no number or address to send it to.", "no_address")
    provider_id = backend.send(
        Outgoing(
            channel=message.channel,
            address=address,
            template_id=template,
            personalisation=wording.personalisation(chosen, fields),
            reference=f"vig-message-{message.id}",
            kind=message.kind.value,
        )
    )
    message.provider_id = provider_id
    return MessageStatus.SENT if backend.name != "log" else MessageStatus.LOGGED


def _push(message: Message, chosen: str, fields: dict[str, str]) -> MessageStatus:
    sender = push_sender()
    to = db.session().get(User, message.recipient_id)
    subscriptions = _live_subscriptions(to) if to is not None and sender is not None else []
    if sender is None or not subscriptions:
        raise SendRefused("The phone turned notifications off.", "no_subscription")
    title, body = wording.push_text(message.kind, chosen, fields)
    payload = {"title": title, "body": body, "url": fields["link"]}
    sent = 0
    unavailable = False
    for sub in subscriptions:
        try:
            sender.send(sub.endpoint, sub.p256dh, sub.auth, payload)
            sent += 1
        except PushGone:
            db.session().delete(sub)
        except PushUnavailable:
            unavailable = True
    db.session().flush()
    if sent:
        return MessageStatus.SENT
    if unavailable:
        raise SendUnavailable("The phone's notification service is busy.", "push_unavailable")
    raise SendRefused("The phone turned notifications off.", "push_gone")


def _finish(message: Message, status: MessageStatus, why: str) -> None:
    message.status = status
    message.error = why
    message.sealed_link = ""
    message.updated_at = clock.now()
    db.session().commit()


@jobs.task(retries=MAX_ATTEMPTS - 1, retry_delay=RETRY_DELAY_S)
def deliver_message_job(message_id: int) -> None:
    deliver(message_id)


def release_due_messages() -> int:
    """Queue the scheduled messages whose time has come. Returns how many."""
    s = db.session()
    due = list(
        s.scalars(
            select(Message.id)
            .where(Message.status == MessageStatus.SCHEDULED, Message.send_after <= clock.now())
            .order_by(Message.send_after)
            .limit(500)
        )
    )
    if not due:
        return 0
    # The conditional UPDATE is the claim: two consumers never queue one message twice.
    claimed = []
    for message_id in due:
        result = s.execute(
            update(Message)
            .where(Message.id == message_id, Message.status == MessageStatus.SCHEDULED)
            .values(status=MessageStatus.QUEUED, updated_at=clock.now())
            .execution_options(synchronize_session=False)
        )
        if getattr(result, "rowcount", 0):
            claimed.append(message_id)
    s.commit()
    for message_id in claimed:
        deliver_message_job(message_id)
    return len(claimed)


@jobs.task(periodic=crontab(minute="*"))
def release_due_messages_job() -> None:
    release_due_messages()


def refresh_delivery() -> int:
    """Ask Notify what became of recent texts and emails. Returns how many changed."""
    s = db.session()
    backend = notifier()
    waiting = list(
        s.scalars(
            select(Message)
            .where(
                Message.status == MessageStatus.SENT,
                Message.channel.in_((MessageChannel.SMS, MessageChannel.EMAIL)),
                Message.provider_id != "",
                Message.updated_at >= clock.now() - POLL_FOR,
            )
            .order_by(Message.id)
            .limit(200)
        )
    )
    changed = 0
    for message in waiting:
        try:
            status, why = backend.delivery(message.provider_id)
        except (SendRefused, SendUnavailable) as e:
            log.warning("delivery of message %s unknown: %s", message.id, e.code)
            continue
        if status is not message.status:
            message.status = status
            message.error = why
            message.updated_at = clock.now()
            changed += 1
    s.commit()
    return changed


@jobs.task(periodic=crontab(minute="*"))
def refresh_delivery_job() -> None:
    refresh_delivery()


# -- what the practitioner sees ------------------------------------------------------------------

STATUS_WORDS = {
    MessageStatus.SCHEDULED: "planned",
    MessageStatus.QUEUED: "waiting to send",
    MessageStatus.RETRYING: "not sent yet",
    MessageStatus.SENT: "sent, waiting for delivery",
    MessageStatus.DELIVERED: "delivered",
    MessageStatus.LOGGED: "not really sent (this server only logs messages)",
    MessageStatus.FAILED: "not sent",
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
