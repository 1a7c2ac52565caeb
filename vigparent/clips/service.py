"""Clips: marking, cutting (a background job), ordering and publishing to the family.

A clip's in point is the first frame it shows and its out point is where it stops: the frame
shown at the out point is not in the clip (`video.cut_clip`). The cut runs as a job and writes
the clip and its poster through the encrypted store; nothing is ever written in plaintext.
"""

from __future__ import annotations

import contextlib
import logging
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from flask_babel import gettext
from sqlalchemy import delete, func, select

from vigparent import audit, clock, db, jobs, media_store, video_sandbox
from vigparent.models import (
    Clip,
    ClipStatus,
    Cycle,
    Family,
    Principle,
    ProgressRating,
    Recording,
    RecordingStatus,
    Reflection,
    User,
)
from vigparent.notifications import service as messages
from vigparent.storage import StorageError

log = logging.getLogger(__name__)

MIN_CLIP_SECONDS = 0.5
MAX_CLIP_SECONDS = 10 * 60
MAX_TITLE = 200
MAX_NOTE = 2000
DEFAULT_FRAME_RATE = 30.0
# An out point may sit a little past the end the upload reported (rounding, a last frame).
_END_TOLERANCE = 0.1

# Only a recording that passed the full decoder check (recordings.jobs) is cut: the editor
# plays its transcode, and the job never feeds an unchecked upload to a decoder again.
CUTTABLE = (RecordingStatus.READY,)

# Short descriptions the practitioner sees beside each VIG principle.
PRINCIPLE_HINTS: dict[Principle, str] = {
    Principle.BEING_ATTENTIVE: "Looking interested, friendly posture, turning towards",
    Principle.ENCOURAGING_INITIATIVES: "Waiting, listening, following the child's lead",
    Principle.RECEIVING_INITIATIVES: "Showing you have heard: nodding, smiling, naming",
    Principle.DEVELOPING_ATTUNED_INTERACTIONS: "Taking turns, back-and-forth, cooperating",
    Principle.GUIDING: "Scaffolding, giving information, making suggestions",
    Principle.DEEPENING_DISCUSSION: "Naming feelings, sharing ideas, reaching a shared view",
}


class ClipProblem(Exception):
    """Something the practitioner asked for that cannot be done; the message says why."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


@dataclass(frozen=True)
class ClipDetails:
    title: str
    strength_note: str
    principle: Principle
    position: int
    start_s: float
    end_s: float


def cuttable(recording: Recording) -> bool:
    return recording.status in CUTTABLE


def _played_name(recording: Recording) -> str:
    """What the editor's player shows (media.service.recording_video picks the same)."""
    return recording.transcode_name or recording.original_name


def _cut_source(recording: Recording) -> str:
    """Cut from the original when it is still kept: one generation of lossy coding fewer.

    Times match the transcode the practitioner marked on: both count from the first video
    frame (vigparent.video), and the transcode keeps every frame's timing.
    """
    if media_store.store().exists(recording.family_id, recording.original_name):
        return recording.original_name
    return _played_name(recording)


def validate(details: ClipDetails, recording: Recording) -> ClipDetails:
    """Tidy and check a clip's details against its recording; raise ClipProblem."""
    title = " ".join(details.title.split())
    note = details.strength_note.strip()
    if not title:
        raise ClipProblem("Give the clip a short title.")
    if len(title) > MAX_TITLE:
        raise ClipProblem(f"Keep the title under {MAX_TITLE} characters.")
    if len(note) > MAX_NOTE:
        raise ClipProblem(f"Keep the note under {MAX_NOTE} characters.")
    start, end = details.start_s, details.end_s
    if not (math.isfinite(start) and math.isfinite(end)) or start < 0:
        raise ClipProblem("Set the start and end of the clip (press I and O on the video).")
    if end <= start:
        raise ClipProblem("The end of the clip must come after its start.")
    if end - start < MIN_CLIP_SECONDS:
        raise ClipProblem("A clip must be at least half a second long.")
    if end - start > MAX_CLIP_SECONDS:
        raise ClipProblem("A clip can be at most 10 minutes long.")
    if recording.duration_s is not None and end > recording.duration_s + _END_TOLERANCE:
        raise ClipProblem("The end of the clip is after the end of the video.")
    if details.position < 1 or details.position > 1000:
        raise ClipProblem("The order must be a number from 1 to 1000.")
    # Millisecond precision is finer than any frame and keeps the numbers readable.
    return ClipDetails(
        title, note, details.principle, details.position, round(start, 3), round(end, 3)
    )


def next_position(recording: Recording) -> int:
    """One after the last clip of the same review (the recording's cycle)."""
    stmt = (
        select(func.max(Clip.position))
        .join(Recording, Recording.id == Clip.recording_id)
        .where(Clip.family_id == recording.family_id)
    )
    if recording.cycle_id is None:
        stmt = stmt.where(Recording.cycle_id.is_(None))
    else:
        stmt = stmt.where(Recording.cycle_id == recording.cycle_id)
    last = db.session().scalar(stmt)
    return (last or 0) + 1


def create_clip(recording: Recording, details: ClipDetails, by: User) -> Clip:
    """Add a clip to the recording and queue its cut. Commits."""
    if not cuttable(recording):
        raise ClipProblem("This video cannot be cut yet. Wait until it has finished arriving.")
    details = validate(details, recording)
    clip = Clip(
        family_id=recording.family_id,
        recording_id=recording.id,
        title=details.title,
        strength_note=details.strength_note,
        principle=details.principle,
        position=details.position,
        start_s=details.start_s,
        end_s=details.end_s,
        status=ClipStatus.CUTTING,
    )
    s = db.session()
    s.add(clip)
    s.flush()
    audit.record("clip_created", actor=by, family=recording.family, detail=f"clip {clip.id}")
    s.commit()
    cut_clip_task(clip.id, clip.start_s, clip.end_s)
    return clip


def update_clip(clip: Clip, details: ClipDetails, by: User) -> bool:
    """Change a clip's words, tag, order or range; a new range means a new cut. Commits.

    Returns whether the clip is being cut again.
    """
    details = validate(details, clip.recording)
    recut = (details.start_s, details.end_s) != (clip.start_s, clip.end_s)
    if recut and not cuttable(clip.recording):
        raise ClipProblem("This video is no longer available to cut.")
    clip.title, clip.strength_note = details.title, details.strength_note
    clip.principle, clip.position = details.principle, details.position
    if recut:
        clip.start_s, clip.end_s = details.start_s, details.end_s
        clip.status = ClipStatus.CUTTING
    audit.record("clip_changed", actor=by, family=clip.recording.family, detail=f"clip {clip.id}")
    db.session().commit()
    if recut:
        cut_clip_task(clip.id, clip.start_s, clip.end_s)
    return recut


def retry_cut(clip: Clip, by: User) -> None:
    if clip.status is not ClipStatus.FAILED:
        raise ClipProblem("Only a clip that could not be cut needs trying again.")
    if not cuttable(clip.recording):
        raise ClipProblem("This video is no longer available to cut.")
    clip.status = ClipStatus.CUTTING
    audit.record("clip_recut", actor=by, family=clip.recording.family, detail=f"clip {clip.id}")
    db.session().commit()
    cut_clip_task(clip.id, clip.start_s, clip.end_s)


def delete_clip(clip: Clip, by: User) -> None:
    """Remove the clip, its media and the parent's reflections on it. Commits."""
    family = clip.recording.family
    names = [n for n in (clip.media_name, clip.poster_name) if n]
    clip_id = clip.id
    s = db.session()
    s.execute(delete(Reflection).where(Reflection.clip_id == clip_id))
    s.delete(clip)
    audit.record("clip_deleted", actor=by, family=family, detail=f"clip {clip_id}")
    s.commit()
    store = media_store.store()
    for name in names:
        store.delete(family.id, name)


def publish(clips: Iterable[Clip], by: User) -> int:
    """Show ready clips to the family; returns how many were newly published. Commits."""
    clips = list(clips)
    if not clips:
        raise ClipProblem("There are no clips to publish yet.")
    not_ready = [c for c in clips if c.status is not ClipStatus.READY]
    if not_ready:
        raise ClipProblem(
            "Wait until every clip has finished cutting before you publish it."
            if any(c.status is ClipStatus.CUTTING for c in not_ready)
            else "A clip could not be cut. Try cutting it again, or delete it."
        )
    count = 0
    for clip in clips:
        if clip.published_at is None:
            clip.published_at = clock.now()
            count += 1
            audit.record(
                "clip_published", actor=by, family=clip.recording.family, detail=f"clip {clip.id}"
            )
    db.session().commit()
    if count:
        messages.clips_shared(clips[0].recording.family)
    return count


def unpublish(clip: Clip, by: User) -> None:
    if clip.published_at is not None:
        clip.published_at = None
        audit.record(
            "clip_unpublished", actor=by, family=clip.recording.family, detail=f"clip {clip.id}"
        )
        db.session().commit()


# --- review sets ---------------------------------------------------------------------------


@dataclass
class ReviewSet:
    """The clips shown at one review: those cut from one cycle's recordings, in order."""

    cycle: Cycle | None
    clips: list[Clip] = field(default_factory=list)

    @property
    def key(self) -> str:
        return str(self.cycle.id) if self.cycle is not None else "other"

    @property
    def title(self) -> str:
        # In the reader's language (staff pages are English).
        if self.cycle is None:
            return gettext("Clips")
        return gettext("Review %(number)s", number=self.cycle.number)


def review_sets(family: Family, *, published_only: bool, ready_only: bool) -> list[ReviewSet]:
    """The family's clips grouped by cycle, oldest review first; clips with no cycle last."""
    stmt = (
        select(Clip, Cycle)
        .join(Recording, Recording.id == Clip.recording_id)
        .outerjoin(Cycle, Cycle.id == Recording.cycle_id)
        .where(Clip.family_id == family.id)
        .order_by(Cycle.number.is_(None), Cycle.number, Clip.position, Clip.created_at, Clip.id)
    )
    if published_only:
        stmt = stmt.where(Clip.published_at.is_not(None))
    if ready_only:
        stmt = stmt.where(Clip.status == ClipStatus.READY)
    sets: dict[int | None, ReviewSet] = {}
    for clip, cycle in db.session().execute(stmt):
        key = cycle.id if cycle is not None else None
        sets.setdefault(key, ReviewSet(cycle)).clips.append(clip)
    return list(sets.values())


def find_set(sets: Sequence[ReviewSet], key: str | None) -> ReviewSet | None:
    """The set named by `key` (a cycle id or "other"); the latest when `key` is empty."""
    if not sets:
        return None
    if not key:
        dated = [s for s in sets if s.cycle is not None]
        return dated[-1] if dated else sets[-1]
    return next((s for s in sets if s.key == key), None)


def family_recordings(family: Family) -> list[Recording]:
    return list(
        db.session().scalars(
            select(Recording)
            .where(Recording.family_id == family.id)
            .order_by(Recording.created_at.desc(), Recording.id.desc())
        )
    )


@dataclass(frozen=True)
class ParentWords:
    """What the family wrote and rated, for the practitioner's overview."""

    # (reflection, who wrote it, the clip's title or None for the whole review)
    reflections: list[tuple[Reflection, str, str | None]]
    ratings: list[tuple[ProgressRating, Cycle, str]]


def parent_words(family: Family) -> ParentWords:
    s = db.session()
    names = {
        u.id: u.display_name or "A carer"
        for u in s.scalars(select(User).where(User.family_id == family.id))
    }
    reflections = list(
        s.execute(
            select(Reflection, Clip.title)
            .outerjoin(Clip, Clip.id == Reflection.clip_id)
            .where(Reflection.family_id == family.id)
            .order_by(Reflection.created_at.desc(), Reflection.id.desc())
        )
    )
    ratings = list(
        s.execute(
            select(ProgressRating, Cycle)
            .join(Cycle, Cycle.id == ProgressRating.cycle_id)
            .where(ProgressRating.family_id == family.id)
            .order_by(Cycle.number, ProgressRating.created_at)
        )
    )
    return ParentWords(
        reflections=[(r, names.get(r.author_id, "A carer"), title) for r, title in reflections],
        ratings=[(r, c, names.get(r.author_id, "A carer")) for r, c in ratings],
    )


# --- the player's frame rate ---------------------------------------------------------------


def frame_rate(recording: Recording) -> float:
    """The video's frame rate (for the one-frame step): kept when the transcode was made, or
    for a recording processed before that, read from its headers once."""
    if recording.frame_rate:
        return recording.frame_rate
    return _frame_rate_of(recording.family_id, _played_name(recording)) or DEFAULT_FRAME_RATE


# Even reading headers is decoding untrusted bytes, so it runs in the key-free video worker,
# briefly: the page waits for it.
_HEADER_LIMITS = video_sandbox.VideoLimits(cpu_seconds=10, wall_seconds=20)


# By media name: a name is never reused, so its headers never change. Failures are not kept.
_frame_rates: dict[tuple[int, str], float | None] = {}


def _frame_rate_of(family_id: int, name: str) -> float | None:
    if (family_id, name) in _frame_rates:
        return _frame_rates[family_id, name]
    try:
        with media_store.store().open(family_id, name, "r") as src:
            rate = video_sandbox.frame_rate(src, limits=_HEADER_LIMITS)
    except (
        StorageError,
        ValueError,
        video_sandbox.VideoRejected,
        video_sandbox.VideoWorkerError,
        video_sandbox.WireError,
    ):
        return None
    if len(_frame_rates) >= 1024:
        _frame_rates.clear()
    _frame_rates[family_id, name] = rate
    return rate


# --- the cut --------------------------------------------------------------------------------


def run_cut(clip_id: int, start_s: float, end_s: float) -> None:
    """Cut one clip and its poster; a newer range or a deleted clip discards the result.

    Runs in a job with its own database session, so it never shares a request's. The video is
    only ever decoded by a key-free worker process (``video_sandbox``).
    """
    app = jobs.job_app()
    limits = app.extensions["vig_settings"].video_limits
    with db.fresh_session(app) as s:
        clip = s.get(Clip, clip_id)
        if clip is None or (clip.start_s, clip.end_s) != (start_s, end_s):
            return
        family_id = clip.family_id
        # A job queued before a withdrawal can still start after it (revocation is best
        # effort): never touch that family's media again.
        if not _media_allowed(family_id):
            return
        source = _cut_source(clip.recording)
    store = media_store.store()
    media_name, poster_name = store.new_name("clip"), store.new_name("poster")
    try:
        with (
            store.open(family_id, source, "r") as src,
            store.open(family_id, media_name, "w") as dst,
        ):
            info = video_sandbox.cut_clip(src, dst, start=start_s, end=end_s, limits=limits)
        with (
            store.open(family_id, media_name, "r") as cut,
            store.open(family_id, poster_name, "w") as poster,
        ):
            video_sandbox.poster_jpeg(
                cut, poster, at_seconds=min(1.0, info.duration / 2), limits=limits
            )
    except Exception as exc:  # noqa: BLE001 - any failure must end as a visible "failed"
        for name in (media_name, poster_name):
            with contextlib.suppress(StorageError):
                store.delete(family_id, name)
        # Only the id and the kind of error: never names, content or the family's words.
        log.warning("clip %s could not be cut (%s)", clip_id, type(exc).__name__)
        _finish(clip_id, family_id, start_s, end_s, None)
        return
    _finish(clip_id, family_id, start_s, end_s, (media_name, poster_name))


def _media_allowed(family_id: int) -> bool:
    return media_store.family_may_hold_media(jobs.job_app().extensions["vig_engine"], family_id)


def _finish(
    clip_id: int, family_id: int, start_s: float, end_s: float, outputs: tuple[str, str] | None
) -> None:
    app = jobs.job_app()
    store = media_store.store()
    old: list[str] = []
    with db.fresh_session(app) as s:
        clip = s.get(Clip, clip_id)
        stale = clip is None or (clip.start_s, clip.end_s) != (start_s, end_s)
        if clip is None or stale or not _media_allowed(family_id):
            # Deleted, re-marked or withdrawn while we cut: this result is nobody's.
            old = list(outputs or ())
        elif outputs is None:
            clip.status = ClipStatus.FAILED
            s.commit()
        else:
            old = [n for n in (clip.media_name, clip.poster_name) if n]
            clip.media_name, clip.poster_name = outputs
            clip.status = ClipStatus.READY
            s.commit()
    for name in old:
        with contextlib.suppress(StorageError):
            store.delete(family_id, name)


@jobs.task()
def cut_clip_task(clip_id: int, start_s: float, end_s: float) -> None:
    run_cut(clip_id, start_s, end_s)
