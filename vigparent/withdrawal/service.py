"""Withdrawing consent and deleting media, each as one durable operation (DESIGN.md §7).

A deletion is journalled by its DeletionReceipt: the receipt is written, with
``completed_at`` NULL, in the same commit that changes what the family may do (consent
withdrawn, uploads refused). Every later step is idempotent, so a process that dies half-way
leaves an open receipt, and ``resume_unfinished_deletions()`` (a job every minute, and the
start of every retention sweep) runs the remaining steps again until the receipt is complete.

Order for a whole family, and why:

1. commit: family withdrawn, consents withdrawn, invitations revoked, receipt opened. From
   here the upload check (``recordings.service.check_may_record``) refuses every new or
   in-flight upload, and the keyring refuses to mint a new key for the family.
2. destroy the family's data key. From here no copy of its media can be read, backups
   included, even if no later step ever runs (crypto-shredding).
3. revoke the family's queued jobs (best effort: jobs also call ``media_allowed`` before they
   write, and a job that writes anyway can no longer get a key).
4. delete the family's files (ciphertext that nobody can read any more).
5. delete the rows that describe the media and what people said about it.
6. complete the receipt and record the audit event, in one commit.

What withdrawal keeps: the family row (label and status, so the practitioner's caseload can
say "consent withdrawn, media deleted"), the carers' accounts (only to show the receipt), the
consent records (now marked withdrawn: the record of what was agreed and when it ended),
goals and filming plans (the practitioner's case record, no media), the receipt and the audit
trail. What it deletes: recordings, clips, posters, transcodes, partial uploads, the key, and
the parents' reflections and progress ratings (their words about the videos).
"""

from __future__ import annotations

import contextlib
import enum
import logging
from collections.abc import Iterable
from typing import Any

from flask import current_app
from huey import crontab
from sqlalchemy import ColumnElement, Table, delete, func, or_, select, update

from vigparent import audit, clock, db, jobs, media_store
from vigparent.db import Base
from vigparent.invitations import service as invitation_service
from vigparent.live import service as live
from vigparent.models import (
    Clip,
    ConsentKind,
    ConsentRecord,
    DeletionReceipt,
    Family,
    FamilyStatus,
    ProgressRating,
    Recording,
    Reflection,
    Role,
    User,
)
from vigparent.notifications import stopping
from vigparent.storage import InvalidMediaName, MediaNotFound, ciphertext_size
from vigparent.supervision import service as supervision
from vigparent.uploads.locks import drop_lock_file

log = logging.getLogger(__name__)


class Reason(enum.StrEnum):
    """Why media was deleted; stored on the receipt."""

    WITHDRAWN = "withdrawn"  # a carer withdrew consent: all media goes
    ERASED = "erased"  # an admin erased the family entirely, rows included
    RETENTION = "retention"  # a closed case passed the organisation's retention period
    RECORDING = "recording_deleted"  # one recording, at a carer's or practitioner's request


# Tables that must outlive every deletion: they hold plain ids and counts, never content.
_KEEP_TABLES = frozenset({"audit_event", "deletion_receipt"})
_MEDIA_TABLES = ("recording", "clip")

_DONE_ACTION = {
    Reason.WITHDRAWN: "media_deleted",
    Reason.ERASED: "family_erased",
    Reason.RETENTION: "retention_media_deleted",
    Reason.RECORDING: "recording_deleted",
}


class WithdrawalError(Exception):
    """A request we turn down; the words are for the person who asked."""


# -- who may still hold media -------------------------------------------------------------------


def media_allowed(family_id: int) -> bool:
    """Whether a job may still read or write this family's media (committed state).

    Background jobs call this before they touch media and again before they record what they
    wrote: Huey's revocation is best effort, so a job queued before a withdrawal can still
    start after it.
    """
    return media_store.family_may_hold_media(current_app.extensions["vig_engine"], family_id)


# -- whole-family deletion ----------------------------------------------------------------------


def withdraw_consent(family: Family, by: User | None) -> DeletionReceipt:
    """Withdraw every consent of the family and delete all its media; return the receipt.

    Idempotent: a second call (a double tap, a queued offline request arriving late) returns
    the first call's receipt, finishing it if it was interrupted. If a deletion step fails,
    the consent stays withdrawn, the receipt is returned still open, and
    ``resume_unfinished_deletions()`` finishes the deletion.
    """
    s = db.session()
    now = clock.now()
    # The conditional UPDATE is the claim: of two racing requests exactly one changes the row.
    claimed = _rowcount(
        s.execute(
            update(Family)
            .where(Family.id == family.id, Family.status != FamilyStatus.WITHDRAWN)
            .values(status=FamilyStatus.WITHDRAWN, withdrawn_at=now)
        )
    )
    if not claimed:
        s.rollback()
        return _finish_existing(family, Reason.WITHDRAWN)
    return _open_and_complete(family, by, Reason.WITHDRAWN, "consent_withdrawn")


def erase_family(family: Family, by: User) -> DeletionReceipt:
    """Erase a family entirely (an admin's decision): media, content, carers' accounts and the
    family row itself. Only the receipt and the audit trail remain, holding plain ids."""
    if by.role is not Role.ADMIN or by.organisation_id != family.organisation_id:
        raise WithdrawalError("Only an admin of the family's organisation can erase it.")
    open_receipt = _latest_family_receipt(family.id, (Reason.ERASED,), open_only=True)
    if open_receipt is not None:
        _complete_safely(open_receipt)
        return open_receipt
    s = db.session()
    s.execute(
        update(Family)
        .where(Family.id == family.id)
        .values(
            status=FamilyStatus.WITHDRAWN,
            withdrawn_at=func.coalesce(Family.withdrawn_at, clock.now()),
        )
    )
    return _open_and_complete(family, by, Reason.ERASED, "family_erase_started")


def delete_family_media(family: Family, by: User | None, reason: Reason) -> DeletionReceipt:
    """Delete all of a family's media without withdrawing consent (retention of closed cases)."""
    open_receipt = _latest_family_receipt(family.id, (reason,), open_only=True)
    if open_receipt is not None:
        _complete_safely(open_receipt)
        return open_receipt
    return _open_and_complete(family, by, reason, "retention_deletion_started")


def _open_and_complete(
    family: Family, by: User | None, reason: Reason, action: str
) -> DeletionReceipt:
    """Step 1 (one commit, together with the caller's status change), then steps 2–6."""
    s = db.session()
    now = clock.now()
    if reason in (Reason.WITHDRAWN, Reason.ERASED):
        s.execute(
            update(ConsentRecord)
            .where(ConsentRecord.family_id == family.id, ConsentRecord.withdrawn_at.is_(None))
            .values(withdrawn_at=now)
        )
    # An open link must not let anyone join a family whose media is gone.
    invitation_service.revoke_open_invitations(family, now)
    if reason in (Reason.WITHDRAWN, Reason.ERASED):
        # No reminder, text or push after this: queued ones are cancelled in this commit.
        stopping.stop_family(family.id)
    # Watching together ends at once: no phone follows a clip about to be deleted.
    live_ended = live.end_for_family(family.id)
    receipt = _new_receipt(family, reason)
    audit.record(action, actor=by, family=family, detail=f"receipt={receipt.id}")
    s.commit()
    if live_ended:
        live.announce_ended(family.id, withdrawn=True)
    _complete_safely(receipt)
    return receipt


def _finish_existing(family: Family, reason: Reason) -> DeletionReceipt:
    """The receipt of a deletion that someone else started; finished here if it is open."""
    receipt = _latest_family_receipt(family.id, (reason, Reason.ERASED))
    if receipt is None:
        # Withdrawn by some other path without a journal: delete what is there now.
        receipt = _new_receipt(family, reason)
        db.session().commit()
    if receipt.completed_at is None:
        _complete_safely(receipt)
    return receipt


def _latest_family_receipt(
    family_id: int, reasons: Iterable[Reason], *, open_only: bool = False
) -> DeletionReceipt | None:
    stmt = select(DeletionReceipt).where(
        DeletionReceipt.family_id == family_id,
        DeletionReceipt.reason.in_([r.value for r in reasons]),
        DeletionReceipt.recording_id.is_(None),
    )
    if open_only:
        stmt = stmt.where(DeletionReceipt.completed_at.is_(None))
    return db.session().scalar(stmt.order_by(DeletionReceipt.id.desc()).limit(1))


def _new_receipt(
    family: Family, reason: Reason, recording: Recording | None = None
) -> DeletionReceipt:
    """Count what is about to go, before anything goes, and add the (open) receipt."""
    store = media_store.store()
    if recording is None:
        recordings = _count(Recording, Recording.family_id == family.id)
        clips = _count(Clip, Clip.family_id == family.id)
        files, size = len(store.names(family.id)), store.family_usage(family.id)
    else:
        recordings = 1
        clips = _count(Clip, Clip.recording_id == recording.id)
        sizes = [_stored_size(family.id, n) for n in _names_of_recording(recording)]
        files, size = sum(1 for x in sizes if x is not None), sum(x or 0 for x in sizes)
    receipt = DeletionReceipt(
        family_id=family.id,
        organisation_id=family.organisation_id,
        reason=reason.value,
        recordings=recordings,
        clips=clips,
        files=files,
        bytes=size,
        key_destroyed=False,
        recording_id=recording.id if recording is not None else None,
        started_at=clock.now(),
    )
    db.session().add(receipt)
    db.session().flush()
    return receipt


# -- the remaining steps, each safe to repeat ---------------------------------------------------


def _complete_safely(receipt: DeletionReceipt) -> None:
    try:
        complete_deletion(receipt)
    except Exception:
        # The open receipt is the journal; the periodic job finishes it. Ids only in logs.
        log.exception(
            "deletion %s for family %s was interrupted; it will be resumed",
            receipt.id,
            receipt.family_id,
        )
        db.session().rollback()


def complete_deletion(receipt: DeletionReceipt) -> DeletionReceipt:
    """Run the steps after the first for an open receipt; safe to run again at any point."""
    if receipt.completed_at is not None:
        return receipt
    if receipt.recording_id is not None:
        return _complete_recording_deletion(receipt)
    s = db.session()
    family_id = receipt.family_id
    reason = Reason(receipt.reason)

    # Step 2: crypto-shred, committed on its own so the journal shows the key is gone.
    media_store.keyring().destroy(family_id)
    receipt.key_destroyed = True
    s.commit()

    # Step 3.
    recording_ids = set(s.scalars(select(Recording.id).where(Recording.family_id == family_id)))
    clip_ids = set(s.scalars(select(Clip.id).where(Clip.family_id == family_id)))
    cancel_jobs(family_id, recording_ids, clip_ids)

    # Step 4.
    media_store.store().delete_family(family_id)
    _drop_upload_locks(
        s.scalars(select(Recording.upload_id).where(Recording.family_id == family_id))
    )

    # Step 5.
    if reason is Reason.ERASED:
        _erase_family_rows(family_id)
    else:
        delete_media_rows_of_family(family_id)
        supervision.delete_family_shares(family_id)
        s.execute(delete(Reflection).where(Reflection.family_id == family_id))
        s.execute(delete(ProgressRating).where(ProgressRating.family_id == family_id))
        s.execute(
            update(Family)
            .where(Family.id == family_id, Family.media_deleted_at.is_(None))
            .values(media_deleted_at=clock.now())
        )

    # Step 6.
    _close_receipt(receipt)
    # Step 7: the deleted words must not live on in SQLite's write-ahead log.
    if not db.checkpoint(s):
        log.warning("deletion %s: the database log is still in use; emptied later", receipt.id)
    s.commit()
    return receipt


def _close_receipt(receipt: DeletionReceipt) -> None:
    """Mark the receipt complete and audit it, once, even if two workers finish together."""
    s = db.session()
    now = clock.now()
    done = _rowcount(
        s.execute(
            update(DeletionReceipt)
            .where(DeletionReceipt.id == receipt.id, DeletionReceipt.completed_at.is_(None))
            .values(completed_at=now)
        )
    )
    if done:
        audit.record(
            _DONE_ACTION[Reason(receipt.reason)],
            organisation_id=receipt.organisation_id,
            family_id=receipt.family_id,
            detail=(
                f"receipt={receipt.id} recordings={receipt.recordings} clips={receipt.clips} "
                f"files={receipt.files} bytes={receipt.bytes}"
            ),
        )
    s.commit()
    s.refresh(receipt)


def _delete_media_rows(recordings_where: ColumnElement[bool]) -> None:
    """Delete recordings matching the condition, their clips, and every row that points at
    either (reflections on clips, and whatever other features hang off them)."""
    s = db.session()
    recording_ids = select(Recording.id).where(recordings_where).scalar_subquery()
    clip_ids = select(Clip.id).where(Clip.recording_id.in_(recording_ids)).scalar_subquery()
    targets = {"recording": recording_ids, "clip": clip_ids}
    for table in _tables_leaf_first():
        if table.name in _KEEP_TABLES or table.name in _MEDIA_TABLES:
            continue
        conditions = [
            column.in_(targets[fk.column.table.name])
            for column in table.columns
            for fk in column.foreign_keys
            if fk.column.table.name in targets
        ]
        if conditions:
            s.execute(delete(table).where(or_(*conditions)))
    s.execute(delete(Clip).where(Clip.recording_id.in_(recording_ids)))
    s.execute(delete(Recording).where(recordings_where))


def delete_media_rows_of_family(family_id: int) -> None:
    """Delete the family's recording and clip rows and what hangs off them (not committed)."""
    _delete_media_rows(Recording.family_id == family_id)
    db.session().execute(delete(Clip).where(Clip.family_id == family_id))


def _erase_family_rows(family_id: int) -> None:
    """Delete every row of the family in every table (but the receipt and audit trail)."""
    s = db.session()
    carers = select(User.id).where(User.family_id == family_id).scalar_subquery()
    family_tables = {t.name for t in Base.metadata.sorted_tables if "family_id" in t.columns}
    for table in _tables_leaf_first():
        if table.name in _KEEP_TABLES or table.name in ("family", "user"):
            continue
        conditions: list[ColumnElement[bool]] = []
        if "family_id" in table.columns:
            conditions.append(table.c.family_id == family_id)
        for column in table.columns:
            for fk in column.foreign_keys:
                parent = fk.column.table
                if parent.name == "family":
                    conditions.append(column == family_id)
                elif parent.name == "user":
                    conditions.append(column.in_(carers))
                elif parent.name in family_tables and parent.name not in _KEEP_TABLES:
                    # Rows hanging off a family-owned row (a goal's revisions).
                    conditions.append(
                        column.in_(select(fk.column).where(parent.c.family_id == family_id))
                    )
        if conditions:
            s.execute(delete(table).where(or_(*conditions)))
    s.execute(delete(User).where(User.family_id == family_id, User.role == Role.PARENT))
    # Staff are never members of a family; unlink rather than delete if one ever was.
    s.execute(update(User).where(User.family_id == family_id).values(family_id=None))
    s.execute(delete(Family).where(Family.id == family_id))


def _tables_leaf_first() -> list[Table]:
    # Dependents before the rows they point at, so foreign keys hold at every statement.
    return list(reversed(Base.metadata.sorted_tables))


# -- one recording --------------------------------------------------------------------------------


def delete_recording(
    recording: Recording, by: User | None, reason: Reason = Reason.RECORDING
) -> DeletionReceipt:
    """Delete one recording (finished or still uploading), its clips and their files.

    The caller has loaded ``recording`` through the access check. Journalled like a
    withdrawal, so a crash half-way still ends with nothing left.
    """
    s = db.session()
    existing = s.scalar(
        select(DeletionReceipt).where(
            DeletionReceipt.recording_id == recording.id,
            DeletionReceipt.completed_at.is_(None),
        )
    )
    if existing is not None:
        _complete_safely(existing)
        return existing
    family = s.get(Family, recording.family_id)
    assert family is not None  # a recording's family row outlives it
    receipt = _new_receipt(family, reason, recording)
    audit.record(
        "recording_delete_started",
        actor=by,
        family=family,
        detail=f"receipt={receipt.id} recording={recording.id}",
    )
    s.commit()
    _complete_safely(receipt)
    return receipt


def _complete_recording_deletion(receipt: DeletionReceipt) -> DeletionReceipt:
    s = db.session()
    recording = s.get(Recording, receipt.recording_id)
    if recording is not None:
        family_id = recording.family_id
        clip_ids = {c.id for c in recording.clips}
        cancel_jobs(family_id, {recording.id}, clip_ids)
        store = media_store.store()
        for name in _names_of_recording(recording):
            with contextlib.suppress(MediaNotFound, InvalidMediaName):
                store.delete(family_id, name)
        _drop_upload_locks([recording.upload_id])
        _delete_media_rows(Recording.id == recording.id)
    _close_receipt(receipt)
    return receipt


def _drop_upload_locks(upload_ids: Iterable[str]) -> None:
    """Remove the uploads feature's per-upload lock files: an upload cut short by a withdrawal
    never reaches the code that normally removes them."""
    for upload_id in upload_ids:
        drop_lock_file(upload_id)


def _names_of_recording(recording: Recording) -> list[str]:
    names = [recording.original_name, recording.transcode_name, recording.poster_name]
    for clip in recording.clips:
        names += [clip.media_name, clip.poster_name]
    return [n for n in names if n]


def _stored_size(family_id: int, name: str) -> int | None:
    try:
        return ciphertext_size(media_store.store().size(family_id, name))
    except (MediaNotFound, InvalidMediaName):
        return None


# -- resuming -----------------------------------------------------------------------------------


def resume_unfinished_deletions() -> list[DeletionReceipt]:
    """Finish every deletion a crash interrupted; return the receipts completed now."""
    s = db.session()
    finished = []
    for receipt in s.scalars(
        select(DeletionReceipt)
        .where(DeletionReceipt.completed_at.is_(None))
        .order_by(DeletionReceipt.id)
    ).all():
        try:
            complete_deletion(receipt)
        except Exception:
            log.exception("could not finish deletion %s; will retry", receipt.id)
            s.rollback()
            continue
        finished.append(receipt)
    return finished


@jobs.task(periodic=crontab(minute="*"))
def resume_deletions_job() -> None:
    """Within a minute of any restart, interrupted deletions finish."""
    resume_unfinished_deletions()


# -- queued jobs ----------------------------------------------------------------------------------

# Jobs whose first positional argument is a recording, clip or family id, by task name, for
# tasks that do not pass it by keyword (recordings.jobs.process_recording(recording_id),
# clips.service.cut_clip_task(clip_id, ...)). A name that contains "clip" or "recording" is
# recognised too.
JOB_ID_KINDS: dict[str, str] = {
    "process_recording": "recording_id",
    "cut_clip_task": "clip_id",
}


def cancel_jobs(family_id: int, recording_ids: set[int], clip_ids: set[int]) -> int:
    """Revoke queued and scheduled jobs about this family's media; return how many.

    Best effort: a job already running is not stopped, which is why jobs check
    ``media_allowed`` themselves and why a late writer cannot get a key.
    """
    huey = jobs.current_huey()
    wanted = {"family_id": {family_id}, "recording_id": recording_ids, "clip_id": clip_ids}
    revoked = 0
    try:
        queued = list(huey.pending()) + list(huey.scheduled())
    except Exception:  # a job store we cannot read must not stop the deletion
        log.exception("could not list queued jobs for family %s", family_id)
        return 0
    for task in queued:
        target = _job_target(task)
        if target is not None and target[1] in wanted.get(target[0], set()):
            huey.revoke_by_id(task.id, revoke_once=True)
            revoked += 1
    return revoked


def _job_target(task: Any) -> tuple[str, int] | None:
    kwargs = getattr(task, "kwargs", None) or {}
    for key in ("family_id", "recording_id", "clip_id"):
        if isinstance(kwargs.get(key), int):
            return key, kwargs[key]
    args = getattr(task, "args", None) or ()
    if not args or not isinstance(args[0], int):
        return None
    name = str(getattr(task, "name", "")).rsplit(".", 1)[-1]
    kind = JOB_ID_KINDS.get(name)
    if kind is None:
        lowered = name.lower()
        kind = (
            "clip_id" if "clip" in lowered else "recording_id" if "recording" in lowered else None
        )
    return (kind, args[0]) if kind else None


# -- filming only --------------------------------------------------------------------------------


def withdraw_filming_only(family: Family, by: User) -> bool:
    """No new recordings from this family; what exists stays. Returns False if already so."""
    s = db.session()
    changed = _rowcount(
        s.execute(
            update(ConsentRecord)
            .where(
                ConsentRecord.family_id == family.id,
                ConsentRecord.kind == ConsentKind.FILMING,
                ConsentRecord.withdrawn_at.is_(None),
            )
            .values(withdrawn_at=clock.now())
        )
    )
    if changed:
        audit.record("filming_consent_withdrawn", actor=by, family=family)
    s.commit()
    return bool(changed)


def filming_withdrawn(family: Family) -> bool:
    """True when no carer's filming consent stands (any were given and all are withdrawn)."""
    rows = (
        db.session()
        .execute(
            select(ConsentRecord.withdrawn_at).where(
                ConsentRecord.family_id == family.id, ConsentRecord.kind == ConsentKind.FILMING
            )
        )
        .all()
    )
    return bool(rows) and all(r[0] is not None for r in rows)


# -- what people read -----------------------------------------------------------------------------


def receipts_for_family(family_id: int) -> list[DeletionReceipt]:
    return list(
        db.session().scalars(
            select(DeletionReceipt)
            .where(DeletionReceipt.family_id == family_id)
            .order_by(DeletionReceipt.started_at.desc(), DeletionReceipt.id.desc())
        )
    )


def latest_family_receipt(family_id: int) -> DeletionReceipt | None:
    """The receipt of the withdrawal (or erasure/retention) of the whole family, if any."""
    return _latest_family_receipt(family_id, (Reason.WITHDRAWN, Reason.ERASED, Reason.RETENTION))


def _count(model: Any, condition: ColumnElement[bool]) -> int:
    return int(db.session().scalar(select(func.count()).select_from(model).where(condition)) or 0)


def _rowcount(result: Any) -> int:
    return int(getattr(result, "rowcount", 0) or 0)
