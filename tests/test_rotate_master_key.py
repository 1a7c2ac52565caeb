"""`vig rotate-master-key`: data keys re-wrapped, media untouched, crash-safe."""

from __future__ import annotations

import base64
import os
import re
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest
from flask import Flask

from tests.conftest import make_test_settings
from vigparent import create_app, db, media_store
from vigparent import keyring as keyring_module
from vigparent.db import Base
from vigparent.keyring import (
    Keyring,
    KeyUnwrapError,
    load_or_create_master_key,
    pending_master_key_path,
)
from vigparent.models import Family
from vigparent.storage import MediaStore


@pytest.fixture
def own_app(tmp_path: Path) -> Iterator[Flask]:
    """An app of its own (the shared one's master key must not change), key in a file."""
    key_file = tmp_path / "master.key"
    master = load_or_create_master_key(key_file)
    settings = make_test_settings(tmp_path / "data", master_key=master, master_key_file=key_file)
    app = create_app(settings)
    with app.app_context():
        Base.metadata.create_all(app.extensions["vig_engine"])
        yield app


def _media(app: Flask, families: int = 3) -> dict[int, tuple[str, bytes, bytes]]:
    """Store a file for each of a few families; return id -> (name, plaintext, ciphertext)."""
    from tests.conftest import Factory

    make = Factory(app)
    store = media_store.store()
    out = {}
    practitioner = make.practitioner()
    for _ in range(families):
        family = make.family(practitioner, with_parent=False)
        name = store.new_name("mp4")
        data = os.urandom(100_000)
        store.create(family.id, name)
        store.append(family.id, name, [data], limit=len(data))
        ciphertext = (store.root / str(family.id) / name).read_bytes()
        out[family.id] = (name, data, ciphertext)
    return out


def _read(app: Flask, master: bytes, family_id: int, name: str) -> bytes:
    settings = app.extensions["vig_settings"]
    store = MediaStore(settings.media_dir, Keyring(settings.key_dir, master))
    with store.open(family_id, name) as f:
        return f.read()


def test_file_key_is_rotated_atomically_and_media_is_not_touched(own_app: Flask) -> None:
    app = own_app
    settings = app.extensions["vig_settings"]
    old = settings.master_key
    media = _media(app)

    result = app.test_cli_runner().invoke(args=["vig", "rotate-master-key", "--yes"])

    assert result.exit_code == 0, result.output
    assert "Re-wrapped 3 family data keys" in result.output
    key_file = settings.master_key_file
    new = key_file.read_bytes()
    assert len(new) == 32 and new != old
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    assert not pending_master_key_path(key_file).exists()
    for family_id, (name, data, ciphertext) in media.items():
        # Media files are byte-for-byte the same; only the small key files changed.
        assert (settings.media_dir / str(family_id) / name).read_bytes() == ciphertext
        assert _read(app, new, family_id, name) == data
        with pytest.raises(KeyUnwrapError):
            _read(app, old, family_id, name)
    # The new key is not printed when it lives in a file.
    assert base64.b64encode(new).decode() not in result.output


def test_an_interrupted_rotation_is_resumed_with_the_saved_key(
    own_app: Flask, monkeypatch: pytest.MonkeyPatch
) -> None:
    app = own_app
    settings = app.extensions["vig_settings"]
    media = _media(app)
    real_write = keyring_module._write_atomic
    calls = {"n": 0}

    def flaky_write(path: Path, data: bytes, *, replace: bool) -> bool:
        # The pending key is written first; die on the second data key re-wrapped.
        if path.suffix == ".key" and replace:
            calls["n"] += 1
            if calls["n"] == 2:
                raise OSError("power cut")
        return real_write(path, data, replace=replace)

    monkeypatch.setattr("vigparent.keyring._write_atomic", flaky_write)
    result = app.test_cli_runner().invoke(args=["vig", "rotate-master-key", "--yes"])
    assert result.exit_code != 0
    pending = pending_master_key_path(settings.master_key_file)
    assert pending.exists() and stat.S_IMODE(pending.stat().st_mode) == 0o600
    new = pending.read_bytes()
    monkeypatch.undo()

    # Restarted (the old key file is still in place): the rotation resumes and completes.
    app.extensions["vig_keyring"]._master = settings.master_key
    result = app.test_cli_runner().invoke(args=["vig", "rotate-master-key", "--yes"])
    assert result.exit_code == 0, result.output
    assert "Resuming an interrupted rotation" in result.output
    assert settings.master_key_file.read_bytes() == new
    for family_id, (name, data, _c) in media.items():
        assert _read(app, new, family_id, name) == data


def test_env_key_rotation_prints_the_new_key_first_and_can_resume(app: Flask, app_ctx) -> None:
    from tests.conftest import Factory

    make = Factory(app)
    family = make.family(with_parent=False)
    store = media_store.store()
    settings = app.extensions["vig_settings"]
    assert settings.master_key_file is None  # as when VIGPARENT_MASTER_KEY is set
    name = store.new_name("mp4")
    store.create(family.id, name)
    store.append(family.id, name, [b"frame" * 1000], limit=5000)
    keyring = media_store.keyring()
    old = settings.master_key
    try:
        result = app.test_cli_runner().invoke(args=["vig", "rotate-master-key", "--yes"])
        assert result.exit_code == 0, result.output
        printed = re.search(r"VIGPARENT_MASTER_KEY=(\S+)", result.output)
        assert printed
        lines = result.output.splitlines()
        assert lines.index(next(x for x in lines if "VIGPARENT_MASTER_KEY=" in x)) < lines.index(
            next(x for x in lines if x.startswith("Re-wrapped"))
        )
        new = base64.b64decode(printed.group(1))
        assert _read(app, new, family.id, name) == b"frame" * 1000
        # Resuming with the same key (from stdin) verifies and changes nothing.
        again = app.test_cli_runner().invoke(
            args=["vig", "rotate-master-key", "--yes", "--resume-from-stdin"],
            input=printed.group(1) + "\n",
        )
        assert again.exit_code == 0, again.output
        assert "Re-wrapped 1 family data keys" in again.output
    finally:
        # The shared test app keeps its original master key for the other tests.
        keyring.rewrap_all(old)
        assert db.session().get(Family, family.id) is not None


def test_rotation_asks_first_without_yes(own_app: Flask) -> None:
    result = own_app.test_cli_runner().invoke(args=["vig", "rotate-master-key"], input="n\n")
    assert result.exit_code != 0
    assert "Stop the web app and the job worker first" in result.output
