"""Background work on a received recording: check it with a real decoder, then transcode.

received → processing → ready (H.264/AAC MP4 + JPEG poster), or → rejected with a reason.
The uploaded original is kept: clips are cut from it later (one generation of lossy coding
fewer than cutting from the transcode). Everything goes through the media store, so no
plaintext touches the disk.
"""

from __future__ import annotations

import contextlib
import logging
from datetime import timedelta

from huey import crontab
from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from vigparent import audit, clock, db, jobs, media_store, video_sandbox
from vigparent.models import Recording, RecordingStatus
from vigparent.notifications import service as messages
from vigparent.storage import MediaNotFound

log = logging.getLogger(__name__)

# A recording is at most ~12 minutes; the transcode is at most a few minutes of CPU.
_RETRIES = 2
_RETRY_DELAY_S = 60


@jobs.task(retries=_RETRIES, retry_delay=_RETRY_DELAY_S)
def process_recording(recording_id: int) -> None:
    """Inspect, transcode and make a poster for one recording; safe to run twice.

    The video itself is only ever decoded by a key-free worker process (``video_sandbox``).
    """
    # db.session(): the job's own app context in the consumer; inline in tests.
    s = db.session()
    rec = s.get(Recording, recording_id)
    if rec is None or rec.status not in (RecordingStatus.RECEIVED, RecordingStatus.PROCESSING):
        return  # deleted (withdrawal) or already done: nothing to do
    family_id = rec.family_id
    if not _media_allowed(family_id):
        return  # withdrawn or being deleted: the withdrawal removes the row and the bytes
    rec.status = RecordingStatus.PROCESSING
    s.commit()
    store = media_store.store()
    limits = jobs.job_app().extensions["vig_settings"].video_limits
    outputs: list[str] = []
    try:
        with store.open(family_id, rec.original_name) as src:
            info = video_sandbox.inspect(src, limits=limits)
        mp4 = store.new_name("mp4")
        outputs.append(mp4)
        with (
            store.open(family_id, rec.original_name) as src,
            store.open(family_id, mp4, "w") as dst,
        ):
            transcoded = video_sandbox.transcode_to_mp4(src, dst, limits=limits)
        poster = store.new_name("poster")
        outputs.append(poster)
        with store.open(family_id, mp4) as src, store.open(family_id, poster, "w") as dst:
            video_sandbox.poster_jpeg(src, dst, limits=limits)
        with store.open(family_id, mp4) as src:
            rate = video_sandbox.frame_rate(src, limits=limits)
    except video_sandbox.VideoRejected as refused:
        # Also a worker that crashed, hung or ran out of its limits (VideoWorkerFailed).
        if isinstance(refused, video_sandbox.VideoWorkerFailed):
            log.warning("recording %s: video worker %s", recording_id, refused.cause)
        _delete(family_id, outputs)
        _reject(s, recording_id, refused.reason)
        return
    except MediaNotFound:
        # The family's media (or key) was deleted while we worked: a withdrawal.
        _delete(family_id, outputs)
        return
    except BaseException:
        _delete(family_id, outputs)
        # Back to received, so the retry (or a later sweep) starts cleanly.
        s.rollback()
        again = s.get(Recording, recording_id)
        if again is not None and again.status is RecordingStatus.PROCESSING:
            again.status = RecordingStatus.RECEIVED
            s.commit()
        raise

    s.expire_all()
    rec = s.get(Recording, recording_id)
    if rec is None or rec.status is not RecordingStatus.PROCESSING or not _media_allowed(family_id):
        _delete(family_id, outputs)  # withdrawn meanwhile: keep nothing
        return
    rec.status = RecordingStatus.READY
    rec.duration_s = transcoded.duration or info.duration
    rec.container = info.container
    rec.transcode_name = mp4
    rec.poster_name = poster
    rec.frame_rate = rate
    audit.record("recording_ready", family=rec.family, detail=f"id={rec.id}")
    s.commit()
    messages.video_arrived(rec.family)


# Longer than any real transcode takes, so a job that is merely slow is not started twice.
STALLED_RECEIVED = timedelta(minutes=30)
STALLED_PROCESSING = timedelta(hours=2)


def stalled_recordings() -> list[int]:
    """Recordings that arrived whole but never finished processing.

    Jobs can be lost: the consumer was down when the upload finished, every retry failed on a
    busy machine, or the process died mid-transcode (leaving "processing" behind). The
    parent's video is safe on the server but would never become watchable without this.
    """
    now = clock.now()
    return list(
        db.session().scalars(
            select(Recording.id).where(
                or_(
                    (Recording.status == RecordingStatus.RECEIVED)
                    & (Recording.completed_at <= now - STALLED_RECEIVED),
                    (Recording.status == RecordingStatus.PROCESSING)
                    & (Recording.completed_at <= now - STALLED_PROCESSING),
                )
            )
        )
    )


@jobs.task(periodic=crontab(minute="*/15"))
def requeue_stalled_recordings() -> int:
    """Queue processing again for every stalled recording; returns how many."""
    stalled = stalled_recordings()
    for recording_id in stalled:
        process_recording(recording_id)
    return len(stalled)


def _media_allowed(family_id: int) -> bool:
    """Committed state, read afresh: a withdrawal in another process is seen at once."""
    return media_store.family_may_hold_media(jobs.job_app().extensions["vig_engine"], family_id)


def _reject(s: Session, recording_id: int, reason: str) -> None:
    rec = s.get(Recording, recording_id)
    if rec is None:
        return
    rec.status = RecordingStatus.REJECTED
    rec.rejection_reason = reason[:300]
    store = media_store.store()
    with contextlib.suppress(MediaNotFound):
        store.delete(rec.family_id, rec.original_name)
    audit.record("recording_rejected", family=rec.family, detail=f"id={rec.id}")
    s.commit()


def _delete(family_id: int, names: list[str]) -> None:
    store = media_store.store()
    for name in names:
        with contextlib.suppress(MediaNotFound):
            store.delete(family_id, name)
