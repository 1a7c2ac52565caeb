"""Staff accounts: invitations by email, switching accounts off and on, forgotten passwords.

An admin invites a practitioner by email: the account exists at once, without a password, and
the emailed link (vigparent/links.py rules: signed, single use, expiring, only a hash stored)
lets the person choose one. A forgotten password works the same way with a short-lived link.
Setting a password through either link then signs in through auth.mfa, so a second factor is
asked for (or set up) exactly as at the sign-in page. Switching an account off ends every one
of its sessions at once (and auth.service refuses a switched-off account on every request).
"""

from __future__ import annotations

import enum
import re
from dataclasses import dataclass
from datetime import datetime, timedelta

from flask import current_app
from sqlalchemy import select, update

from vigparent import audit, clock, db, jobs, links, mail
from vigparent.auth import mfa
from vigparent.auth import service as auth_service
from vigparent.models import Role, StaffLink, StaffLinkPurpose, User

_SALTS = {
    StaffLinkPurpose.INVITATION: "vigparent.staff-invitation",
    StaffLinkPurpose.PASSWORD_RESET: "vigparent.password-reset",
}
_PATHS = {
    StaffLinkPurpose.INVITATION: "/staff/join/",
    StaffLinkPurpose.PASSWORD_RESET: "/password/reset/",
}
STAFF_ROLES = (Role.PRACTITIONER, Role.ADMIN)
# Deliberately loose: one @, something on each side, a dot in the domain, no spaces.
_EMAIL = re.compile(r"^[^@\s]{1,64}@[^@\s]+\.[^@\s]+$")


class LinkProblem(enum.StrEnum):
    TAMPERED = "tampered"
    USED = "used"
    EXPIRED = "expired"
    REPLACED = "replaced"
    SWITCHED_OFF = "switched_off"


class LinkRefused(Exception):
    def __init__(self, problem: LinkProblem) -> None:
        super().__init__(problem.value)
        self.problem = problem


class StaffProblem(ValueError):
    """An admin's request about a staff account cannot be done; the message says why."""

    def __init__(self, message: str, field: str = "") -> None:
        super().__init__(message)
        self.field = field


@dataclass(frozen=True)
class StaffRow:
    person: User
    # "active", "invited", "invitation expired" or "switched off"
    state: str
    invited_until: datetime | None


# -- links ------------------------------------------------------------------------------------


def link_url(purpose: StaffLinkPurpose, token: str) -> str:
    base: str = current_app.extensions["vig_settings"].base_url
    return f"{base}{_PATHS[purpose]}{token}"


def _issue_link(
    user: User, purpose: StaffLinkPurpose, lifetime: timedelta, by: User | None = None
) -> str:
    """A new link for `user`; every open link of the same purpose stops working."""
    _revoke_open_links(user, purpose)
    token, token_hash = links.new_link_secret(_SALTS[purpose])
    db.session().add(
        StaffLink(
            user_id=user.id,
            purpose=purpose,
            token_hash=token_hash,
            created_by_id=by.id if by is not None else None,
            expires_at=clock.now() + lifetime,
        )
    )
    return token


def _revoke_open_links(user: User, purpose: StaffLinkPurpose | None = None) -> None:
    query = update(StaffLink).where(
        StaffLink.user_id == user.id, StaffLink.used_at.is_(None), StaffLink.revoked_at.is_(None)
    )
    if purpose is not None:
        query = query.where(StaffLink.purpose == purpose)
    db.session().execute(query.values(revoked_at=clock.now()))


def _problem_with(link: StaffLink) -> LinkProblem | None:
    if link.user.disabled_at is not None:
        return LinkProblem.SWITCHED_OFF
    if link.used_at is not None:
        return LinkProblem.USED
    if link.revoked_at is not None:
        return LinkProblem.REPLACED
    if clock.now() >= link.expires_at:
        return LinkProblem.EXPIRED
    return None


def check_link(token: str, purpose: StaffLinkPurpose) -> StaffLink:
    """The usable link behind `token`, or LinkRefused. Only reads: opening never uses it."""
    token_hash = links.hash_of_token(token, _SALTS[purpose])
    if token_hash is None:
        raise LinkRefused(LinkProblem.TAMPERED)
    link = db.session().scalar(
        select(StaffLink).where(StaffLink.token_hash == token_hash, StaffLink.purpose == purpose)
    )
    if link is None:
        raise LinkRefused(LinkProblem.TAMPERED)
    problem = _problem_with(link)
    if problem is not None:
        raise LinkRefused(problem)
    return link


def set_password_with_link(link: StaffLink, password: str, device_label: str) -> mfa.SignInStart:
    """Use the link: keep the new password and start signing in; commits.

    Single use holds when two tabs submit at once: one conditional UPDATE claims the link.
    A reset ends every other session of the person, and any other link they had.
    """
    password_hash = auth_service.hash_password(password)  # WeakPassword before anything changes
    s = db.session()
    now = clock.now()
    claimed = s.execute(
        update(StaffLink)
        .where(
            StaffLink.id == link.id,
            StaffLink.used_at.is_(None),
            StaffLink.revoked_at.is_(None),
            StaffLink.expires_at > now,
        )
        .values(used_at=now)
        .execution_options(synchronize_session=False)
    )
    if getattr(claimed, "rowcount", 0) != 1:
        s.rollback()
        s.refresh(link)
        raise LinkRefused(_problem_with(link) or LinkProblem.USED)
    user = link.user
    user.password_hash = password_hash
    ended = auth_service.end_all_sessions(user)
    _revoke_open_links(user)
    if link.purpose is StaffLinkPurpose.INVITATION:
        audit.record("staff_joined", actor=user)
    else:
        audit.record("password_reset", actor=user, detail=f"devices signed out: {ended}")
    start = mfa.begin_sign_in(user, device_label)
    db.session().commit()
    return start


# -- the admin's staff page -------------------------------------------------------------------


def staff_of(admin: User) -> list[StaffRow]:
    people = db.session().scalars(
        select(User)
        .where(User.organisation_id == admin.organisation_id, User.role.in_(STAFF_ROLES))
        .order_by(User.disabled_at.is_not(None), User.display_name, User.id)
    )
    rows = []
    for person in people:
        invited_until = None
        if person.disabled_at is not None:
            state = "switched off"
        elif person.password_hash is None:
            invited_until = _open_invitation_until(person)
            state = "invited" if invited_until is not None else "invitation expired"
        else:
            state = "active"
        rows.append(StaffRow(person=person, state=state, invited_until=invited_until))
    return rows


def _open_invitation_until(person: User) -> datetime | None:
    return db.session().scalar(
        select(StaffLink.expires_at).where(
            StaffLink.user_id == person.id,
            StaffLink.purpose == StaffLinkPurpose.INVITATION,
            StaffLink.used_at.is_(None),
            StaffLink.revoked_at.is_(None),
            StaffLink.expires_at > clock.now(),
        )
    )


def normalise_email(email: str) -> str:
    return email.strip().lower()


def invite_staff(admin: User, email: str, name: str, role: Role = Role.PRACTITIONER) -> User:
    """Create the account (no password yet), email its link and commit. On MailNotSent
    nothing is committed: the caller rolls back, so an unsent invitation leaves no account."""
    address = normalise_email(email)
    name = " ".join(name.split())[:120]
    if not _EMAIL.match(address) or len(address) > 254:
        raise StaffProblem("Enter an email address like name@example.org.", "email")
    if not name:
        raise StaffProblem("Enter the person's name, as colleagues know them.", "name")
    if role not in STAFF_ROLES:
        raise StaffProblem("Choose practitioner or admin.", "role")
    if db.session().scalar(select(User.id).where(User.email == address)) is not None:
        raise StaffProblem(
            "That email address already has an account. If they work with you, find them in "
            "the list; if they left, switch their account back on.",
            "email",
        )
    person = User(
        organisation_id=admin.organisation_id,
        role=role,
        email=address,
        password_hash=None,
        display_name=name,
    )
    db.session().add(person)
    db.session().flush()
    audit.record("staff_invited", actor=admin, detail=f"staff {person.id} as {role.value}")
    _send_invitation(admin, person)
    db.session().commit()
    return person


def resend_invitation(admin: User, staff_id: int) -> User:
    person = auth_service.colleague(admin, staff_id, STAFF_ROLES)
    if person.password_hash is not None or person.disabled_at is not None:
        raise StaffProblem("Only someone who has not joined yet can be sent a new invitation.")
    audit.record("staff_invitation_resent", actor=admin, detail=f"staff {person.id}")
    _send_invitation(admin, person)
    db.session().commit()
    return person


def _send_invitation(admin: User, person: User) -> None:
    days = admin.organisation.invitation_lifetime_days
    token = _issue_link(person, StaffLinkPurpose.INVITATION, timedelta(days=days), by=admin)
    db.session().flush()
    role = "an admin" if person.role is Role.ADMIN else "a practitioner"
    mail.send(
        mail.Mail(
            to=person.email or "",
            subject=f"You're invited to {admin.organisation.name} on VIG",
            body=(
                f"Hello {person.display_name},\n\n"
                f"{admin.display_name or 'Your admin'} has invited you to join "
                f"{admin.organisation.name} on VIG as {role}.\n\n"
                "Open this link to choose your password:\n"
                f"{link_url(StaffLinkPurpose.INVITATION, token)}\n\n"
                f"The link works once, for {days} day{'s' if days != 1 else ''}. "
                "If you were not expecting this email, you can ignore it.\n"
            ),
            kind="staff_invitation",
        )
    )


def switch_off(admin: User, staff_id: int) -> User:
    """Deactivate a colleague: every session and link of theirs ends now."""
    person = auth_service.colleague(admin, staff_id, STAFF_ROLES)
    if person.id == admin.id:
        raise StaffProblem("You can't switch off your own account. Ask another admin.")
    if person.disabled_at is None:
        person.disabled_at = clock.now()
        ended = auth_service.end_all_sessions(person)
        _revoke_open_links(person)
        audit.record(
            "staff_switched_off", actor=admin, detail=f"staff {person.id}; devices: {ended}"
        )
    db.session().commit()
    return person


def switch_on(admin: User, staff_id: int) -> User:
    """Let a switched-off colleague sign in again (with their old password, if they had one)."""
    person = auth_service.colleague(admin, staff_id, STAFF_ROLES)
    if person.disabled_at is not None:
        person.disabled_at = None
        audit.record("staff_switched_on", actor=admin, detail=f"staff {person.id}")
    db.session().commit()
    return person


# -- forgotten passwords ----------------------------------------------------------------------


def request_password_reset(email: str) -> None:
    """Queue the reset email, whether or not the address has an account.

    The job (not this request) makes the link and sends it, so the answer takes the same
    time either way and the link's secret never waits in the job queue.
    """
    person_id = db.session().scalar(
        select(User.id).where(User.email == normalise_email(email), User.role.in_(STAFF_ROLES))
    )
    send_password_reset(person_id or 0)
    db.session().commit()


@jobs.task()
def send_password_reset(person_id: int) -> None:
    person = db.session().get(User, person_id) if person_id else None
    if person is None or not person.is_staff or person.disabled_at is not None:
        return
    minutes = current_app.extensions["vig_settings"].password_reset_minutes
    token = _issue_link(person, StaffLinkPurpose.PASSWORD_RESET, timedelta(minutes=minutes))
    audit.record("password_reset_sent", actor=person)
    db.session().commit()
    try:
        _send_reset(person, token, minutes)
    except mail.MailNotSent:
        return  # logged by mail.send (kind only); the person can ask again


def _send_reset(person: User, token: str, minutes: int) -> None:
    mail.send(
        mail.Mail(
            to=person.email or "",
            subject="Reset your VIG password",
            body=(
                f"Hello {person.display_name},\n\n"
                "Someone (we hope you) asked to reset your VIG password. "
                "Open this link to choose a new one:\n"
                f"{link_url(StaffLinkPurpose.PASSWORD_RESET, token)}\n\n"
                f"The link works once, for {minutes} minutes. Choosing a new password signs "
                "you out on your other devices.\n\n"
                "If you did not ask, ignore this email: your password has not changed.\n"
            ),
            kind="password_reset",
        )
    )
