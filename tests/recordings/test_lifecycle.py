"""The Recording lifecycle seen from outside the upload: consent rule, status words, the
practitioner's list, the processing job, and the sha256 the phone trusts."""

from __future__ import annotations

import hashlib
from datetime import datetime

import pytest
from flask import Flask
from sqlalchemy import select

from tests.conftest import Factory
from tests.uploads.conftest import Tus, new_client_id
from vigparent import db, media_store, video_sandbox
from vigparent.models import ConsentKind, ConsentRecord, FamilyStatus, Recording, RecordingStatus
from vigparent.recordings import jobs
from vigparent.recordings import service as recordings
from vigparent.uploads.checksums import running_hashes
from vigparent.video_sandbox import CRASHED, TOO_BIG, TOO_SLOW, VideoLimits


def test_check_may_record_is_the_one_consent_rule(make: Factory):
    family = make.family()
    recordings.check_may_record(family)
    assert recordings.may_record(family)

    record = db.session().scalar(
        select(ConsentRecord).where(
            ConsentRecord.family_id == family.id, ConsentRecord.kind == ConsentKind.STORAGE
        )
    )
    assert record is not None
    record.withdrawn_at = datetime(2026, 11, 25, 12, 0)
    db.session().commit()
    with pytest.raises(recordings.ConsentWithdrawn) as refused:
        recordings.check_may_record(family)
    assert refused.value.message == "You have withdrawn consent, so we did not keep this video."
    assert refused.value.status == 403
    assert not recordings.may_record(family)

    # Another carer's standing consent for the same kind is enough.
    db.session().add(
        ConsentRecord(
            family_id=family.id,
            user_id=make.parent(family, "Jo").id,
            kind=ConsentKind.STORAGE,
            wording_version="test",
        )
    )
    db.session().commit()
    recordings.check_may_record(family)

    family.status = FamilyStatus.WITHDRAWN
    db.session().commit()
    with pytest.raises(recordings.ConsentWithdrawn):
        recordings.check_may_record(family)


def test_never_given_consent_is_missing_not_withdrawn(make: Factory):
    family = make.family(consents=(ConsentKind.FILMING,))
    with pytest.raises(recordings.ConsentMissing):
        recordings.check_may_record(family)


def test_recordings_for_lists_newest_first_with_plain_words(tus: Tus, webm, frozen_clock):
    tus.upload(webm)
    frozen_clock(minutes=5)
    url = tus.create(1000).headers["Location"]
    tus.patch(url, 0, webm[:420])
    rows = recordings.recordings_for(tus.family)
    assert [r.status for r in rows] == [RecordingStatus.UPLOADING, RecordingStatus.READY]
    assert rows[0].status_text == "Still arriving (42 % so far)."
    assert rows[1].status_text == "Arrived safely. Ready to watch."
    assert rows[1].is_ready and rows[1].is_new
    assert rows[1].duration_s == pytest.approx(2.0, abs=0.1)
    assert rows[1].size_bytes == len(webm)
    assert not rows[0].is_new


def test_status_text_for_rejected_gives_the_reason():
    rec = Recording(status=RecordingStatus.REJECTED, rejection_reason="This video is too short.")
    assert recordings.status_text(rec) == "Not accepted. This video is too short."


def test_sha256_is_right_when_the_upload_finishes_in_another_process(tus: Tus, big_webm):
    """Without this process's running hash (a restart, another worker) the stored file is
    hashed instead, with the same answer."""
    client_id = new_client_id()
    url = tus.create(len(big_webm), client_id=client_id).headers["Location"]
    tus.patch(url, 0, big_webm[:100_000])
    running_hashes._entries.clear()  # as if another process had taken the first chunk
    tus.patch(url, 100_000, big_webm[100_000:])
    assert tus.status(client_id).json["sha256"] == hashlib.sha256(big_webm).hexdigest()


def test_processing_job_is_idempotent_and_ignores_deleted_recordings(tus: Tus, webm):
    tus.upload(webm)
    rec = db.session().scalar(select(Recording))
    assert rec is not None and rec.status is RecordingStatus.READY
    transcode = rec.transcode_name
    jobs.process_recording.call_local(rec.id)  # a duplicate delivery changes nothing
    db.session().refresh(rec)
    assert rec.status is RecordingStatus.READY and rec.transcode_name == transcode
    jobs.process_recording.call_local(999_999)


def test_job_finding_the_media_gone_keeps_nothing(tus: Tus, webm):
    """A withdrawal deleted the family's media while the job waited in the queue."""
    url = tus.create(len(webm)).headers["Location"]
    rec = db.session().scalar(select(Recording))
    assert rec is not None
    # Mark received without running the job, then lose the media.
    tus.patch(url, 0, webm[:100])
    rec.status = RecordingStatus.RECEIVED
    db.session().commit()
    media_store.store().delete(rec.family_id, rec.original_name)
    jobs.process_recording.call_local(rec.id)
    assert media_store.store().names(rec.family_id) == []


def test_stalled_recordings_are_processed_again(tus: Tus, webm, frozen_clock):
    """A job lost (consumer down, or killed mid-transcode) must not strand a parent's video."""
    tus.upload(webm)
    rec = db.session().scalar(select(Recording))
    assert rec is not None and rec.status is RecordingStatus.READY
    # As if the job never ran: received, with no transcode.
    media_store.store().delete(rec.family_id, rec.transcode_name or "")
    rec.status, rec.transcode_name, rec.poster_name = RecordingStatus.RECEIVED, None, None
    db.session().commit()

    frozen_clock(minutes=10)
    assert jobs.requeue_stalled_recordings.call_local() == 0  # may still be in the queue
    frozen_clock(minutes=25)
    assert jobs.requeue_stalled_recordings.call_local() == 1
    db.session().expire_all()
    rec = db.session().get(Recording, rec.id)
    assert rec is not None and rec.status is RecordingStatus.READY and rec.transcode_name

    # A transcode that died half-way leaves "processing"; give it hours before retrying.
    rec.status = RecordingStatus.PROCESSING
    db.session().commit()
    frozen_clock(minutes=60)
    assert jobs.stalled_recordings() == []
    frozen_clock(hours=2)
    assert jobs.stalled_recordings() == [rec.id]


def test_a_recording_whose_worker_fails_is_turned_away_with_a_reason(
    app: Flask, tus: Tus, webm: bytes, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings = app.extensions["vig_settings"]
    starved = settings.with_overrides(video_limits=VideoLimits(memory_bytes=32 * 1024**2))
    monkeypatch.setitem(app.extensions, "vig_settings", starved)
    client_id = new_client_id()
    tus.upload(webm, client_id=client_id)

    rec = db.session().scalar(select(Recording))
    assert rec is not None and rec.status is RecordingStatus.REJECTED
    assert rec.rejection_reason in (TOO_BIG, CRASHED)
    assert media_store.store().names(rec.family_id) == []  # nothing half-made is kept
    status = tus.status(client_id).json
    assert status["status"] == "rejected" and status["reason"] == rec.rejection_reason


@pytest.mark.parametrize(
    ("drill", "args", "limits", "reason"),
    [
        ("drill-crash", {}, VideoLimits(), CRASHED),
        ("drill-hang", {}, VideoLimits(wall_seconds=2), TOO_SLOW),
    ],
)
def test_a_video_that_crashes_or_hangs_its_checker_is_turned_away_with_a_reason(
    app: Flask,
    tus: Tus,
    webm: bytes,
    monkeypatch: pytest.MonkeyPatch,
    drill: str,
    args: dict[str, object],
    limits: VideoLimits,
    reason: str,
) -> None:
    """As a malicious video might make it: the real job, its checker made to misbehave."""
    settings = app.extensions["vig_settings"]
    monkeypatch.setitem(
        app.extensions, "vig_settings", settings.with_overrides(video_limits=limits)
    )

    def misbehaving_inspect(src, *, limits, **_kw):  # type: ignore[no-untyped-def]
        return video_sandbox.run(drill, args, src, None, limits)

    monkeypatch.setattr(video_sandbox, "inspect", misbehaving_inspect)
    client_id = new_client_id()
    tus.upload(webm, client_id=client_id)

    rec = db.session().scalar(select(Recording))
    assert rec is not None and rec.status is RecordingStatus.REJECTED
    assert rec.rejection_reason == reason
    assert media_store.store().names(rec.family_id) == []  # nothing half-made is kept
    status = tus.status(client_id).json
    assert status["status"] == "rejected" and status["reason"] == reason


def test_the_frame_rate_is_kept_when_the_transcode_is_made(
    tus: Tus, webm: bytes, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Stepping a frame needs it; read once by the job, never by a page (on a bucket, a page
    reading headers would fetch the whole video)."""
    from vigparent.clips import service as clips

    tus.upload(webm, client_id=new_client_id())
    rec = db.session().scalar(select(Recording))
    assert rec is not None and rec.status is RecordingStatus.READY
    assert rec.frame_rate == pytest.approx(15.0)  # the test video is made at 15 fps

    def no_reading(*_args: object) -> None:
        raise AssertionError("a page read the video for its frame rate")

    monkeypatch.setattr(clips, "_frame_rate_of", no_reading)
    assert clips.frame_rate(rec) == pytest.approx(15.0)
