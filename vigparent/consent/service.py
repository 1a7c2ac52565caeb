"""Recording consent: what each carer agreed to, per kind, with the wording they saw.

The words a parent reads before agreeing live here (and in templates/consent/_about.html)
together with their version, so a ConsentRecord always says which wording it answers.
Withdrawal is another module's job; this one only records and reports consent.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from flask_babel import force_locale, gettext
from sqlalchemy import select

from vigparent import audit, db, i18n
from vigparent.i18n import N_
from vigparent.models import ConsentKind, ConsentRecord, Family, Organisation, User

# Change this whenever the consent statements below or templates/consent/_about.html change:
# existing records then still say which wording those families agreed to.
CONSENT_WORDING_VERSION = "2026-11-30.1"

# One plain sentence per kind, read by the parent next to its tick box (reading age ~9).
CONSENT_STATEMENTS: dict[ConsentKind, str] = {
    ConsentKind.FILMING: N_(
        "I agree to film short videos of me and my child at ordinary times, "
        "and to send them to my practitioner."
    ),
    ConsentKind.STORAGE: N_(
        "I agree that my videos and the clips made from them are kept here, locked, "
        "until they are deleted."
    ),
    ConsentKind.KEEP_COPY: N_(
        "I would like to keep a copy of my clips on my phone when our work ends. "
        "(You can say no to this and still take part.)"
    ),
    ConsentKind.SUPERVISION: N_(
        "My practitioner may show some of my clips to the person who teaches them VIG. "
        "They only watch, and only for a short time."
    ),
}

# Short names for lists ("You agreed to: filming, keeping videos safely here").
CONSENT_NAMES: dict[ConsentKind, str] = {
    ConsentKind.FILMING: N_("Filming"),
    ConsentKind.STORAGE: N_("Keeping your videos safely here"),
    ConsentKind.KEEP_COPY: N_("Keeping a copy of your clips"),
    ConsentKind.SUPERVISION: N_("Showing clips to the practitioner's supervisor"),
}

# Every wording this version of the app can show, by version. An organisation chooses which is
# current (its settings screen); keep old wordings here while any organisation may use them.
CONSENT_WORDINGS: dict[str, dict[ConsentKind, str]] = {
    CONSENT_WORDING_VERSION: CONSENT_STATEMENTS,
}


def translation_version(version: str, language: str) -> str:
    """The version of one consent wording in one language: English is the wording's own
    version; a translation is versioned by a fingerprint of its words, so a record shows which
    translation a parent read even after the Welsh, Polish or Urdu words are improved."""
    if language == i18n.ENGLISH:
        return version
    with force_locale(language):
        words = "\n".join(gettext(text) for text in CONSENT_WORDINGS[version].values())
    return f"{language}-{hashlib.sha256(words.encode()).hexdigest()[:12]}"


def wording_version_for(organisation: Organisation) -> str:
    """The consent wording version this organisation shows: its choice, else the newest."""
    chosen = organisation.consent_wording_version
    return chosen if chosen in CONSENT_WORDINGS else CONSENT_WORDING_VERSION


def statements_for(organisation: Organisation) -> dict[ConsentKind, str]:
    return CONSENT_WORDINGS[wording_version_for(organisation)]


REQUIRED_KINDS: tuple[ConsentKind, ...] = (ConsentKind.FILMING, ConsentKind.STORAGE)


class ConsentMissing(ValueError):
    """VIG cannot start without agreement to filming and to keeping the videos."""

    def __init__(self, message: str, first_missing: ConsentKind | None = None) -> None:
        super().__init__(message)
        self.first_missing = first_missing


def offered_kinds(organisation: Organisation) -> tuple[ConsentKind, ...]:
    """The kinds this organisation asks about: keep-a-copy only where it allows copies."""
    if organisation.parents_may_keep_copies:
        return (*REQUIRED_KINDS, ConsentKind.KEEP_COPY)
    return REQUIRED_KINDS


def check_choices(organisation: Organisation, granted: Iterable[ConsentKind]) -> set[ConsentKind]:
    """The kinds to record from a parent's ticks, or ConsentMissing if a required one is absent."""
    offered = offered_kinds(organisation)
    chosen = set(granted) & set(offered)
    missing = [kind for kind in REQUIRED_KINDS if kind not in chosen]
    if missing:
        if len(offered) == len(REQUIRED_KINDS):
            words = gettext(
                "To take part, please tick both boxes. If you are not sure, "
                "talk to your practitioner first. Nothing has been saved."
            )
        else:
            words = gettext(
                "To take part, please tick the first two boxes. If you are not sure, "
                "talk to your practitioner first. Nothing has been saved."
            )
        raise ConsentMissing(words, missing[0])
    return chosen


def record_consents(
    family: Family, carer: User, kinds: Iterable[ConsentKind], language: str | None = None
) -> None:
    """Store one ConsentRecord per kind for this carer: the wording version, the language they
    read it in (default: the page's language now) and that translation's version."""
    language = i18n.language_or_english(language or i18n.current_language())
    kinds = sorted(set(kinds), key=lambda k: list(ConsentKind).index(k))
    version = wording_version_for(family.organisation)
    translation = translation_version(version, language)
    s = db.session()
    for kind in kinds:
        s.add(
            ConsentRecord(
                family_id=family.id,
                user_id=carer.id,
                kind=kind,
                wording_version=version,
                language=language,
                translation_version=translation,
            )
        )
    audit.record(
        "consent_given",
        actor=carer,
        family=family,
        detail=f"{','.join(k.value for k in kinds)} v{version} {language} {translation}",
    )


@dataclass(frozen=True)
class CarerConsent:
    """What one carer has agreed to and not withdrawn: latest record per kind."""

    carer: User
    records: tuple[ConsentRecord, ...]

    @property
    def kinds(self) -> set[ConsentKind]:
        return {r.kind for r in self.records}

    @property
    def agreed_on(self) -> datetime | None:
        return min((r.granted_at for r in self.records), default=None)


def carer_consented(family: Family, carer: User, kind: ConsentKind) -> bool:
    """Whether this carer's own consent of ``kind`` to this family's work still stands."""
    consent = db.session().scalar(
        select(ConsentRecord.id)
        .where(
            ConsentRecord.family_id == family.id,
            ConsentRecord.user_id == carer.id,
            ConsentRecord.kind == kind,
            ConsentRecord.withdrawn_at.is_(None),
        )
        .limit(1)
    )
    return consent is not None


def family_consents(family: Family) -> list[CarerConsent]:
    """Every carer's current (not withdrawn) consent, carers in the order they joined."""
    rows = db.session().scalars(
        select(ConsentRecord)
        .where(ConsentRecord.family_id == family.id, ConsentRecord.withdrawn_at.is_(None))
        .order_by(ConsentRecord.granted_at, ConsentRecord.id)
    )
    latest: dict[int, dict[ConsentKind, ConsentRecord]] = {}
    for record in rows:
        latest.setdefault(record.user_id, {})[record.kind] = record
    carers = {c.id: c for c in family.carers}
    result = []
    for user_id, by_kind in latest.items():
        carer = carers.get(user_id) or db.session().get(User, user_id)
        if carer is None:
            continue
        ordered = tuple(by_kind[k] for k in ConsentKind if k in by_kind)
        result.append(CarerConsent(carer=carer, records=ordered))
    return result
