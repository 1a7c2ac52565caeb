"""Families on a practitioner's caseload."""

from __future__ import annotations

from datetime import timedelta

from vigparent import audit, clock, db
from vigparent.models import Cycle, Family, FilmingPlace, Goal, GoalRevision, GoalStatus, User


class InvalidFamilyLabel(ValueError):
    """A family needs a short label the practitioner recognises."""


def create_family(practitioner: User, label: str) -> Family:
    label = " ".join(label.split())
    if not label or len(label) > 120:
        raise InvalidFamilyLabel("Give the family a short label, such as first names.")
    family = Family(
        organisation_id=practitioner.organisation_id,
        practitioner_id=practitioner.id,
        label=label,
    )
    db.session().add(family)
    db.session().flush()
    audit.record("family_created", actor=practitioner, family=family)
    return family


def seed_demo_plan(family: Family, practitioner: User) -> None:
    """A proposed goal and a first filming plan, so the demo shows a family mid-way."""
    s = db.session()
    goal = Goal(
        family_id=family.id,
        text="I'd like bath time to be calmer.",
        helping_question="What do I do that helps Sam settle?",
        status=GoalStatus.PROPOSED,
        proposed_by_id=practitioner.id,
        practitioner_agreed_at=clock.now(),
    )
    s.add(goal)
    s.flush()
    s.add(
        GoalRevision(
            goal_id=goal.id,
            text=goal.text,
            helping_question=goal.helping_question,
            author_id=practitioner.id,
        )
    )
    s.add(
        Cycle(
            family_id=family.id,
            number=1,
            film_by=(clock.now() + timedelta(days=6)).date(),
            place=FilmingPlace.HOME,
            activity="bath time",
            note="Five to ten minutes is plenty. Film whatever feels ordinary.",
            review_at=clock.now() + timedelta(days=10),
        )
    )
