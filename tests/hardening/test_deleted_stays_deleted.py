"""What is deleted stays deleted (issue 14 §5): after a withdrawal or an erasure no file in
the data dir still holds the family's words, and the database files are private (0600)."""

from __future__ import annotations

import os
import secrets
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest
from flask import Flask

from tests.conftest import Factory, make_test_settings
from tests.media.factories import add_clip, add_cycle, add_recording
from vigparent import create_app, db
from vigparent.db import Base, make_engine
from vigparent.goals import service as goal_service
from vigparent.models import Reflection, Role
from vigparent.withdrawal import service as withdrawal


@pytest.fixture
def own_app(tmp_path: Path) -> Iterator[Flask]:
    """An app on its own data dir, so every file in it belongs to this test."""
    app = create_app(make_test_settings(tmp_path / "data"))
    with app.app_context():
        Base.metadata.create_all(app.extensions["vig_engine"])
        yield app
    app.extensions["vig_engine"].dispose()


def files_holding(data_dir: Path, *markers: str) -> list[str]:
    """Every file under the data dir that contains one of the markers, as bytes on disk."""
    needles = [m.encode() for m in markers]
    found = []
    for path in data_dir.rglob("*"):
        if path.is_file():
            content = path.read_bytes()
            found += [f"{path.name}: {n.decode()}" for n in needles if n in content]
    return found


def _filmed_family_with_words(app: Flask) -> tuple[object, object, dict[str, str]]:
    make = Factory(app)
    practitioner = make.practitioner()
    family = make.family(practitioner)
    parent = make.parent_of(family)
    words = {
        "note": f"clip note {secrets.token_hex(8)}",
        "reflection": f"my reflection {secrets.token_hex(8)}",
        "goal": f"our goal {secrets.token_hex(8)}",
    }
    cycle = add_cycle(family)
    recording = add_recording(family, parent, cycle=cycle, seconds=1.0)
    clip = add_clip(recording, start=0.2, end=0.8, note=words["note"])
    db.session().add(
        Reflection(
            family_id=family.id, clip_id=clip.id, author_id=parent.id, text=words["reflection"]
        )
    )
    goal_service.propose_goal(family, practitioner, words["goal"])
    db.session().commit()
    return family, parent, words


def test_withdrawal_leaves_no_reflection_or_clip_note_in_any_file(own_app: Flask):
    data_dir = own_app.extensions["vig_settings"].data_dir
    family, parent, words = _filmed_family_with_words(own_app)
    markers = (words["note"], words["reflection"])
    # Before: the words are on disk (in the database or its write-ahead log).
    assert files_holding(data_dir, *markers)

    withdrawal.withdraw_consent(family, parent)  # type: ignore[arg-type]

    assert files_holding(data_dir, *markers) == []
    wal = data_dir / "test.sqlite3-wal"
    assert not wal.exists() or wal.stat().st_size == 0


def test_erasure_leaves_none_of_the_familys_words_in_any_file(own_app: Flask):
    data_dir = own_app.extensions["vig_settings"].data_dir
    family, _parent, words = _filmed_family_with_words(own_app)
    admin = Factory(own_app).practitioner(
        organisation=family.organisation,  # type: ignore[attr-defined]
        role=Role.ADMIN,
    )
    assert files_holding(data_dir, *words.values())

    withdrawal.erase_family(family, admin)  # type: ignore[arg-type]

    assert files_holding(data_dir, *words.values()) == []


def test_database_files_are_private_to_the_app(own_app: Flask):
    data_dir = own_app.extensions["vig_settings"].data_dir
    _filmed_family_with_words(own_app)  # writes the database, its WAL and media
    files = [p for p in data_dir.rglob("*") if p.is_file()]
    names = {p.name for p in files}
    assert {"test.sqlite3", "test.sqlite3-wal", "test.sqlite3-shm"} <= names
    for path in files:
        mode = stat.S_IMODE(path.stat().st_mode)
        assert mode & 0o077 == 0, (path.name, oct(mode))


def test_a_database_made_by_the_migration_tool_is_private_too(tmp_path: Path):
    old = os.umask(0o022)  # as a shell would start alembic
    try:
        engine = make_engine(f"sqlite:///{tmp_path / 'migrated.sqlite3'}")
        with engine.connect() as conn:
            conn.exec_driver_sql("CREATE TABLE t (x)")
            conn.commit()
        engine.dispose()
    finally:
        os.umask(old)
    mode = stat.S_IMODE((tmp_path / "migrated.sqlite3").stat().st_mode)
    assert mode == 0o600, oct(mode)
