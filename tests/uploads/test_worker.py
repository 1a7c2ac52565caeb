"""The job queue belongs to the app: built from its settings, run by the real consumer.

`make worker` runs `huey_consumer` on the module the Makefile names; here that very command
takes a recording that a parent sent and processes it.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from flask import Flask
from huey import SqliteHuey

from tests.conftest import make_test_settings
from tests.uploads.conftest import OFFSET_STREAM, ROOT, Deployment, metadata, new_client_id
from vigparent import create_app, db, jobs, tasks
from vigparent.db import Base
from vigparent.models import Recording, RecordingStatus
from vigparent.recordings import jobs as recording_jobs


def _worker_module() -> str:
    """The consumer's entry point, as `make worker` names it."""
    recipe = re.search(r"^worker:.*\n\t(.+)$", (ROOT / "Makefile").read_text(), re.M)
    assert recipe is not None, "the Makefile has no worker target"
    found = re.search(r"huey_consumer\s+(\S+)", recipe.group(1))
    assert found is not None, recipe.group(1)
    return found.group(1)


def _status(app: Flask, recording_id: int) -> RecordingStatus:
    with db.fresh_session(app) as s:
        rec = s.get(Recording, recording_id)
        assert rec is not None
        return rec.status


def test_make_worker_runs_a_queued_recording_job_on_the_apps_queue(
    tmp_path: Path, webm: bytes
) -> None:
    deployment = Deployment(tmp_path / "data")
    app = deployment.app
    settings = app.extensions["vig_settings"]
    huey = jobs.queue_of(app).huey
    assert isinstance(huey, SqliteHuey) and settings.jobs_db.exists()

    client = app.test_client()
    client.set_cookie(deployment.signed.cookie_name, deployment.signed.cookie_value)
    tus = {"Tus-Resumable": "1.0.0", "X-CSRFToken": deployment.signed.csrf_token}
    meta = metadata(client_id=new_client_id(), filetype="video/webm")
    created = client.post(
        "/api/uploads", headers={**tus, "Upload-Length": str(len(webm)), "Upload-Metadata": meta}
    )
    assert created.status_code == 201, created.get_data(as_text=True)
    sent = client.patch(
        created.headers["Location"],
        headers={**tus, "Content-Type": OFFSET_STREAM, "Upload-Offset": "0"},
        data=webm,
    )
    assert sent.status_code == 204, sent.get_data(as_text=True)
    recording_id = deployment.recording().id
    # Queued in the data dir's queue, not run: no consumer yet.
    assert _status(app, recording_id) is RecordingStatus.RECEIVED
    assert huey.pending_count() == 1

    consumer = shutil.which("huey_consumer", path=str(Path(sys.executable).parent))
    assert consumer is not None
    log = tmp_path / "consumer.log"
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [consumer, _worker_module(), "--workers=1"],
            env=deployment.env,
            cwd=tmp_path,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    try:
        deadline = time.monotonic() + 180
        while _status(app, recording_id) is not RecordingStatus.READY:
            assert proc.poll() is None, log.read_text(errors="replace")
            assert time.monotonic() < deadline, "the consumer did not process the recording"
            time.sleep(0.2)
    finally:
        proc.send_signal(signal.SIGINT)  # huey's graceful stop
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
    assert huey.pending_count() == 0
    rec = deployment.recording()
    assert rec.transcode_name and rec.poster_name
    assert not (tmp_path / "instance").exists()


def test_a_job_follows_the_apps_settings_not_the_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """No job reads settings of its own: nothing appears under ./instance or the env's dir."""
    cwd, elsewhere = tmp_path / "cwd", tmp_path / "from-env"
    cwd.mkdir()
    monkeypatch.chdir(cwd)
    for name in list(os.environ):
        if name.startswith("VIGPARENT_") or name in ("SECRET_KEY", "HUEY_REDIS_URL"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("VIGPARENT_DATA_DIR", str(elsewhere))
    settings = make_test_settings(tmp_path / "data", jobs_immediate=False)
    app = create_app(settings)
    with app.app_context():
        Base.metadata.create_all(app.extensions["vig_engine"])
        recording_jobs.process_recording(12345)  # queued on this app's queue

    huey = jobs.queue_of(app).huey
    assert settings.jobs_db.exists()
    # As the consumer does: outside any app context, the job runs in its app's.
    task = huey.dequeue()
    assert task is not None
    huey.execute(task)
    assert huey.pending_count() == 0
    assert not (cwd / "instance").exists()
    assert not elsewhere.exists()


def test_every_app_has_its_own_queue_with_every_job(tmp_path: Path) -> None:
    one = create_app(make_test_settings(tmp_path / "one", jobs_immediate=False))
    two = create_app(make_test_settings(tmp_path / "two", jobs_immediate=False))
    q1, q2 = jobs.queue_of(one), jobs.queue_of(two)
    assert q1.huey is not q2.huey
    assert q1.jobs() == q2.jobs() == list(tasks.ALL)
    for job in tasks.ALL:
        assert q1.task(job) is not q2.task(job)
        assert q1.task(job).s().name == q2.task(job).s().name == job.name
