"""The server process is SIGKILLed mid-upload, restarted, and the upload resumes to a
byte-identical file: durable offsets, no lost or doubled bytes, under real production servers.
"""

from __future__ import annotations

import base64
import hashlib
import io

import pytest
import requests
from tusclient import client as tus_client

from tests.support.parent_session import SignedIn
from tests.uploads.conftest import (
    OFFSET_STREAM,
    Deployment,
    RawPatch,
    ServerProcess,
    new_client_id,
    wait_for_upload_lock,
)
from vigparent.models import RecordingStatus

CHUNK = 32 * 1024
SERVERS = ["waitress"]
try:
    import gunicorn  # noqa: F401

    SERVERS.append("gunicorn")
except ImportError:  # pragma: no cover - gunicorn is the recommended deployment server
    pass


def head_offset(server: ServerProcess, url: str, signed: SignedIn) -> int:
    r = requests.head(url, headers={**signed.headers, "Tus-Resumable": "1.0.0"}, timeout=10)
    assert r.status_code == 200, r.status_code
    return int(r.headers["Upload-Offset"])


@pytest.mark.parametrize("kind", SERVERS)
def test_sigkill_mid_upload_then_resume_gives_a_byte_identical_file(
    deployment: Deployment, big_webm: bytes, kind: str
):
    server = ServerProcess(kind, deployment.env).start()
    try:
        c = tus_client.TusClient(f"{server.url}/api/uploads", headers=deployment.signed.headers)
        up = c.uploader(
            file_stream=io.BytesIO(big_webm),
            chunk_size=CHUNK,
            metadata={"client_id": new_client_id(), "filetype": "video/webm"},
            retries=0,
        )
        up.upload(stop_at=3 * CHUNK)
        url = up.url
        acknowledged = 3 * CHUNK

        # A PATCH is streaming its body when the server dies.
        raw = RawPatch(url, deployment.signed.headers, acknowledged, len(big_webm) - acknowledged)
        raw.send(big_webm[acknowledged : acknowledged + 60_000])
        if kind == "gunicorn":  # it streams: wait until the app is taking this body in
            wait_for_upload_lock(deployment.env["VIGPARENT_DATA_DIR"], url)
        # (waitress keeps a body out of sight until it is whole: nothing to wait for.)
        server.kill()
        raw.close()

        server = ServerProcess(kind, deployment.env, port=server.port).start()
        offset = head_offset(server, url, deployment.signed)
        # Never less than what was acknowledged; never more than what was sent. (waitress
        # only hands a request over once its body is complete, so it keeps none of the
        # unfinished PATCH; gunicorn streams, so it keeps what arrived, minus at most a torn
        # last storage chunk.)
        assert acknowledged <= offset <= acknowledged + 60_000
        if kind == "waitress":
            assert offset == acknowledged

        resumed = c.uploader(file_stream=io.BytesIO(big_webm), url=url, chunk_size=CHUNK, retries=0)
        assert resumed.offset == offset
        resumed.upload()

        status = requests.get(
            f"{server.url}/api/uploads/status",
            params={"client_id": up.metadata["client_id"]},
            headers=deployment.signed.headers,
            timeout=10,
        ).json()
        assert status["safe"] is True
        assert status["status"] == RecordingStatus.RECEIVED.value  # no job consumer runs here
        assert status["sha256"] == hashlib.sha256(big_webm).hexdigest()
        rec = deployment.recording()
        assert deployment.stored(rec) == big_webm
    finally:
        server.stop()


@pytest.mark.parametrize("kind", SERVERS)
def test_production_server_answers_expect_100_continue(deployment: Deployment, kind: str):
    server = ServerProcess(kind, deployment.env).start()
    try:
        data = b"\x1a\x45\xdf\xa3" + b"x" * 100
        r = requests.post(
            f"{server.url}/api/uploads",
            headers={
                **deployment.signed.headers,
                "Tus-Resumable": "1.0.0",
                "Upload-Length": str(len(data)),
                "Upload-Metadata": "client_id "
                + base64.b64encode(new_client_id().encode()).decode()
                + ",filetype "
                + base64.b64encode(b"video/webm").decode(),
            },
            timeout=10,
        )
        assert r.status_code == 201
        raw = RawPatch(
            f"{server.url}{r.headers['Location']}",
            deployment.signed.headers,
            0,
            len(data),
            Expect="100-continue",
        )
        interim = raw.sock.recv(1024)
        assert interim.startswith(b"HTTP/1.1 100 Continue\r\n")
        raw.send(data)
        response = raw.read_response()
        raw.close()
        # This tiny "WebM" is refused by the magic-byte check: a full, proper answer.
        assert response.startswith(b"HTTP/1.1 415")
        assert OFFSET_STREAM  # (imported for symmetry with the other tests)
    finally:
        server.stop()
