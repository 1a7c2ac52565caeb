"""The parent's side of a review: their reflections, progress ratings and the progress chart."""

from __future__ import annotations

from dataclasses import dataclass

from flask_babel import gettext
from sqlalchemy import select

from vigparent import access, audit, db, i18n
from vigparent.clips.service import ReviewSet, review_sets
from vigparent.i18n import N_
from vigparent.models import (
    Clip,
    Cycle,
    Family,
    Goal,
    GoalStatus,
    ProgressRating,
    Reflection,
    User,
)

MAX_REFLECTION = 4000
LOWEST, HIGHEST = 1, 10


class ReviewProblem(Exception):
    """Something the parent sent that we cannot save; the message is for them to read."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


def family_of(user: User) -> Family:
    """The signed-in carer's own family, through the one access check."""
    return access.load_family(user, user.family_id or 0)


def published_reviews(family: Family) -> list[ReviewSet]:
    """What the family may watch: published, finished clips, grouped by review."""
    return review_sets(family, published_only=True, ready_only=True)


def current_goal(family: Family) -> Goal | None:
    """The goal to show beside the review: an agreed one first, else the newest proposal."""
    return db.session().scalar(
        select(Goal)
        .where(Goal.family_id == family.id, Goal.status != GoalStatus.RETIRED)
        .order_by((Goal.status == GoalStatus.AGREED).desc(), Goal.created_at.desc())
        .limit(1)
    )


@dataclass(frozen=True)
class MyWords:
    """This carer's own reflections: per clip, and per review ("other" for no cycle)."""

    by_clip: dict[int, Reflection]
    by_set: dict[str, Reflection]
    ratings: dict[int, ProgressRating]


def my_words(user: User, family: Family) -> MyWords:
    s = db.session()
    reflections = s.scalars(
        select(Reflection)
        .where(Reflection.family_id == family.id, Reflection.author_id == user.id)
        .order_by(Reflection.created_at, Reflection.id)
    )
    by_clip: dict[int, Reflection] = {}
    by_set: dict[str, Reflection] = {}
    for r in reflections:
        if r.clip_id is not None:
            by_clip[r.clip_id] = r
        else:
            by_set[str(r.cycle_id) if r.cycle_id is not None else "other"] = r
    ratings = {
        r.cycle_id: r
        for r in s.scalars(
            select(ProgressRating)
            .where(ProgressRating.family_id == family.id, ProgressRating.author_id == user.id)
            .order_by(ProgressRating.created_at, ProgressRating.id)
        )
    }
    return MyWords(by_clip, by_set, ratings)


def _clean(text: str) -> str:
    text = text.replace("\r\n", "\n").strip()
    if len(text) > MAX_REFLECTION:
        raise ReviewProblem(
            gettext(
                "That is a bit long to save. Please keep it under %(limit)s letters.",
                limit=i18n.say_number(MAX_REFLECTION),
            )
        )
    return text


EMPTY_REFLECTION = N_("Write what you noticed first, then tap Save.")


def _save(existing: Reflection | None, new: Reflection, text: str) -> Reflection | None:
    """Write, change or (when emptied) remove one reflection. Commits."""
    s = db.session()
    if not text:
        if existing is None:
            raise ReviewProblem(gettext(EMPTY_REFLECTION))
        s.delete(existing)
        s.commit()
        return None
    if existing is not None:
        existing.text = text
        s.commit()
        return existing
    new.text = text
    s.add(new)
    s.commit()
    return new


def save_clip_reflection(user: User, clip: Clip, text: str) -> Reflection | None:
    """What the carer noticed in one published clip (one note per carer per clip)."""
    text = _clean(text)
    existing = db.session().scalar(
        select(Reflection)
        .where(Reflection.clip_id == clip.id, Reflection.author_id == user.id)
        .order_by(Reflection.id.desc())
        .limit(1)
    )
    cycle_id = clip.recording.cycle_id
    new = Reflection(
        family_id=clip.family_id, clip_id=clip.id, cycle_id=cycle_id, author_id=user.id, text=""
    )
    saved = _save(existing, new, text)
    if saved is not None and existing is None:
        audit.record("reflection_written", actor=user, family=clip.recording.family)
        db.session().commit()
    return saved


def save_review_reflection(user: User, review: ReviewSet, text: str) -> Reflection | None:
    """What the carer noticed about a whole review."""
    text = _clean(text)
    family_id = review.clips[0].family_id
    cycle_id = review.cycle.id if review.cycle is not None else None
    stmt = (
        select(Reflection)
        .where(
            Reflection.family_id == family_id,
            Reflection.author_id == user.id,
            Reflection.clip_id.is_(None),
        )
        .order_by(Reflection.id.desc())
        .limit(1)
    )
    stmt = stmt.where(
        Reflection.cycle_id.is_(None) if cycle_id is None else Reflection.cycle_id == cycle_id
    )
    existing = db.session().scalar(stmt)
    new = Reflection(family_id=family_id, clip_id=None, cycle_id=cycle_id, author_id=user.id)
    return _save(existing, new, text)


def parse_score(raw: str | None) -> int:
    try:
        score = int(raw or "")
    except ValueError:
        raise ReviewProblem(gettext("Choose a number from 1 to 10.")) from None
    if not LOWEST <= score <= HIGHEST:
        raise ReviewProblem(gettext("Choose a number from 1 to 10."))
    return score


def rate(user: User, cycle: Cycle, score: int) -> ProgressRating:
    """The carer's rating towards the goal at this review; a second rating replaces the first."""
    if not LOWEST <= score <= HIGHEST:
        raise ReviewProblem(gettext("Choose a number from 1 to 10."))
    s = db.session()
    existing = s.scalar(
        select(ProgressRating)
        .where(ProgressRating.cycle_id == cycle.id, ProgressRating.author_id == user.id)
        .order_by(ProgressRating.id.desc())
        .limit(1)
    )
    if existing is not None:
        existing.score = score
        rating = existing
    else:
        rating = ProgressRating(
            family_id=cycle.family_id, cycle_id=cycle.id, author_id=user.id, score=score
        )
        s.add(rating)
    s.commit()
    return rating


# --- the progress chart ---------------------------------------------------------------------


@dataclass(frozen=True)
class ChartPoint:
    review: int
    score: int
    x: float
    y: float


@dataclass(frozen=True)
class ProgressChart:
    """Geometry for a small server-rendered SVG line chart of ratings, one point per review."""

    points: list[ChartPoint]
    width: int = 320
    height: int = 200
    left: int = 34
    right: int = 16
    top: int = 24
    bottom: int = 40

    @property
    def polyline(self) -> str:
        return " ".join(f"{p.x:.1f},{p.y:.1f}" for p in self.points)

    @property
    def gridlines(self) -> list[tuple[int, float]]:
        return [(v, self.y_for(v)) for v in (1, 5, 10)]

    @property
    def baseline(self) -> float:
        return float(self.height - self.bottom)

    def y_for(self, score: float) -> float:
        span = self.height - self.top - self.bottom
        return self.top + span * (HIGHEST - score) / (HIGHEST - LOWEST)

    @property
    def summary(self) -> str:
        return "; ".join(f"review {p.review}: {p.score} out of 10" for p in self.points)


def progress_chart(user: User, family: Family) -> ProgressChart | None:
    """This carer's ratings across the family's cycles, oldest first; None before the first."""
    rows = db.session().execute(
        select(Cycle.number, ProgressRating.score)
        .join(Cycle, Cycle.id == ProgressRating.cycle_id)
        .where(ProgressRating.family_id == family.id, ProgressRating.author_id == user.id)
        .order_by(Cycle.number, ProgressRating.id)
    )
    latest: dict[int, int] = {}
    for number, score in rows:
        latest[number] = score
    if not latest:
        return None
    empty = ProgressChart(points=[])
    # Padding keeps the first and last points (and their labels) clear of the frame.
    pad = 18
    inner = empty.width - empty.left - empty.right - 2 * pad
    count = len(latest)
    points = []
    for i, (number, score) in enumerate(sorted(latest.items())):
        x = empty.left + pad + (inner / 2 if count == 1 else inner * i / (count - 1))
        points.append(ChartPoint(review=number, score=score, x=x, y=empty.y_for(score)))
    return ProgressChart(points=points)
