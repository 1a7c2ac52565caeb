"""Retention: delete what we should no longer keep. `vig sweep` and a daily job run it.

One sweep, in this order:

1. finish deletions a crash interrupted (open DeletionReceipts);
2. closed cases whose organisation's retention period has passed: all their media;
3. partial uploads abandoned past their tus expiry (``Recording.upload_expires_at``), through
   the uploads feature's own ``expire_abandoned_uploads``;
4. leftovers and orphans: files or keys of families that may no longer hold media (withdrawn,
   erased, swept), rows of such families that a racing upload left behind, and files no row
   names (older than ``ORPHAN_GRACE``, so a job still writing its output is left alone).

Times come from ``vigparent.clock``, so tests move the clock instead of waiting.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from flask import current_app
from huey import crontab
from sqlalchemy import or_, select

from vigparent import audit, clock, db, jobs, media_store
from vigparent.client_errors import service as client_errors
from vigparent.models import (
    Clip,
    DeletionReceipt,
    Family,
    FamilyStatus,
    Organisation,
    Recording,
)
from vigparent.storage import MediaNotFound
from vigparent.uploads import service as uploads
from vigparent.withdrawal import service as withdrawal
from vigparent.withdrawal import words

# A job writes its output (a transcode, a clip) before it records the name in the database;
# a file younger than this is presumed to be such an output, not an orphan.
ORPHAN_GRACE = timedelta(hours=24)


@dataclass
class SweepReport:
    lines: list[str] = field(default_factory=list)
    receipts: list[DeletionReceipt] = field(default_factory=list)
    orphan_files: int = 0
    orphan_keys: int = 0

    def add(self, line: str) -> None:
        self.lines.append(line)

    def __str__(self) -> str:
        return "\n".join(self.lines) if self.lines else "Nothing to delete."


def _size(n: int) -> str:
    return f"{n / 1_000_000:.1f} MB" if n >= 100_000 else f"{n} bytes"


def _describe(receipt: DeletionReceipt) -> str:
    return (
        f"{words.what_was_deleted(receipt)}, {receipt.files} files, {_size(receipt.bytes)}"
        f" (receipt {receipt.id})"
    )


def sweep() -> SweepReport:
    """Apply every retention rule once; return what was deleted, for a person to read."""
    report = SweepReport()
    now = clock.now()

    for receipt in withdrawal.resume_unfinished_deletions():
        report.receipts.append(receipt)
        report.add(
            f"Finished an interrupted deletion ({receipt.reason}) for family "
            f"{receipt.family_id}: {_describe(receipt)}."
        )

    _closed_cases(report, now)
    _expired_uploads(report)
    _leftovers(report)
    _orphans(report, now)
    pruned = client_errors.prune()
    if pruned:
        report.add(
            f"Deleted {pruned} phone error reports older than {client_errors.KEEP_DAYS} days."
        )
    return report


def _closed_cases(report: SweepReport, now: datetime) -> None:
    s = db.session()
    rows = s.execute(
        select(Family, Organisation.retention_days_after_close)
        .join(Organisation, Organisation.id == Family.organisation_id)
        .where(
            Family.status == FamilyStatus.CLOSED,
            Family.media_deleted_at.is_(None),
            Family.closed_at.is_not(None),
        )
        .order_by(Family.id)
    ).all()
    for family, days in rows:
        assert family.closed_at is not None
        if family.closed_at + timedelta(days=days) > now:
            continue
        receipt = withdrawal.delete_family_media(family, None, withdrawal.Reason.RETENTION)
        report.receipts.append(receipt)
        report.add(
            f"Closed case, family {family.id} (closed {family.closed_at:%Y-%m-%d}, kept {days} "
            f"days): deleted {_describe(receipt)}."
        )


def _expired_uploads(report: SweepReport) -> None:
    """Partial uploads not continued before their tus expiry: their bytes go.

    The uploads feature owns the rule (its rows stay, so the phone's next POST with the same
    client id starts the same recording again from 0) and the per-upload lock it needs.
    """
    count = uploads.expire_abandoned_uploads()
    if count:
        audit.record("expired_uploads_deleted", detail=f"uploads={count}")
        db.session().commit()
        report.add(f"Abandoned uploads past their expiry: deleted the bytes of {count}.")


def _leftovers(report: SweepReport) -> None:
    """Rows of families whose media is gone, left by an upload that raced the deletion."""
    s = db.session()
    family_ids = list(
        s.scalars(
            select(Recording.family_id)
            .join(Family, Family.id == Recording.family_id)
            .where(
                or_(Family.status == FamilyStatus.WITHDRAWN, Family.media_deleted_at.is_not(None))
            )
            .distinct()
        )
    )
    family_ids += list(
        s.scalars(
            select(Clip.family_id)
            .join(Family, Family.id == Clip.family_id)
            .where(
                or_(Family.status == FamilyStatus.WITHDRAWN, Family.media_deleted_at.is_not(None))
            )
            .distinct()
        )
    )
    for family_id in sorted(set(family_ids)):
        if not _no_deletion_running(family_id):
            continue
        withdrawal.delete_media_rows_of_family(family_id)
        audit.record("leftover_rows_deleted", family_id=family_id)
        s.commit()
        report.add(f"Leftover recording rows, family {family_id}: deleted.")


def _no_deletion_running(family_id: int) -> bool:
    return (
        db.session().scalar(
            select(DeletionReceipt.id).where(
                DeletionReceipt.family_id == family_id, DeletionReceipt.completed_at.is_(None)
            )
        )
        is None
    )


def _orphans(report: SweepReport, now: datetime) -> None:
    s = db.session()
    store = media_store.store()
    keyring = media_store.keyring()
    engine = current_app.extensions["vig_engine"]
    for family_id in sorted(set(store.families()) | set(keyring.family_ids())):
        if not media_store.family_may_hold_media(engine, family_id):
            if not _no_deletion_running(family_id):
                continue  # its own journal finishes it
            # Key first, as in a withdrawal: an interrupted sweep leaves nothing readable.
            had_key = keyring.destroy(family_id)
            files, freed = store.delete_family(family_id)
            report.orphan_files += files
            report.orphan_keys += int(had_key)
            audit.record(
                "orphan_media_deleted",
                family_id=family_id,
                detail=f"files={files} bytes={freed} key={int(had_key)}",
            )
            s.commit()
            report.add(
                f"Family {family_id} may no longer hold media: deleted {files} files "
                f"({_size(freed)}){' and its key' if had_key else ''}."
            )
            continue
        referenced = _referenced_names(family_id)
        removed = freed = 0
        for name in store.names(family_id):
            if name in referenced:
                continue
            with contextlib.suppress(MediaNotFound):
                written = datetime.fromtimestamp(store.modified_at(family_id, name), UTC)
                if now - written.replace(tzinfo=None) < ORPHAN_GRACE:
                    continue
                # Checked again just before deleting: a job may have recorded it meanwhile.
                if name in _referenced_names(family_id):
                    continue
                freed += store.delete(family_id, name)
                removed += 1
        if removed:
            report.orphan_files += removed
            audit.record(
                "orphan_media_deleted", family_id=family_id, detail=f"files={removed} bytes={freed}"
            )
            s.commit()
            report.add(
                f"Family {family_id}: deleted {removed} files no record names ({_size(freed)})."
            )


def _referenced_names(family_id: int) -> set[str]:
    s = db.session()
    names: set[str] = set()
    for recording_names in s.execute(
        select(Recording.original_name, Recording.transcode_name, Recording.poster_name).where(
            Recording.family_id == family_id
        )
    ):
        names.update(n for n in recording_names if n)
    for clip_names in s.execute(
        select(Clip.media_name, Clip.poster_name).where(Clip.family_id == family_id)
    ):
        names.update(n for n in clip_names if n)
    return names


@jobs.task(periodic=crontab(hour="3", minute="15"))
def daily_sweep() -> None:
    sweep()
