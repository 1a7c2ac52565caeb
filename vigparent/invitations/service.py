"""Invitation links: signed, single use, expiring, revocable; only a hash is stored.

The token rules are vigparent/links.py's (shared with staff invitations and password resets).
"""

from __future__ import annotations

import base64
import enum
from collections.abc import Iterable
from datetime import datetime, timedelta

from cryptography.fernet import Fernet, InvalidToken
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from flask import current_app
from sqlalchemy import select, update

from vigparent import audit, clock, db, i18n, links
from vigparent.auth import service as auth_service
from vigparent.consent import service as consent_service
from vigparent.languages import service as languages
from vigparent.models import ConsentKind, Family, FamilyStatus, Invitation, Role, User

_SALT = "vigparent.invitation"
# A new link rides in the (signed but readable) session cookie only sealed, and only long
# enough to reach the page that shows it once.
_SEAL_INFO = b"vigparent fresh invitation link"
SEALED_LINK_SECONDS = 300


class InvitationProblem(enum.StrEnum):
    TAMPERED = "tampered"
    UNKNOWN = "unknown"
    USED = "used"
    EXPIRED = "expired"
    REVOKED = "revoked"
    WITHDRAWN = "withdrawn"
    CLOSED = "closed"


class InvitationRefused(Exception):
    """The link cannot be used; `problem` says why, `invitation` is set when we know it."""

    def __init__(self, problem: InvitationProblem, invitation: Invitation | None = None) -> None:
        super().__init__(problem.value)
        self.problem = problem
        self.invitation = invitation


class FamilyNotOpen(Exception):
    """Nobody can be invited to a family whose case is closed or whose consent was withdrawn."""


class InvitationAlreadyUsed(Exception):
    """A used link cannot be cancelled: the carer has joined (sign their phone out instead)."""


# Families whose links may still be redeemed.
_OPEN_STATUSES = (FamilyStatus.INVITED, FamilyStatus.ACTIVE)


def _sealer() -> Fernet:
    key = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=_SEAL_INFO).derive(
        current_app.config["SECRET_KEY"].encode()
    )
    return Fernet(base64.urlsafe_b64encode(key))


def seal_token(token: str) -> str:
    """The token encrypted for the session cookie, unreadable to anyone who reads the cookie."""
    return _sealer().encrypt(token.encode()).decode()


def unseal_token(sealed: str, max_age: int = SEALED_LINK_SECONDS) -> str | None:
    """The token back from `seal_token`, or None if tampered with or sealed too long ago."""
    try:
        return _sealer().decrypt(sealed.encode(), ttl=max_age).decode()
    except (InvalidToken, ValueError):
        return None


def invitation_url(token: str) -> str:
    base: str = current_app.extensions["vig_settings"].base_url
    return f"{base}/join/{token}"


def issue_invitation(
    family: Family, by: User, carer_name: str = "", carer: User | None = None
) -> tuple[Invitation, str]:
    """Create an invitation for `family`; returns it and the token (shown once, never stored).
    Not committed: a building block (``invite_carer`` is what a practitioner's page calls).

    With `carer`, the link signs that existing carer in again (a new phone) when redeemed.
    """
    token, token_hash = links.new_link_secret(_SALT)
    lifetime = timedelta(days=family.organisation.invitation_lifetime_days)
    invitation = Invitation(
        family_id=family.id,
        created_by_id=by.id,
        carer_name=" ".join(carer_name.split())[:120],
        token_hash=token_hash,
        expires_at=clock.now() + lifetime,
        carer_id=carer.id if carer is not None else None,
    )
    db.session().add(invitation)
    return invitation, token


def problem_with(invitation: Invitation) -> InvitationProblem | None:
    """Why this invitation cannot be used now, or None if it can."""
    family = invitation.family
    if family.status is FamilyStatus.WITHDRAWN:
        return InvitationProblem.WITHDRAWN
    if family.status is FamilyStatus.CLOSED:
        return InvitationProblem.CLOSED
    if invitation.revoked_at is not None:
        return InvitationProblem.REVOKED
    if invitation.used_at is not None:
        return InvitationProblem.USED
    if clock.now() >= invitation.expires_at:
        return InvitationProblem.EXPIRED
    return None


def check_invitation(token: str) -> Invitation:
    """The usable invitation behind `token`, or InvitationRefused saying why not.

    Only reads: opening a link (or a messaging app previewing it) never uses it up.
    """
    token_hash = links.hash_of_token(token, _SALT)
    if token_hash is None:
        raise InvitationRefused(InvitationProblem.TAMPERED)
    invitation = db.session().scalar(select(Invitation).where(Invitation.token_hash == token_hash))
    if invitation is None:
        raise InvitationRefused(InvitationProblem.UNKNOWN)
    problem = problem_with(invitation)
    if problem is not None:
        raise InvitationRefused(problem, invitation)
    return invitation


def invitation_state(invitation: Invitation) -> str:
    """How a practitioner sees one link: waiting, used, expired or cancelled."""
    if invitation.used_at is not None:
        return "used"
    if invitation.revoked_at is not None:
        return "cancelled"
    if clock.now() >= invitation.expires_at:
        return "expired"
    return "waiting"


def family_invitations(family: Family) -> list[Invitation]:
    """Every link made for this family, newest first."""
    return list(
        db.session().scalars(
            select(Invitation)
            .where(Invitation.family_id == family.id)
            .order_by(Invitation.created_at.desc(), Invitation.id.desc())
        )
    )


def open_invitations(family: Family) -> list[Invitation]:
    """Links that could still be opened and used."""
    return [i for i in family_invitations(family) if invitation_state(i) == "waiting"]


def invite_carer(
    family: Family,
    by: User,
    carer_name: str = "",
    carer: User | None = None,
    language: str | None = None,
) -> tuple[Invitation, str]:
    """A new link for this family (or for one of its carers on a new phone).

    `language`, when given, becomes the family's language: the link opens in it.
    """
    if family.status not in _OPEN_STATUSES:
        raise FamilyNotOpen("This family's work has ended, so nobody can be invited.")
    if carer is not None and (carer.family_id != family.id or not carer.is_parent):
        raise ValueError("That carer does not belong to this family.")
    if language is not None:
        languages.set_family_language(family, language, by)
    invitation, token = issue_invitation(family, by, carer_name or _name_of(carer), carer)
    db.session().flush()
    audit.record("invitation_issued", actor=by, family=family, detail=f"invitation {invitation.id}")
    db.session().commit()
    return invitation, token


def _name_of(carer: User | None) -> str:
    return carer.display_name if carer is not None else ""


def revoke_invitation(invitation: Invitation, by: User) -> None:
    """Cancel a link so it can no longer be used. Cancelling twice changes nothing."""
    _revoke(invitation, by)
    db.session().commit()


def _revoke(invitation: Invitation, by: User) -> None:
    if invitation.used_at is not None:
        raise InvitationAlreadyUsed("This link has already been used, so it can't be cancelled.")
    if invitation.revoked_at is None:
        invitation.revoked_at = clock.now()
        audit.record(
            "invitation_revoked",
            actor=by,
            family=invitation.family,
            detail=f"invitation {invitation.id}",
        )


def revoke_open_invitations(family: Family, at: datetime) -> None:
    """Cancel every link of the family not yet used (not committed): nobody may join a case
    that is closed or whose media is gone. The caller audits why."""
    db.session().execute(
        update(Invitation)
        .where(
            Invitation.family_id == family.id,
            Invitation.used_at.is_(None),
            Invitation.revoked_at.is_(None),
        )
        .values(revoked_at=at)
    )


def resend_invitation(invitation: Invitation, by: User) -> tuple[Invitation, str]:
    """A fresh link for the same carer; the old one is cancelled if it was still open.

    Only a hash of each secret is stored, so "sending again" always means a new link.
    """
    if invitation.used_at is None:
        _revoke(invitation, by)  # committed together with the new link
    carer_id = invitation.carer_id or invitation.used_by_id
    carer = db.session().get(User, carer_id) if carer_id is not None else None
    return invite_carer(invitation.family, by, invitation.carer_name, carer)


def redeem_invitation(
    invitation: Invitation,
    consents: Iterable[ConsentKind],
    display_name: str = "",
    device_label: str = "",
    replaces_session: str | None = None,
    language: str = "en",
) -> User:
    """Use the link: record consent, sign the carer in on this device, make the family active.

    `language` is the one the carer read the consent wording in: the record says so, and it
    becomes the family's language (they chose it if it differs from the invitation's).

    Single use holds even when two tabs submit at once: the link is claimed with one
    conditional UPDATE, which the database lets only one transaction win (on InvitationRefused
    nothing has changed). `replaces_session` is the session secret of another parent account
    signed in on this phone: that device session ends. `user.session_token` is the new
    device's session secret, for Flask-Login.
    """
    s = db.session()
    family = invitation.family
    kinds = consent_service.check_choices(family.organisation, consents)
    now = clock.now()
    claimed = s.execute(
        update(Invitation)
        .where(
            Invitation.id == invitation.id,
            Invitation.used_at.is_(None),
            Invitation.revoked_at.is_(None),
            Invitation.expires_at > now,
            Invitation.family_id.in_(select(Family.id).where(Family.status.in_(_OPEN_STATUSES))),
        )
        .values(used_at=now)
        .execution_options(synchronize_session=False)
    )
    if getattr(claimed, "rowcount", 0) != 1:
        s.rollback()
        s.refresh(invitation)
        s.refresh(family)
        raise InvitationRefused(problem_with(invitation) or InvitationProblem.USED, invitation)

    carer = _carer_for(invitation)
    name = " ".join(display_name.split())[:120]
    if carer is None:
        carer = User(
            organisation_id=family.organisation_id,
            role=Role.PARENT,
            family_id=family.id,
            display_name=name or invitation.carer_name,
        )
        s.add(carer)
        s.flush()
    elif name:
        carer.display_name = name
    s.execute(
        update(Invitation)
        .where(Invitation.id == invitation.id)
        .values(used_by_id=carer.id)
        .execution_options(synchronize_session=False)
    )
    s.refresh(invitation)
    consent_service.record_consents(family, carer, kinds, language)
    languages.set_family_language(family, i18n.language_or_english(language), carer)
    # Conditional, so a withdrawal or closure committed meanwhile is never overwritten.
    s.execute(
        update(Family)
        .where(Family.id == family.id, Family.status == FamilyStatus.INVITED)
        .values(status=FamilyStatus.ACTIVE)
        .execution_options(synchronize_session=False)
    )
    s.refresh(family)
    if replaces_session:
        auth_service.end_session(replaces_session)
    auth_service.start_session(carer, device_label)
    audit.record(
        "invitation_redeemed", actor=carer, family=family, detail=f"invitation {invitation.id}"
    )
    s.commit()
    return carer


def _carer_for(invitation: Invitation) -> User | None:
    """The existing carer a re-invitation is for, if they still belong to the family."""
    if invitation.carer_id is None:
        return None
    carer = db.session().get(User, invitation.carer_id)
    if (
        carer is None
        or carer.family_id != invitation.family_id
        or not carer.is_parent
        or carer.disabled_at is not None
    ):
        return None
    return carer
