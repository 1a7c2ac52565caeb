"""Live review: the rules of the room, its state in the database, and what it announces.

The practitioner leads (play, pause, seek, step, next clip); every command is stored on the
family's open LiveReview with the server's time and published to the room through the
fan-out. A phone that (re)connects reads the stored state, so it resyncs from any process.
Nothing here holds a database connection or a lock while anybody waits: the event stream
(live/stream.py) reads what it needs through these functions, then waits on the fan-out.
"""

from __future__ import annotations

import math
import secrets
from dataclasses import dataclass
from datetime import UTC, timedelta
from typing import Any

from flask_babel import gettext
from sqlalchemy import delete, select, update

from vigparent import audit, clock, db
from vigparent.capture import service as capture
from vigparent.clips.service import ReviewSet, find_set, review_sets
from vigparent.live import fanout
from vigparent.models import (
    Clip,
    Family,
    FamilyStatus,
    LiveNotice,
    LivePresence,
    LiveReview,
    Role,
    User,
)

# A review nobody has touched for this long is over (a practitioner who forgot to end it must
# not leave "ready to watch with you" on the family's phone for days).
IDLE_AFTER = timedelta(hours=2)
# Someone counts as present while their stream has said so this recently (it says so with
# every keep-alive, see stream.KEEP_ALIVE_S).
PRESENT_FOR = timedelta(seconds=45)
MAX_NOTE = 1000
# A command's time may be stamped by the practitioner's page a little before it reached us
# (its own clock, corrected to ours); never in the future, never more than this before.
MAX_COMMAND_AGE_MS = 2000
FILM_ANSWERS = ("not_now", "filming", "stopped")


class LiveProblem(Exception):
    """A live-review request we turn down; the message is for the person who asked."""

    def __init__(self, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.message = message
        self.status = status


def room(family_id: int) -> str:
    """The fan-out room of a family's live review (one open review per family)."""
    return f"live-family-{family_id}"


def now_ms() -> int:
    return int(clock.now().replace(tzinfo=UTC).timestamp() * 1000)


# -- finding and starting ----------------------------------------------------------------------


def open_review(family: Family) -> LiveReview | None:
    """The family's live review that is open now, if any."""
    if family.status is FamilyStatus.WITHDRAWN:
        return None
    return db.session().scalar(
        select(LiveReview)
        .where(
            LiveReview.family_id == family.id,
            LiveReview.ended_at.is_(None),
            LiveReview.active_at > clock.now() - IDLE_AFTER,
        )
        .order_by(LiveReview.id.desc())
        .limit(1)
    )


def require_open(family: Family) -> LiveReview:
    review = open_review(family)
    if review is None:
        raise LiveProblem(gettext("This live review has ended."), 404)
    return review


def clips_of(review: LiveReview, family: Family) -> list[Clip]:
    """The clips of the room: the review set's clips the family can watch (published, ready)."""
    chosen = _set_of(family, review.set_key)
    return chosen.clips if chosen is not None else []


def _set_of(family: Family, set_key: str) -> ReviewSet | None:
    return find_set(review_sets(family, published_only=True, ready_only=True), set_key)


def start(family: Family, practitioner: User, set_key: str = "") -> LiveReview:
    """Open a live review of one review set (or carry on the open one). Commits."""
    if family.status is FamilyStatus.WITHDRAWN:
        raise LiveProblem("This family has withdrawn consent.", 404)
    chosen = _set_of(family, set_key)
    if chosen is None:
        raise LiveProblem("There are no clips shown to the family yet. Publish some first.")
    review = open_review(family)
    if review is None:
        review = LiveReview(family_id=family.id, practitioner_id=practitioner.id)
        db.session().add(review)
        audit.record("live_review_started", actor=practitioner, family=family)
    if review.set_key != chosen.key or review.clip_id not in {c.id for c in chosen.clips}:
        review.set_key = chosen.key
        _apply(review, chosen.clips[0].id, 0.0, playing=False, at_ms=now_ms())
        review.note, review.show_strength = "", False
    return _commit_and_publish(review, family)


def end(family: Family, by: User) -> None:
    """The practitioner ends the live review. Commits."""
    review = open_review(family)
    if review is None:
        return
    _close(review)
    audit.record("live_review_ended", actor=by, family=family)
    db.session().commit()
    announce_ended(family.id)


def end_for_family(family_id: int) -> bool:
    """End any live review of the family (withdrawal). Building block: does not commit; call
    announce_ended after the caller's commit."""
    ended = db.session().execute(
        update(LiveReview)
        .where(LiveReview.family_id == family_id, LiveReview.ended_at.is_(None))
        .values(ended_at=clock.now(), note="", show_strength=False, film_asked_at=None)
    )
    db.session().execute(
        delete(LivePresence).where(
            LivePresence.review_id.in_(
                select(LiveReview.id).where(LiveReview.family_id == family_id)
            )
        )
    )
    return bool(getattr(ended, "rowcount", 0))


def announce_ended(family_id: int, *, withdrawn: bool = False) -> None:
    """Tell everyone in the room it is over (their pages close the stream); after a
    withdrawal, their phones say so rather than "watch your clips again"."""
    event: dict[str, Any] = {"type": "ended"}
    if withdrawn:
        event["reason"] = "withdrawn"
    fanout.current().publish(room(family_id), event)


def _close(review: LiveReview) -> None:
    review.ended_at = clock.now()
    review.note, review.show_strength, review.film_asked_at = "", False, None
    db.session().execute(delete(LivePresence).where(LivePresence.review_id == review.id))


# -- the practitioner's commands ---------------------------------------------------------------


@dataclass(frozen=True)
class Command:
    """Where the practitioner's player is: which clip, at what time, playing or paused."""

    clip_id: int
    time: float
    playing: bool
    at_ms: int | None = None


def parse_command(data: Any) -> Command:
    """A command from the practitioner's page (JSON); refuses anything malformed."""
    if not isinstance(data, dict):
        raise LiveProblem("That command was not understood.")
    clip_id: Any = data.get("clip")
    time: Any = data.get("time")
    playing: Any = data.get("playing")
    at_ms: Any = data.get("at")
    if not _is_int(clip_id) or not _is_number(time) or not isinstance(playing, bool):
        raise LiveProblem("That command was not understood.")
    if at_ms is not None and not _is_number(at_ms):
        raise LiveProblem("That command was not understood.")
    return Command(int(clip_id), float(time), playing, int(at_ms) if at_ms is not None else None)


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and 0 < value < 2**63


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def command(review: LiveReview, family: Family, cmd: Command) -> LiveReview:
    """Move the room to the practitioner's player state. Commits, then publishes."""
    clips = {c.id: c for c in clips_of(review, family)}
    clip = clips.get(cmd.clip_id)
    if clip is None:
        raise LiveProblem("That clip is not in this review.")
    length = max(0.0, clip.end_s - clip.start_s)
    time = min(max(cmd.time, 0.0), length + 1.0)
    now = now_ms()
    at = now if cmd.at_ms is None else min(max(cmd.at_ms, now - MAX_COMMAND_AGE_MS), now)
    if clip.id != review.clip_id:
        review.note, review.show_strength = "", False
    _apply(review, clip.id, time, playing=cmd.playing, at_ms=at)
    return _commit_and_publish(review, family)


def _commit_and_publish(
    review: LiveReview, family: Family, *, by_practitioner: bool = True
) -> LiveReview:
    """Commit a change to the room's state, then send the new state to the room.

    A practitioner's change also keeps the review open: one left idle for ``IDLE_AFTER``
    counts as ended (``open_review``).
    """
    if by_practitioner:
        review.active_at = clock.now()
    db.session().commit()
    publish_state(review, family)
    return review


def _apply(review: LiveReview, clip_id: int, time: float, *, playing: bool, at_ms: int) -> None:
    review.clip_id = clip_id
    review.media_time = round(time, 4)
    review.playing = playing
    review.command_at_ms = at_ms
    review.seq = (review.seq or 0) + 1


def show_note(review: LiveReview, family: Family, text: Any, strength: Any) -> LiveReview:
    """Show the family a typed note and/or the clip's "what you did that helped". Commits."""
    if not isinstance(text, str) or not isinstance(strength, bool):
        raise LiveProblem("That note was not understood.")
    text = text.replace("\r\n", "\n").strip()
    if len(text) > MAX_NOTE:
        raise LiveProblem(f"Please keep the note under {MAX_NOTE:,} letters.")
    review.note, review.show_strength = text, strength
    review.seq = (review.seq or 0) + 1
    return _commit_and_publish(review, family)


def ask_to_film(review: LiveReview, family: Family, by: User, ask: Any) -> LiveReview:
    """The practitioner asks the phone to film (or takes the request back). Commits.

    Only a request: the phone shows it, and nothing films until the parent taps Start.
    """
    if not isinstance(ask, bool):
        raise LiveProblem("That request was not understood.")
    if ask and capture.filming_state(family) is not capture.FilmingState.ALLOWED:
        raise LiveProblem("This family has not agreed to filming, so you cannot ask now.")
    review.film_asked_at = clock.now() if ask else None
    review.film_answer = ""
    audit.record(
        "live_film_asked" if ask else "live_film_request_withdrawn", actor=by, family=family
    )
    review.seq = (review.seq or 0) + 1
    return _commit_and_publish(review, family)


def answer_film(review: LiveReview, family: Family, by: User, answer: Any) -> LiveReview:
    """What the parent did with the request: not now, filming, or stopped. Commits."""
    if answer not in FILM_ANSWERS:
        raise LiveProblem(gettext("That answer was not understood."))
    if review.film_asked_at is None:
        raise LiveProblem(gettext("There is no request to film now."), 409)
    review.film_answer = answer
    audit.record("live_film_answered", actor=by, family=family, detail=answer)
    if answer in ("not_now", "stopped"):
        review.film_asked_at = None
    review.seq = (review.seq or 0) + 1
    return _commit_and_publish(review, family, by_practitioner=False)


# -- the family's "I noticed something here" ---------------------------------------------------


def notice(review: LiveReview, family: Family, user: User, data: Any) -> LiveNotice:
    """Mark a moment of a clip for the practitioner's timeline. Commits, then publishes."""
    if not isinstance(data, dict) or not _is_int(data.get("clip")):
        raise LiveProblem(gettext("That was not understood."))
    at: Any = data.get("time")
    if not _is_number(at):
        raise LiveProblem(gettext("That was not understood."))
    clip = next((c for c in clips_of(review, family) if c.id == data["clip"]), None)
    if clip is None:
        raise LiveProblem(gettext("That clip is not in this review."))
    length = max(0.0, clip.end_s - clip.start_s)
    mark = LiveNotice(
        review_id=review.id,
        family_id=family.id,
        clip_id=clip.id,
        author_id=user.id,
        at_s=round(min(max(float(at), 0.0), length), 3),
    )
    db.session().add(mark)
    db.session().commit()
    fanout.current().publish(room(family.id), {"type": "noticed", **_notice_json(mark, user)})
    return mark


def _notice_json(mark: LiveNotice, author: User) -> dict[str, Any]:
    return {"id": mark.id, "clip": mark.clip_id, "time": mark.at_s, "by": _name(author)}


def notices(review: LiveReview) -> list[dict[str, Any]]:
    rows = db.session().execute(
        select(LiveNotice, User)
        .join(User, User.id == LiveNotice.author_id)
        .where(LiveNotice.review_id == review.id)
        .order_by(LiveNotice.id)
    )
    return [_notice_json(mark, author) for mark, author in rows]


# -- presence ----------------------------------------------------------------------------------


def join(review: LiveReview, family: Family, user: User) -> str:
    """Say `user` is here (a new connection replaces their older one); returns the
    connection's token for still_here/leave. Commits, then publishes who is present."""
    connection = secrets.token_hex(8)
    s = db.session()
    row = s.get(LivePresence, (review.id, user.id))
    if row is None:
        s.add(LivePresence(review_id=review.id, user_id=user.id, connection=connection))
    else:
        row.connection, row.seen_at = connection, clock.now()
    if user.role is Role.PRACTITIONER:
        review.active_at = clock.now()
    s.commit()
    publish_presence(review, family.id)
    return connection


def still_here(review_id: int, user_id: int, connection: str) -> bool:
    """Refresh a connection's presence; False when the review has ended. Commits."""
    s = db.session()
    s.execute(
        update(LivePresence)
        .where(
            LivePresence.review_id == review_id,
            LivePresence.user_id == user_id,
            LivePresence.connection == connection,
        )
        .values(seen_at=clock.now())
    )
    ended = s.scalar(select(LiveReview.ended_at).where(LiveReview.id == review_id))
    open_now = s.scalar(select(LiveReview.id).where(LiveReview.id == review_id)) is not None
    s.commit()
    return open_now and ended is None


def leave(review_id: int, family_id: int, user_id: int, connection: str) -> None:
    """A connection closed: its person is no longer present, unless a newer one took over."""
    s = db.session()
    gone = s.execute(
        delete(LivePresence).where(
            LivePresence.review_id == review_id,
            LivePresence.user_id == user_id,
            LivePresence.connection == connection,
        )
    )
    s.commit()
    if getattr(gone, "rowcount", 0):
        review = s.get(LiveReview, review_id)
        if review is not None:
            publish_presence(review, family_id)


def present(review: LiveReview) -> list[dict[str, str]]:
    """Who is here now: the practitioner first, then carers, by name."""
    rows = db.session().scalars(
        select(User)
        .join(LivePresence, LivePresence.user_id == User.id)
        .where(
            LivePresence.review_id == review.id,
            LivePresence.seen_at > clock.now() - PRESENT_FOR,
        )
        .order_by(User.role != Role.PRACTITIONER, User.id)
    )
    # Names as people gave them; each page words a missing one in its reader's language.
    return [{"id": str(u.id), "role": u.role.value, "name": u.display_name or ""} for u in rows]


def _name(user: User) -> str:
    if user.display_name:
        return user.display_name
    return "Your practitioner" if user.role is Role.PRACTITIONER else "Parent"


def publish_presence(review: LiveReview, family_id: int) -> None:
    fanout.current().publish(room(family_id), {"type": "presence", "present": present(review)})


# -- what the room says ------------------------------------------------------------------------


def state(review: LiveReview, family: Family) -> dict[str, Any]:
    """The room's state as every page applies it (small: it goes out with every command)."""
    clip = next((c for c in clips_of(review, family) if c.id == review.clip_id), None)
    return {
        "type": "state",
        "seq": review.seq,
        "clip": review.clip_id,
        "time": review.media_time,
        "playing": review.playing,
        "at": review.command_at_ms,
        "note": review.note,
        "strength": clip.strength_note if clip is not None and review.show_strength else "",
        "film": "asked" if review.film_asked_at is not None else "",
        "film_answer": review.film_answer,
    }


def publish_state(review: LiveReview, family: Family) -> None:
    fanout.current().publish(room(family.id), state(review, family))


def snapshot(review: LiveReview, family: Family, clip_url: Any) -> dict[str, Any]:
    """Everything a page needs on (re)connecting: the clips, the state, who is here, marks.

    ``clip_url(clip_id)`` names where the page fetches a clip (through the access check).
    """
    return {
        "type": "snapshot",
        "clips": [clip_json(c, clip_url) for c in clips_of(review, family)],
        "state": state(review, family),
        "present": present(review),
        "noticed": notices(review),
    }


def clip_json(clip: Clip, clip_url: Any) -> dict[str, Any]:
    """A clip as both screens' scripts take it."""
    return {
        "id": clip.id,
        "title": clip.title,
        "length": round(max(0.0, clip.end_s - clip.start_s), 3),
        "url": clip_url(clip.id),
    }
