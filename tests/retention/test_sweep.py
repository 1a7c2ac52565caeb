"""Retention with a controllable clock: closed cases, abandoned uploads, orphans."""

from __future__ import annotations

import os
from datetime import UTC, datetime, timedelta

from flask import Flask
from sqlalchemy import select

from tests.conftest import Factory
from tests.withdrawal.conftest import (
    FamilyMedia,
    assert_family_gone,
    files_of_family,
    readable_digest,
    tus_for,
    video_bytes,
)
from vigparent import clock, db, jobs, media_store, retention
from vigparent.families import service as families
from vigparent.models import (
    AuditEvent,
    DeletionReceipt,
    Family,
    FamilyStatus,
    Recording,
    RecordingStatus,
)
from vigparent.withdrawal import service, words


def _now_real() -> datetime:
    """Real UTC now: file times are real, so the orphan test moves the clock from there."""
    return datetime.now(UTC).replace(tzinfo=None)


def test_closed_case_media_goes_after_the_organisations_period_and_not_before(
    app: Flask, make: Factory, with_media, frozen_clock
) -> None:
    org = make.organisation(retention_days_after_close=14)
    practitioner = make.practitioner(organisation=org)
    closed: FamilyMedia = with_media(recordings=2, clips=1, practitioner=practitioner)
    open_: FamilyMedia = with_media(recordings=1, clips=1, practitioner=practitioner)
    open_before = readable_digest(open_)
    tokens = closed.tokens()
    families.close_case(closed.family, practitioner)

    frozen_clock(days=13, hours=23)
    report = retention.sweep()
    assert str(report) == "Nothing to delete."
    assert readable_digest(closed)  # still there, still readable

    frozen_clock(hours=1)  # exactly 14 days after closing
    report = retention.sweep()
    assert f"Closed case, family {closed.id}" in str(report)
    assert "deleted 2 videos and 2 clips, 10 files" in str(report)
    assert_family_gone(app, closed, tokens)
    family = db.session().get(Family, closed.id)
    assert family.status is FamilyStatus.CLOSED and family.media_deleted_at == clock.now()
    receipt = db.session().scalar(
        select(DeletionReceipt).where(DeletionReceipt.family_id == closed.id)
    )
    assert receipt.reason == "retention" and receipt.key_destroyed and receipt.completed_at
    assert readable_digest(open_) == open_before
    # Swept once only.
    assert str(retention.sweep()) == "Nothing to delete."
    assert words.family_status_words(family).startswith("Case closed, media deleted (")


def test_abandoned_partial_uploads_lose_their_bytes_after_expiry(
    app: Flask, make: Factory, frozen_clock
) -> None:
    data = video_bytes(seconds=4.0)
    family = make.family()
    parent = make.parent_of(family)
    tus = tus_for(app, family, parent)
    r = tus.create(len(data))
    url = r.headers["Location"]
    assert tus.patch(url, 0, data[:40_000]).status_code == 204
    recording = db.session().scalar(select(Recording).where(Recording.family_id == family.id))
    assert recording.status is RecordingStatus.UPLOADING
    store = media_store.store()
    assert store.size(family.id, recording.original_name) == 40_000

    frozen_clock(hours=71)
    assert str(retention.sweep()) == "Nothing to delete."
    assert store.size(family.id, recording.original_name) == 40_000

    frozen_clock(hours=2)
    report = retention.sweep()
    assert "Abandoned uploads past their expiry: deleted the bytes of 1." in str(report)
    assert not store.exists(family.id, recording.original_name)
    # The phone, coming back, starts the same recording again from 0.
    r = tus.create(len(data), client_id=recording.client_id)
    assert r.status_code == 201 and r.headers["Upload-Offset"] == "0"


def test_orphan_files_are_deleted_once_old_and_only_if_no_row_names_them(
    app: Flask, with_media, frozen_clock
) -> None:
    fm: FamilyMedia = with_media(recordings=1, clips=1)
    store = media_store.store()
    orphan = store.new_name("mp4")
    store.create(fm.id, orphan)
    store.append(fm.id, orphan, [os.urandom(1000)], limit=1000)
    named_before = readable_digest(fm)

    frozen_clock(_now_real() + timedelta(hours=23))  # a job may still be writing it
    assert str(retention.sweep()) == "Nothing to delete."
    assert store.exists(fm.id, orphan)

    frozen_clock(_now_real() + timedelta(hours=25))
    report = retention.sweep()
    assert f"Family {fm.id}: deleted 1 files no record names" in str(report)
    assert not store.exists(fm.id, orphan)
    assert readable_digest(fm) == named_before


def test_keys_and_files_of_families_that_may_hold_no_media_are_removed(
    app: Flask, make: Factory, with_media
) -> None:
    fm: FamilyMedia = with_media(recordings=1, clips=0)
    store, keyring = media_store.store(), media_store.keyring()
    # A family with no row at all (erased by hand, say): a stray key and a stray file.
    ghost = fm.id + 1000
    ghost_key = keyring.key_dir / f"{ghost}.key"
    ghost_key.write_bytes(os.urandom(76))
    (store.root / str(ghost)).mkdir()
    (store.root / str(ghost) / "mp4-abcdefghijklmnopqrstuvwx").write_bytes(b"ciphertext")
    # A withdrawn family whose files came back (an upload racing the deletion, say).
    withdrawn: FamilyMedia = with_media(recordings=1, clips=0)
    service.withdraw_consent(withdrawn.family, withdrawn.parent)
    (store.root / str(withdrawn.id)).mkdir()
    (store.root / str(withdrawn.id) / "upload-abcdefghijklmnopqrstuvwx").write_bytes(b"x" * 99)

    report = retention.sweep()

    text = str(report)
    assert f"Family {ghost} may no longer hold media: deleted 1 files" in text
    assert "and its key" in text
    assert f"Family {withdrawn.id} may no longer hold media: deleted 1 files" in text
    assert not ghost_key.exists()
    assert files_of_family(app, ghost, set()) == []
    assert files_of_family(app, withdrawn.id, set()) == []
    assert store.names(fm.id)  # the live family keeps everything
    assert keyring.has_key(fm.id)
    actions = db.session().scalars(select(AuditEvent.action)).all()
    assert actions.count("orphan_media_deleted") == 2


def test_leftover_rows_of_a_withdrawn_family_are_deleted(app: Flask, with_media) -> None:
    fm: FamilyMedia = with_media(recordings=1, clips=0)
    service.withdraw_consent(fm.family, fm.parent)
    # An upload that raced the withdrawal committed its row afterwards.
    late = Recording(
        family_id=fm.id,
        uploaded_by_id=fm.parent.id,
        client_id="late",
        upload_id="late-upload-id-0000000000000000",
        declared_size=10,
        original_name="upload-abcdefghijklmnopqrstuvwx",
    )
    db.session().add(late)
    db.session().commit()
    report = retention.sweep()
    assert f"Leftover recording rows, family {fm.id}: deleted." in str(report)
    assert_family_gone(app, fm, {"late-upload-id-0000000000000000"})


def test_sweep_finishes_interrupted_deletions(app: Flask, with_media, monkeypatch) -> None:
    fm: FamilyMedia = with_media(recordings=1, clips=1)
    tokens = fm.tokens()
    with monkeypatch.context() as m:
        m.setattr("vigparent.storage.MediaStore.delete_family", lambda *a: 1 / 0)
        receipt = service.withdraw_consent(fm.family, fm.parent)
    assert receipt.completed_at is None
    report = retention.sweep()
    assert f"Finished an interrupted deletion (withdrawn) for family {fm.id}" in str(report)
    assert_family_gone(app, fm, tokens)


def test_vig_sweep_prints_what_it_deleted(app: Flask, make: Factory, with_media, frozen_clock):  # type: ignore[no-untyped-def]
    fm: FamilyMedia = with_media(recordings=1, clips=0)
    families.close_case(fm.family, fm.family.practitioner)
    frozen_clock(days=31)
    result = app.test_cli_runner().invoke(args=["vig", "sweep"])
    assert result.exit_code == 0, result.output
    assert f"Closed case, family {fm.id}" in result.output
    assert "deleted 1 video and 0 clips, 3 files" in result.output
    result = app.test_cli_runner().invoke(args=["vig", "sweep"])
    assert result.output.strip() == "Nothing to delete."


def test_the_daily_job_is_registered_with_the_consumer(app: Flask) -> None:
    names = {t.name: t.options for t in jobs.queue_of(app).jobs()}
    assert "daily_sweep" in names and "periodic" in names["daily_sweep"]
    assert "resume_deletions_job" in names and "periodic" in names["resume_deletions_job"]
