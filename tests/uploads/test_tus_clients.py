"""A real tus client (tuspy) and raw sockets against a live server: chunked, interrupted and
resumed, concurrent, Expect: 100-continue, and the content checks a parent would meet."""

from __future__ import annotations

import base64
import hashlib
import io
import random
import threading
import time
from urllib.parse import urlsplit

import pytest
import requests
from sqlalchemy import select
from tusclient import client as tus_client
from tusclient.exceptions import TusCommunicationError

from tests.support.media import stored_media
from tests.uploads.conftest import (
    OFFSET_STREAM,
    RawPatch,
    Tus,
    metadata,
    new_client_id,
    wait_for_upload_lock,
)
from vigparent import db, media_store
from vigparent.models import Recording, RecordingStatus

CHUNK = 32 * 1024


def tuspy(tus_url: str, tus: Tus) -> tus_client.TusClient:
    """tuspy with the parent's session cookie and CSRF header on every request."""
    return tus_client.TusClient(tus_url, headers=tus.signed.headers)


def uploader(c: tus_client.TusClient, data: bytes, client_id: str, **kw):  # type: ignore[no-untyped-def]
    return c.uploader(
        file_stream=io.BytesIO(data),
        chunk_size=kw.pop("chunk_size", CHUNK),
        metadata={"client_id": client_id, "filetype": kw.pop("filetype", "video/webm")},
        retries=0,
        **kw,
    )


def the_recording() -> Recording:
    db.session().expire_all()
    rows = list(db.session().scalars(select(Recording)))
    assert len(rows) == 1
    return rows[0]


def status_of(tus: Tus, client_id: str) -> dict:  # type: ignore[type-arg]
    return tus.status(client_id).json  # type: ignore[no-any-return]


def wait_for_offset(tus: Tus, url: str, at_least: int, timeout: float = 10) -> int:
    deadline = time.monotonic() + timeout
    while True:
        r = tus.head(urlsplit(url).path)
        offset = int(r.headers.get("Upload-Offset", -1))
        if offset >= at_least or time.monotonic() > deadline:
            return offset
        time.sleep(0.05)


# -- tuspy ---------------------------------------------------------------------------------


def test_tuspy_chunked_upload_with_checksums_becomes_one_ready_recording(tus_url, tus, big_webm):
    client_id = new_client_id()
    up = uploader(tuspy(tus_url, tus), big_webm, client_id, upload_checksum=True)
    up.upload()
    assert len(big_webm) > 5 * CHUNK  # several PATCHes
    rec = the_recording()
    assert rec.status is RecordingStatus.READY
    assert rec.sha256 == hashlib.sha256(big_webm).hexdigest()
    assert stored_media(rec) == big_webm
    assert rec.transcode_name and rec.poster_name
    status = status_of(tus, client_id)
    assert status["safe"] is True and status["sha256"] == hashlib.sha256(big_webm).hexdigest()


def test_tuspy_interrupted_and_resumed_sends_no_byte_twice(tus_url, tus, big_webm):
    client_id = new_client_id()
    c = tuspy(tus_url, tus)
    first = uploader(c, big_webm, client_id)
    first.upload(stop_at=3 * CHUNK)  # "the phone lost signal"
    url = first.url
    assert tus.head(urlsplit(url).path).headers["Upload-Offset"] == str(3 * CHUNK)

    # A fresh client (the page was reloaded) resumes from the URL it kept.
    sent: list[int] = []
    resumed = c.uploader(file_stream=io.BytesIO(big_webm), url=url, chunk_size=CHUNK, retries=0)
    assert resumed.offset == 3 * CHUNK
    while resumed.offset < len(big_webm):
        before = resumed.offset
        resumed.upload_chunk()
        sent.append(resumed.offset - before)
    assert sum(sent) == len(big_webm) - 3 * CHUNK
    rec = the_recording()
    assert stored_media(rec) == big_webm
    assert rec.sha256 == hashlib.sha256(big_webm).hexdigest()


def test_tuspy_same_client_id_twice_gives_the_same_url(tus_url, tus, webm):
    client_id = new_client_id()
    c = tuspy(tus_url, tus)
    a = uploader(c, webm, client_id)
    b = uploader(c, webm, client_id)
    assert a.create_url() == b.create_url()
    b.upload()
    assert the_recording().status is RecordingStatus.READY


def test_tuspy_random_bytes_named_mp4_are_refused_with_a_reason(tus_url, tus):
    junk = random.Random(1).randbytes(200_000)
    client_id = new_client_id()
    up = uploader(tuspy(tus_url, tus), junk, client_id, filetype="video/mp4")
    with pytest.raises(TusCommunicationError) as refused:
        up.upload()
    assert refused.value.status_code == 415
    rec = the_recording()
    assert rec.status is RecordingStatus.REJECTED
    assert not media_store.store().exists(rec.family_id, rec.original_name)
    assert status_of(tus, client_id)["reason"] == "This file is not a video we can play."


def test_webm_with_valid_header_and_garbage_after_is_rejected_after_decoding(
    tus_url, tus, garbage_webm
):
    client_id = new_client_id()
    up = uploader(tuspy(tus_url, tus), garbage_webm, client_id)
    up.upload()  # the header looks right, so the upload itself completes
    rec = the_recording()
    assert rec.status is RecordingStatus.REJECTED
    assert rec.rejection_reason
    assert not media_store.store().exists(rec.family_id, rec.original_name)
    status = status_of(tus, client_id)
    assert status["status"] == "rejected"
    assert status["safe"] is False
    assert status["reason"] == rec.rejection_reason
    assert status["message"].startswith("Not accepted.")


def test_mp4_upload_is_transcoded_with_a_poster(tus_url, tus, mp4):
    uploader(tuspy(tus_url, tus), mp4, new_client_id(), filetype="video/mp4").upload()
    rec = the_recording()
    assert rec.status is RecordingStatus.READY
    assert rec.container == "mp4"
    assert rec.duration_s == pytest.approx(2.0, abs=0.1)
    store = media_store.store()
    with store.open(rec.family_id, rec.transcode_name) as f:
        assert f.read(12)[4:8] == b"ftyp"
    with store.open(rec.family_id, rec.poster_name) as f:
        assert f.read(3) == b"\xff\xd8\xff"  # JPEG


# -- interruptions mid-body ------------------------------------------------------------------


def test_connection_dropped_mid_patch_keeps_what_arrived(tus_url, tus, big_webm):
    url = tus.create(len(big_webm)).headers["Location"]
    full = f"{tus_url.rsplit('/api/uploads', 1)[0]}{url}"
    raw = RawPatch(full, tus.signed.headers, 0, len(big_webm))
    raw.send(big_webm[:100_000])
    wait_for_upload_lock(tus.data_dir, url)  # the server is taking the body in
    raw.close()  # the phone went into a tunnel
    offset = wait_for_offset(tus, url, 100_000)
    assert offset == 100_000  # every byte that arrived was kept and made durable
    # Resume from exactly there.
    assert tus.patch(url, offset, big_webm[offset:]).status_code == 204
    rec = the_recording()
    assert rec.sha256 == hashlib.sha256(big_webm).hexdigest()


def test_partial_body_of_a_checksummed_patch_is_rolled_back(tus_url, tus, big_webm):
    url = tus.create(len(big_webm)).headers["Location"]
    full = f"{tus_url.rsplit('/api/uploads', 1)[0]}{url}"
    checksum = (
        "sha1 " + base64.b64encode(hashlib.sha1(big_webm, usedforsecurity=False).digest()).decode()
    )
    raw = RawPatch(full, tus.signed.headers, 0, len(big_webm), **{"Upload-Checksum": checksum})
    raw.send(big_webm[:100_000])
    wait_for_upload_lock(tus.data_dir, url)
    raw.close()
    # Unverifiable, so none of it counts; the lock is free again for the retry.
    wait_for_upload_lock(tus.data_dir, url, held=False)
    assert wait_for_offset(tus, url, 1, timeout=1) == 0
    assert tus.patch(url, 0, big_webm, **{"Upload-Checksum": checksum}).status_code == 204


def test_two_concurrent_patches_are_refused_not_interleaved(tus_url, tus, big_webm):
    url = tus.create(len(big_webm)).headers["Location"]
    full = f"{tus_url.rsplit('/api/uploads', 1)[0]}{url}"
    slow = RawPatch(full, tus.signed.headers, 0, len(big_webm))
    slow.send(big_webm[:100_000])
    # The first PATCH holds the upload's lock, waiting for more bytes.
    wait_for_upload_lock(tus.data_dir, url)

    second = requests.patch(
        full,
        headers={
            **tus.signed.headers,
            "Tus-Resumable": "1.0.0",
            "Content-Type": OFFSET_STREAM,
            "Upload-Offset": "0",
        },
        data=big_webm,
        timeout=10,
    )
    assert second.status_code == 423
    assert second.json()["code"] == "busy"
    # HEAD says "locked" too (tus-js-client then waits and retries), as tusd does.
    assert tus.head(url).status_code == 423

    slow.send(big_webm[100_000:])
    response = slow.read_response()
    slow.close()
    assert response.startswith(b"HTTP/1.1 204")
    assert f"Upload-Offset: {len(big_webm)}".encode() in response
    assert stored_media(the_recording()) == big_webm


def test_chunked_body_past_upload_length_is_rolled_back(tus_url, tus, webm):
    """Without Content-Length the store's limit catches it, and puts the file back."""
    url = tus.create(len(webm)).headers["Location"]
    tus.patch(url, 0, webm[:100])
    full = f"{tus_url.rsplit('/api/uploads', 1)[0]}{url}"

    def chunks():  # type: ignore[no-untyped-def]
        yield webm[100:]
        yield b"one byte too many"

    r = requests.patch(
        full,
        headers={
            **tus.signed.headers,
            "Tus-Resumable": "1.0.0",
            "Content-Type": OFFSET_STREAM,
            "Upload-Offset": "100",
        },
        data=chunks(),
        timeout=10,
    )
    assert r.status_code == 413
    assert stored_media(the_recording()) == webm[:100]


def test_checksum_mismatch_status_460_reaches_a_real_client(tus_url, tus, webm):
    url = tus.create(len(webm)).headers["Location"]
    full = f"{tus_url.rsplit('/api/uploads', 1)[0]}{url}"
    wrong = (
        "sha1 "
        + base64.b64encode(hashlib.sha1(b"something else", usedforsecurity=False).digest()).decode()
    )
    r = requests.patch(
        full,
        headers={
            **tus.signed.headers,
            "Tus-Resumable": "1.0.0",
            "Content-Type": OFFSET_STREAM,
            "Upload-Offset": "0",
            "Upload-Checksum": wrong,
        },
        data=webm,
        timeout=10,
    )
    assert r.status_code == 460
    assert r.headers["Tus-Resumable"] == "1.0.0"
    assert stored_media(the_recording()) == b""


# -- Expect: 100-continue --------------------------------------------------------------------


def test_expect_100_continue_gets_the_interim_response_before_the_body(tus_url, tus, webm):
    url = tus.create(len(webm)).headers["Location"]
    full = f"{tus_url.rsplit('/api/uploads', 1)[0]}{url}"
    raw = RawPatch(full, tus.signed.headers, 0, len(webm), Expect="100-continue")
    interim = raw.sock.recv(1024)
    assert interim.startswith(b"HTTP/1.1 100 Continue\r\n")
    raw.send(webm)
    response = raw.read_response()
    raw.close()
    assert response.startswith(b"HTTP/1.1 204")
    assert the_recording().sha256 == hashlib.sha256(webm).hexdigest()


def test_concurrent_creations_over_http_make_one_recording(tus_url, tus, webm):
    client_id = new_client_id()
    results: list[str] = []

    def create() -> None:
        r = requests.post(
            tus_url,
            headers={
                **tus.signed.headers,
                "Tus-Resumable": "1.0.0",
                "Upload-Length": str(len(webm)),
                "Upload-Metadata": metadata(client_id=client_id, filetype="video/webm"),
            },
            timeout=10,
        )
        results.append(r.headers["Location"])

    threads = [threading.Thread(target=create) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(set(results)) == 1
    the_recording()
