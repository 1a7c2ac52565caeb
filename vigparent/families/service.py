"""Families on a practitioner's caseload: creating them, filming plans, carers, and the next step.

`next_step(family)` is the one place that decides what happens next for a family. The
parent's home screen and the practitioner's caseload both read it, so they never disagree.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from babel.dates import format_date, format_time
from flask_babel import gettext
from sqlalchemy import or_, select

from vigparent import audit, clock, db, i18n
from vigparent.auth import service as auth_service
from vigparent.i18n import N_
from vigparent.invitations import service as invitation_service
from vigparent.invitations.service import FamilyNotOpen
from vigparent.models import (
    Clip,
    Cycle,
    Family,
    FamilyStatus,
    FilmingPlace,
    Goal,
    GoalRevision,
    GoalStatus,
    Invitation,
    LoginSession,
    Recording,
    RecordingStatus,
    Role,
    User,
)
from vigparent.notifications import stopping

# Families and practitioners are in the UK: dates and times are shown and typed in UK time,
# and stored as naive UTC like every other time in the database.
LOCAL_TZ = ZoneInfo("Europe/London")

PLACE_NAMES: dict[FilmingPlace, str] = {
    FilmingPlace.HOME: N_("At home"),
    FilmingPlace.CLINIC: N_("At the clinic"),
    FilmingPlace.PARK: N_("At the park"),
    FilmingPlace.OTHER: N_("Somewhere else"),
}

STATUS_NAMES: dict[FamilyStatus, str] = {
    FamilyStatus.INVITED: "Invited",
    FamilyStatus.ACTIVE: "Active",
    FamilyStatus.CLOSED: "Closed",
    FamilyStatus.WITHDRAWN: "Consent withdrawn",
}

# What a parent films when the plan names no activity.
DEFAULT_ACTIVITY = N_("an ordinary time with your child")


class InvalidFamilyLabel(ValueError):
    """A family needs a short label the practitioner recognises."""


class InvalidPlan(ValueError):
    """A filming plan that cannot work (a date in the past, a review before the filming)."""


class CaseNotOpen(ValueError):
    """Only an open case can be closed."""


# --- dates in plain words -------------------------------------------------------------------


def local_now() -> datetime:
    return clock.now().replace(tzinfo=UTC).astimezone(LOCAL_TZ)


def today() -> date:
    return local_now().date()


def to_local(at: datetime) -> datetime:
    """A stored naive-UTC time as UK local time."""
    return at.replace(tzinfo=UTC).astimezone(LOCAL_TZ)


def from_local(day: date, at: time) -> datetime:
    """A UK date and time typed by a person, as naive UTC for the database."""
    return datetime.combine(day, at, LOCAL_TZ).astimezone(UTC).replace(tzinfo=None)


def say_date(day: date | datetime) -> str:
    """'Thursday 3 December' (with the year when it is not this year), in the page's language."""
    if isinstance(day, datetime):
        day = to_local(day).date()
    language = i18n.current_language()
    this_year = day.year == today().year
    if language != i18n.ENGLISH:
        pattern = "EEEE d MMMM" if this_year else "EEEE d MMMM y"
        return format_date(day, pattern, locale=language)
    text = f"{day:%A} {day.day} {day:%B}"
    return text if this_year else f"{text} {day.year}"


def say_time(at: datetime) -> str:
    """'10am', '2:30pm' in UK time (other languages: the 24-hour clock, e.g. 14:30)."""
    local = to_local(at)
    language = i18n.current_language()
    if language != i18n.ENGLISH:
        return format_time(local.time(), "HH:mm", locale=language)
    hour = local.hour % 12 or 12
    suffix = "am" if local.hour < 12 else "pm"
    return f"{hour}{suffix}" if local.minute == 0 else f"{hour}:{local.minute:02d}{suffix}"


def say_when(at: datetime) -> str:
    """'Thursday 10 December at 10am'."""
    if i18n.current_language() != i18n.ENGLISH:
        return gettext("%(date)s at %(time)s", date=say_date(at), time=say_time(at))
    return f"{say_date(at)} at {say_time(at)}"


# --- families -------------------------------------------------------------------------------


def create_family(practitioner: User, label: str) -> Family:
    """A new family on the practitioner's caseload (not committed: a building block)."""
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


def start_family(
    practitioner: User, label: str, carer_name: str = "", language: str | None = None
) -> tuple[Family, Invitation, str]:
    """Create a family and its first invitation at once (the token is shown once); committed."""
    family = create_family(practitioner, label)
    family.language = i18n.language_or_english(language)
    invitation, token = invitation_service.invite_carer(family, practitioner, carer_name)
    return family, invitation, token


@dataclass(frozen=True)
class Carer:
    """A parent or carer of a family and the devices they are signed in on."""

    user: User
    devices: tuple[LoginSession, ...]

    @property
    def signed_in(self) -> bool:
        return bool(self.devices)


def carers(family: Family) -> list[Carer]:
    s = db.session()
    users = s.scalars(
        select(User)
        .where(User.family_id == family.id, User.role == Role.PARENT)
        .order_by(User.created_at, User.id)
    )
    result = []
    for user in users:
        devices = s.scalars(
            select(LoginSession)
            .where(LoginSession.user_id == user.id, LoginSession.ended_at.is_(None))
            .order_by(LoginSession.last_seen_at.desc())
        )
        result.append(Carer(user=user, devices=tuple(devices)))
    return result


def carer_of(family: Family, carer_id: int) -> User | None:
    """A carer of this family by id, or None (so a route can 404 on anyone else)."""
    user = db.session().get(User, carer_id)
    if user is None or user.family_id != family.id or not user.is_parent:
        return None
    return user


def sign_out_carer(family: Family, carer: User, by: User, device_id: int | None = None) -> int:
    """End one signed-in device of this carer, or all of them; returns how many ended."""
    if device_id is not None:
        ended = int(auth_service.end_device_session(carer, device_id))
    else:
        ended = auth_service.end_all_sessions(carer)
    audit.record("carer_signed_out", actor=by, family=family, detail=f"user {carer.id}: {ended}")
    db.session().commit()
    return ended


def describe_device(user_agent: str) -> str:
    """A person-readable name for a browser's user agent ('Android phone, Chrome')."""
    ua = user_agent or ""
    if "iPhone" in ua:
        kind = "iPhone"
    elif "iPad" in ua:
        kind = "iPad"
    elif "Android" in ua:
        kind = "Android phone" if "Mobile" in ua else "Android tablet"
    elif "Windows" in ua:
        kind = "Windows computer"
    elif "Macintosh" in ua:
        kind = "Mac"
    elif "Linux" in ua:
        kind = "Linux computer"
    else:
        return "Unknown device"
    for marker, browser in (
        ("SamsungBrowser", "Samsung Internet"),
        ("Edg", "Edge"),
        ("Firefox", "Firefox"),
        ("FxiOS", "Firefox"),
        ("CriOS", "Chrome"),
        ("Chrome", "Chrome"),
        ("Safari", "Safari"),
    ):
        if marker in ua:
            return f"{kind}, {browser}"
    return kind


# --- filming plans --------------------------------------------------------------------------


@dataclass(frozen=True)
class FilmingPlan:
    """What a practitioner types for one cycle."""

    film_by: date | None
    place: FilmingPlace
    activity: str = ""
    note: str = ""
    review_on: date | None = None
    review_time: time | None = None


def cycles(family: Family) -> list[Cycle]:
    """Every cycle, newest first."""
    return list(
        db.session().scalars(
            select(Cycle).where(Cycle.family_id == family.id).order_by(Cycle.number.desc())
        )
    )


def current_cycle(family: Family) -> Cycle | None:
    return db.session().scalar(
        select(Cycle).where(Cycle.family_id == family.id).order_by(Cycle.number.desc()).limit(1)
    )


def _check_plan(plan: FilmingPlan, existing: Cycle | None) -> datetime | None:
    """Validate a plan; returns the review time in UTC (or None)."""
    # An unchanged date on an old plan may stay in the past; a new one may not.
    date_is_new = existing is None or existing.film_by != plan.film_by
    if plan.film_by is not None and plan.film_by < today() and date_is_new:
        raise InvalidPlan("The filming date has already passed. Choose today or later.")
    if len(plan.activity) > 200:
        raise InvalidPlan("Keep the activity short, such as 'bath time'.")
    if plan.review_time is not None and plan.review_on is None:
        raise InvalidPlan("Add a date for the review, or leave the time empty.")
    if plan.review_on is None:
        return None
    if plan.film_by is not None and plan.review_on < plan.film_by:
        raise InvalidPlan("The review should be on or after the filming date.")
    review_at = from_local(plan.review_on, plan.review_time or time(10, 0))
    unchanged = existing is not None and existing.review_at == review_at
    if review_at < clock.now() and not unchanged:
        raise InvalidPlan("The review time has already passed. Choose a later time.")
    return review_at


def plan_cycle(family: Family, by: User, plan: FilmingPlan) -> Cycle:
    """Start the next cycle with this filming plan."""
    if family.status in (FamilyStatus.CLOSED, FamilyStatus.WITHDRAWN):
        raise FamilyNotOpen("This family's work has ended, so filming can't be planned.")
    review_at = _check_plan(plan, None)
    latest = current_cycle(family)
    cycle = Cycle(
        family_id=family.id,
        number=(latest.number + 1) if latest else 1,
        film_by=plan.film_by,
        place=plan.place,
        activity=" ".join(plan.activity.split()),
        note=plan.note.strip(),
        review_at=review_at,
    )
    db.session().add(cycle)
    db.session().flush()
    audit.record("cycle_planned", actor=by, family=family, detail=f"cycle {cycle.number}")
    db.session().commit()
    return cycle


def update_cycle(cycle: Cycle, by: User, plan: FilmingPlan) -> Cycle:
    family = db.session().get(Family, cycle.family_id)
    assert family is not None
    if family.status in (FamilyStatus.CLOSED, FamilyStatus.WITHDRAWN):
        raise FamilyNotOpen("This family's work has ended, so plans can't change.")
    cycle.review_at = _check_plan(plan, cycle)
    cycle.film_by = plan.film_by
    cycle.place = plan.place
    cycle.activity = " ".join(plan.activity.split())
    cycle.note = plan.note.strip()
    audit.record("cycle_updated", actor=by, family=family, detail=f"cycle {cycle.number}")
    db.session().commit()
    return cycle


def plan_of(cycle: Cycle) -> FilmingPlan:
    """A cycle's plan as the form shows it (review time in UK time)."""
    local = to_local(cycle.review_at) if cycle.review_at else None
    return FilmingPlan(
        film_by=cycle.film_by,
        place=cycle.place,
        activity=cycle.activity,
        note=cycle.note,
        review_on=local.date() if local else None,
        review_time=local.time().replace(tzinfo=None) if local else None,
    )


def film_sentence(cycle: Cycle) -> str:
    """'Film bath time before Thursday 3 December' — the plan in one sentence, in the
    family's language (the activity is as the practitioner typed it)."""
    activity = cycle.activity or gettext(DEFAULT_ACTIVITY)
    if cycle.film_by is None:
        return gettext("Film %(activity)s when it suits you.", activity=activity)
    if cycle.film_by == today():
        return gettext("Film %(activity)s today if you can.", activity=activity)
    date = say_date(cycle.film_by)
    if cycle.film_by < today():
        return gettext(
            "Film %(activity)s when you can. We planned it for %(date)s.",
            activity=activity,
            date=date,
        )
    return gettext("Film %(activity)s before %(date)s.", activity=activity, date=date)


# --- the next step --------------------------------------------------------------------------


class Waiting(enum.StrEnum):
    FAMILY = "family"
    PRACTITIONER = "practitioner"
    NOBODY = "nobody"

    @property
    def label(self) -> str:
        return {
            Waiting.FAMILY: "Waiting for the family",
            Waiting.PRACTITIONER: "Waiting for you",
            Waiting.NOBODY: "Nothing waiting",
        }[self]


@dataclass(frozen=True)
class NextStep:
    """What happens next, said once for the parent and once for the practitioner."""

    stage: str
    for_parent: str
    for_practitioner: str
    waiting_on: Waiting
    # A video that arrived and has no clips yet: the practitioner's next step links to it.
    new_recording_id: int | None = None


def current_goal(family: Family) -> Goal | None:
    """The goal the family is working on (the newest one not retired)."""
    return db.session().scalar(
        select(Goal)
        .where(Goal.family_id == family.id, Goal.status != GoalStatus.RETIRED)
        .order_by(Goal.created_at.desc(), Goal.id.desc())
        .limit(1)
    )


def _cycle_recordings(family: Family, cycle: Cycle) -> list[Recording]:
    # Uploads may not name their cycle; those sent after this cycle began belong to it.
    return list(
        db.session().scalars(
            select(Recording).where(
                Recording.family_id == family.id,
                or_(
                    Recording.cycle_id == cycle.id,
                    (Recording.cycle_id.is_(None)) & (Recording.created_at >= cycle.created_at),
                ),
            )
        )
    )


def next_step(family: Family) -> NextStep:
    """The one rule for what happens next in a family's VIG work."""
    if family.status is FamilyStatus.WITHDRAWN:
        return _withdrawn_step(family)
    if family.status is FamilyStatus.CLOSED:
        return NextStep(
            "closed",
            gettext("Your work together has finished. Thank you for taking part."),
            "Case closed.",
            Waiting.NOBODY,
        )
    if family.status is FamilyStatus.INVITED:
        return _invited_step(family)

    goal = current_goal(family)
    if goal is None:
        return NextStep(
            "goal_needed",
            gettext(
                "Think about what you would like to be different, and agree a goal with "
                "your practitioner."
            ),
            "Agree a goal with the family.",
            Waiting.PRACTITIONER,
        )
    if goal.status is not GoalStatus.AGREED:
        if goal.parent_agreed_at is None:
            return NextStep(
                "goal_for_parent",
                gettext("Read your goal and tell your practitioner if it feels right."),
                "Waiting for the family to agree the goal.",
                Waiting.FAMILY,
            )
        return NextStep(
            "goal_for_practitioner",
            gettext("Your practitioner is reading your goal."),
            "The family agreed a goal. Read it and agree it too.",
            Waiting.PRACTITIONER,
        )

    cycle = current_cycle(family)
    if cycle is None:
        return NextStep(
            "plan_needed",
            gettext("Your practitioner will plan a time to film with you."),
            "Plan the first filming.",
            Waiting.PRACTITIONER,
        )
    return _cycle_step(family, cycle)


def withdrawn_sentence(family: Family) -> str:
    """'The family withdrew consent on Wednesday 25 November at 12pm.' for staff pages."""
    if family.withdrawn_at is None:
        return "The family withdrew consent."
    return f"The family withdrew consent on {say_when(family.withdrawn_at)}."


def _withdrawn_step(family: Family) -> NextStep:
    parent_words = gettext("You stopped taking part, so your videos were deleted.")
    if family.closed_at is None:
        return NextStep(
            "withdrawn",
            parent_words,
            f"{withdrawn_sentence(family)} We deleted their videos and clips. "
            "Close the case when you are ready.",
            Waiting.PRACTITIONER,
        )
    return NextStep(
        "withdrawn_closed",
        parent_words,
        f"Case closed. {withdrawn_sentence(family)} Their videos and clips were deleted.",
        Waiting.NOBODY,
    )


def _invited_step(family: Family) -> NextStep:
    waiting = invitation_service.open_invitations(family)
    if waiting:
        until = max(i.expires_at for i in waiting)
        return NextStep(
            "invited",
            gettext("Open your invitation link to join."),
            f"Waiting for the family to open their link (it works until {say_date(until)}).",
            Waiting.FAMILY,
        )
    return NextStep(
        "invite_needed",
        gettext("Ask your practitioner for a new link."),
        "No link is waiting. Send the family a new one.",
        Waiting.PRACTITIONER,
    )


def _cycle_step(family: Family, cycle: Cycle) -> NextStep:
    recordings = _cycle_recordings(family, cycle)
    clips = (
        list(
            db.session().scalars(
                select(Clip).where(Clip.recording_id.in_([r.id for r in recordings]))
            )
        )
        if recordings
        else []
    )
    statuses = {r.status for r in recordings}
    arrived = {RecordingStatus.RECEIVED, RecordingStatus.PROCESSING, RecordingStatus.READY}
    cut_from = {c.recording_id for c in clips}
    uncut = sorted(
        (r for r in recordings if r.status in arrived and r.id not in cut_from),
        key=lambda r: (r.created_at, r.id),
    )
    new_id = uncut[-1].id if uncut else None
    if any(c.published_at is not None for c in clips):
        if cycle.review_at is not None and cycle.review_at > clock.now():
            when = say_when(cycle.review_at)
            if new_id is not None:
                return NextStep(
                    "review_booked",
                    gettext("Your review is on %(when)s.", when=when),
                    f"A new video has arrived. Watch it before the review on {when}.",
                    Waiting.PRACTITIONER,
                    new_id,
                )
            return NextStep(
                "review_booked",
                gettext("Your review is on %(when)s.", when=when),
                f"Review with the family on {when}.",
                Waiting.NOBODY,
            )
        if cycle.review_at is None:
            return NextStep(
                "review_needed",
                gettext(
                    "Your clips are ready. "
                    "Your practitioner will plan a time to watch them with you."
                ),
                "Clips are shared. Book a time to review them with the family.",
                Waiting.PRACTITIONER,
            )
        return NextStep(
            "reviewed",
            gettext("Watch your clips again and notice what went well."),
            "Review done? Plan the next filming.",
            Waiting.PRACTITIONER,
        )
    if clips:
        return NextStep(
            "choosing_clips",
            gettext("Your practitioner is choosing clips."),
            "Finish choosing clips and share them.",
            Waiting.PRACTITIONER,
        )
    if statuses & arrived:
        return NextStep(
            "watching",
            gettext("Your practitioner is watching your video."),
            "A new video has arrived. Watch it and choose clips.",
            Waiting.PRACTITIONER,
            new_id,
        )
    if RecordingStatus.UPLOADING in statuses:
        return NextStep(
            "sending",
            gettext("Your video is still sending. Open this app when you have signal."),
            "A video is on its way from the family.",
            Waiting.FAMILY,
        )
    if RecordingStatus.REJECTED in statuses:
        return NextStep(
            "film_again",
            gettext("Your video did not work, sorry.") + " " + film_sentence(cycle),
            "The video could not be used. The family has been asked to film again.",
            Waiting.FAMILY,
        )
    overdue = cycle.film_by is not None and cycle.film_by < today()
    activity = cycle.activity or "a short video"
    if overdue:
        assert cycle.film_by is not None
        practitioner_text = (
            f"Filming was planned for {say_date(cycle.film_by)} and nothing has arrived. "
            "Check in with the family."
        )
    elif cycle.film_by is not None:
        practitioner_text = (
            f"Waiting for the family to film {activity} (by {say_date(cycle.film_by)})."
        )
    else:
        practitioner_text = f"Waiting for the family to film {activity}."
    return NextStep(
        "film",
        film_sentence(cycle),
        practitioner_text,
        Waiting.PRACTITIONER if overdue else Waiting.FAMILY,
    )


# --- the caseload ---------------------------------------------------------------------------


@dataclass(frozen=True)
class CaseloadEntry:
    family: Family
    status: str
    step: NextStep
    carers: int


_WAITING_ORDER = {Waiting.PRACTITIONER: 0, Waiting.FAMILY: 1, Waiting.NOBODY: 2}
_ENDED = (FamilyStatus.CLOSED, FamilyStatus.WITHDRAWN)


def caseload(families: list[Family]) -> list[CaseloadEntry]:
    """Each family with its status and next step; what waits for the practitioner first."""
    entries = [
        CaseloadEntry(
            family=f,
            status=STATUS_NAMES[f.status],
            step=next_step(f),
            carers=sum(1 for c in f.carers if c.is_parent),
        )
        for f in families
    ]
    return sorted(
        entries,
        key=lambda e: (
            e.family.status in _ENDED,
            _WAITING_ORDER[e.step.waiting_on],
            e.family.label.lower(),
        ),
    )


# --- closing a case -------------------------------------------------------------------------


def close_case(family: Family, by: User) -> datetime:
    """Close the case; its media is deleted after the organisation's retention period.

    Returns when that deletion is due.
    """
    if family.status is FamilyStatus.CLOSED or family.closed_at is not None:
        raise CaseNotOpen("This case is already closed.")
    # A withdrawn family stays "withdrawn" (its media is already gone); closing only ends the
    # work, so the caseload stops asking for it.
    if family.status is not FamilyStatus.WITHDRAWN:
        family.status = FamilyStatus.CLOSED
    family.closed_at = clock.now()
    invitation_service.revoke_open_invitations(family, family.closed_at)
    stopping.stop_family(family.id)  # no reminder, text or push for a closed case
    audit.record("case_closed", actor=by, family=family)
    db.session().commit()
    return retention_due(family)


def retention_due(family: Family) -> datetime:
    """When a closed case's media falls due for deletion."""
    closed = family.closed_at or clock.now()
    return closed + timedelta(days=family.organisation.retention_days_after_close)


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
