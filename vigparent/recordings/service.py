"""The Recording lifecycle: who may record, creating one per client id, and its status.

Status moves uploading → received → processing → ready, or → rejected (with a reason the
parent reads). ``received`` means we hold the complete upload and know its sha256; from then
on the phone may delete its own copy (``is_safe``).

The consent rule lives in ONE function, ``check_may_record``: uploads call it before and after
every chunk, and the withdrawal feature can call it (or catch its errors) too.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import and_, bindparam, func, not_, select, update

from vigparent import audit, clock, db, media_store
from vigparent.families.service import current_cycle
from vigparent.models import (
    ConsentKind,
    ConsentRecord,
    Family,
    FamilyStatus,
    Recording,
    RecordingStatus,
    User,
)
from vigparent.recordings import jobs
from vigparent.storage import MediaKeyDestroyed, MediaNotFound

REQUIRED_CONSENTS = (ConsentKind.FILMING, ConsentKind.STORAGE)
# Built once: asked on every upload request, twice (see check_may_record).
_MAY_RECORD = (
    select(
        Family.status,
        Family.withdrawn_at.is_not(None),
        ConsentRecord.kind,
        ConsentRecord.withdrawn_at.is_(None),
    )
    .outerjoin(
        ConsentRecord,
        (ConsentRecord.family_id == Family.id) & ConsentRecord.kind.in_(REQUIRED_CONSENTS),
    )
    .where(Family.id == bindparam("family_id"))
)
# Statuses in which the server holds the whole upload (so the phone may delete its copy).
SAFE_STATUSES = frozenset(
    {RecordingStatus.RECEIVED, RecordingStatus.PROCESSING, RecordingStatus.READY}
)
ORIGINAL_KIND = "upload"


class RecordingRefused(Exception):
    """A request about a recording that we turn down; the words are for the parent.

    ``status`` is the HTTP status and ``code`` a stable machine-readable name (see
    docs/upload-contract.md); blueprints turn this into a JSON error response.
    """

    status = 403
    code = "forbidden"
    title = "We can't take this video"
    message = "Please ask your practitioner for help. Your video is still on your phone."

    def __init__(self, message: str | None = None, *, reason: str | None = None) -> None:
        if message is not None:
            self.message = message
        self.reason = reason
        super().__init__(self.message)


class ConsentMissing(RecordingRefused):
    code = "no_consent"
    message = (
        "You have not agreed to filming and to keeping videos here yet, so we can't take "
        "this video. It is still on your phone."
    )


class ConsentWithdrawn(RecordingRefused):
    code = "consent_withdrawn"
    title = "You have withdrawn consent"
    message = "You have withdrawn consent, so we did not keep this video."


class QuotaFull(RecordingRefused):
    status = 413
    code = "quota_full"
    title = "There is no more room for videos"
    message = (
        "There is no more room for your videos. Please ask your practitioner to make space. "
        "Your video is still on your phone."
    )


class FamilyClosed(RecordingRefused):
    code = "family_closed"
    message = (
        "Your work with your practitioner has ended, so we can't take new videos. "
        "Your video is still on your phone."
    )


# -- consent -------------------------------------------------------------------------------


def check_may_record(family: Family) -> None:
    """Raise unless this family may send us recordings right now.

    The family must not be withdrawn or closed, and for each of filming and storage at least
    one carer's consent must stand (not withdrawn). A kind whose every record is withdrawn
    counts as withdrawn consent (the phone then deletes its copies), one never given as
    missing consent (the phone keeps them).

    Asks the database, in one query, whatever the loaded ``family`` says: a withdrawal in
    another request may have committed since it was loaded (for example while an upload's
    bytes were streaming in).
    """
    rows = db.session().execute(_MAY_RECORD, {"family_id": family.id}).all()
    if not rows:
        raise ConsentWithdrawn()  # erased
    status, withdrawn = rows[0][0], rows[0][1]
    if status is FamilyStatus.WITHDRAWN or withdrawn:
        raise ConsentWithdrawn()
    if status is FamilyStatus.CLOSED:
        raise FamilyClosed()
    standing: set[ConsentKind] = set()
    ever: set[ConsentKind] = set()
    for _status, _withdrawn, kind, current in rows:
        if kind is None:
            continue  # no consent records at all (the outer join's empty row)
        ever.add(kind)
        if current:
            standing.add(kind)
    for kind in REQUIRED_CONSENTS:
        if kind not in standing:
            raise ConsentWithdrawn() if kind in ever else ConsentMissing()


def may_record(family: Family) -> bool:
    try:
        check_may_record(family)
    except RecordingRefused:
        return False
    return True


# -- lifecycle -----------------------------------------------------------------------------


def find_by_client_id(family: Family, client_id: str) -> Recording | None:
    return db.session().scalar(
        select(Recording).where(Recording.family_id == family.id, Recording.client_id == client_id)
    )


def reserved_bytes(family: Family) -> int:
    """Bytes promised to this family's recordings: declared sizes, except rejected ones and
    uploads left to expire (the sweeper frees their disk space)."""
    expired = and_(
        Recording.status == RecordingStatus.UPLOADING,
        Recording.upload_expires_at <= clock.now(),
    )
    total = db.session().scalar(
        select(func.coalesce(func.sum(Recording.declared_size), 0)).where(
            Recording.family_id == family.id,
            Recording.status != RecordingStatus.REJECTED,
            not_(expired),
        )
    )
    return int(total or 0)


def hold_family(family: Family) -> None:
    """Serialise quota decisions for this family until the transaction ends.

    A no-op UPDATE takes PostgreSQL's row lock and SQLite's write lock, so two creations at
    once (other threads, greenlets or processes) cannot both fit under the same free space.
    Nothing may wait on the network or a lock while this is held.
    """
    db.session().execute(update(Family).where(Family.id == family.id).values(status=Family.status))


def check_quota(family: Family, size: int) -> None:
    """Under ``hold_family``: QuotaFull (the hold released) unless ``size`` more bytes fit."""
    if reserved_bytes(family) + size > family.organisation.family_quota_bytes:
        db.session().rollback()
        raise QuotaFull()


def start_recording(
    family: Family,
    uploader: User,
    *,
    client_id: str,
    declared_size: int,
    upload_id: str,
    upload_metadata: str,
    expires_at: datetime,
    recorded_at: datetime | None = None,
    cycle_id: int | None = None,
) -> tuple[Recording, bool]:
    """Create the Recording, its bytes reserved within the quota, then its empty encrypted
    blob; return (recording, created).

    The same client id always finds the same recording, so a double tap or a second tab
    never makes two. QuotaFull when the declared size does not fit; checked and reserved in
    one transaction under ``hold_family``.

    A recording whose phone names no cycle (old pages, videos queued offline before the plan
    was made) joins the family's current cycle, so its clips reach that review and rating.
    """
    if cycle_id is None:
        cycle = current_cycle(family)
        cycle_id = cycle.id if cycle is not None else None
    s = db.session()
    store = media_store.store()
    hold_family(family)
    existing = find_by_client_id(family, client_id)
    if existing is not None:
        s.commit()
        return existing, False
    check_quota(family, declared_size)
    recording = Recording(
        family_id=family.id,
        cycle_id=cycle_id,
        uploaded_by_id=uploader.id,
        client_id=client_id,
        upload_id=upload_id,
        declared_size=declared_size,
        received_size=0,
        upload_expires_at=expires_at,
        upload_metadata=upload_metadata,
        original_name=store.new_name(ORIGINAL_KIND),
        recorded_at=recorded_at,
        status=RecordingStatus.UPLOADING,
    )
    s.add(recording)
    audit.record("recording_upload_started", actor=uploader, family=family)
    s.commit()
    # The blob after the commit: making it may wait for the keyring's lock, which must never
    # happen while this family is held. A PATCH that comes first creates it itself.
    try:
        store.create(family.id, recording.original_name, expected_size=declared_size)
    except MediaKeyDestroyed:
        # Withdrawn a moment ago: the withdrawal refused to mint a key for it.
        s.delete(recording)
        s.commit()
        raise ConsentWithdrawn() from None
    return recording, True


def mark_received(recording: Recording, sha256: str, container: str | None) -> None:
    """The whole upload is on disk: record it and queue the checks and the transcode."""
    recording.status = RecordingStatus.RECEIVED
    recording.sha256 = sha256
    recording.container = container
    recording.received_size = recording.declared_size
    recording.completed_at = clock.now()
    recording.upload_expires_at = None
    audit.record("recording_received", family=recording.family, detail=f"id={recording.id}")
    db.session().commit()
    # After the commit, so the job (maybe another process) finds the row as we left it.
    jobs.process_recording(recording.id)


def reject(recording: Recording, reason: str) -> None:
    """Turn the recording away with a reason the parent reads; its media is deleted.

    The row stays so the phone (and practitioner) can see what happened and why. Rejected
    bytes are not a usable video, so keeping them would only keep sensitive data for nothing.
    """
    recording.status = RecordingStatus.REJECTED
    recording.rejection_reason = reason[:300]
    recording.upload_expires_at = None
    delete_media(recording)
    audit.record("recording_rejected", family=recording.family, detail=f"id={recording.id}")
    db.session().commit()


def delete_media(recording: Recording) -> int:
    """Delete every stored file of the recording (original, transcode, poster); return bytes.

    Clips are not touched. The row is left for the caller to update or delete.
    """
    store = media_store.store()
    freed = 0
    for name in (recording.original_name, recording.transcode_name, recording.poster_name):
        if name:
            with contextlib.suppress(MediaNotFound):
                freed += store.delete(recording.family_id, name)
    recording.transcode_name = None
    recording.poster_name = None
    return freed


# -- what people see -----------------------------------------------------------------------


def is_safe(recording: Recording) -> bool:
    """True when we hold the whole upload: the phone may now delete its own copy."""
    return recording.status in SAFE_STATUSES


def status_text(recording: Recording) -> str:
    """The recording's state in plain words, for the parent and the practitioner."""
    status = recording.status
    if status is RecordingStatus.UPLOADING:
        percent = (
            int(recording.received_size * 100 / recording.declared_size)
            if recording.declared_size
            else 0
        )
        return f"Still arriving ({percent} % so far)."
    if status in (RecordingStatus.RECEIVED, RecordingStatus.PROCESSING):
        return "Arrived safely. Getting it ready to watch."
    if status is RecordingStatus.READY:
        return "Arrived safely. Ready to watch."
    reason = recording.rejection_reason or "We could not use this video."
    return f"Not accepted. {reason}"


def status_json(recording: Recording) -> dict[str, object]:
    """The status the phone checks before deleting its copy (docs/upload-contract.md)."""
    return {
        "client_id": recording.client_id,
        "status": recording.status.value,
        "safe": is_safe(recording),
        "reason": recording.rejection_reason,
        "size": recording.declared_size,
        "received": recording.received_size,
        "sha256": recording.sha256,
        "duration_s": recording.duration_s,
        "upload_url": f"/api/uploads/{recording.upload_id}",
        "message": status_text(recording),
    }


@dataclass(frozen=True)
class RecordingSummary:
    """One row of the practitioner's "Recordings" list for a family."""

    recording: Recording
    status: RecordingStatus
    status_text: str
    arrived_at: datetime | None
    recorded_at: datetime | None
    duration_s: float | None
    size_bytes: int
    is_new: bool

    @property
    def is_ready(self) -> bool:
        return self.status is RecordingStatus.READY


def recordings_for(family: Family) -> list[RecordingSummary]:
    """The family's recordings, newest first, for the practitioner's family page.

    The caller has already loaded ``family`` through the access check. Unfinished uploads are
    listed too (the practitioner sees a video is on its way); ``is_new`` marks those that
    arrived in the last 7 days.
    """
    rows = db.session().scalars(
        select(Recording)
        .where(Recording.family_id == family.id)
        .order_by(Recording.created_at.desc(), Recording.id.desc())
    )
    now = clock.now()
    return [
        RecordingSummary(
            recording=r,
            status=r.status,
            status_text=status_text(r),
            arrived_at=r.completed_at,
            recorded_at=r.recorded_at,
            duration_s=r.duration_s,
            size_bytes=r.declared_size,
            is_new=r.completed_at is not None and now - r.completed_at < timedelta(days=7),
        )
        for r in rows
    ]


def recordings_of_parent(family: Family) -> list[Recording]:
    return list(
        db.session().scalars(
            select(Recording)
            .where(Recording.family_id == family.id)
            .order_by(Recording.created_at.desc(), Recording.id.desc())
        )
    )
