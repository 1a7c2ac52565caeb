"""Streaming recordings and clips, behind the access check, with HTTP Range."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, abort, request
from flask_login import current_user

from vigparent.media import service
from vigparent.media.service import Blob
from vigparent.models import Clip, Family, Recording, Role
from vigparent.security import require_role

bp = Blueprint("media", __name__, url_prefix="/media")
# Admins oversee an organisation but never watch its families' videos (service.py).
# Supervisors watch shared clips only (service.load_media_owner).
bp.before_request(require_role(Role.PRACTITIONER, Role.ADMIN, Role.PARENT, Role.SUPERVISOR))


def _send(blob: Blob | None, family: Family, disposition: str = "inline") -> Any:
    if blob is None:
        abort(404)
    return service.send_blob(
        blob,
        range_header=request.headers.get("Range"),
        if_range=request.headers.get("If-Range"),
        cache_control=service.cache_control_for(current_user, family),
        disposition=disposition,
    )


def _range() -> str | None:
    return request.headers.get("Range")


@bp.get("/recordings/<int:recording_id>")
def recording(recording_id: int) -> Any:
    rec = service.load_media_owner(current_user, Recording, recording_id)
    blob = service.recording_video(rec)
    if blob is not None:
        service.record_view(current_user, rec.family, f"recording {rec.id}", _range())
    return _send(blob, rec.family)


@bp.get("/recordings/<int:recording_id>/poster")
def recording_poster(recording_id: int) -> Any:
    rec = service.load_media_owner(current_user, Recording, recording_id)
    return _send(service.recording_poster(rec), rec.family)


@bp.get("/clips/<int:clip_id>")
def clip(clip_id: int) -> Any:
    c = service.load_media_owner(current_user, Clip, clip_id)
    blob = service.clip_video(c)
    if blob is not None:
        service.record_view(current_user, c.recording.family, f"clip {c.id}", _range())
    return _send(blob, c.recording.family)


@bp.get("/clips/<int:clip_id>/poster")
def clip_poster(clip_id: int) -> Any:
    c = service.load_media_owner(current_user, Clip, clip_id)
    return _send(service.clip_poster(c), c.recording.family)


@bp.get("/clips/<int:clip_id>/download")
def clip_download(clip_id: int) -> Any:
    """The one route that sends a clip as a file to keep; only where copies are allowed."""
    c = service.load_media_owner(current_user, Clip, clip_id)
    family = c.recording.family
    if not service.parent_may_keep_copies(current_user, family):
        abort(404)
    filename = service.download_name(c)
    service.record_download(current_user, c)
    return _send(service.clip_video(c), family, f'attachment; filename="{filename}"')
