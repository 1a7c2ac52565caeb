"""Rules for filming on the phone: may this family film, and how the phone should send."""

from __future__ import annotations

import enum

from sqlalchemy import select

from vigparent import db
from vigparent.models import ConsentKind, ConsentRecord, Family, FamilyStatus

#: Bytes per tus PATCH. Big enough that a 75 MB film is ~15 requests, small enough that a
#: dropped connection on a phone costs little to resend.
UPLOAD_CHUNK_BYTES = 5 * 1024 * 1024
#: Tests use small recordings; small chunks make them cross several PATCHes like a real film.
TEST_UPLOAD_CHUNK_BYTES = 64 * 1024

#: The recorder nudges at 5 minutes and stops by itself at 10 (DESIGN.md §1: 5–10 minutes).
NUDGE_SECONDS = 5 * 60
MAX_SECONDS = 10 * 60
#: Below this much free space the parent is told before filming (10 minutes is ~75 MB).
LOW_STORAGE_BYTES = 200 * 1024 * 1024


class FilmingState(enum.StrEnum):
    ALLOWED = "allowed"
    NEEDS_CONSENT = "needs_consent"
    STOPPED = "stopped"


def filming_state(family: Family | None) -> FilmingState:
    """Whether this family may film: not withdrawn or closed, filming and storage agreed."""
    if family is None or family.status in (FamilyStatus.WITHDRAWN, FamilyStatus.CLOSED):
        return FilmingState.STOPPED
    granted = set(
        db.session().scalars(
            select(ConsentRecord.kind).where(
                ConsentRecord.family_id == family.id,
                ConsentRecord.withdrawn_at.is_(None),
                ConsentRecord.kind.in_((ConsentKind.FILMING, ConsentKind.STORAGE)),
            )
        )
    )
    if granted != {ConsentKind.FILMING, ConsentKind.STORAGE}:
        return FilmingState.NEEDS_CONSENT
    return FilmingState.ALLOWED


def upload_chunk_bytes(testing: bool) -> int:
    return TEST_UPLOAD_CHUNK_BYTES if testing else UPLOAD_CHUNK_BYTES
