"""Withdrawal fixtures: families with real, encrypted, processed media, and storage scans."""

from __future__ import annotations

import io
import os
import secrets
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import String, Text, select

from tests.conftest import Factory
from tests.media.factories import add_clip, add_recording
from tests.support.parent_session import sign_in
from tests.support.videos import make_video
from tests.uploads.conftest import Tus
from vigparent import clock, db, media_store
from vigparent.clips import service as clip_service
from vigparent.db import Base
from vigparent.models import (
    Clip,
    ClipStatus,
    Family,
    Principle,
    Recording,
    RecordingStatus,
    User,
)


def video_bytes(marker: bytes | None = None, seconds: float = 4.0) -> bytes:
    """A real WebM (VP9 + Opus) well over 64 KiB, optionally carrying a byte marker."""
    buf = io.BytesIO()
    make_video(buf, container="webm", seconds=seconds, size=(640, 360), marker=marker)
    data = buf.getvalue()
    assert len(data) > 64 * 1024
    return data


@pytest.fixture(scope="session")
def marked_video() -> tuple[bytes, bytes]:
    marker = b"VIG-PLAINTEXT-MARKER-7f3c9a"
    data = video_bytes(marker)
    assert marker in data
    return marker, data


@dataclass
class FamilyMedia:
    """A family with media, and every name and id that refers to it (to scan for later)."""

    family: Family
    parent: User
    recordings: list[Recording] = field(default_factory=list)
    clips: list[Clip] = field(default_factory=list)
    id: int = 0

    def __post_init__(self) -> None:
        # Kept as a plain int: the family row may be erased while the test still asks.
        self.id = self.family.id

    def names(self) -> set[str]:
        out: set[str] = set()
        for r in self.recordings:
            out |= {n for n in (r.original_name, r.transcode_name, r.poster_name) if n}
        for c in self.clips:
            out |= {n for n in (c.media_name, c.poster_name) if n}
        return out

    def tokens(self) -> set[str]:
        """Everything a leftover row or file could be recognised by."""
        return self.names() | {r.upload_id for r in self.recordings}

    def refresh(self) -> FamilyMedia:
        s = db.session()
        self.recordings = list(
            s.scalars(select(Recording).where(Recording.family_id == self.family.id))
        )
        self.clips = list(s.scalars(select(Clip).where(Clip.family_id == self.family.id)))
        return self


def _blob(family_id: int, kind: str, size: int = 70_000) -> str:
    """Random bytes stored encrypted under a fresh name (fast stand-in for real video)."""
    store = media_store.store()
    name = store.new_name(kind)
    store.create(family_id, name)
    store.append(family_id, name, [os.urandom(size)], limit=size)
    return name


def _fast_recording(family: Family, parent: User) -> Recording:
    rec = Recording(
        family_id=family.id,
        uploaded_by_id=parent.id,
        client_id=secrets.token_hex(8),
        upload_id=secrets.token_urlsafe(16),
        declared_size=70_000,
        received_size=70_000,
        status=RecordingStatus.READY,
        original_name=_blob(family.id, "orig"),
        transcode_name=_blob(family.id, "mp4"),
        poster_name=_blob(family.id, "poster", 5_000),
        duration_s=2.0,
        completed_at=clock.now(),
    )
    db.session().add(rec)
    db.session().commit()
    return rec


def _fast_clip(rec: Recording, k: int) -> Clip:
    clip = Clip(
        family_id=rec.family_id,
        recording_id=rec.id,
        title=f"Clip {k}",
        strength_note="You waited.",
        principle=Principle.BEING_ATTENTIVE,
        start_s=0.2,
        end_s=1.0,
        position=k,
        status=ClipStatus.READY,
        media_name=_blob(rec.family_id, "clip", 20_000),
        poster_name=_blob(rec.family_id, "poster", 5_000),
        published_at=clock.now(),
    )
    db.session().add(clip)
    db.session().commit()
    return clip


@pytest.fixture
def with_media(make: Factory):  # type: ignore[no-untyped-def]
    """Build a family with `recordings` ready recordings, each with `clips` clips.

    With `real=True` they are real videos, transcoded and cut (slow); otherwise each file is
    random bytes, stored encrypted like any media (fast).
    """

    shared: list[User] = []

    def build(
        recordings: int = 2,
        clips: int = 1,
        practitioner: User | None = None,
        real: bool = False,
    ) -> FamilyMedia:
        if practitioner is None:
            # One practitioner per test: hashing a password (argon2) is the slow part.
            if not shared:
                shared.append(make.practitioner())
            practitioner = shared[0]
        family = make.family(practitioner)
        parent = make.parent_of(family)
        fm = FamilyMedia(family, parent)
        for _ in range(recordings):
            rec = (
                add_recording(family, parent, seconds=2.0)
                if real
                else _fast_recording(family, parent)
            )
            fm.recordings.append(rec)
            for k in range(clips):
                if real:
                    fm.clips.append(add_clip(rec, start=0.2 + 0.5 * k, end=0.6 + 0.5 * k))
                else:
                    fm.clips.append(_fast_clip(rec, k))
        return fm.refresh()

    return build


def tus_for(app: Flask, family: Family, parent: User) -> Tus:
    """A signed-in parent speaking tus through its own test client."""
    return Tus(app.test_client(), sign_in(app, parent.id), family, parent)


def sent_processed_and_clipped(tus: Tus, family: Family, data: bytes) -> tuple[Recording, Clip]:
    """The whole real path: `data` sent in several PATCHes, processed, and a clip cut from it."""
    tus.upload(data, chunk=100_000)  # several PATCHes: partial uploads are scanned too
    s = db.session()
    recording = s.scalar(select(Recording).where(Recording.family_id == family.id))
    assert recording is not None
    s.refresh(recording)
    assert recording.status is RecordingStatus.READY, recording.rejection_reason
    assert recording.transcode_name and recording.poster_name
    clip = clip_service.create_clip(
        recording,
        clip_service.ClipDetails(
            title="You waited",
            strength_note="You waited and Sam smiled.",
            principle=Principle.ENCOURAGING_INITIATIVES,
            position=1,
            start_s=0.5,
            end_s=2.0,
        ),
        family.practitioner,
    )
    s.refresh(clip)
    assert clip.status is ClipStatus.READY and clip.media_name and clip.poster_name
    return recording, clip


# -- storage scans --------------------------------------------------------------------------


def data_files(app: Flask) -> list[Path]:
    root = app.extensions["vig_settings"].data_dir
    return sorted(p for p in Path(root).rglob("*") if p.is_file())


def files_of_family(app: Flask, family_id: int, tokens: set[str]) -> list[Path]:
    """Every file under the data dir that belongs to the family: its media directory, its key
    (and key temporaries), or any file named after one of its blobs or uploads."""
    settings = app.extensions["vig_settings"]
    media = Path(settings.media_dir) / str(family_id)
    found = []
    for path in data_files(app):
        if (
            media in path.parents
            or path.parent == Path(settings.key_dir)
            and (path.name == f"{family_id}.key" or path.name.startswith(f".{family_id}.key."))
            or any(token in path.name for token in tokens)
        ):
            found.append(path)
    return found


def files_named(app: Flask, tokens: set[str]) -> list[Path]:
    return [p for p in data_files(app) if any(token in p.name for token in tokens)]


def rows_mentioning(tokens: set[str]) -> list[tuple[str, str]]:
    """(table, column) of any row in any table whose text mentions one of the tokens."""
    hits = []
    s = db.session()
    for table in Base.metadata.sorted_tables:
        text_columns = [c for c in table.columns if isinstance(c.type, String | Text)]
        for column in text_columns:
            for value in s.execute(select(column).where(column.is_not(None))).scalars():
                if any(token in value for token in tokens):
                    hits.append((table.name, column.name))
    return hits


def assert_family_gone(app: Flask, fm: FamilyMedia, tokens: set[str] | None = None) -> None:
    tokens = tokens if tokens is not None else fm.tokens()
    db.session().expire_all()
    assert files_of_family(app, fm.id, tokens) == []
    assert not media_store.keyring().has_key(fm.id)
    assert media_store.store().names(fm.id) == []
    assert rows_mentioning(tokens) == []
    s = db.session()
    assert s.scalars(select(Recording).where(Recording.family_id == fm.id)).all() == []
    assert s.scalars(select(Clip).where(Clip.family_id == fm.id)).all() == []


def readable_digest(fm: FamilyMedia) -> dict[str, str]:
    """sha256 of every blob of a family, read (decrypted) through the store."""
    store = media_store.store()
    return {name: store.sha256(fm.id, name) for name in sorted(fm.names())}


def file_contains(path: Path, needles: list[bytes]) -> bytes | None:
    try:
        data = path.read_bytes()
    except OSError:
        return None
    for needle in needles:
        if needle in data:
            return needle
    return None


@pytest.fixture
def other_client(app: Flask) -> Iterator[FlaskClient]:
    yield app.test_client()


def environ_for(app: Flask) -> dict[str, str]:
    """Environment for a separate process that runs this same test app (its data and keys)."""
    import base64

    settings = app.extensions["vig_settings"]
    env = dict(os.environ)
    env.update(
        VIGPARENT_DATA_DIR=str(settings.data_dir),
        DATABASE_URL=settings.database_url,
        SECRET_KEY=settings.secret_key,
        VIGPARENT_MASTER_KEY=base64.b64encode(settings.master_key).decode(),
    )
    return env
