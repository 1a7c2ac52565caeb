"""What people read about deletions: receipts, reasons, sizes, durations, a family's status.

Words a parent reads go through the catalogues (gettext/ngettext): the page's language.
"""

from __future__ import annotations

from babel.numbers import format_decimal
from flask_babel import gettext, ngettext

from vigparent import i18n
from vigparent.families.service import retention_due, say_when
from vigparent.i18n import N_
from vigparent.models import DeletionReceipt, Family, FamilyStatus
from vigparent.withdrawal.service import Reason, filming_withdrawn


def receipt_reference(receipt: DeletionReceipt) -> str:
    """The number a parent quotes to their practitioner or the organisation: 'VIG-00042'."""
    return f"VIG-{receipt.id:05d}"


def what_was_deleted(receipt: DeletionReceipt) -> str:
    """'3 videos and 5 clips'."""
    return gettext(
        "%(videos)s and %(clips)s",
        videos=ngettext("%(num)s video", "%(num)s videos", receipt.recordings),
        clips=ngettext("%(num)s clip", "%(num)s clips", receipt.clips),
    )


def receipt_sentence(receipt: DeletionReceipt) -> str:
    """The receipt in plain words: 'We deleted 3 videos and 5 clips on Wednesday 25 November
    at 2:02pm.'"""
    if receipt.completed_at is None:
        return gettext(
            "We are deleting %(what)s. This will be finished in a few minutes.",
            what=what_was_deleted(receipt),
        )
    when = say_when(receipt.completed_at)
    if receipt.recordings == 0 and receipt.clips == 0:
        return gettext(
            "We had no videos or clips of yours to delete. We checked on %(when)s.", when=when
        )
    return gettext("We deleted %(what)s on %(when)s.", what=what_was_deleted(receipt), when=when)


_REASON_WORDS = {
    Reason.WITHDRAWN: N_("Consent withdrawn"),
    Reason.ERASED: N_("Erased by an admin"),
    Reason.RETENTION: N_("Case closed, kept for the retention period"),
    Reason.RECORDING: N_("One video deleted"),
}


def reason_words(receipt: DeletionReceipt) -> str:
    try:
        return gettext(_REASON_WORDS[Reason(receipt.reason)])
    except ValueError:
        return receipt.reason.replace("_", " ").capitalize()


def _one_place(number: float) -> str:
    language = i18n.current_language()
    if language == i18n.ENGLISH:
        return f"{number:.1f}"
    return format_decimal(number, "0.0", locale=language)


def size_words(n: int) -> str:
    """'1.2 GB', '35.0 MB', '900 KB' (the decimal mark of the page's language: '1,2 GB')."""
    if n >= 1_000_000_000:
        return f"{_one_place(n / 1e9)} GB"
    if n >= 1_000_000:
        return f"{_one_place(n / 1e6)} MB"
    return f"{max(1, round(n / 1000))} KB" if n else "0 KB"


def duration_words(seconds: float) -> str:
    """'2 seconds', '1 minute', '5 minutes 3 seconds'."""
    total = max(0, round(seconds))
    minutes, secs = divmod(total, 60)
    parts = []
    if minutes:
        parts.append(ngettext("%(num)s minute", "%(num)s minutes", minutes))
    if secs or not minutes:
        parts.append(ngettext("%(num)s second", "%(num)s seconds", secs))
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
