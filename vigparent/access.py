"""The one access check for everything a family owns.

Every route that loads a Family, Recording, Clip or other family-owned row by id goes through
here. Anything the user may not see is reported as "not found" (404), never "forbidden", so
ids cannot be probed.
"""

from __future__ import annotations

from typing import Any, TypeVar

from flask import abort
from sqlalchemy import ColumnElement, Select, false, select

from vigparent import db
from vigparent.models import Clip, Family, Role, User

T = TypeVar("T")


def family_scope(user: User) -> ColumnElement[bool]:
    """A SQL condition on Family selecting exactly the families `user` may see."""
    if user.role is Role.PRACTITIONER:
        return Family.practitioner_id == user.id
    if user.role is Role.ADMIN:
        return Family.organisation_id == user.organisation_id
    if user.role is Role.PARENT and user.family_id is not None:
        return Family.id == user.family_id
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
