"""Goals and helping questions, agreed in the parent's own words.

Either side may propose or change the words. A goal is agreed when the parent side and the
practitioner side have both agreed the *same* wording: changing the words counts as the
author's agreement and clears the other side's. Every wording is kept as a GoalRevision.
Any carer of the family speaks for the parent side; the family's practitioner (or an admin)
for the practitioner side.
"""

from __future__ import annotations

from sqlalchemy import select

from vigparent import audit, clock, db
from vigparent.families.service import current_goal
from vigparent.models import Family, FamilyStatus, Goal, GoalRevision, GoalStatus, User

MAX_GOAL_LENGTH = 500
MAX_QUESTION_LENGTH = 300


class InvalidGoal(ValueError):
    """The goal's words are missing or too long."""


class GoalChanged(Exception):
    """The words changed after the person read them; they must read the new words first."""


class GoalNotOpen(Exception):
    """Goals cannot change once the family's work has ended."""


def _clean(text: str, helping_question: str) -> tuple[str, str]:
    text = " ".join(text.split())
    helping_question = " ".join(helping_question.split())
    if not text:
        raise InvalidGoal("Please write the goal: what you would like to be different.")
    if len(text) > MAX_GOAL_LENGTH:
        raise InvalidGoal(f"Please keep the goal shorter (at most {MAX_GOAL_LENGTH} letters).")
    if len(helping_question) > MAX_QUESTION_LENGTH:
        raise InvalidGoal(
            f"Please keep the helping question shorter (at most {MAX_QUESTION_LENGTH} letters)."
        )
    return text, helping_question


def _check_open(family: Family) -> None:
    if family.status in (FamilyStatus.CLOSED, FamilyStatus.WITHDRAWN):
        raise GoalNotOpen("This family's work has ended, so the goal can't change.")


def _set_own_agreement(goal: Goal, user: User) -> None:
    now = clock.now()
    if user.is_parent:
        goal.parent_agreed_at = now
    else:
        goal.practitioner_agreed_at = now


def _settle(goal: Goal, revision: GoalRevision) -> None:
    """Mark the goal agreed when both sides have agreed its current words."""
    if goal.parent_agreed_at is not None and goal.practitioner_agreed_at is not None:
        goal.status = GoalStatus.AGREED
        revision.agreed_at = clock.now()
    else:
        goal.status = GoalStatus.PROPOSED


def latest_revision(goal: Goal) -> GoalRevision:
    revision = db.session().scalar(
        select(GoalRevision)
        .where(GoalRevision.goal_id == goal.id)
        .order_by(GoalRevision.id.desc())
        .limit(1)
    )
    assert revision is not None, "every goal has at least one revision"
    return revision


def history(goal: Goal) -> list[GoalRevision]:
    """Every wording of the goal, newest first."""
    return list(
        db.session().scalars(
            select(GoalRevision)
            .where(GoalRevision.goal_id == goal.id)
            .order_by(GoalRevision.id.desc())
        )
    )


def propose_goal(family: Family, author: User, text: str, helping_question: str = "") -> Goal:
    """Suggest the family's goal; with a goal already under way, this changes its words."""
    _check_open(family)
    existing = current_goal(family)
    if existing is not None:
        return edit_goal(existing, author, text, helping_question, latest_revision(existing).id)
    text, helping_question = _clean(text, helping_question)
    s = db.session()
    goal = Goal(
        family_id=family.id,
        text=text,
        helping_question=helping_question,
        status=GoalStatus.PROPOSED,
        proposed_by_id=author.id,
    )
    _set_own_agreement(goal, author)
    s.add(goal)
    s.flush()
    revision = GoalRevision(
        goal_id=goal.id, text=text, helping_question=helping_question, author_id=author.id
    )
    s.add(revision)
    s.flush()
    audit.record("goal_proposed", actor=author, family=family, detail=f"goal {goal.id}")
    s.commit()
    return goal


def edit_goal(
    goal: Goal, author: User, text: str, helping_question: str, seen_revision_id: int
) -> Goal:
    """Change the words. The author agrees the new words; the other side must agree again.

    `seen_revision_id` is the wording the author was looking at: if somebody else changed it
    meanwhile, GoalChanged is raised rather than overwriting words nobody has read.
    """
    family = db.session().get(Family, goal.family_id)
    assert family is not None
    _check_open(family)
    text, helping_question = _clean(text, helping_question)
    current = latest_revision(goal)
    if current.id != seen_revision_id:
        raise GoalChanged("The goal was changed while you were looking. Read the new words.")
    if (text, helping_question) == (goal.text, goal.helping_question):
        # Same words: saving them is simply agreeing them.
        return agree_goal(goal, author, current.id)
    goal.text, goal.helping_question = text, helping_question
    goal.updated_at = clock.now()
    goal.parent_agreed_at = goal.practitioner_agreed_at = None
    _set_own_agreement(goal, author)
    revision = GoalRevision(
        goal_id=goal.id, text=text, helping_question=helping_question, author_id=author.id
    )
    db.session().add(revision)
    db.session().flush()
    _settle(goal, revision)
    audit.record("goal_edited", actor=author, family=family, detail=f"goal {goal.id}")
    db.session().commit()
    return goal


def agree_goal(goal: Goal, user: User, seen_revision_id: int) -> Goal:
    """This side agrees the words it was shown (refused if they have changed since)."""
    family = db.session().get(Family, goal.family_id)
    assert family is not None
    _check_open(family)
    current = latest_revision(goal)
    if current.id != seen_revision_id:
        raise GoalChanged("The goal was changed while you were looking. Read the new words.")
    already = goal.parent_agreed_at if user.is_parent else goal.practitioner_agreed_at
    if already is not None:
        return goal
    _set_own_agreement(goal, user)
    _settle(goal, current)
    audit.record("goal_agreed", actor=user, family=family, detail=f"goal {goal.id}")
    db.session().commit()
    return goal


def agreed_by(goal: Goal, user: User) -> bool:
    """Whether `user`'s side has agreed the current words."""
    return (goal.parent_agreed_at if user.is_parent else goal.practitioner_agreed_at) is not None
