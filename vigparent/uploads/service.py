"""Rules for tus uploads of recordings: who may send, where the bytes go, when they count.

Durability: the offset we report is always what is on disk. ``MediaStore.append`` fsyncs
before it returns, and only then do we answer 204 with the new ``Upload-Offset``. The
database's ``received_size`` is a cache of that, written at most once a second; HEAD and PATCH
re-read the truth from the file (``MediaStore.recover``, which also drops a torn last chunk
after a crash).

Concurrency: one PATCH at a time per upload, across threads and processes, under the
upload's lock file (``uploads.locks``); a second PATCH gets 423 Locked at once.

Partial bodies: when the connection drops mid-PATCH, the bytes that did arrive are kept (the
store makes them durable) and the client resumes from there; tus asks servers to do this. If
the PATCH carried an ``Upload-Checksum`` the partial bytes cannot be verified, so they are
rolled back instead.
"""

from __future__ import annotations

import contextlib
import re
import secrets
import uuid
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import Any

from flask import current_app
from sqlalchemy import delete, select
from sqlalchemy.exc import InvalidRequestError
from sqlalchemy.orm import contains_eager
from sqlalchemy.orm.exc import ObjectDeletedError, StaleDataError

from vigparent import access, audit, clock, db, media_store
from vigparent.config import Settings, settings_of
from vigparent.containers import NOT_A_VIDEO, sniff_container
from vigparent.models import Cycle, Family, Recording, RecordingStatus, Role, User
from vigparent.recordings import service as recordings
from vigparent.recordings.service import (
    ConsentWithdrawn,
    RecordingRefused,
    check_may_record,
)
from vigparent.storage import (
    Buffer,
    MediaKeyDestroyed,
    MediaNotFound,
    StorageBusy,
    StorageLimitExceeded,
)
from vigparent.uploads import tus
from vigparent.uploads.body import Body, BodyFailed, Deadlines, pieces
from vigparent.uploads.checksums import running_hashes
from vigparent.uploads.locks import Held, drop_lock_file, upload_lock
from vigparent.uploads.refusals import (
    AlreadySent,
    BadMetadata,
    ChecksumMismatch,
    ClientGone,
    LengthMismatch,
    NotAVideo,
    OffsetMismatch,
    UploadBusy,
    UploadExpired,
    UploadGone,
    UploadNotFound,
    UploadTooLarge,
)

# How often a running upload's row is updated at most (see _save_offset).
OFFSET_SAVE_INTERVAL = timedelta(seconds=1)
# Enough of the file to recognise WebM (EBML doctype) or MP4 (ftyp brands).
SNIFF_BYTES = 64
_UPLOAD_ID_RE = re.compile(r"[A-Za-z0-9_-]{16,64}")
_FILETYPE_RE = re.compile(r"video/[A-Za-z0-9.+-]{1,60}(;.{0,200})?", re.DOTALL)
# Metadata we act on; anything else (file names!) is dropped, never stored.
_KNOWN_KEYS = ("client_id", "filetype", "recorded_at", "cycle_id")


# -- values --------------------------------------------------------------------------------


@dataclass(frozen=True)
class UploadMetadata:
    client_id: str
    filetype: str
    recorded_at: datetime | None
    cycle_id: int | None
    raw: str  # the recognised pairs, still base64, for HEAD's Upload-Metadata


@dataclass(frozen=True)
class UploadState:
    """What HEAD, PATCH and POST report about one upload."""

    upload_id: str
    offset: int
    length: int
    expires_at: datetime | None
    metadata: str

    @property
    def location(self) -> str:
        return f"/api/uploads/{self.upload_id}"


def _settings() -> Settings:
    return settings_of(current_app)


def max_upload_bytes() -> int:
    return int(_settings().max_upload_bytes)


def _expiry() -> datetime:
    return clock.now() + timedelta(hours=_settings().upload_expiry_hours)


def _state(rec: Recording) -> UploadState:
    return UploadState(
        upload_id=rec.upload_id,
        offset=rec.received_size,
        length=rec.declared_size,
        expires_at=rec.upload_expires_at if rec.status is RecordingStatus.UPLOADING else None,
        metadata=rec.upload_metadata,
    )


# -- metadata ------------------------------------------------------------------------------


def parse_upload_metadata(header: str | None, family: Family) -> UploadMetadata:
    """Check the phone's Upload-Metadata (client_id, filetype, recorded_at, cycle_id)."""
    try:
        pairs = tus.parse_metadata(header)
        values = {k: tus.decode_value(pairs[k]) for k in _KNOWN_KEYS if k in pairs}
    except tus.TusHeaderError:
        raise BadMetadata() from None
    try:
        client_id = str(uuid.UUID(values.get("client_id", "")))
    except ValueError:
        raise BadMetadata() from None
    filetype = values.get("filetype", "").strip()
    if not _FILETYPE_RE.fullmatch(filetype):
        raise NotAVideo()
    recorded_at = None
    if values.get("recorded_at"):
        try:
            parsed = datetime.fromisoformat(values["recorded_at"])
            if parsed.tzinfo is None:
                raise BadMetadata()
            # Year 1 at +14:00 is before datetime.min in UTC: OverflowError, not a 500.
            recorded_at = parsed.astimezone(UTC).replace(tzinfo=None)
        except (ValueError, OverflowError):
            raise BadMetadata() from None
    cycle_id = None
    if values.get("cycle_id"):
        wanted = tus.parse_row_id(values["cycle_id"])
        if wanted is None:
            raise BadMetadata()
        cycle = db.session().get(Cycle, wanted)
        if cycle is None or cycle.family_id != family.id:
            raise BadMetadata()
        cycle_id = cycle.id
    raw = tus.encode_metadata({k: pairs[k] for k in _KNOWN_KEYS if k in pairs})
    return UploadMetadata(client_id, filetype, recorded_at, cycle_id, raw)


# -- loading -----------------------------------------------------------------------------


def parent_family(user: User) -> Family:
    """The family of a signed-in parent, through the access check; staff cannot upload."""
    if user.role is not Role.PARENT or user.family_id is None:
        raise UploadNotFound()
    return access.load_family(user, user.family_id)


def _find_upload(user: User, upload_id: str) -> Recording | None:
    """The upload with this id if it belongs to the user's family (with its family loaded).

    Scoped with ``access.family_scope`` like every family-owned lookup, so another family's
    upload id answers exactly like an unknown one.
    """
    if user.role is not Role.PARENT or not _UPLOAD_ID_RE.fullmatch(upload_id):
        return None
    return db.session().scalar(
        select(Recording)
        .join(Recording.family)
        .options(contains_eager(Recording.family))
        .where(access.family_scope(user), Recording.upload_id == upload_id)
    )


def _gone(family: Family) -> RecordingRefused:
    """Why an upload (its row, file or key) is not there: a withdrawal deletes all of them,
    and the phone still resuming it should hear that; otherwise it is simply not found."""
    try:
        check_may_record(family)
    except RecordingRefused as refused:
        return refused
    return UploadNotFound()


def _load_upload(user: User, upload_id: str) -> Recording:
    """The user's upload with this id, else UploadNotFound (see ``_find_upload``)."""
    rec = _find_upload(user, upload_id)
    if rec is None:
        raise _gone(parent_family(user))
    return rec


_LIVE_COLUMNS = [
    "status",
    "received_size",
    "upload_expires_at",
    "upload_id",
    "completed_at",
    "rejection_reason",
    "sha256",
]


def _refresh(rec: Recording) -> None:
    """Re-read the row (another request may have finished, ended or deleted it).

    A row deleted under us is most likely a withdrawal: say so if it was, else "not found".
    """
    s = db.session()
    family_id = rec.family_id
    try:
        # Only the columns that change while an upload runs: refreshing the whole row would
        # also expire its family and cost another query to load it again.
        s.refresh(rec, attribute_names=_LIVE_COLUMNS)
        s.refresh(rec.family)
    except (ObjectDeletedError, InvalidRequestError):
        s.rollback()
        family = s.get(Family, family_id)
        raise (UploadNotFound() if family is None else _gone(family)) from None


def _check_not_gone(rec: Recording) -> None:
    if rec.status is RecordingStatus.REJECTED and rec.completed_at is None:
        raise UploadGone(rec.rejection_reason or NOT_A_VIDEO, reason=rec.rejection_reason)
    if (
        rec.status is RecordingStatus.UPLOADING
        and rec.upload_expires_at is not None
        and rec.upload_expires_at <= clock.now()
    ):
        raise UploadExpired()


def _durable_offset(rec: Recording) -> int:
    """Bytes of this upload safely on disk (dropping a torn tail left by a crash)."""
    store = media_store.store()
    try:
        return store.recover(rec.family_id, rec.original_name)
    except MediaKeyDestroyed:
        raise ConsentWithdrawn() from None
    except MediaNotFound:
        # Swept after expiring, or lost between creating the row and the file: start again.
        store.create(rec.family_id, rec.original_name, expected_size=rec.declared_size)
        return 0
    except StorageBusy:
        raise UploadBusy() from None


# -- creation (POST) -----------------------------------------------------------------------


def create_upload(
    user: User, *, length: int, metadata_header: str | None, body: Body | None = None
) -> tuple[UploadState, bool]:
    """Create (or find again) the upload for this client id; return (state, created).

    The same client id in the same family always answers with the same upload, so retries,
    double taps and second tabs never make a second recording. A body (creation-with-upload)
    is appended only when the upload is still at offset 0.
    """
    family = parent_family(user)
    if length > max_upload_bytes():
        raise UploadTooLarge()
    meta = parse_upload_metadata(metadata_header, family)
    check_may_record(family)
    rec = recordings.find_by_client_id(family, meta.client_id)
    created = False
    if rec is None:
        rec, created = recordings.start_recording(
            family,
            user,
            client_id=meta.client_id,
            declared_size=length,
            upload_id=secrets.token_urlsafe(24),
            upload_metadata=meta.raw,
            expires_at=_expiry(),
            recorded_at=meta.recorded_at,
            cycle_id=meta.cycle_id,
        )
    if rec.declared_size != length:
        raise LengthMismatch()
    if not created:
        _revive_if_expired(rec)
    state = _state(rec)
    if not created and rec.status is RecordingStatus.UPLOADING:
        # The row's offset may lag the file by a second (see _save_offset).
        with contextlib.suppress(MediaNotFound):
            state = replace(
                state, offset=media_store.store().size(rec.family_id, rec.original_name)
            )
    if body is not None and rec.status is RecordingStatus.UPLOADING and state.offset == 0:
        try:
            state = write_chunk(user, rec.upload_id, offset=0, body=body)
        except (ClientGone, ConsentWithdrawn):
            raise  # what arrived is kept / everything is gone already
        except RecordingRefused:
            if created:
                # The phone never learnt this upload's address: leave no row or file behind.
                _discard(user, rec)
            raise
    return state, created


def _revive_if_expired(rec: Recording) -> None:
    """An expired upload asked for again starts over from 0 under a new URL (same row).

    It held no quota while expired, so it must fit again.
    """
    if not (
        rec.status is RecordingStatus.UPLOADING
        and rec.upload_expires_at is not None
        and rec.upload_expires_at <= clock.now()
    ):
        return
    old_id = rec.upload_id
    with upload_lock(old_id):
        s = db.session()
        recordings.hold_family(rec.family)
        recordings.check_quota(rec.family, rec.declared_size)
        rec.upload_id = secrets.token_urlsafe(24)
        rec.received_size = 0
        rec.upload_expires_at = _expiry()
        s.commit()
        store = media_store.store()
        with contextlib.suppress(MediaNotFound):
            store.delete(rec.family_id, rec.original_name)
        store.create(rec.family_id, rec.original_name, expected_size=rec.declared_size)
        drop_lock_file(old_id)


# -- status (HEAD) -------------------------------------------------------------------------


def upload_state(user: User, upload_id: str) -> UploadState:
    """The upload's durable offset (HEAD). Also finishes an upload a crash left complete.

    While a PATCH for it is running the answer is UploadBusy (423), as tusd does: any offset
    given then could be stale a moment later, and tus-js-client retries a locked HEAD.
    """
    rec = _load_upload(user, upload_id)
    _check_not_gone(rec)
    if rec.family.withdrawn_at is not None:
        raise ConsentWithdrawn()
    if rec.status is not RecordingStatus.UPLOADING:
        return _state(rec)
    with upload_lock(upload_id):
        _refresh(rec)
        if rec.status is RecordingStatus.UPLOADING:
            offset = _durable_offset(rec)
            if offset != rec.received_size:
                rec.received_size = offset
                db.session().commit()
            if offset == rec.declared_size:
                _finish(rec, None)
    return _state(rec)


# -- appending (PATCH) ---------------------------------------------------------------------


class _NotAVideoStream(Exception):
    """The first bytes are not a WebM or MP4 container."""


class _Sniffer:
    """Recognises the container from the upload's first bytes, as they stream in.

    Raising from ``MediaStore.append``'s ``on_bytes`` counts as the stream failing, so a
    non-video is refused after its first piece, not after the whole body has been written.
    """

    def __init__(self, head: bytes | None, start: int, length: int) -> None:
        self._head = head  # None once sniffed (or not needed)
        self._pos = start
        self._length = length
        self.container: str | None = None

    def see(self, piece: Buffer) -> None:
        if self._head is not None:
            self._head += bytes(piece[: SNIFF_BYTES - len(self._head)])
            if len(self._head) >= SNIFF_BYTES or self._pos + len(piece) >= self._length:
                self.container = sniff_container(self._head)
                self._head = None
                if self.container is None:
                    raise _NotAVideoStream()
        self._pos += len(piece)


def write_chunk(user: User, upload_id: str, *, offset: int, body: Body) -> UploadState:
    """Append one PATCH body at ``offset``; durable before this returns (see module doc)."""
    if user.role is not Role.PARENT or not _UPLOAD_ID_RE.fullmatch(upload_id):
        raise UploadNotFound()
    with upload_lock(upload_id) as held:
        # Read under the lock, so this is the row as the last PATCH left it (it may have
        # finished or refused the upload a moment ago).
        rec = _find_upload(user, upload_id)
        if rec is None or rec.status is not RecordingStatus.UPLOADING:
            drop_lock_file(upload_id)  # nothing will be appended: the lock file can go
        if rec is None:
            raise _gone(parent_family(user))
        _check_not_gone(rec)
        check_may_record(rec.family)
        if rec.status is not RecordingStatus.UPLOADING:
            return _already_complete(rec, offset, body)
        current = _durable_offset(rec)
        if offset != current:
            raise OffsetMismatch(current)
        remaining = rec.declared_size - current
        if body.length is not None and body.length > remaining:
            raise UploadTooLarge()
        if body.length == 0:
            return _save_offset(rec, current)  # nothing to write; it still counts as progress
        # The body may take minutes to arrive from a slow phone: hold no database connection
        # meanwhile, or a few such phones would starve every other request of the pool.
        db.release()
        return _append(user, rec, current, body, held)


def _already_complete(rec: Recording, offset: int, body: Body) -> UploadState:
    if offset == rec.declared_size and not body.length:
        return _state(rec)
    raise OffsetMismatch(rec.declared_size)


def _deadlines() -> Deadlines:
    settings = _settings()
    return Deadlines(settings.upload_idle_timeout_s, settings.upload_patch_deadline_s)


def _append(user: User, rec: Recording, start: int, body: Body, held: Held) -> UploadState:
    store = media_store.store()
    family_id, name = rec.family_id, rec.original_name
    head: bytes | None = None
    if start < SNIFF_BYTES:
        head = b""
        if start:
            with store.open(family_id, name) as f:
                head = f.read(start)
    sniffer = _Sniffer(head, start, rec.declared_size)
    digest = body.checksum.new_hash() if body.checksum else None
    running = running_hashes.take(rec.upload_id, start)
    hashes = [h for h in (digest, running) if h is not None]
    seen = 0

    def on_bytes(piece: Buffer) -> None:
        nonlocal seen
        held.check()
        sniffer.see(piece)
        for h in hashes:
            h.update(piece)
        seen += len(piece)

    try:
        written = store.append(
            family_id,
            name,
            pieces(body, _deadlines()),
            limit=rec.declared_size - start,
            on_bytes=on_bytes,
        )
    except StorageLimitExceeded:
        # The store already put the file back as it was: nothing of this body is kept.
        raise UploadTooLarge() from None
    except _NotAVideoStream:
        recordings.reject(rec, NOT_A_VIDEO)
        drop_lock_file(rec.upload_id)
        raise NotAVideo(reason=NOT_A_VIDEO) from None
    except BodyFailed:
        _keep_partial(rec, start, seen, body, running)
        raise ClientGone() from None
    except MediaNotFound:
        raise _gone(rec.family) from None
    except StorageBusy:
        raise UploadBusy() from None

    if digest is not None and body.checksum is not None and digest.digest() != body.checksum.digest:
        # Roll back so a chunk corrupted on the way never becomes part of the recording.
        store.truncate(family_id, name, start)
        raise ChecksumMismatch()

    # Consent may have been withdrawn while the bytes streamed in: then keep nothing.
    try:
        check_may_record(rec.family)
    except ConsentWithdrawn:
        _discard(user, rec)
        raise

    held.check()  # the offset is recorded only by the lock's holder
    new_offset = start + written
    if new_offset == rec.declared_size:
        _finish(rec, sniffer.container, running.hexdigest() if running is not None else None)
        return _state(rec)
    if running is not None:
        running_hashes.put(rec.upload_id, new_offset, running)
    return _save_offset(rec, new_offset)


def _keep_partial(rec: Recording, start: int, seen: int, body: Body, running: Any) -> None:
    """The body stopped early: keep what arrived (tus resumes from there) and note it."""
    store = media_store.store()
    try:
        if body.checksum is not None:
            # A partial body cannot be checked against the checksum: keep none of it.
            store.truncate(rec.family_id, rec.original_name, start)
        kept = store.size(rec.family_id, rec.original_name)
    except MediaNotFound:
        raise _gone(rec.family) from None
    if running is not None and body.checksum is None and kept == start + seen:
        running_hashes.put(rec.upload_id, kept, running)
    try:
        _save_offset(rec, kept)
    except StaleDataError:
        # The row went while the bytes came in: a withdrawal. Say so to the phone.
        db.session().rollback()
        raise _gone(rec.family) from None


def _save_offset(rec: Recording, offset: int) -> UploadState:
    """Note progress: the upload's state with ``offset``, the row updated at most once a second.

    The row's ``received_size`` is only a cache of the file (see module doc) and the expiry
    only needs to move on while the upload is alive, so a fast upload does not write the row
    on every PATCH.
    """
    expires = _expiry()
    if (
        rec.upload_expires_at is None
        or expires - rec.upload_expires_at >= OFFSET_SAVE_INTERVAL
        or (rec.received_size == 0) != (offset == 0)  # "has bytes" is what the sweeper reads
    ):
        rec.received_size = offset
        rec.upload_expires_at = expires
        db.session().commit()
    return replace(_state(rec), offset=offset)


def _finish(rec: Recording, container: str | None, sha256: str | None = None) -> None:
    """All bytes are on disk: hash them, mark the recording received and queue the job.

    ``sha256`` is the hash of exactly the bytes appended (kept while they streamed in) when
    this process saw the whole upload; otherwise the stored file is hashed here.
    """
    store = media_store.store()
    if container is None and rec.declared_size:
        # A range read, not open(): on the object store that fetches one chunk, not the file.
        end = min(SNIFF_BYTES, rec.declared_size) - 1
        with store.read_range(rec.family_id, rec.original_name, 0, end) as pieces:
            container = sniff_container(b"".join(pieces))
    if container is None:
        recordings.reject(rec, NOT_A_VIDEO)
        drop_lock_file(rec.upload_id)
        raise NotAVideo(reason=NOT_A_VIDEO)
    if sha256 is None:
        sha256 = store.sha256(rec.family_id, rec.original_name)
    drop_lock_file(rec.upload_id)
    recordings.mark_received(rec, sha256, container)


def _discard(user: User, rec: Recording) -> None:
    recordings.delete_media(rec)
    drop_lock_file(rec.upload_id)
    audit.record("recording_upload_discarded", actor=user, family=rec.family)
    s = db.session()
    # A bulk delete, not session.delete(): a withdrawal may have removed the row already.
    s.execute(delete(Recording).where(Recording.id == rec.id))
    s.expunge(rec)
    s.commit()


# -- termination (DELETE) ------------------------------------------------------------------


def terminate(user: User, upload_id: str) -> None:
    """Abandon an unfinished (or refused) upload: its bytes and its recording go."""
    rec = _load_upload(user, upload_id)
    if rec.completed_at is not None or rec.status in recordings.SAFE_STATUSES:
        raise AlreadySent()
    with upload_lock(upload_id):
        _refresh(rec)
        # Once complete, the video is the practitioner's to work with: removing it is the
        # withdrawal feature's job, which also tells the practitioner.
        if rec.completed_at is not None or rec.status in recordings.SAFE_STATUSES:
            raise AlreadySent()
        _discard(user, rec)


# -- housekeeping --------------------------------------------------------------------------


def expire_abandoned_uploads() -> int:
    """Delete the bytes (and the disk space set aside) of uploads not continued before they
    expired; return how many.

    The rows stay (marked by their past ``upload_expires_at``) so a later POST with the same
    client id starts again as the same recording. For the retention sweeper.
    """
    store = media_store.store()
    s = db.session()
    stale = s.scalars(
        select(Recording).where(
            Recording.status == RecordingStatus.UPLOADING,
            Recording.upload_expires_at <= clock.now(),
        )
    ).all()
    count = 0
    for rec in stale:
        try:
            with upload_lock(rec.upload_id):
                if not store.exists(rec.family_id, rec.original_name):
                    continue  # swept before
                store.delete(rec.family_id, rec.original_name)
                rec.received_size = 0
                s.commit()
                drop_lock_file(rec.upload_id)
                count += 1
        except UploadBusy:
            continue
    return count
