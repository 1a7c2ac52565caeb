"""What people read about deletions: receipts, reasons, sizes, durations, a family's status."""

from __future__ import annotations

from vigparent.families.service import retention_due, say_when
from vigparent.models import DeletionReceipt, Family, FamilyStatus
from vigparent.withdrawal.service import Reason, filming_withdrawn


def receipt_reference(receipt: DeletionReceipt) -> str:
    """The number a parent quotes to their practitioner or the organisation: 'VIG-00042'."""
    return f"VIG-{receipt.id:05d}"


def _plural(n: int, word: str) -> str:
    return f"{n} {word}" if n == 1 else f"{n} {word}s"


def what_was_deleted(receipt: DeletionReceipt) -> str:
    """'3 videos and 5 clips'."""
    return f"{_plural(receipt.recordings, 'video')} and {_plural(receipt.clips, 'clip')}"


def receipt_sentence(receipt: DeletionReceipt) -> str:
    """The receipt in plain words: 'We deleted 3 videos and 5 clips on Wednesday 25 November
    at 2:02pm.'"""
    if receipt.completed_at is None:
        return (
            f"We are deleting {what_was_deleted(receipt)}. This will be finished in a few minutes."
        )
    when = say_when(receipt.completed_at)
    if receipt.recordings == 0 and receipt.clips == 0:
        return f"We had no videos or clips of yours to delete. We checked on {when}."
    return f"We deleted {what_was_deleted(receipt)} on {when}."


_REASON_WORDS = {
    Reason.WITHDRAWN: "Consent withdrawn",
    Reason.ERASED: "Erased by an admin",
    Reason.RETENTION: "Case closed, kept for the retention period",
    Reason.RECORDING: "One video deleted",
}


def reason_words(receipt: DeletionReceipt) -> str:
    try:
        return _REASON_WORDS[Reason(receipt.reason)]
    except ValueError:
        return receipt.reason.replace("_", " ").capitalize()


def size_words(n: int) -> str:
    """'1.2 GB', '35.0 MB', '900 KB'."""
    if n >= 1_000_000_000:
        return f"{n / 1e9:.1f} GB"
    if n >= 1_000_000:
        return f"{n / 1e6:.1f} MB"
    return f"{max(1, round(n / 1000))} KB" if n else "0 KB"


def duration_words(seconds: float) -> str:
    """'2 seconds', '1 minute', '5 minutes 3 seconds'."""
    total = max(0, round(seconds))
    minutes, secs = divmod(total, 60)
    parts = []
    if minutes:
        parts.append(_plural(minutes, "minute"))
    if secs or not minutes:
        parts.append(_plural(secs, "second"))
    return " ".join(parts)


def family_status_words(family: Family) -> str | None:
    """What the practitioner's caseload says about a withdrawn or closed family, or None."""
    if family.status is FamilyStatus.WITHDRAWN:
        if family.media_deleted_at is not None:
            return f"Consent withdrawn, media deleted ({say_when(family.media_deleted_at)})."
        return "Consent withdrawn. Deleting media now."
    if family.status is FamilyStatus.CLOSED:
        if family.media_deleted_at is not None:
            return f"Case closed, media deleted ({say_when(family.media_deleted_at)})."
        return f"Case closed. Media will be deleted on {say_when(retention_due(family))}."
    if filming_withdrawn(family):
        return "Filming consent withdrawn: no new recordings. Existing media kept."
    return None
