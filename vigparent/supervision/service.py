"""Supervision: a practitioner in VIG training shows chosen clips to their AVIGuk supervisor.

Only with the family's own consent ("my clips may be shown to the practitioner's
supervisor"), for a limited time, to one named supervisor of the same organisation, who may
watch and comment and nothing else. What a supervisor may open is decided in one place,
`access.active_shares` / `access.load_shared_clip`; this module makes and ends shares.

A share ends when it expires, when the practitioner ends it, when any carer takes the
consent back or withdraws completely, and when the family moves to another practitioner.
Comments are deleted with their clips (withdrawal.service deletes every row that points at
a deleted clip) and with the share.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

from flask_babel import gettext
from sqlalchemy import delete, select, update

from vigparent import access, audit, clock, db
from vigparent.auth import service as auth_service
from vigparent.consent import service as consent_service
from vigparent.models import (
    Clip,
    ClipStatus,
    ConsentKind,
    ConsentRecord,
    Family,
    FamilyStatus,
    Role,
    SupervisionComment,
    SupervisionShare,
    SupervisionShareClip,
    User,
)

# How long a share lasts: a supervision session is usually within a fortnight.
SHARE_DAYS = (7, 14, 30)
MAX_COMMENT = 2000
MAX_QUESTION = 1000

END_PRACTITIONER = "practitioner"
END_CONSENT = "consent_withdrawn"
END_HANDOVER = "handover"


class SupervisionProblem(Exception):
    """A request we turn down; the message is for the person who asked."""

    def __init__(self, message: str, field: str = "") -> None:
        super().__init__(message)
        self.message = message
        self.field = field  # the form field it is about, for the error summary


# -- supervisors -------------------------------------------------------------------------------


def create_supervisor(organisation_id: int, email: str, password: str, name: str) -> User:
    """A supervisor account in an organisation (not committed). Raises WeakPassword."""
    user = auth_service.create_staff_user(organisation_id, email, password, name, Role.SUPERVISOR)
    db.session().flush()
    return user


def supervisors_of(organisation_id: int) -> list[User]:
    return list(
        db.session().scalars(
            select(User)
            .where(
                User.organisation_id == organisation_id,
                User.role == Role.SUPERVISOR,
                User.disabled_at.is_(None),
            )
            .order_by(User.display_name, User.id)
        )
    )


# -- consent -------------------------------------------------------------------------------------


def carer_agreed(family: Family, carer: User) -> bool:
    """Whether this carer's supervision consent stands."""
    return consent_service.carer_consented(family, carer, ConsentKind.SUPERVISION)


def family_agreed(family: Family) -> bool:
    """Every carer of the family has agreed (the rule access.py applies to every view)."""
    return bool(
        db.session().scalar(
            select(Family.id).where(Family.id == family.id, access.supervision_consent_stands())
        )
    )


def give_consent(family: Family, carer: User) -> bool:
    """Record this carer's supervision consent; False if it already stands. Commits."""
    if family.status is not FamilyStatus.ACTIVE:
        raise SupervisionProblem(gettext("You can only agree to this while you are taking part."))
    if carer_agreed(family, carer):
        return False
    consent_service.record_consents(family, carer, [ConsentKind.SUPERVISION])
    db.session().commit()
    return True


def take_back_consent(family: Family, carer: User) -> int:
    """Withdraw this carer's supervision consent and end the family's shares at once.

    Returns how many shares ended. Commits.
    """
    s = db.session()
    now = clock.now()
    s.execute(
        update(ConsentRecord)
        .where(
            ConsentRecord.family_id == family.id,
            ConsentRecord.user_id == carer.id,
            ConsentRecord.kind == ConsentKind.SUPERVISION,
            ConsentRecord.withdrawn_at.is_(None),
        )
        .values(withdrawn_at=now)
    )
    ended = end_family_shares(family, END_CONSENT)
    audit.record("supervision_consent_withdrawn", actor=carer, family=family, detail=f"{ended}")
    s.commit()
    return ended


def end_family_shares(family: Family, reason: str, practitioner_id: int | None = None) -> int:
    """End the family's open shares (only one practitioner's, if given); not committed."""
    stmt = update(SupervisionShare).where(
        SupervisionShare.family_id == family.id, SupervisionShare.ended_at.is_(None)
    )
    if practitioner_id is not None:
        stmt = stmt.where(SupervisionShare.practitioner_id == practitioner_id)
    result = db.session().execute(stmt.values(ended_at=clock.now(), end_reason=reason))
    return int(getattr(result, "rowcount", 0) or 0)


def delete_family_shares(family_id: int) -> None:
    """Delete every share of the family and what was said in it (not committed).

    Called by the deletion paths once the clips are gone (withdrawal and retention).
    """
    s = db.session()
    shares = select(SupervisionShare.id).where(SupervisionShare.family_id == family_id)
    s.execute(delete(SupervisionComment).where(SupervisionComment.share_id.in_(shares)))
    s.execute(delete(SupervisionShareClip).where(SupervisionShareClip.share_id.in_(shares)))
    s.execute(delete(SupervisionShare).where(SupervisionShare.family_id == family_id))


# -- the practitioner's side ---------------------------------------------------------------------


def shareable_clips(family: Family) -> list[Clip]:
    """Finished clips of the family, in review order."""
    return list(
        db.session().scalars(
            select(Clip)
            .where(Clip.family_id == family.id, Clip.status == ClipStatus.READY)
            .order_by(Clip.recording_id, Clip.position, Clip.id)
        )
    )


def share_clips(
    family: Family,
    practitioner: User,
    supervisor_id: int | None,
    clip_ids: Iterable[int],
    days: int | None,
    question: str = "",
) -> SupervisionShare:
    """Share chosen clips with a supervisor for `days` days. Commits."""
    if family.practitioner_id != practitioner.id:
        raise SupervisionProblem("Only the family's own practitioner can share their clips.")
    if family.status is not FamilyStatus.ACTIVE:
        raise SupervisionProblem("You can only share clips while the family is taking part.")
    if not family_agreed(family):
        raise SupervisionProblem(
            "The family has not agreed to their clips being shown to your supervisor. "
            "Every carer must agree first, on their Privacy page."
        )
    supervisor = next(
        (u for u in supervisors_of(family.organisation_id) if u.id == supervisor_id), None
    )
    if supervisor is None:
        raise SupervisionProblem("Choose your supervisor from the list.", "supervisor")
    if days not in SHARE_DAYS:
        raise SupervisionProblem("Choose how long to share for: 7, 14 or 30 days.", "days-7")
    question = question.replace("\r\n", "\n").strip()
    if len(question) > MAX_QUESTION:
        raise SupervisionProblem(f"Keep your question under {MAX_QUESTION:,} letters.", "question")
    wanted = set(clip_ids)
    clips = [c for c in shareable_clips(family) if c.id in wanted]
    if not clips or len(clips) != len(wanted):
        raise SupervisionProblem("Choose at least one finished clip to share.", "clips")
    s = db.session()
    share = SupervisionShare(
        family_id=family.id,
        practitioner_id=practitioner.id,
        supervisor_id=supervisor.id,
        question=question,
        expires_at=clock.now() + timedelta(days=days),
    )
    s.add(share)
    s.flush()
    for clip in clips:
        s.add(SupervisionShareClip(share_id=share.id, clip_id=clip.id))
    audit.record(
        "supervision_shared",
        actor=practitioner,
        family=family,
        detail=f"share={share.id} supervisor={supervisor.id} clips={len(clips)} days={days}",
    )
    s.commit()
    return share


def end_share(share: SupervisionShare, by: User) -> None:
    """The practitioner ends a share early. Commits."""
    if share.ended_at is None:
        share.ended_at = clock.now()
        share.end_reason = END_PRACTITIONER
        audit.record(
            "supervision_share_ended",
            actor=by,
            family_id=share.family_id,
            organisation_id=by.organisation_id,
            detail=f"share={share.id}",
        )
    db.session().commit()


def practitioner_shares(family: Family, practitioner: User) -> list[SupervisionShare]:
    """The shares this practitioner made for this family, newest first."""
    return list(
        db.session().scalars(
            select(SupervisionShare)
            .where(
                SupervisionShare.family_id == family.id,
                SupervisionShare.practitioner_id == practitioner.id,
            )
            .order_by(SupervisionShare.created_at.desc(), SupervisionShare.id.desc())
        )
    )


def load_family_share(family: Family, share_id: int) -> SupervisionShare | None:
    return db.session().scalar(
        select(SupervisionShare).where(
            SupervisionShare.id == share_id, SupervisionShare.family_id == family.id
        )
    )


def is_active(share: SupervisionShare) -> bool:
    """Whether the supervisor can open it now (the access rule, asked of one share)."""
    return bool(
        db.session().scalar(
            select(SupervisionShare.id)
            .join(Family, Family.id == SupervisionShare.family_id)
            .where(SupervisionShare.id == share.id, access.share_is_active())
        )
    )


# -- what people see -----------------------------------------------------------------------------


@dataclass(frozen=True)
class SharedClip:
    clip: Clip
    comments: list[SupervisionComment]


def clips_of(share: SupervisionShare) -> list[SharedClip]:
    """The share's clips that still exist, each with the supervisor's comments, oldest first."""
    s = db.session()
    clips = s.scalars(
        select(Clip)
        .join(SupervisionShareClip, SupervisionShareClip.clip_id == Clip.id)
        .where(SupervisionShareClip.share_id == share.id)
        .order_by(Clip.recording_id, Clip.position, Clip.id)
    )
    comments: dict[int, list[SupervisionComment]] = {}
    for comment in s.scalars(
        select(SupervisionComment)
        .where(SupervisionComment.share_id == share.id)
        .order_by(SupervisionComment.created_at, SupervisionComment.id)
    ):
        comments.setdefault(comment.clip_id, []).append(comment)
    return [SharedClip(c, comments.get(c.id, [])) for c in clips]


def add_comment(share: SupervisionShare, clip: Clip, supervisor: User, text: str) -> None:
    """The supervisor's comment on one clip of an open share. Commits."""
    text = text.replace("\r\n", "\n").strip()
    if not text:
        raise SupervisionProblem("Write your comment first, then press Add comment.", "comment")
    if len(text) > MAX_COMMENT:
        raise SupervisionProblem(f"Keep a comment under {MAX_COMMENT:,} letters.", "comment")
    s = db.session()
    s.add(
        SupervisionComment(share_id=share.id, clip_id=clip.id, author_id=supervisor.id, text=text)
    )
    audit.record(
        "supervision_comment_added",
        actor=supervisor,
        family_id=share.family_id,
        detail=f"share={share.id} clip={clip.id}",
    )
    s.commit()


@dataclass(frozen=True)
class ShareForParent:
    supervisor_name: str
    until: datetime
    clips: int


def shares_for_parent(family: Family) -> list[ShareForParent]:
    """Open shares of the family's clips, for the parent's privacy page."""
    s = db.session()
    rows = s.scalars(
        select(SupervisionShare)
        .join(Family, Family.id == SupervisionShare.family_id)
        .where(SupervisionShare.family_id == family.id, access.share_is_active())
        .order_by(SupervisionShare.expires_at)
    )
    result = []
    for share in rows:
        count = len(
            list(
                s.scalars(
                    select(SupervisionShareClip.id).where(SupervisionShareClip.share_id == share.id)
                )
            )
        )
        if count:
            name = share.supervisor.display_name or "your practitioner's supervisor"
            result.append(ShareForParent(name, share.expires_at, count))
    return result
