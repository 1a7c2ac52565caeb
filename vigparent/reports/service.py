"""The service report for the lead and commissioners: counts and distributions, never a family.

Two steps, kept apart on purpose: `service_figures` works out the exact figures (tests check
them against families they build), and `published_report` applies disclosure control before
anything leaves the server, on screen or as CSV.

Disclosure control, as NHS statistics on small services do it: a count of 1 to 4 is shown as
"<5" and every other count is rounded to the nearest 5 (0 stays 0). Rounding matters as much
as suppression here: the stages are a funnel (invited, joined, filming, ...), so exact
neighbours would give away a suppressed difference ("20 invited, 19 joined"). A median is shown
only when at least 5 families or cycles are behind it.

Where the figures come from (what the tables still hold):
- stages: a family counts as filming or reviewed if it has a received recording or a
  published clip now, or the audit trail says it once had one (withdrawal deletes media but
  not the audit trail). Families an admin erased entirely are not counted at all.
- days from filming to shared review: per cycle, from its first received recording (when it
  was filmed, else when it arrived) to the first time one of its clips was shown to the
  family. Only cycles whose media still exists.
- progress: each carer rates progress towards the goal from 1 to 10 at each review
  (ProgressRating). A family's rating at a review is the mean of its carers' ratings; its
  change is the last rated review minus the first, for families rated at 2 reviews or more.
"""

from __future__ import annotations

import csv
import io
import statistics
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select

from vigparent import clock, db
from vigparent.models import (
    AuditEvent,
    Clip,
    Cycle,
    Family,
    FamilyStatus,
    ProgressRating,
    Recording,
    RecordingStatus,
    Role,
    User,
)

SMALLEST_SHOWN = 5
ROUND_TO = 5

STAGES = ("invited", "joined", "filming", "reviewed", "closed", "withdrawn")
STAGE_WORDS = {
    "invited": "Families invited",
    "joined": "Families who joined (a carer opened their link and agreed)",
    "filming": "Families who sent at least one video",
    "reviewed": "Families who had at least one shared review (clips shown to them)",
    "closed": "Cases closed",
    "withdrawn": "Families who withdrew consent",
}
CYCLE_BINS = ("0", "1", "2", "3", "4", "5 or more")
DAY_BINS = ("0 to 7 days", "8 to 14 days", "15 to 28 days", "29 days or more")
CHANGE_BINS = ("Went down", "No change", "Up 1 to 2", "Up 3 to 4", "Up 5 or more")

_ARRIVED = (RecordingStatus.RECEIVED, RecordingStatus.PROCESSING, RecordingStatus.READY)


@dataclass(frozen=True)
class Figures:
    """Exact figures for one organisation. Never shown as they are: see published_report."""

    stages: dict[str, int]
    cycles_per_family: dict[str, int]
    days_to_review: list[int]
    rating_changes: list[float]


def service_figures(organisation_id: int) -> Figures:
    s = db.session()
    families = list(s.scalars(select(Family).where(Family.organisation_id == organisation_id)))
    ids = {f.id for f in families}
    joined = set(
        s.scalars(select(User.family_id).where(User.role == Role.PARENT, User.family_id.in_(ids)))
    )
    filmed = _audited(ids, "recording_received") | set(
        s.scalars(
            select(Recording.family_id).where(
                Recording.family_id.in_(ids), Recording.status.in_(_ARRIVED)
            )
        )
    )
    reviewed = _audited(ids, "clip_published") | set(
        s.scalars(
            select(Clip.family_id).where(Clip.family_id.in_(ids), Clip.published_at.is_not(None))
        )
    )
    stages = {
        "invited": len(ids),
        "joined": len(joined),
        "filming": len(filmed),
        "reviewed": len(reviewed),
        "closed": sum(1 for f in families if f.closed_at is not None),
        "withdrawn": sum(1 for f in families if f.status is FamilyStatus.WITHDRAWN),
    }
    cycle_counts = dict.fromkeys(joined, 0)
    for family_id, count in s.execute(
        select(Cycle.family_id, func.count())
        .where(Cycle.family_id.in_(joined))
        .group_by(Cycle.family_id)
    ):
        cycle_counts[family_id] = count
    cycles_per_family = dict.fromkeys(CYCLE_BINS, 0)
    for count in cycle_counts.values():
        cycles_per_family[CYCLE_BINS[min(count, 5)]] += 1
    return Figures(
        stages=stages,
        cycles_per_family=cycles_per_family,
        days_to_review=_days_to_review(ids),
        rating_changes=_rating_changes(ids),
    )


def _audited(family_ids: set[int], action: str) -> set[int]:
    return {
        i
        for i in db.session().scalars(
            select(AuditEvent.family_id).where(
                AuditEvent.action == action, AuditEvent.family_id.in_(family_ids)
            )
        )
        if i is not None
    }


def _days_to_review(family_ids: set[int]) -> list[int]:
    s = db.session()
    filmed: dict[int, datetime] = {}
    for cycle_id, recorded_at, completed_at, created_at in s.execute(
        select(
            Recording.cycle_id, Recording.recorded_at, Recording.completed_at, Recording.created_at
        ).where(
            Recording.family_id.in_(family_ids),
            Recording.cycle_id.is_not(None),
            Recording.status.in_(_ARRIVED),
        )
    ):
        at = recorded_at or completed_at or created_at
        if cycle_id is not None and (cycle_id not in filmed or at < filmed[cycle_id]):
            filmed[cycle_id] = at
    shown: dict[int, datetime] = {}
    for cycle_id, published_at in s.execute(
        select(Recording.cycle_id, Clip.published_at)
        .join(Recording, Recording.id == Clip.recording_id)
        .where(Clip.family_id.in_(family_ids), Clip.published_at.is_not(None))
    ):
        if cycle_id is None or published_at is None:
            continue
        if cycle_id not in shown or published_at < shown[cycle_id]:
            shown[cycle_id] = published_at
    return sorted(max(0, (shown[c] - filmed[c]).days) for c in filmed.keys() & shown.keys())


def _rating_changes(family_ids: set[int]) -> list[float]:
    by_family: dict[int, dict[int, list[int]]] = defaultdict(lambda: defaultdict(list))
    for family_id, number, score in db.session().execute(
        select(ProgressRating.family_id, Cycle.number, ProgressRating.score)
        .join(Cycle, Cycle.id == ProgressRating.cycle_id)
        .where(ProgressRating.family_id.in_(family_ids))
    ):
        by_family[family_id][number].append(score)
    changes = []
    for per_cycle in by_family.values():
        if len(per_cycle) < 2:
            continue
        ordered = [statistics.mean(per_cycle[n]) for n in sorted(per_cycle)]
        changes.append(round(ordered[-1] - ordered[0], 1))
    return sorted(changes)


# -- disclosure control -------------------------------------------------------------------------


def shown_count(n: int) -> str:
    """0 stays 0; 1 to 4 become "<5"; the rest are rounded to the nearest 5."""
    if n == 0:
        return "0"
    if n < SMALLEST_SHOWN:
        return f"<{SMALLEST_SHOWN}"
    return str(int(n / ROUND_TO + 0.5) * ROUND_TO)


def shown_median(values: list[int] | list[float], unit: str) -> str:
    if len(values) < SMALLEST_SHOWN:
        return f"Not shown (fewer than {SMALLEST_SHOWN})"
    median = statistics.median(values)
    return f"{median:g} {unit}"


def _day_bin(days: int) -> str:
    if days <= 7:
        return DAY_BINS[0]
    if days <= 14:
        return DAY_BINS[1]
    if days <= 28:
        return DAY_BINS[2]
    return DAY_BINS[3]


def _change_bin(change: float) -> str:
    if change < 0:
        return CHANGE_BINS[0]
    if change == 0:
        return CHANGE_BINS[1]
    if change <= 2:
        return CHANGE_BINS[2]
    if change <= 4:
        return CHANGE_BINS[3]
    return CHANGE_BINS[4]


def _binned(values: Iterable[str], bins: tuple[str, ...]) -> dict[str, int]:
    counts = dict.fromkeys(bins, 0)
    for v in values:
        counts[v] += 1
    return counts


@dataclass(frozen=True)
class Section:
    title: str
    rows: list[tuple[str, str]]


@dataclass(frozen=True)
class Report:
    made_at: datetime
    sections: list[Section]


NOTE = (
    f"Counts of 1 to {SMALLEST_SHOWN - 1} are shown as <{SMALLEST_SHOWN}; other counts are "
    f"rounded to the nearest {ROUND_TO}. Medians need at least {SMALLEST_SHOWN} behind them."
)


def published_report(figures: Figures) -> Report:
    """The figures after disclosure control: the only form that is shown or downloaded."""
    days = figures.days_to_review
    changes = figures.rating_changes
    sections = [
        Section(
            "Families",
            [(STAGE_WORDS[k], shown_count(figures.stages[k])) for k in STAGES],
        ),
        Section(
            "Cycles per family (families who joined)",
            [
                (f"{k} cycle{'' if k == '1' else 's'}", shown_count(v))
                for k, v in figures.cycles_per_family.items()
            ],
        ),
        Section(
            "Days from filming to shared review (cycles)",
            [(k, shown_count(v)) for k, v in _binned(map(_day_bin, days), DAY_BINS).items()]
            + [("Median", shown_median(days, "days"))],
        ),
        Section(
            "Change in the parent's progress rating, first to last review (families)",
            [
                (k, shown_count(v))
                for k, v in _binned(map(_change_bin, changes), CHANGE_BINS).items()
            ]
            + [("Median change", shown_median(changes, "points out of 10"))],
        ),
    ]
    return Report(made_at=clock.now(), sections=sections)


def report_csv(report: Report) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(["section", "measure", "value"])
    for section in report.sections:
        for measure, value in section.rows:
            writer.writerow([section.title, measure, value])
    writer.writerow(["Notes", "Disclosure control", NOTE])
    writer.writerow(["Notes", "Made at (UTC)", report.made_at.strftime("%Y-%m-%d %H:%M")])
    return out.getvalue()
