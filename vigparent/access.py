"""The one access check for everything a family owns.

Every route that loads a Family, Recording, Clip or other family-owned row by id goes through
here. Anything the user may not see is reported as "not found" (404), never "forbidden", so
ids cannot be probed.
"""

from __future__ import annotations

from typing import Any, TypeVar

from flask import abort
from sqlalchemy import ColumnElement, Select, and_, exists, false, select
from sqlalchemy.orm import aliased

from vigparent import clock, db
from vigparent.models import (
    Clip,
    ClipStatus,
    ConsentKind,
    ConsentRecord,
    Family,
    FamilyStatus,
    Role,
    SupervisionShare,
    SupervisionShareClip,
    User,
)

T = TypeVar("T")


def family_scope(user: User) -> ColumnElement[bool]:
    """A SQL condition on Family selecting exactly the families `user` may see."""
    if user.role is Role.PRACTITIONER:
        return Family.practitioner_id == user.id
    if user.role is Role.ADMIN:
        return Family.organisation_id == user.organisation_id
    if user.role is Role.PARENT and user.family_id is not None:
        return Family.id == user.family_id
    # Supervisors never see a family: only the clips shared with them (load_shared_clip).
    return false()


def visible_families(user: User) -> Select[Family]:
    return select(Family).where(family_scope(user))


def load_family(user: User, family_id: int) -> Family:
    family = db.session().scalar(visible_families(user).where(Family.id == family_id))
    if family is None:
        abort(404)
    return family


def load_owned(user: User, model: type[T], object_id: int) -> T:
    """Load a family-owned row (it has `family_id`) that `user` may see, or 404.

    Parents see only published clips: a clip still being cut is the practitioner's draft.
    """
    family_id_col: Any = getattr(model, "family_id")  # noqa: B009 - every owned model has it
    stmt = (
        select(model)
        .join(Family, Family.id == family_id_col)
        .where(family_scope(user), getattr(model, "id") == object_id)  # noqa: B009
    )
    if model is Clip and user.role is Role.PARENT:
        stmt = stmt.where(Clip.published_at.is_not(None))
    obj = db.session().scalar(stmt)
    if obj is None:
        abort(404)
    return obj


# -- supervision: the one rule for what a supervisor may watch ---------------------------------


def supervision_consent_stands() -> ColumnElement[bool]:
    """A SQL condition on Family: it has carers, and every one of them has agreed (and not
    taken back) that its clips may be shown to the practitioner's supervisor."""
    carer = aliased(User)
    standing = exists().where(
        ConsentRecord.family_id == Family.id,
        ConsentRecord.user_id == carer.id,
        ConsentRecord.kind == ConsentKind.SUPERVISION,
        ConsentRecord.withdrawn_at.is_(None),
    )
    carers = select(carer.id).where(carer.family_id == Family.id, carer.role == Role.PARENT)
    return and_(carers.exists(), ~carers.where(~standing).exists())


def share_is_active() -> ColumnElement[bool]:
    """A SQL condition on SupervisionShare (joined to its Family): it may be watched now."""
    return and_(
        SupervisionShare.ended_at.is_(None),
        SupervisionShare.expires_at > clock.now(),
        SupervisionShare.practitioner_id == Family.practitioner_id,
        Family.status != FamilyStatus.WITHDRAWN,
        supervision_consent_stands(),
    )


def active_shares(user: User) -> Select[SupervisionShare]:
    """The shares `user` (a supervisor) may open now; nothing for anyone else."""
    if user.role is not Role.SUPERVISOR:
        return select(SupervisionShare).where(false())
    return (
        select(SupervisionShare)
        .join(Family, Family.id == SupervisionShare.family_id)
        .where(SupervisionShare.supervisor_id == user.id, share_is_active())
    )


def load_share(user: User, share_id: int) -> SupervisionShare:
    share = db.session().scalar(active_shares(user).where(SupervisionShare.id == share_id))
    if share is None:
        abort(404)
    return share


def load_shared_clip(user: User, clip_id: int, share_id: int | None = None) -> Clip:
    """A finished clip in a share `user` may open now (optionally that one share), or 404."""
    shares = active_shares(user).with_only_columns(SupervisionShare.id)
    if share_id is not None:
        shares = shares.where(SupervisionShare.id == share_id)
    clip = db.session().scalar(
        select(Clip).where(
            Clip.id == clip_id,
            Clip.status == ClipStatus.READY,
            exists().where(
                SupervisionShareClip.clip_id == Clip.id,
                SupervisionShareClip.share_id.in_(shares),
            ),
        )
    )
    if clip is None:
        abort(404)
    return clip
