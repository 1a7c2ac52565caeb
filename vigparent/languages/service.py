"""Changing a family's language, and recording that a qualified translator checked a catalogue.

A catalogue's version is a fingerprint of its words, so a review applies to exactly the words
that were checked: when `make translations` changes a translation, that language shows as not
yet reviewed again until an admin marks the new words reviewed.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime
from functools import cache

from babel.messages.mofile import read_mo
from sqlalchemy import select

from vigparent import audit, db, i18n
from vigparent.models import Family, Organisation, TranslationReview, User


class UnknownLanguage(ValueError):
    """Not one of the languages this app speaks."""


def set_family_language(family: Family, code: str, by: User) -> bool:
    """Set the family's language (every carer's pages, texts and emails); not committed."""
    if code not in i18n.LANGUAGES:
        raise UnknownLanguage(code)
    if family.language == code:
        return False
    audit.record("language_changed", actor=by, family=family, detail=f"{family.language}>{code}")
    family.language = code
    return True


def change_family_language(family: Family, code: str, by: User) -> bool:
    """A parent chose a language in the footer; True if it changed (committed)."""
    changed = set_family_language(family, code, by)
    db.session().commit()
    return changed


@cache
def catalogue_version(code: str) -> str:
    """A fingerprint of one language's translated words, read from the compiled catalogue an
    install runs on (the header, with its dates, is left out: only words count)."""
    digest = hashlib.sha256()
    path = i18n.TRANSLATIONS / code / "LC_MESSAGES" / f"{i18n.DOMAIN}.mo"
    if path.exists():
        with path.open("rb") as mo:
            for message in sorted(read_mo(mo), key=lambda m: repr(m.id)):
                if message.id:
                    digest.update(repr((message.id, message.string)).encode())
    return digest.hexdigest()[:16]


@dataclass(frozen=True)
class ReviewStatus:
    language: i18n.Language
    catalogue_version: str
    reviewed_at: datetime | None
    reviewed_by: str

    @property
    def reviewed(self) -> bool:
        return self.reviewed_at is not None


def review_status(organisation: Organisation) -> list[ReviewStatus]:
    """For each non-English language: has a qualified translator checked its current words?"""
    rows = []
    s = db.session()
    for code in i18n.TRANSLATED:
        version = catalogue_version(code)
        review = s.scalars(
            select(TranslationReview).where(
                TranslationReview.organisation_id == organisation.id,
                TranslationReview.language == code,
                TranslationReview.catalogue_version == version,
            )
        ).first()
        by = s.get(User, review.reviewed_by_id) if review else None
        rows.append(
            ReviewStatus(
                i18n.LANGUAGES[code],
                version,
                review.reviewed_at if review else None,
                (by.display_name or by.email or "") if by else "",
            )
        )
    return rows


def is_reviewed(organisation: Organisation, code: str) -> bool:
    if code == i18n.ENGLISH:
        return True
    return any(r.reviewed for r in review_status(organisation) if r.language.code == code)


def mark_reviewed(admin: User, code: str) -> bool:
    """An admin says a qualified translator checked this language's current words (audited)."""
    if code not in i18n.TRANSLATED:
        raise UnknownLanguage(code)
    if is_reviewed(admin.organisation, code):
        return False
    version = catalogue_version(code)
    db.session().add(
        TranslationReview(
            organisation_id=admin.organisation_id,
            language=code,
            catalogue_version=version,
            reviewed_by_id=admin.id,
        )
    )
    audit.record("translation_reviewed", actor=admin, detail=f"{code} {version}")
    db.session().commit()
    return True
