"""Many phones at once on slow links, against the server as deployed (gunicorn, gevent workers).

Every server here is a real process started as ``make run`` starts it; the heavy load (200
phones and 1,000 hostile connections) is ``bench/load.py``, not a test.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import os
import socket
import tempfile
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
from sqlalchemy import func, select
from tusclient import client as tus_client
from tusclient.exceptions import TusCommunicationError

from tests.support.parent_session import SignedIn, create_consenting_family, sign_in
from tests.support.videos import make_video
from tests.uploads.conftest import OFFSET_STREAM, Deployment, RawPatch, ServerProcess, metadata
from vigparent import db, media_store
from vigparent.models import Recording, User
from vigparent.uploads.body import MAX_READ, MIN_READ

MIB = 1 << 20


def webm_of(size: int) -> bytes:
    """A real WebM header (so the magic-byte check passes) and random bytes up to ``size``."""
    buf = io.BytesIO()
    make_video(buf, container="webm", seconds=0.5)
    return (buf.getvalue()[:4096] + os.urandom(size))[:size]


def until(condition, what: str, limit: float = 30.0) -> None:  # type: ignore[no-untyped-def]
    """Poll for a visible condition, failing with ``what`` after ``limit`` seconds."""
    deadline = time.monotonic() + limit
    while not condition():
        if time.monotonic() > deadline:
            pytest.fail(f"gave up waiting: {what}")
        time.sleep(0.05)


def family_of(deployment: Deployment, parent_id: int) -> int:
    with deployment.app.app_context():
        user = db.session().get(User, parent_id)
        assert user is not None and user.family_id is not None
        return user.family_id


def another_parent(deployment: Deployment, quota_bytes: int | None = None) -> tuple[int, SignedIn]:
    """A parent of a new family, signed in on a phone: (user id, the phone's sign-in)."""
    parent_id = create_consenting_family(deployment.app, quota_bytes=quota_bytes)
    return parent_id, sign_in(deployment.app, parent_id)


class SlowLink:
    """A TCP relay that passes a client's bytes on at ``rate_bps``, like a phone on 4G."""

    def __init__(self, target_port: int, rate_bps: float) -> None:
        self.target_port = target_port
        self.rate = rate_bps
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self._stop = threading.Event()
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while not self._stop.is_set():
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            server = socket.create_connection(("127.0.0.1", self.target_port))
            threading.Thread(target=self._pipe, args=(client, server, True), daemon=True).start()
            threading.Thread(target=self._pipe, args=(server, client, False), daemon=True).start()

    def _pipe(self, src: socket.socket, dst: socket.socket, paced: bool) -> None:
        start, sent = time.monotonic(), 0
        try:
            while piece := src.recv(8192 if paced else 65536):
                if paced:
                    sent += len(piece)
                    time.sleep(max(0.0, start + sent * 8 / self.rate - time.monotonic()))
                dst.sendall(piece)
        except OSError:
            pass
        finally:
            for s in (src, dst):
                with contextlib.suppress(OSError):
                    s.shutdown(socket.SHUT_RDWR)
                s.close()

    def close(self) -> None:
        self._stop.set()
        self.listener.close()


def start_upload(server: ServerProcess, signed: SignedIn, data: bytes) -> str:
    r = requests.post(
        f"{server.url}/api/uploads",
        headers={
            **signed.headers,
            "Tus-Resumable": "1.0.0",
            "Upload-Length": str(len(data)),
            "Upload-Metadata": metadata(client_id=str(uuid.uuid4()), filetype="video/webm"),
        },
        timeout=10,
    )
    assert r.status_code == 201
    return f"{server.url}{r.headers['Location']}"


def server_offset(url: str, signed: SignedIn) -> int:
    head = requests.head(url, headers={**signed.headers, "Tus-Resumable": "1.0.0"}, timeout=10)
    assert head.status_code == 200
    return int(head.headers["Upload-Offset"])


def send_rest(url: str, signed: SignedIn, data: bytes, offset: int) -> int:
    """Send the rest of ``data`` from ``offset`` in one PATCH; return the status."""
    headers = {
        **signed.headers,
        "Tus-Resumable": "1.0.0",
        "Content-Type": OFFSET_STREAM,
        "Upload-Offset": str(offset),
    }
    return requests.patch(url, data=data[offset:], headers=headers, timeout=30).status_code


@pytest.fixture
def gunicorn(deployment: Deployment) -> Iterator[ServerProcess]:
    # Short deadlines, so the test sees them act; the mechanism is the deployed one.
    deployment.env.update(
        GUNICORN_CMD_ARGS="--keep-alive 2",
        VIGPARENT_UPLOAD_IDLE_TIMEOUT_S="2",
        VIGPARENT_UPLOAD_PATCH_DEADLINE_S="4",
    )
    server = ServerProcess("gunicorn", deployment.env).start()
    yield server
    server.stop()


def closed_by_server(sock: socket.socket) -> bool:
    sock.setblocking(False)
    try:
        return sock.recv(1) == b""
    except BlockingIOError:
        return False
    except OSError:
        return True


def test_fifty_idle_connections_leave_pages_answering_and_are_closed_by_the_deadline(
    gunicorn: ServerProcess,
):
    idle = []
    for i in range(50):
        s = socket.create_connection(("127.0.0.1", gunicorn.port), timeout=5)
        if i % 2:  # half never finish their headers; half say nothing at all
            s.sendall(b"GET /login HTTP/1.1\r\nHost: x\r\n")
        idle.append(s)
    # With a thread per connection these fifty would hold every thread: nothing would answer.
    r = requests.get(f"{gunicorn.url}/login", timeout=1.5)
    assert r.status_code == 200
    assert "Sign in" in r.text
    until(lambda: all(closed_by_server(s) for s in idle), "the server closes idle connections")
    for s in idle:
        s.close()


def test_a_phone_that_stops_sending_frees_its_upload_and_keeps_what_arrived(
    deployment: Deployment, gunicorn: ServerProcess
):
    data = webm_of(300_000)
    url = start_upload(gunicorn, deployment.signed, data)
    raw = RawPatch(url, deployment.signed.headers, 0, len(data))
    for pos in range(0, 100_000, 10_000):  # about 1 Mbit/s, then silence: a phone in a tunnel
        raw.send(data[pos : pos + 10_000])
        time.sleep(0.08)
    answer = raw.read_response()  # the idle timeout (2 s here) ends the wait
    while b"}" not in answer.split(b"\r\n\r\n", 1)[1]:  # the JSON body, which may lag
        answer += raw.sock.recv(65536)
    raw.close()
    assert answer.startswith(b"HTTP/1.1 400")
    assert b'"code":"interrupted"' in answer
    # Not 423: the upload's lock is free again. What was read is kept; only the piece being
    # read when the deadline passed is lost.
    kept = server_offset(url, deployment.signed)
    assert 100_000 - 2 * MIN_READ <= kept <= 100_000
    assert send_rest(url, deployment.signed, data, kept) == 204
    assert deployment.recording().sha256 == hashlib.sha256(data).hexdigest()


def test_a_fast_phone_that_stops_mid_patch_keeps_every_byte_written_on_another_core(
    deployment: Deployment, gunicorn: ServerProcess
):
    """On a fast link, large batches are sealed and written in the thread pool while the next
    bytes arrive (storage._Writer): a body that stops must still keep them all, in order."""
    data = webm_of(12 * MAX_READ)
    url = start_upload(gunicorn, deployment.signed, data)
    sent = 6 * MAX_READ
    raw = RawPatch(url, deployment.signed.headers, 0, len(data))
    raw.send(data[:sent])  # at loopback speed, then silence
    answer = raw.read_response()  # the idle timeout (2 s here) ends the wait
    raw.close()
    assert answer.startswith(b"HTTP/1.1 400")
    kept = server_offset(url, deployment.signed)
    assert sent - MAX_READ <= kept <= sent  # only the piece being read may be lost
    assert send_rest(url, deployment.signed, data, kept) == 204
    assert deployment.stored(deployment.recording()) == data


def test_a_trickling_phone_is_cut_off_at_the_patch_cap_and_resumes(
    deployment: Deployment, gunicorn: ServerProcess
):
    data = webm_of(200_000)
    url = start_upload(gunicorn, deployment.signed, data)
    raw = RawPatch(url, deployment.signed.headers, 0, len(data))
    sent = 0
    # A piece a second never trips the idle timeout (2 s here), only the PATCH cap (4 s).
    answer = b""
    raw.sock.settimeout(1.0)
    while sent < 20 * MIN_READ and not answer:
        raw.send(data[sent : sent + MIN_READ])
        sent += MIN_READ
        with contextlib.suppress(TimeoutError):
            answer = raw.sock.recv(65536)
    raw.close()
    assert answer.startswith(b"HTTP/1.1 400"), "the PATCH cap ended the body"
    offset = server_offset(url, deployment.signed)
    assert 0 < offset <= sent  # what was read before the cap is kept
    assert send_rest(url, deployment.signed, data, offset) == 204  # as tus clients carry on
    rec = deployment.recording()
    assert rec.sha256 == hashlib.sha256(data).hexdigest()


def test_withdrawal_answers_while_twenty_slow_phones_send_and_stops_only_its_own(
    deployment: Deployment, gunicorn: ServerProcess
):
    data = webm_of(400_000)
    # Long enough to be still sending when their family withdraws, however slow the machine.
    long_video = webm_of(4_000_000)
    digest = hashlib.sha256(data).hexdigest()
    withdrawing = deployment.signed  # this family's four phones are sending when it withdraws
    _, others = another_parent(deployment)
    link = SlowLink(gunicorn.port, rate_bps=1_000_000)  # 1 Mbit/s each, as on 4G
    outcomes: dict[str, str] = {}

    def phone(signed: SignedIn, client_id: str, video: bytes) -> None:
        c = tus_client.TusClient(
            f"http://127.0.0.1:{link.port}/api/uploads", headers=signed.headers
        )
        up = c.uploader(
            file_stream=io.BytesIO(video),
            chunk_size=128 * 1024,
            metadata={"client_id": client_id, "filetype": "video/webm"},
            retries=0,
        )
        try:
            up.upload()
            outcomes[client_id] = "sent"
        except TusCommunicationError as e:
            outcomes[client_id] = (e.response_content or b"").decode(errors="replace")

    tmp_before = set(_files(Path(tempfile.gettempdir())))
    mine = [str(uuid.uuid4()) for _ in range(4)]
    theirs = [str(uuid.uuid4()) for _ in range(16)]
    threads = [threading.Thread(target=phone, args=(withdrawing, c, long_video)) for c in mine]
    threads += [threading.Thread(target=phone, args=(others, c, data)) for c in theirs]
    for t in threads:
        t.start()

    def all_sending() -> bool:
        with deployment.app.app_context():
            rows = db.session().scalars(select(Recording)).all()
            store = media_store.store()
            # A new row is a moment ahead of its file: that phone is not sending yet.
            return len(rows) == 20 and all(
                store.exists(r.family_id, r.original_name)
                and store.size(r.family_id, r.original_name) > 0
                for r in rows
            )

    until(all_sending, "all twenty phones are part-way through")
    r = requests.post(
        f"{gunicorn.url}/withdrawal/withdraw",
        headers={**withdrawing.headers, "Accept": "application/json"},
        timeout=3,  # a thread-per-connection server would still be busy with the phones
    )
    assert r.status_code == 200
    assert r.json()["complete"] is True
    assert any(outcomes.get(c) is None for c in theirs), "the others were still sending"
    for t in threads:
        t.join(timeout=180)  # bounded; a loaded machine slows the throttled phones
    assert not [t for t in threads if t.is_alive()], "a phone never heard back"
    link.close()

    for c in mine:
        assert "consent_withdrawn" in outcomes[c], outcomes[c]
    assert all(outcomes[c] == "sent" for c in theirs), outcomes
    with deployment.app.app_context():
        rows = db.session().scalars(select(Recording)).all()
        assert sorted(r.client_id for r in rows) == sorted(theirs)  # one each, none of mine
        assert all(r.sha256 == digest for r in rows)
    settings = deployment.app.extensions["vig_settings"]
    family_dir = settings.media_dir / str(family_of(deployment, deployment.parent_id))
    assert not family_dir.exists() or not any(family_dir.iterdir())
    # Under this load too, no body was spooled anywhere in plaintext.
    new_tmp = set(_files(Path(tempfile.gettempdir()))) - tmp_before
    slices = [
        video[i : i + 4096]
        for video in (data, long_video)
        for i in range(4096, len(video) - 4096, 4096)
    ]
    for path in [*_files(settings.data_dir), *new_tmp]:
        with contextlib.suppress(OSError):
            content = path.read_bytes()
            assert not any(piece in content for piece in slices), f"plaintext in {path}"


def _files(root: Path) -> Iterator[Path]:
    for dirpath, _dirs, names in os.walk(root):
        for name in names:
            yield Path(dirpath, name)


# -- the quota under parallel creations ------------------------------------------------------


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest) -> str | None:
    return request.getfixturevalue("pg_database") if request.param == "postgresql" else None


def test_sixteen_creations_at_once_never_reserve_more_than_the_quota(
    tmp_path: Path, database_url: str | None
):
    deployment = Deployment(tmp_path / "data", database_url=database_url)
    quota = 20 * MIB
    parent_id, parent = another_parent(deployment, quota_bytes=quota)
    server = ServerProcess("gunicorn", deployment.env).start()
    try:
        start = threading.Barrier(16)
        answers: list[tuple[int, str]] = []

        def create() -> None:
            start.wait()
            r = requests.post(
                f"{server.url}/api/uploads",
                headers={
                    **parent.headers,
                    "Tus-Resumable": "1.0.0",
                    "Upload-Length": str(8 * MIB),
                    "Upload-Metadata": metadata(client_id=str(uuid.uuid4()), filetype="video/webm"),
                },
                timeout=30,
            )
            answers.append((r.status_code, r.json().get("code", "") if r.content else ""))

        threads = [threading.Thread(target=create) for _ in range(16)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=60)
    finally:
        server.stop()
    assert sorted(answers) == [(201, "")] * 2 + [(413, "quota_full")] * 14
    with deployment.app.app_context():
        reserved = db.session().scalar(select(func.sum(Recording.declared_size)))
        assert reserved == 16 * MIB <= quota
        files = media_store.store().names(family_of(deployment, parent_id))
        assert len(files) == 2  # no disk space set aside for the refused ones
    deployment.app.extensions["vig_engine"].dispose()


# -- what stays behind -------------------------------------------------------------------------
