"""Withdrawal during an upload, with jobs queued, and with the process dying between steps:
each ends with nothing of the family left."""

from __future__ import annotations

import io
import subprocess
import sys
import textwrap
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from huey import MemoryHuey
from sqlalchemy import select

from tests.conftest import Factory
from tests.withdrawal.conftest import (
    FamilyMedia,
    assert_family_gone,
    environ_for,
    files_of_family,
    readable_digest,
    tus_for,
    video_bytes,
)
from vigparent import db, jobs, media_store, tasks
from vigparent.clips import service as clip_service
from vigparent.models import (
    Clip,
    DeletionReceipt,
    Family,
    FamilyStatus,
    Principle,
    Recording,
    RecordingStatus,
)
from vigparent.recordings import jobs as recording_jobs
from vigparent.withdrawal import service

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def upload_video() -> bytes:
    data = video_bytes(seconds=8.0)
    assert len(data) > 140_000
    return data


# -- during an upload ------------------------------------------------------------------------


def test_next_patch_is_refused_and_the_partial_upload_deleted(
    app: Flask, make: Factory, upload_video: bytes
) -> None:
    family = make.family()
    parent = make.parent_of(family)
    tus = tus_for(app, family, parent)
    r = tus.create(len(upload_video))
    assert r.status_code == 201
    url = r.headers["Location"]
    r = tus.patch(url, 0, upload_video[:60_000])
    assert r.status_code == 204
    fm = FamilyMedia(family, parent).refresh()
    assert fm.recordings[0].status is RecordingStatus.UPLOADING
    tokens = fm.tokens()
    assert files_of_family(app, family.id, tokens)

    service.withdraw_consent(family, parent)

    r = tus.patch(url, 60_000, upload_video[60_000:120_000])
    assert r.status_code in (403, 404), r.get_data(as_text=True)
    # Whatever the phone tries next, it hears plainly that consent was withdrawn.
    r = tus.create(len(upload_video))
    assert r.status_code == 403
    body = r.get_json()
    assert body["code"] == "consent_withdrawn"
    assert "withdrawn" in body["message"]
    assert_family_gone(app, fm, tokens)


def test_withdrawal_while_a_patch_is_streaming_keeps_none_of_it(
    app: Flask, make: Factory, upload_video: bytes
) -> None:
    family = make.family()
    parent = make.parent_of(family)
    tus = tus_for(app, family, parent)
    r = tus.create(len(upload_video))
    url = r.headers["Location"]
    family_id = family.id
    withdrew = threading.Event()

    def withdraw_elsewhere() -> None:
        # Another request (another worker) handles the parent's tap meanwhile.
        with app.app_context():
            f = db.session().get(Family, family_id)
            assert f is not None
            service.withdraw_consent(f, None)
            withdrew.set()

    class Body(io.BytesIO):
        """The request body arriving over the network in pieces; the tap lands after 64 KiB."""

        def _arrive(self, n: int | None) -> int:
            if self.tell() >= 64 * 1024 and not withdrew.is_set():
                t = threading.Thread(target=withdraw_elsewhere)
                t.start()
                t.join()
            return 16 * 1024 if n is None or n < 0 else min(n, 16 * 1024)

        def read(self, n: int | None = -1) -> bytes:
            return super().read(self._arrive(n))

        def readinto(self, b: Any) -> int:
            view = memoryview(b)
            return super().readinto(view[: self._arrive(len(view))])

    headers = tus.headers(
        **{"Content-Type": "application/offset+octet-stream", "Upload-Offset": "0"}
    )
    r = tus.client.patch(
        url, headers=headers, input_stream=Body(upload_video), content_length=len(upload_video)
    )
    assert withdrew.is_set()
    assert r.status_code in (403, 404), r.get_data(as_text=True)
    if r.status_code == 403:
        assert r.get_json()["code"] == "consent_withdrawn"
    fm = FamilyMedia(family, parent).refresh()
    assert_family_gone(app, fm, {url.rsplit("/", 1)[1]})
    assert files_of_family(app, family_id, set()) == []


# -- with jobs queued ---------------------------------------------------------------------------


@pytest.fixture
def queued_jobs(app: Flask) -> Iterator[MemoryHuey]:
    """Jobs wait in a queue (as with a real consumer) instead of running inline."""
    saved = jobs.queue_of(app)
    huey = MemoryHuey("vig-withdrawal-tests", immediate=False)
    jobs.init_app(app, tasks.ALL, huey)
    try:
        yield huey
    finally:
        app.extensions["vig_jobs"] = saved


def _run_queue(huey: MemoryHuey) -> int:
    ran = 0
    while (task := huey.dequeue()) is not None:
        huey.execute(task)
        ran += 1
    return ran


def test_queued_jobs_are_revoked_and_a_late_job_writes_nothing(
    app: Flask, with_media, queued_jobs: MemoryHuey
) -> None:
    fm: FamilyMedia = with_media(recordings=1, clips=0, real=True)
    other: FamilyMedia = with_media(recordings=1, clips=0, real=True)
    rec = fm.recordings[0]
    # A clip and a re-processing wait in the queue when the parent withdraws.
    clip = clip_service.create_clip(
        rec,
        clip_service.ClipDetails("Look", "You looked.", Principle.BEING_ATTENTIVE, 1, 0.2, 1.5),
        fm.family.practitioner,
    )
    rec.status = RecordingStatus.RECEIVED
    db.session().commit()
    recording_jobs.process_recording(rec.id)
    other_clip = clip_service.create_clip(
        other.recordings[0],
        clip_service.ClipDetails("Smile", "You smiled.", Principle.BEING_ATTENTIVE, 1, 0.2, 1.5),
        other.family.practitioner,
    )
    assert len(queued_jobs.pending()) == 3
    tokens = fm.refresh().tokens()

    service.withdraw_consent(fm.family, fm.parent)

    # The family's two jobs are revoked; the other family's clip is not.
    pending = queued_jobs.pending()
    assert sum(queued_jobs.is_revoked(t) for t in pending) == 2
    assert _run_queue(queued_jobs) == 3
    assert_family_gone(app, fm, tokens)
    assert db.session().get(Clip, clip.id) is None
    db.session().expire_all()
    done = db.session().get(Clip, other_clip.id)
    assert done is not None and done.media_name

    # Revocation is best effort: a job that starts anyway (queued on another node, say)
    # finds nothing to do and leaves nothing behind.
    clip_service.run_cut(clip.id, 0.2, 1.5)
    recording_jobs.process_recording.call_local(rec.id)
    assert files_of_family(app, fm.id, tokens) == []


# -- the process dies between steps ---------------------------------------------------------

STEPS = {
    # Fails just after the first commit (consent withdrawn, uploads refused, journal opened).
    "destroy_key": "vigparent.keyring.Keyring.destroy",
    "cancel_jobs": "vigparent.withdrawal.service.cancel_jobs",
    "delete_files": "vigparent.storage.MediaStore.delete_family",
    "delete_rows": "vigparent.withdrawal.service.delete_media_rows_of_family",
    "complete_receipt": "vigparent.withdrawal.service._close_receipt",
}


def _receipt_open(family_id: int) -> DeletionReceipt:
    db.session().expire_all()
    receipt = db.session().scalar(
        select(DeletionReceipt).where(DeletionReceipt.family_id == family_id)
    )
    assert receipt is not None
    return receipt


@pytest.mark.parametrize("step", list(STEPS))
def test_an_exception_in_any_step_is_finished_by_resume(
    app: Flask, with_media, monkeypatch: pytest.MonkeyPatch, step: str
) -> None:
    fm: FamilyMedia = with_media(recordings=1, clips=1)
    other: FamilyMedia = with_media(recordings=1, clips=0)
    other_before = readable_digest(other)
    tokens = fm.tokens()

    def crash(*_a: object, **_kw: object) -> None:
        raise OSError("simulated crash")

    with monkeypatch.context() as m:
        m.setattr(STEPS[step], crash)
        receipt = service.withdraw_consent(fm.family, fm.parent)
    # The journal is open; consent is withdrawn whatever happened after the first commit.
    assert receipt.completed_at is None
    assert _receipt_open(fm.id).completed_at is None
    assert db.session().get(Family, fm.id).status is FamilyStatus.WITHDRAWN
    assert not service.media_allowed(fm.id)

    finished = service.resume_unfinished_deletions()

    assert [r.id for r in finished] == [receipt.id]
    assert _receipt_open(fm.id).completed_at is not None
    assert_family_gone(app, fm, tokens)
    assert readable_digest(other) == other_before
    assert service.resume_unfinished_deletions() == []


_CRASH_SCRIPT = """
import os, sys
from vigparent import create_app, db
from vigparent.models import Family
from vigparent.withdrawal import service
import {module} as target

def die(*a, **kw):
    {before}
    os._exit(137)  # no cleanup, no exception handlers: like SIGKILL or a power cut

setattr(target{attr_path}, "{name}", die)
app = create_app()
with app.app_context():
    family = db.session().get(Family, int(sys.argv[1]))
    service.withdraw_consent(family, None)
print("survived")
"""


def _crash_script(step: str) -> str:
    dotted = STEPS[step]
    parts = dotted.split(".")
    if parts[-2][0].isupper():  # a method: patch the class
        module, cls, name = ".".join(parts[:-2]), parts[-2], parts[-1]
        attr_path = f".{cls}"
    else:
        module, cls, name = ".".join(parts[:-1]), "", parts[-1]
        attr_path = ""
    before = "pass"
    if step == "delete_files":
        # Die half-way through deleting: one file gone, the rest still there.
        before = (
            "import glob; files = sorted(glob.glob(os.path.join(str(a[0].root), str(a[1]), '*')));"
            " os.unlink(files[0])"
        )
    return textwrap.dedent(_CRASH_SCRIPT).format(
        module=module, attr_path=attr_path, name=name, before=before
    )


@pytest.mark.parametrize("step", ["destroy_key", "delete_files"])
def test_a_killed_process_leaves_a_journal_that_resume_finishes(
    app: Flask, with_media, step: str
) -> None:
    fm: FamilyMedia = with_media(recordings=1, clips=1)
    other: FamilyMedia = with_media(recordings=1, clips=0)
    other_before = readable_digest(other)
    tokens = fm.tokens()

    result = subprocess.run(  # noqa: S603 - our own interpreter and script
        [sys.executable, "-c", _crash_script(step), str(fm.id)],
        env=environ_for(app),
        cwd=ROOT,
        capture_output=True,
        timeout=120,
    )
    assert result.returncode == 137, result.stderr.decode()[-2000:]
    assert b"survived" not in result.stdout
    assert _receipt_open(fm.id).completed_at is None
    if step != "destroy_key":
        # Past step 2 nothing left on disk is readable, even before resuming.
        assert not media_store.keyring().has_key(fm.id)

    finished = service.resume_unfinished_deletions()

    assert len(finished) == 1
    assert_family_gone(app, fm, tokens)
    assert readable_digest(other) == other_before
    recordings_left = (
        db.session().scalars(select(Recording).where(Recording.family_id == fm.id)).all()
    )
    assert recordings_left == []


def test_deleting_one_recording_while_it_uploads_leaves_nothing_of_it(
    app: Flask, make: Factory, upload_video: bytes
) -> None:
    family = make.family()
    parent = make.parent_of(family)
    tus = tus_for(app, family, parent)
    url = tus.create(len(upload_video)).headers["Location"]
    assert tus.patch(url, 0, upload_video[:60_000]).status_code == 204
    fm = FamilyMedia(family, parent).refresh()
    tokens = fm.tokens()

    receipt = service.delete_recording(fm.recordings[0], parent)

    assert receipt.completed_at is not None and receipt.files == 1
    r = tus.patch(url, 60_000, upload_video[60_000:120_000])
    assert r.status_code == 404  # the phone forgets this upload (and was told to drop its copy)
    assert_family_gone_but_key(app, fm, tokens)
    assert db.session().get(Family, family.id).status is FamilyStatus.ACTIVE


def assert_family_gone_but_key(app: Flask, fm: FamilyMedia, tokens: set[str]) -> None:
    """The recording's files and rows are gone; the family (and its key) carry on."""
    from tests.withdrawal.conftest import files_named, rows_mentioning

    db.session().expire_all()
    assert files_named(app, tokens) == []
    assert rows_mentioning(tokens) == []
    assert media_store.store().names(fm.id) == []
