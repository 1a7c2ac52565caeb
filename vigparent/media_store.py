"""The app's single media store and keyring, built from settings.

Two media stores keep the same encrypted format behind one interface (``MediaStorage``):
the local media directory (``storage.MediaStore``, the default) and an S3-compatible object
store (``object_store.ObjectMediaStore``, when ``VIGPARENT_S3_BUCKET`` is set). Wrapped family
keys live apart from both: the local key directory, or the key store database named by
``VIGPARENT_KEYSTORE_URL`` when several web nodes share the media (``keystore``).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from typing import BinaryIO, Protocol

from flask import Flask, current_app
from sqlalchemy import Engine, select

from vigparent.config import Settings
from vigparent.keyring import DirectoryKeyStore, Keyring, KeyStore
from vigparent.keystore import DatabaseKeyStore
from vigparent.models import DeletionReceipt, Family, FamilyStatus
from vigparent.storage import Buffer, EncryptedFile, MediaStore


class MediaPieces(Iterator[bytes], Protocol):
    """Decrypted pieces of one byte range; ``close()`` (or ``with``) frees what it holds."""

    def close(self) -> None: ...

    def __enter__(self) -> MediaPieces: ...

    def __exit__(self, *exc: object) -> None: ...


class MediaStorage(Protocol):
    """What every media store offers; ``storage.MediaStore`` documents each call's contract."""

    def new_name(self, kind: str) -> str: ...

    def create(self, family_id: int, name: str, *, expected_size: int = 0) -> None: ...

    def exists(self, family_id: int, name: str) -> bool: ...

    def size(self, family_id: int, name: str) -> int: ...

    def append(
        self,
        family_id: int,
        name: str,
        stream: BinaryIO | Iterable[Buffer],
        *,
        limit: int,
        read_size: int = 1 << 20,
        on_bytes: Callable[[Buffer], None] | None = None,
    ) -> int: ...

    def truncate(self, family_id: int, name: str, size: int) -> None: ...

    def recover(self, family_id: int, name: str) -> int: ...

    def open(self, family_id: int, name: str, mode: str = "r") -> EncryptedFile: ...

    def read_range(
        self, family_id: int, name: str, start: int, end_inclusive: int, block: int = 256 * 1024
    ) -> MediaPieces: ...

    def sha256(self, family_id: int, name: str) -> str: ...

    def delete(self, family_id: int, name: str) -> int: ...

    def delete_family(self, family_id: int) -> tuple[int, int]: ...

    def family_usage(self, family_id: int) -> int: ...

    def modified_at(self, family_id: int, name: str) -> float: ...

    def families(self) -> list[int]: ...

    def names(self, family_id: int) -> list[str]: ...


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


def build_key_store(settings: Settings) -> KeyStore:
    """The key store the settings name: a database of its own, else the local key dir."""
    if settings.keystore_url:
        return DatabaseKeyStore(settings.keystore_url)
    return DirectoryKeyStore(settings.key_dir)


def build_store(settings: Settings, keyring: Keyring) -> MediaStorage:
    """The media store the settings name: the object store when a bucket is set, else disk."""
    if not settings.s3_bucket:
        return MediaStore(settings.media_dir, keyring)
    # Imported only when media is in a bucket: boto3 would cost every process ~20 MB.
    from vigparent import object_store

    return object_store.ObjectMediaStore.from_settings(settings, keyring)


def init_app(app: Flask, settings: Settings) -> None:
    keyring = Keyring(build_key_store(settings), settings.master_key, may_create=_key_guard(app))
    app.extensions["vig_keyring"] = keyring
    app.extensions["vig_store"] = build_store(settings, keyring)


def store() -> MediaStorage:
    s: MediaStorage = current_app.extensions["vig_store"]
    return s


def keyring() -> Keyring:
    k: Keyring = current_app.extensions["vig_keyring"]
    return k
