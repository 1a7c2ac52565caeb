"""Who may fetch which media, and HTTP Range streaming of encrypted blobs.

Video of parents and babies is special-category data (DESIGN.md §6): only the family's own
carers and its own practitioner may fetch it. `access.load_owned` already limits a row to the
user's families (and hides unpublished clips from parents); organisation admins can see every
family's rows for oversight, but not the videos themselves, so media is narrowed further here.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from typing import TypeVar

from flask import Response, abort, stream_with_context
from sqlalchemy import select

from vigparent import access, audit, clock, db, media_store
from vigparent.consent import service as consent_service
from vigparent.models import (
    AuditEvent,
    Clip,
    ClipStatus,
    ConsentKind,
    Family,
    Recording,
    RecordingStatus,
    Role,
    User,
)
from vigparent.storage import MediaNotFound

T = TypeVar("T", Recording, Clip)

NO_STORE = "private, no-store"
# A parent allowed to keep copies may let their own browser cache what they watch.
KEEP_COPY_CACHE = "private, max-age=3600"

# A recording's bytes are whole once received; before that the original is still growing.
_RECORDING_PLAYABLE = (RecordingStatus.RECEIVED, RecordingStatus.PROCESSING, RecordingStatus.READY)
_CONTAINER_TYPES = {"mp4": "video/mp4", "webm": "video/webm"}

# At most 18 digits: positions past an exabyte are nonsense, and a 5,000-digit run would
# exceed Python's int-parsing limit. A longer run makes the header ignored (a full 200).
_RANGE_SPEC = re.compile(r"^\s*([0-9]{0,18})\s*-\s*([0-9]{0,18})\s*$")


def load_media_owner(user: User, model: type[T], object_id: int) -> T:
    """Load a Recording or Clip whose media `user` may fetch, or 404.

    The family's carers and the family's own practitioner only: not an admin, not a colleague.
    A supervisor may fetch a finished clip while it is in a share they may open, nothing more.
    """
    if user.role is Role.SUPERVISOR:
        if model is not Clip:
            abort(404)
        return access.load_shared_clip(user, object_id)  # type: ignore[return-value]
    obj = access.load_owned(user, model, object_id)
    family = db.session().get(Family, obj.family_id)
    if family is None or (user.is_staff and family.practitioner_id != user.id):
        abort(404)
    return obj


def record_download(user: User, clip: Clip) -> None:
    """Audit a clip sent as a file to keep; commits."""
    audit.record(
        "clip_downloaded", actor=user, family=clip.recording.family, detail=f"clip {clip.id}"
    )
    db.session().commit()


def parent_may_keep_copies(user: User, family: Family) -> bool:
    """The organisation allows copies and this carer's own keep-a-copy consent still stands."""
    if not user.is_parent or user.family_id != family.id:
        return False
    if not family.organisation.parents_may_keep_copies:
        return False
    return consent_service.carer_consented(family, user, ConsentKind.KEEP_COPY)


# A watch is audited once per person, video and half hour: seeking and re-buffering send many
# requests, and only one from the start of the file means someone started watching.
VIEW_AUDIT_GAP = timedelta(minutes=30)
_FROM_START = re.compile(r"^\s*bytes\s*=\s*0*\s*-")


def record_view(user: User, family: Family, what: str, range_header: str | None) -> None:
    """Audit that `user` started watching `what` ("recording 3", "clip 7"); commits."""
    if range_header and not _FROM_START.match(range_header):
        return
    s = db.session()
    recent = s.scalar(
        select(AuditEvent.id)
        .where(
            AuditEvent.family_id == family.id,
            AuditEvent.action == "media_viewed",
            AuditEvent.actor_id == user.id,
            AuditEvent.detail == what,
            AuditEvent.at > clock.now() - VIEW_AUDIT_GAP,
        )
        .limit(1)
    )
    if recent is None:
        audit.record("media_viewed", actor=user, family=family, detail=what)
        s.commit()


def cache_control_for(user: User, family: Family) -> str:
    return KEEP_COPY_CACHE if parent_may_keep_copies(user, family) else NO_STORE


@dataclass(frozen=True)
class Blob:
    """One stored media file to send: which family's store, its name and its type."""

    family_id: int
    name: str
    content_type: str


def recording_video(recording: Recording) -> Blob | None:
    """The transcode when it exists (plays everywhere), else the whole original."""
    if recording.status not in _RECORDING_PLAYABLE:
        return None
    if recording.transcode_name:
        return Blob(recording.family_id, recording.transcode_name, "video/mp4")
    content_type = _CONTAINER_TYPES.get(recording.container or "", "video/mp4")
    return Blob(recording.family_id, recording.original_name, content_type)


def recording_poster(recording: Recording) -> Blob | None:
    if recording.status not in _RECORDING_PLAYABLE or not recording.poster_name:
        return None
    return Blob(recording.family_id, recording.poster_name, "image/jpeg")


def clip_video(clip: Clip) -> Blob | None:
    if clip.status is not ClipStatus.READY or not clip.media_name:
        return None
    return Blob(clip.family_id, clip.media_name, "video/mp4")


def clip_poster(clip: Clip) -> Blob | None:
    if clip.status is not ClipStatus.READY or not clip.poster_name:
        return None
    return Blob(clip.family_id, clip.poster_name, "image/jpeg")


class Unsatisfiable(Exception):
    """The Range names no byte of the file (HTTP 416)."""


def parse_range(header: str | None, size: int) -> tuple[int, int] | None:
    """The one byte range (start, end inclusive) to send, or None to send the whole file.

    RFC 9110 §14: a header we do not understand, or one asking for several ranges, is
    ignored (a full 200 answer is always allowed); a well-formed range that starts past the
    end raises Unsatisfiable. Suffix ranges ("bytes=-500") mean the last 500 bytes.
    """
    if not header:
        return None
    unit, _, specs = header.partition("=")
    if unit.strip().lower() != "bytes" or not specs or "," in specs:
        return None
    match = _RANGE_SPEC.match(specs)
    if match is None:
        return None
    first, last = match.groups()
    if not first and not last:
        return None
    if not first:
        suffix = int(last)
        if suffix == 0 or size == 0:
            raise Unsatisfiable
        return max(0, size - suffix), size - 1
    start = int(first)
    if last and int(last) < start:
        return None  # syntactically invalid: ignore, as the RFC allows
    if start >= size:
        raise Unsatisfiable
    end = min(int(last), size - 1) if last else size - 1
    return start, end


def etag_for(blob: Blob) -> str:
    # Names are unique per content (a re-cut clip gets a new name); hashed so the storage
    # name itself never leaves the server.
    return '"' + hashlib.sha256(blob.name.encode()).hexdigest()[:32] + '"'


def _pieces(pieces: media_store.MediaPieces) -> Iterator[bytes]:
    with pieces:
        yield from pieces


def send_blob(
    blob: Blob,
    *,
    range_header: str | None,
    if_range: str | None,
    cache_control: str,
    disposition: str = "inline",
) -> Response:
    """Answer GET for a stored blob: 200 whole, 206 one range, or 416; always streamed.

    Decrypted bytes go straight from the store to the socket in bounded pieces; nothing is
    written to disk and the whole file is never held in memory.
    """
    store = media_store.store()
    try:
        size = store.size(blob.family_id, blob.name)
    except MediaNotFound:
        abort(404)
    etag = etag_for(blob)
    headers = {
        "Accept-Ranges": "bytes",
        "Cache-Control": cache_control,
        "Content-Disposition": disposition,
        "ETag": etag,
    }
    if if_range is not None and if_range.strip() != etag:
        # The client's partial copy is of something else: send the whole current file.
        range_header = None
    try:
        wanted = parse_range(range_header, size)
    except Unsatisfiable:
        headers["Content-Range"] = f"bytes */{size}"
        return Response(b"", status=416, headers=headers, content_type=blob.content_type)

    start, end = wanted if wanted is not None else (0, size - 1)
    status = 206 if wanted is not None else 200
    if status == 206:
        headers["Content-Range"] = f"bytes {start}-{end}/{size}"
    headers["Content-Length"] = str(end - start + 1)
    if size == 0:
        return Response(b"", status=200, headers=headers, content_type=blob.content_type)
    try:
        pieces = store.read_range(blob.family_id, blob.name, start, end)
    except MediaNotFound:
        # Also a destroyed family key: the video was withdrawn, so it no longer exists.
        abort(404)
    # Give the database connection back before a long stream starts; what the response still
    # needs has been read already.
    db.session().close()
    return Response(
        stream_with_context(_pieces(pieces)),
        status=status,
        headers=headers,
        content_type=blob.content_type,
        direct_passthrough=True,
    )


def download_name(clip: Clip) -> str:
    """A plain ASCII file name for a saved clip, such as vig-clip-2-you-waited.mp4."""
    slug = re.sub(r"[^a-z0-9]+", "-", clip.title.lower()).strip("-")[:40].strip("-")
    return f"vig-clip-{clip.position or clip.id}{'-' + slug if slug else ''}.mp4"
