"""Audit events: who did what, when. Never content, media or secrets."""

from __future__ import annotations

from vigparent import db
from vigparent.models import AuditEvent, Family, User


def record(
    action: str,
    *,
    actor: User | None = None,
    family: Family | None = None,
    family_id: int | None = None,
    organisation_id: int | None = None,
    detail: str = "",
) -> AuditEvent:
    """Add an audit event to the session.

    Pass `family` when its row exists; deletion and retention name a family by `family_id`
    (and `organisation_id`, when known) because the row may already be gone.
    """
    if family is not None:
        family_id, organisation_id = family.id, family.organisation_id
    elif organisation_id is None and actor is not None:
        organisation_id = actor.organisation_id
    event = AuditEvent(
        action=action,
        actor_id=actor.id if actor is not None else None,
        organisation_id=organisation_id,
        family_id=family_id,
        detail=detail[:300],
    )
    db.session().add(event)
    return event
