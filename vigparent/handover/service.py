"""Caseload handover: a family moves to another practitioner of the same organisation.

Who may do it: the organisation's admin (the service or team lead), not the practitioner.
Allocating a caseload is a management decision (the receiving practitioner's capacity, the
family's wishes), and handovers happen mostly when the practitioner is away or has left.

Nothing but `Family.practitioner_id` changes: access.py reads it for every family-owned row,
so from this commit the new practitioner sees everything and the old one gets 404s. Open
supervision shares made by the old practitioner end (their supervision, not the new one's).
"""

from __future__ import annotations

from sqlalchemy import select

from vigparent import audit, db
from vigparent.models import Family, Role, User
from vigparent.supervision import service as supervision


class HandoverProblem(Exception):
    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


def colleagues_for(family: Family) -> list[User]:
    """Practitioners of the family's organisation who could take the family on."""
    return list(
        db.session().scalars(
            select(User)
            .where(
                User.organisation_id == family.organisation_id,
                User.role == Role.PRACTITIONER,
                User.disabled_at.is_(None),
                User.id != family.practitioner_id,
            )
            .order_by(User.display_name, User.id)
        )
    )


def hand_over(family: Family, to_practitioner_id: int | None, by: User) -> User:
    """Move the family to another practitioner; returns them. Audited. Commits."""
    if by.role is not Role.ADMIN or by.organisation_id != family.organisation_id:
        raise HandoverProblem("Only an admin of the family's organisation can hand it over.")
    new = next((u for u in colleagues_for(family) if u.id == to_practitioner_id), None)
    if new is None:
        raise HandoverProblem("Choose the practitioner who will take the family on.")
    old_id = family.practitioner_id
    family.practitioner_id = new.id
    ended = supervision.end_family_shares(family, supervision.END_HANDOVER, old_id)
    audit.record(
        "family_handed_over",
        actor=by,
        family=family,
        detail=f"from={old_id} to={new.id} shares_ended={ended}",
    )
    db.session().commit()
    return new
