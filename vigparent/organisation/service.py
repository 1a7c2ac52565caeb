"""An organisation's own settings, and the audit log its admins read.

Settings: how long a closed case's videos are kept, whether families may keep copies of
clips, how long invitation links work, which consent wording is current, and how families
can contact the service. Each change is
checked, then audited with its old and new value. Retention is read by the sweep when it runs
(vigparent/retention.py), so a shorter period takes effect at the next sweep.

The audit log shows who did what and when, for one organisation only: actions, people and
family numbers, never media or anything anybody typed.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

from sqlalchemy import select

from vigparent import audit, db
from vigparent.consent import service as consent_service
from vigparent.models import AuditEvent, Organisation, Role, User

RETENTION_MAX_DAYS = 3650
INVITATION_MAX_DAYS = 60
CONTACT_MAX_CHARS = 200
PAGE_SIZE = 50


class SettingsProblem(ValueError):
    """One or more settings are not valid; `problems` maps each field to a plain message."""

    def __init__(self, problems: dict[str, str]) -> None:
        super().__init__("; ".join(problems.values()))
        self.problems = problems


@dataclass(frozen=True)
class OrganisationSettings:
    retention_days: int
    keep_copies: bool
    invitation_days: int
    wording_version: str
    family_contact: str = ""


def settings_of(org: Organisation) -> OrganisationSettings:
    return OrganisationSettings(
        retention_days=org.retention_days_after_close,
        keep_copies=org.parents_may_keep_copies,
        invitation_days=org.invitation_lifetime_days,
        wording_version=consent_service.wording_version_for(org),
        family_contact=org.family_contact,
    )


def wording_versions() -> list[str]:
    """Every consent wording this app can show, newest first."""
    return sorted(consent_service.CONSENT_WORDINGS, reverse=True)


def _whole_days(raw: str, low: int, high: int, words: str) -> tuple[int | None, str]:
    text = raw.strip()
    if not text.isascii() or not text.isdigit():
        return None, f"Enter {words} as a whole number of days, like 30."
    days = int(text[:6])
    if not low <= days <= high or len(text) > 6:
        return None, f"Enter {words} between {low} and {high} days."
    return days, ""


def parse_settings(
    retention: str,
    keep_copies: bool,
    invitation: str,
    wording_version: str,
    family_contact: str = "",
) -> OrganisationSettings:
    """The settings an admin typed, or SettingsProblem naming every field that is wrong."""
    problems: dict[str, str] = {}
    retention_days, problem = _whole_days(
        retention, 0, RETENTION_MAX_DAYS, "how long to keep videos"
    )
    if problem:
        problems["retention_days"] = problem
    invitation_days, problem = _whole_days(
        invitation, 1, INVITATION_MAX_DAYS, "how long invitation links work"
    )
    if problem:
        problems["invitation_days"] = problem
    if wording_version not in consent_service.CONSENT_WORDINGS:
        problems["wording_version"] = "Choose one of the consent wordings listed."
    contact = " ".join(family_contact.split())
    if len(contact) > CONTACT_MAX_CHARS:
        problems["family_contact"] = (
            f"Keep how families contact you to {CONTACT_MAX_CHARS} characters or fewer."
        )
    if problems or retention_days is None or invitation_days is None:
        raise SettingsProblem(problems)
    return OrganisationSettings(
        retention_days, keep_copies, invitation_days, wording_version, contact
    )


def update_settings(admin: User, new: OrganisationSettings) -> list[str]:
    """Apply `new` to the admin's organisation; one audit event per change. Returns the
    names of what changed (empty when nothing did)."""
    org: Organisation = admin.organisation
    old = settings_of(org)
    changed: list[tuple[str, object, object]] = []
    if new.retention_days != old.retention_days:
        org.retention_days_after_close = new.retention_days
        changed.append(("retention_days", old.retention_days, new.retention_days))
    if new.keep_copies != old.keep_copies:
        org.parents_may_keep_copies = new.keep_copies
        changed.append(("keep_copies", old.keep_copies, new.keep_copies))
    if new.invitation_days != old.invitation_days:
        org.invitation_lifetime_days = new.invitation_days
        changed.append(("invitation_days", old.invitation_days, new.invitation_days))
    if new.wording_version != old.wording_version:
        org.consent_wording_version = new.wording_version
        changed.append(("consent_wording", old.wording_version, new.wording_version))
    if new.family_contact != old.family_contact:
        org.family_contact = new.family_contact
        # What the admin typed is not copied into the log, only that it changed.
        changed.append(("family_contact", "old", "new"))
    for name, before, after in changed:
        audit.record("setting_changed", actor=admin, detail=f"{name}: {before} -> {after}")
    db.session().commit()
    return [name for name, _b, _a in changed]


# -- the audit log ----------------------------------------------------------------------------

# What an admin can filter by, in their words, and the actions each kind covers.
AUDIT_KINDS: dict[str, tuple[str, tuple[str, ...]]] = {
    "sign-ins": (
        "Sign-ins and sign-outs",
        (
            "signed_in",
            "signed_out",
            "password_accepted",
            "second_factor_failed",
            "recovery_code_used",
            "password_reset",
            "password_reset_sent",
        ),
    ),
    "invitations": (
        "Invitations",
        (
            "invitation_issued",
            "invitation_revoked",
            "invitation_redeemed",
            "staff_invited",
            "staff_invitation_resent",
            "staff_joined",
        ),
    ),
    "consent": ("Consent", ("consent_given", "filming_consent_withdrawn", "consent_withdrawn")),
    "media-views": ("Views of videos", ("media_viewed", "clip_downloaded")),
    "publications": ("Clips published", ("clip_published", "clip_unpublished")),
    "withdrawals": (
        "Withdrawals and deletions",
        (
            "consent_withdrawn",
            "media_deleted",
            "family_erase_started",
            "family_erased",
            "retention_deletion_started",
            "retention_media_deleted",
            "recording_delete_started",
            "recording_deleted",
            "case_closed",
        ),
    ),
    "staff": (
        "Staff accounts and security",
        (
            "staff_invited",
            "staff_switched_off",
            "staff_switched_on",
            "second_factor_added",
            "second_factor_removed",
            "second_factor_reset",
            "second_factor_required",
            "second_factor_optional",
            "recovery_codes_made",
        ),
    ),
    "settings": ("Organisation settings", ("setting_changed", "translation_reviewed")),
    "languages": ("Languages", ("language_changed", "translation_reviewed")),
}

ACTION_WORDS = {
    "signed_in": "Signed in",
    "signed_out": "Signed out",
    "password_accepted": "Password accepted, second step next",
    "second_factor_failed": "Second step failed",
    "recovery_code_used": "Used a recovery code",
    "password_reset": "Chose a new password by email link",
    "password_reset_sent": "Password reset email sent",
    "invitation_issued": "Invitation link made",
    "invitation_revoked": "Invitation link cancelled",
    "invitation_redeemed": "Joined by invitation link",
    "staff_invited": "Invited a colleague",
    "staff_invitation_resent": "Sent a colleague a new invitation",
    "staff_joined": "Joined as staff",
    "staff_switched_off": "Switched a colleague's account off",
    "staff_switched_on": "Switched a colleague's account on",
    "consent_given": "Gave consent",
    "consent_withdrawn": "Withdrew consent",
    "filming_consent_withdrawn": "Withdrew consent to filming",
    "media_viewed": "Watched a video",
    "clip_downloaded": "Downloaded a clip",
    "clip_published": "Published a clip",
    "clip_unpublished": "Unpublished a clip",
    "media_deleted": "Videos deleted after withdrawal",
    "family_erase_started": "Started erasing a family",
    "family_erased": "Family erased",
    "retention_deletion_started": "Retention deletion started",
    "retention_media_deleted": "Videos deleted after the retention period",
    "recording_delete_started": "Started deleting a video",
    "recording_deleted": "Video deleted",
    "case_closed": "Closed a case",
    "second_factor_added": "Added a second factor",
    "second_factor_removed": "Removed a second factor",
    "second_factor_reset": "Reset a colleague's second factor",
    "second_factor_required": "Made a second factor required",
    "second_factor_optional": "Made a second factor optional",
    "recovery_codes_made": "Made new recovery codes",
    "setting_changed": "Changed an organisation setting",
    "language_changed": "Changed the family's language",
    "translation_reviewed": "Marked a translation as checked by a qualified translator",
}


def action_words(action: str) -> str:
    return ACTION_WORDS.get(action, action.replace("_", " ").capitalize())


@dataclass(frozen=True)
class AuditFilter:
    kind: str = ""
    person_id: int | None = None
    since: date | None = None
    until: date | None = None
    page: int = 1


class FilterProblem(ValueError):
    def __init__(self, problems: dict[str, str]) -> None:
        super().__init__("; ".join(problems.values()))
        self.problems = problems


def _date(raw: str, words: str, problems: dict[str, str], field: str) -> date | None:
    if not raw.strip():
        return None
    try:
        return date.fromisoformat(raw.strip()[:10])
    except ValueError:
        problems[field] = f"Enter the {words} as a date, like 2026-11-30."
        return None


def parse_filter(kind: str, person: str, since: str, until: str, page: str) -> AuditFilter:
    """The filter from the page's query string, or FilterProblem with plain messages."""
    problems: dict[str, str] = {}
    if kind and kind not in AUDIT_KINDS:
        problems["kind"] = "Choose a kind of event from the list."
    person_id = None
    if person:
        if person.isascii() and person.isdigit() and len(person) < 12:
            person_id = int(person)
        else:
            problems["person"] = "Choose a person from the list."
    start = _date(since, "first day", problems, "since")
    end = _date(until, "last day", problems, "until")
    if start and end and start > end:
        problems["until"] = "The last day must be the same as or after the first day."
    page_number = int(page) if page.isascii() and page.isdigit() and len(page) < 7 else 1
    if problems:
        raise FilterProblem(problems)
    return AuditFilter(kind, person_id, start, end, max(page_number, 1))


@dataclass(frozen=True)
class AuditRow:
    at: datetime
    who: str
    what: str
    family_id: int | None
    detail: str


@dataclass(frozen=True)
class AuditPage:
    rows: list[AuditRow]
    page: int
    has_older: bool


def audit_people(admin: User) -> list[User]:
    """Staff of the admin's organisation, to filter by."""
    return list(
        db.session().scalars(
            select(User)
            .where(
                User.organisation_id == admin.organisation_id,
                User.role.in_((Role.PRACTITIONER, Role.ADMIN)),
            )
            .order_by(User.display_name, User.id)
        )
    )


def audit_page(admin: User, wanted: AuditFilter) -> AuditPage:
    """One page of the organisation's events, newest first."""
    query = select(AuditEvent).where(AuditEvent.organisation_id == admin.organisation_id)
    if wanted.kind:
        query = query.where(AuditEvent.action.in_(AUDIT_KINDS[wanted.kind][1]))
    if wanted.person_id is not None:
        query = query.where(AuditEvent.actor_id == wanted.person_id)
    if wanted.since is not None:
        query = query.where(AuditEvent.at >= datetime.combine(wanted.since, time.min))
    if wanted.until is not None:
        query = query.where(
            AuditEvent.at < datetime.combine(wanted.until + timedelta(days=1), time.min)
        )
    offset = (wanted.page - 1) * PAGE_SIZE
    events = list(
        db.session().scalars(
            query.order_by(AuditEvent.at.desc(), AuditEvent.id.desc())
            .offset(offset)
            .limit(PAGE_SIZE + 1)
        )
    )
    actor_ids = {e.actor_id for e in events[:PAGE_SIZE] if e.actor_id is not None}
    actors = {
        u.id: u
        for u in db.session().scalars(
            select(User).where(
                User.id.in_(actor_ids), User.organisation_id == admin.organisation_id
            )
        )
    }
    rows = [
        AuditRow(
            at=e.at,
            who=_who(actors.get(e.actor_id) if e.actor_id is not None else None, e.actor_id),
            what=action_words(e.action),
            family_id=e.family_id,
            detail=e.detail,
        )
        for e in events[:PAGE_SIZE]
    ]
    return AuditPage(rows=rows, page=wanted.page, has_older=len(events) > PAGE_SIZE)


def _who(user: User | None, actor_id: int | None) -> str:
    if actor_id is None:
        return "The system"
    if user is None:
        return f"Account {actor_id} (no longer here)"
    if user.is_parent:
        # A carer's name is theirs to share; the family number says enough here.
        return f"A parent (family {user.family_id})" if user.family_id else "A parent"
    return f"{user.display_name or user.email} ({user.email})"
