"""Sending messages: the background jobs, with retries, that hand each one to Notify or a
push service just after checking that it may still go; and polling Notify for delivery.

Delivery status is polled by a periodic job, not on page view: a page must never wait on
Notify, and a failure is recorded even when nobody is looking at the family page.
"""

from __future__ import annotations

import logging
from datetime import timedelta

from flask import current_app
from flask_babel import force_locale
from huey import crontab
from sqlalchemy import select, update

from vigparent import clock, db, jobs
from vigparent.invitations import service as invitation_service
from vigparent.models import (
    CarerMessaging,
    Cycle,
    Family,
    Invitation,
    Message,
    MessageChannel,
    MessageKind,
    MessageStatus,
    Recording,
    User,
)
from vigparent.notifications import reach, wording
from vigparent.notifications.backends import Outgoing, SendRefused, SendUnavailable
from vigparent.notifications.push import PushGone, PushUnavailable

log = logging.getLogger(__name__)

# Tries per message (Notify busy or down), this far apart.
MAX_ATTEMPTS = 5
RETRY_DELAY_S = 120
# How long after sending we keep asking Notify what became of a message.
POLL_FOR = timedelta(days=3)
# An invitation's sealed link must reach Notify within this time, retries included.
LINK_SEAL_SECONDS = 2 * 24 * 3600


class TryAgainLater(Exception):
    """Raised inside the job so Huey retries it; carries ids only, never content."""


def _why_not(message: Message) -> str | None:
    """Why this message must not go out now, or None."""
    s = db.session()
    family = s.get(Family, message.family_id)
    if family is None or family.status not in reach.OPEN_FAMILY:
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
        if not reach.reminders_on(to):
            return "Reminders were turned off."
        cycle = s.get(Cycle, message.cycle_id) if message.cycle_id is not None else None
        if (
            cycle is None
            or cycle.film_by is None
            or reach.reminder_time(cycle.film_by) != message.send_after
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


def template_id(
    kind: MessageKind, channel: MessageChannel, chosen: str, language: str = "en"
) -> str:
    """The Notify template for this message in the family's language (`<name>_cy`), else in
    English; "full" falls back to the private one."""
    templates = dict(current_app.extensions["vig_settings"].notify_templates)
    names = [wording.template_name(kind, channel, chosen)]
    if chosen != wording.PRIVATE:
        names.append(wording.template_name(kind, channel, wording.PRIVATE))
    if language != "en":
        names = [f"{name}_{language}" for name in names] + names
    return next((templates[name] for name in names if name in templates), "")


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
        and message.kind is not MessageKind.VIDEO_ARRIVED
    ):
        to = s.get(User, message.recipient_id)
        channel = reach.best_channel(to) if to is not None else None
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
            _finish(message, MessageStatus.FAILED, busy.gave_up)
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
        with force_locale(family.language):
            return _push(message, chosen, fields)
    template = template_id(message.kind, message.channel, chosen, family.language)
    backend = reach.notifier()
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
    sender = reach.push_sender()
    to = db.session().get(User, message.recipient_id)
    subscriptions = reach.live_subscriptions(to) if to is not None and sender is not None else []
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
        raise SendUnavailable(
            "The phone's notification service did not answer. We will try again soon.",
            "push_unavailable",
            "The phone's notification service did not answer, though we tried five times.",
        )
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
    backend = reach.notifier()
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
