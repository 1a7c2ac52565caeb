"""No plaintext media on the server's disk: upload (tus), processing and clipping included."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from flask import Flask
from sqlalchemy import select

from tests.conftest import Factory
from tests.withdrawal.conftest import (
    FamilyMedia,
    assert_family_gone,
    data_files,
    file_contains,
    sent_processed_and_clipped,
    tus_for,
)
from vigparent import db, media_store
from vigparent.models import Clip
from vigparent.withdrawal import service


def _needles(marker: bytes, data: bytes) -> list[bytes]:
    """The marker, the first 64 KiB, and 512-byte samples of it (a partial leak is a leak)."""
    head = data[: 64 * 1024]
    samples = [head[i : i + 512] for i in range(4096, len(head) - 512, 8192)]
    return [marker, head, *samples]


def _tmp_files() -> set[Path]:
    root = Path(tempfile.gettempdir())
    found = set()
    for dirpath, _dirs, files in os.walk(root):
        if "vigdata" in dirpath:
            continue  # the data dir is scanned on its own
        found.update(Path(dirpath, f) for f in files)
    return found


def test_uploaded_processed_and_clipped_video_is_never_plaintext_on_disk(
    app: Flask, make: Factory, marked_video: tuple[bytes, bytes], tmp_path: Path
) -> None:
    marker, data = marked_video
    family = make.family()
    parent = make.parent_of(family)
    tmp_before = _tmp_files()

    recording, _ = sent_processed_and_clipped(tus_for(app, family, parent), family, data)

    # The store really holds the marked video (so the scan below is meaningful).
    store = media_store.store()
    with store.open(family.id, recording.original_name) as f:
        assert f.read() == data

    needles = _needles(marker, data)
    probe = tmp_path / "probe.bin"  # the scan does find plaintext when it is there
    probe.write_bytes(data[1000:70_000])
    assert file_contains(probe, needles) is not None
    probe.unlink()
    files = data_files(app)
    assert len(files) >= 6  # db, keys, original, transcode, poster, clip, clip poster
    leaks = {str(p): n[:32] for p in files if (n := file_contains(p, needles)) is not None}
    assert leaks == {}
    new_tmp = _tmp_files() - tmp_before
    tmp_leaks = [str(p) for p in new_tmp if file_contains(p, needles) is not None]
    assert tmp_leaks == []

    # And after withdrawal there is nothing at all.
    fm = FamilyMedia(family, parent).refresh()
    tokens = fm.tokens()
    service.withdraw_consent(family, parent)
    assert_family_gone(app, fm, tokens)
    assert db.session().scalars(select(Clip)).all() == []
