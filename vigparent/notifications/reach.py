"""Who can be reached, how, and whether they want filming reminders; the two backends.

A carer is reached by push if their phone subscribed (free, and it opens the app), else by
text, else by email: the number or address their invitation was sent to.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time

from flask import Flask, current_app
from sqlalchemy import select

from vigparent import db
from vigparent.families import service as family_service
from vigparent.i18n import N_
from vigparent.models import (
    CarerMessaging,
    Family,
    FamilyStatus,
    LoginSession,
    MessageChannel,
    PushSubscription,
    Role,
    User,
)
from vigparent.notifications.backends import Notifier, notifier_for
from vigparent.notifications.push import PushSender, push_sender_for

OPEN_FAMILY = (FamilyStatus.INVITED, FamilyStatus.ACTIVE)
# A filming reminder goes out at this local time on the planned day.
REMINDER_AT = time(9, 0)


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


def preferences(carer: User) -> CarerMessaging:
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
    channel = best_channel(carer)
    if channel is MessageChannel.PUSH:
        return N_("We send them to this app on your phone.")
    if channel is MessageChannel.SMS:
        return N_("We send them by text message.")
    if channel is MessageChannel.EMAIL:
        return N_("We send them by email.")
    return N_("Turn on notifications below to get them on this phone.")


def reachable_carers(family: Family) -> list[User]:
    if family.status not in OPEN_FAMILY:
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


def live_subscriptions(carer: User) -> list[PushSubscription]:
    return list(
        db.session().scalars(
            select(PushSubscription)
            .join(LoginSession, LoginSession.id == PushSubscription.login_session_id)
            .where(PushSubscription.user_id == carer.id, LoginSession.ended_at.is_(None))
        )
    )


def best_channel(carer: User) -> MessageChannel | None:
    """Push if the phone subscribed (free, and the app opens), else text, else email."""
    if push_sender() is not None and live_subscriptions(carer):
        return MessageChannel.PUSH
    prefs = db.session().get(CarerMessaging, carer.id)
    if prefs is not None and prefs.phone_number:
        return MessageChannel.SMS
    if prefs is not None and prefs.email_address:
        return MessageChannel.EMAIL
    return None


def reminder_time(film_on: date) -> datetime:
    """09:00 UK time on the filming day, as the naive UTC the database keeps."""
    local = datetime.combine(film_on, REMINDER_AT, tzinfo=family_service.LOCAL_TZ)
    return local.astimezone(UTC).replace(tzinfo=None)
