"""Stopping messages: what is waiting is cancelled, and a family's contact details forgotten.

Apart from the rest of `notifications` so that closing a case (`families.service`) and
withdrawal can call it without importing the sending side.
"""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import delete, update

from vigparent import clock, db
from vigparent.models import CarerMessaging, Message, MessageStatus, PushSubscription

WAITING = (MessageStatus.SCHEDULED, MessageStatus.QUEUED, MessageStatus.RETRYING)


def cancel_waiting(conditions: Iterable[object], why: str) -> int:
    """Cancel the waiting messages that match ``conditions``; returns how many (not committed)."""
    result = db.session().execute(
        update(Message)
        .where(Message.status.in_(WAITING), *conditions)  # type: ignore[arg-type]
        .values(status=MessageStatus.CANCELLED, error=why, sealed_link="", updated_at=clock.now())
        .execution_options(synchronize_session=False)
    )
    return int(getattr(result, "rowcount", 0) or 0)


def stop_family(family_id: int) -> int:
    """Withdrawal or closing: cancel every waiting message, forget numbers, addresses and
    push subscriptions (not committed: it joins the caller's transaction). Returns how many
    messages were cancelled."""
    s = db.session()
    cancelled = cancel_waiting((Message.family_id == family_id,), "The family's work has ended.")
    s.execute(
        update(Message)
        .where(Message.family_id == family_id)
        .values(address="", sealed_link="")
        .execution_options(synchronize_session=False)
    )
    s.execute(delete(CarerMessaging).where(CarerMessaging.family_id == family_id))
    s.execute(delete(PushSubscription).where(PushSubscription.family_id == family_id))
    return cancelled
