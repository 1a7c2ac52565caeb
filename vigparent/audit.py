"""Audit events: who did what, when. Never content, media or secrets."""

from __future__ import annotations

from vigparent import db
from vigparent.models import AuditEvent, Family, User


def record(
    action: str, *, actor: User | None = None, family: Family | None = None, detail: str = ""
) -> AuditEvent:
    event = AuditEvent(
        action=action,
        actor_id=actor.id if actor is not None else None,
        organisation_id=(
            family.organisation_id
            if family is not None
            else (actor.organisation_id if actor is not None else None)
        ),
        family_id=family.id if family is not None else None,
        detail=detail[:300],
    )
    db.session().add(event)
    return event
