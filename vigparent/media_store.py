"""The app's single MediaStore and Keyring, built from settings."""

from __future__ import annotations

from collections.abc import Callable

from flask import Flask, current_app
from sqlalchemy import Engine, select

from vigparent.config import Settings
from vigparent.keyring import Keyring
from vigparent.models import DeletionReceipt, Family, FamilyStatus
from vigparent.storage import MediaStore


def family_may_hold_media(engine: Engine, family_id: int) -> bool:
    """Whether the family may still have media: it exists, was not withdrawn or erased, its
    media was not swept, and no whole-family deletion is under way.

    Reads committed state on its own connection, so a withdrawal committed by another process
    (or earlier in this request) is seen at once.
    """
    with engine.connect() as conn:
        row = conn.execute(
            select(Family.status, Family.media_deleted_at).where(Family.id == family_id)
        ).first()
        if row is None or row[0] == FamilyStatus.WITHDRAWN or row[1] is not None:
            return False
        deleting = conn.execute(
            select(DeletionReceipt.id)
            .where(
                DeletionReceipt.family_id == family_id,
                DeletionReceipt.completed_at.is_(None),
                DeletionReceipt.recording_id.is_(None),
            )
            .limit(1)
        ).first()
    return deleting is None


def _key_guard(app: Flask) -> Callable[[int], bool]:
    def may_create(family_id: int) -> bool:
        return family_may_hold_media(app.extensions["vig_engine"], family_id)

    return may_create


def init_app(app: Flask, settings: Settings) -> None:
    keyring = Keyring(settings.key_dir, settings.master_key, may_create=_key_guard(app))
    app.extensions["vig_keyring"] = keyring
    app.extensions["vig_store"] = MediaStore(settings.media_dir, keyring)


def store() -> MediaStore:
    s: MediaStore = current_app.extensions["vig_store"]
    return s


def keyring() -> Keyring:
    k: Keyring = current_app.extensions["vig_keyring"]
    return k
