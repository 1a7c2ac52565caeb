"""Invitation links: signed, single use, expiring, revocable; only a hash is stored.

The link carries `itsdangerous`-signed random secret. The signature lets us reject a tampered
link without a database lookup; the hash in the database makes it single use and revocable.
"""

from __future__ import annotations

import enum
import hashlib
import secrets
from datetime import timedelta

from flask import current_app
from itsdangerous import BadSignature, URLSafeSerializer
from sqlalchemy import select

from vigparent import clock, db
from vigparent.models import Family, FamilyStatus, Invitation, User

_SALT = "vigparent.invitation"


class InvitationProblem(enum.StrEnum):
    TAMPERED = "tampered"
    UNKNOWN = "unknown"
    USED = "used"
    EXPIRED = "expired"
    REVOKED = "revoked"
    WITHDRAWN = "withdrawn"
    CLOSED = "closed"


class InvitationRefused(Exception):
    def __init__(self, problem: InvitationProblem) -> None:
        super().__init__(problem.value)
        self.problem = problem


def _serializer() -> URLSafeSerializer:
    return URLSafeSerializer(current_app.config["SECRET_KEY"], salt=_SALT)


def _hash(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def invitation_url(token: str) -> str:
    base: str = current_app.extensions["vig_settings"].base_url
    return f"{base}/join/{token}"


def issue_invitation(family: Family, by: User, carer_name: str = "") -> tuple[Invitation, str]:
    """Create an invitation for `family`; returns it and the token (shown once, never stored)."""
    secret = secrets.token_urlsafe(24)
    token = _serializer().dumps(secret)
    lifetime = timedelta(days=family.organisation.invitation_lifetime_days)
    invitation = Invitation(
        family_id=family.id,
        created_by_id=by.id,
        carer_name=carer_name.strip()[:120],
        token_hash=_hash(secret),
        expires_at=clock.now() + lifetime,
    )
    db.session().add(invitation)
    return invitation, token


def check_invitation(token: str) -> Invitation:
    """The usable invitation behind `token`, or InvitationRefused saying why not."""
    try:
        secret = _serializer().loads(token)
    except BadSignature:
        raise InvitationRefused(InvitationProblem.TAMPERED) from None
    if not isinstance(secret, str):
        raise InvitationRefused(InvitationProblem.TAMPERED)
    invitation = db.session().scalar(
        select(Invitation).where(Invitation.token_hash == _hash(secret))
    )
    if invitation is None:
        raise InvitationRefused(InvitationProblem.UNKNOWN)
    family = invitation.family
    if family.status is FamilyStatus.WITHDRAWN:
        raise InvitationRefused(InvitationProblem.WITHDRAWN)
    if family.status is FamilyStatus.CLOSED:
        raise InvitationRefused(InvitationProblem.CLOSED)
    if invitation.revoked_at is not None:
        raise InvitationRefused(InvitationProblem.REVOKED)
    if invitation.used_at is not None:
        raise InvitationRefused(InvitationProblem.USED)
    if clock.now() >= invitation.expires_at:
        raise InvitationRefused(InvitationProblem.EXPIRED)
    return invitation
