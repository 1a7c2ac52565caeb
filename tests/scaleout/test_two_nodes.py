"""Two web nodes (gunicorn, as deployed) on different ports and different data dirs, sharing
only PostgreSQL (the app's database and, apart from it, the key store), Redis and an
S3-protocol server (moto's; MinIO or AWS S3 in production). A phone's upload may reach
either node for any PATCH, a node may die, and a withdrawal on one node must delete what
went through the other, leaving nothing in the bucket.
"""

from __future__ import annotations

import base64
import hashlib
import io
import os
import re
import secrets
import time
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import redis
import requests
from flask import Flask
from sqlalchemy import create_engine, text
from tusclient import client as tus_client

from tests.scaleout.conftest import bucket_keys, new_bucket, s3_env
from tests.support.media import stored_media
from tests.support.parent_session import SignedIn, create_consenting_family, sign_in
from tests.uploads.conftest import OFFSET_STREAM, RawPatch, ServerProcess, _video, new_client_id
from vigparent import create_app, db, media_store
from vigparent.config import load_settings
from vigparent.db import Base
from vigparent.keystore import DatabaseKeyStore
from vigparent.models import Recording, User
from vigparent.uploads.locks import redis_lock_name

CHUNK = 32 * 1024
LOCK_TTL_S = 3


def _pg_url() -> str:
    url = os.environ.get("VIGPARENT_TEST_POSTGRES_URL", "")
    if not url:
        if os.environ.get("CI") == "true":
            pytest.fail("VIGPARENT_TEST_POSTGRES_URL is not set in CI")
        pytest.skip("no PostgreSQL server (set VIGPARENT_TEST_POSTGRES_URL)")
    return url


class Cluster:
    """Two nodes, the shared servers, and an app in this process to set up rows and look."""

    def __init__(self, root: Path, pg_url: str, redis_url: str, s3_url: str) -> None:
        self.admin = create_engine(pg_url, isolation_level="AUTOCOMMIT")
        self.databases = [f"vig_{secrets.token_hex(4)}" for _ in range(2)]
        with self.admin.connect() as conn:
            for name in self.databases:
                conn.execute(text(f'CREATE DATABASE "{name}"'))
        base = pg_url.rsplit("/", 1)[0]
        self.s3_url = s3_url
        self.bucket = new_bucket(s3_url)
        self.redis = redis.Redis.from_url(redis_url)
        self.keystore_url = f"{base}/{self.databases[1]}"
        shared = {
            **os.environ,
            "DATABASE_URL": f"{base}/{self.databases[0]}",
            "VIGPARENT_KEYSTORE_URL": self.keystore_url,
            "VIGPARENT_REDIS_URL": redis_url,
            **s3_env(s3_url, self.bucket),
            # Small segments: one PATCH spans several objects.
            "VIGPARENT_S3_SEGMENT_BYTES": str(50_000),
            "VIGPARENT_UPLOAD_LOCK_TTL_S": str(LOCK_TTL_S),
            "SECRET_KEY": secrets.token_urlsafe(48),
            "VIGPARENT_MASTER_KEY": base64.b64encode(os.urandom(32)).decode(),
        }
        for name in ("HUEY_REDIS_URL", "VIGPARENT_ENV", "RATELIMIT_STORAGE_URI"):
            shared.pop(name, None)
        # Nothing else is shared: each node has a data dir of its own.
        self.envs = [{**shared, "VIGPARENT_DATA_DIR": str(root / f"node-{n}")} for n in ("a", "b")]
        self.app: Flask = create_app(
            load_settings({**shared, "VIGPARENT_DATA_DIR": str(root / "setup")})
        )
        with self.app.app_context():
            Base.metadata.create_all(self.app.extensions["vig_engine"])
        self.nodes = [ServerProcess("gunicorn", env).start() for env in self.envs]

    def restart(self, n: int) -> ServerProcess:
        self.nodes[n] = ServerProcess("gunicorn", self.envs[n], port=self.nodes[n].port).start()
        return self.nodes[n]

    def parent(self) -> tuple[int, SignedIn]:
        parent_id = create_consenting_family(self.app)
        return parent_id, sign_in(self.app, parent_id)

    def family_of(self, parent_id: int) -> int:
        with self.app.app_context():
            parent = db.session().get(User, parent_id)
            assert parent is not None and parent.family_id is not None
            return parent.family_id

    def recording(self, family_id: int) -> Recording:
        with self.app.app_context():
            rows = db.session().query(Recording).filter_by(family_id=family_id).all()
            assert len(rows) == 1
            db.session().expunge(rows[0])
            return rows[0]

    def stored(self, rec: Recording) -> bytes:
        with self.app.app_context():
            return stored_media(rec)

    def object_keys(self) -> list[str]:
        return bucket_keys(self.s3_url, self.bucket)

    def close(self) -> None:
        for node in self.nodes:
            node.stop()
        with self.app.app_context():
            db.session().close()
        self.app.extensions["vig_engine"].dispose()
        store = self.app.extensions["vig_keyring"].store
        if isinstance(store, DatabaseKeyStore):
            store.dispose()
        with self.admin.connect() as conn:
            for name in self.databases:
                conn.execute(text(f'DROP DATABASE "{name}" WITH (FORCE)'))
        self.admin.dispose()
        self.redis.close()


@pytest.fixture(scope="module")
def cluster(
    tmp_path_factory: pytest.TempPathFactory, redis_url: str, s3_url: str
) -> Iterator[Cluster]:
    c = Cluster(tmp_path_factory.mktemp("cluster"), _pg_url(), redis_url, s3_url)
    try:
        yield c
    finally:
        c.close()


@pytest.fixture(scope="module")
def video() -> bytes:
    """About 220 KB of real WebM: several PATCHes, several segments."""
    return _video("webm", 6.0, (854, 480), fps=30)


def on(node: ServerProcess, url: str) -> str:
    """The same upload URL, on another node."""
    return f"{node.url}{urlsplit(url).path}"


def tus(node: ServerProcess, signed: SignedIn) -> tus_client.TusClient:
    return tus_client.TusClient(f"{node.url}/api/uploads", headers=signed.headers)


def head(node: ServerProcess, url: str, signed: SignedIn) -> requests.Response:
    return requests.head(
        on(node, url), headers={**signed.headers, "Tus-Resumable": "1.0.0"}, timeout=10
    )


def wait_for_lock(cluster: Cluster, url: str, held: bool = True) -> None:
    """Poll Redis until a PATCH on some node holds (or no longer holds) the upload's lock."""
    name = redis_lock_name(urlsplit(url).path.rsplit("/", 1)[1])
    deadline = time.monotonic() + 20
    while bool(cluster.redis.exists(name)) != held:
        if time.monotonic() > deadline:
            pytest.fail(f"the upload's lock was never {'taken' if held else 'let go'}")
        time.sleep(0.02)


def upload_status(node: ServerProcess, signed: SignedIn, client_id: str) -> dict[str, object]:
    r = requests.get(
        f"{node.url}/api/uploads/status",
        params={"client_id": client_id},
        headers=signed.headers,
        timeout=10,
    )
    assert r.status_code == 200
    answer: dict[str, object] = r.json()
    return answer


def test_patches_alternating_between_nodes_make_a_byte_identical_recording(
    cluster: Cluster, video: bytes
) -> None:
    parent_id, signed = cluster.parent()
    a, b = cluster.nodes
    client_id = new_client_id()
    first = tus(a, signed).uploader(
        file_stream=io.BytesIO(video),
        chunk_size=CHUNK,
        metadata={"client_id": client_id, "filetype": "video/webm"},
        retries=0,
    )
    first.upload_chunk()
    url = first.url
    patches = 1
    while True:
        node = (a, b)[patches % 2]
        up = tus(node, signed).uploader(
            file_stream=io.BytesIO(video), url=on(node, url), chunk_size=CHUNK, retries=0
        )
        if up.offset == len(video):
            break
        up.upload_chunk()
        patches += 1
    assert patches >= 6  # several PATCHes on each node

    status = upload_status(b, signed, client_id)
    assert status["safe"] is True
    assert status["sha256"] == hashlib.sha256(video).hexdigest()
    rec = cluster.recording(cluster.family_of(parent_id))
    assert cluster.stored(rec) == video

    # The plaintext scan covers the bucket: no object holds any part of the video in clear.
    needles = [video[i : i + 512] for i in range(0, len(video) - 512, 20_000)]
    assert len(cluster.object_keys()) > 1
    for key in cluster.object_keys():
        with cluster.app.app_context():
            stored = media_store.store().read_object(key)  # type: ignore[attr-defined]
        assert not any(n in stored for n in needles), key
    # ...nor anything the nodes left on their own disks (spooled ciphertext, lock files).
    for env in cluster.envs:
        for path in Path(env["VIGPARENT_DATA_DIR"]).rglob("*"):
            if path.is_file():
                data = path.read_bytes()
                assert not any(n in data for n in needles), path


def test_a_second_patch_on_another_node_is_refused_while_one_runs(
    cluster: Cluster, video: bytes
) -> None:
    _parent_id, signed = cluster.parent()
    a, b = cluster.nodes
    up = tus(a, signed).uploader(
        file_stream=io.BytesIO(video),
        chunk_size=CHUNK,
        metadata={"client_id": new_client_id(), "filetype": "video/webm"},
        retries=0,
    )
    up.upload_chunk()
    url, offset = up.url, CHUNK
    raw = RawPatch(on(a, url), signed.headers, offset, len(video) - offset)
    try:
        raw.send(video[offset : offset + 30_000])
        wait_for_lock(cluster, url)
        second = requests.patch(
            on(b, url),
            data=video[offset : offset + 1000],
            headers={
                **signed.headers,
                "Tus-Resumable": "1.0.0",
                "Content-Type": OFFSET_STREAM,
                "Upload-Offset": str(offset),
            },
            timeout=10,
        )
        assert second.status_code == 423
        assert head(b, url, signed).status_code == 423
        raw.send(video[offset + 30_000 :])
        assert b" 204 " in raw.read_response().split(b"\r\n", 1)[0]
    finally:
        raw.close()
    wait_for_lock(cluster, url, held=False)
    assert head(b, url, signed).headers["Upload-Offset"] == str(len(video))


def test_a_node_killed_mid_upload_and_the_phone_resumes_on_the_other(
    cluster: Cluster, video: bytes
) -> None:
    parent_id, signed = cluster.parent()
    a, b = cluster.nodes
    client_id = new_client_id()
    up = tus(a, signed).uploader(
        file_stream=io.BytesIO(video),
        chunk_size=CHUNK,
        metadata={"client_id": client_id, "filetype": "video/webm"},
        retries=0,
    )
    up.upload(stop_at=2 * CHUNK)
    url, acknowledged = up.url, 2 * CHUNK
    sent = (len(video) - acknowledged) * 3 // 4
    raw = RawPatch(on(a, url), signed.headers, acknowledged, len(video) - acknowledged)
    try:
        raw.send(video[acknowledged : acknowledged + sent])
        wait_for_lock(cluster, url)
        a.kill()  # SIGKILL mid-PATCH: no cleanup, its Redis lock is left to expire
    finally:
        raw.close()
    try:
        # The dead node's lock runs out within its TTL; until then the upload is busy.
        deadline = time.monotonic() + 10 * LOCK_TTL_S
        while (answer := head(b, url, signed)).status_code == 423:
            assert time.monotonic() < deadline, "the dead node's lock never ran out"
            time.sleep(0.2)
        assert answer.status_code == 200
        offset = int(answer.headers["Upload-Offset"])
        # Never less than acknowledged, never more than sent: the segments PUT before the
        # node died (every 50 kB here) are kept.
        assert acknowledged <= offset <= acknowledged + sent
        resumed = tus(b, signed).uploader(
            file_stream=io.BytesIO(video), url=on(b, url), chunk_size=CHUNK, retries=0
        )
        assert resumed.offset == offset
        resumed.upload()
        assert upload_status(b, signed, client_id)["sha256"] == hashlib.sha256(video).hexdigest()
        assert cluster.stored(cluster.recording(cluster.family_of(parent_id))) == video
    finally:
        cluster.restart(0)


def test_a_withdrawal_on_one_node_deletes_what_went_through_the_other(
    cluster: Cluster, video: bytes
) -> None:
    parent_id, signed = cluster.parent()
    family_id = cluster.family_of(parent_id)
    a, b = cluster.nodes
    up = tus(b, signed).uploader(
        file_stream=io.BytesIO(video),
        chunk_size=CHUNK,
        metadata={"client_id": new_client_id(), "filetype": "video/webm"},
        retries=0,
    )
    up.upload()
    prefix = f"media/{family_id}/"
    assert any(k.startswith(prefix) for k in cluster.object_keys())
    keystore = DatabaseKeyStore(cluster.keystore_url)
    try:
        assert keystore.read(family_id) is not None

        r = requests.post(
            f"{a.url}/withdrawal/withdraw",
            headers={**signed.headers, "Accept": "application/json"},
            timeout=30,
        )
        assert r.status_code == 200, r.text
        assert r.json()["complete"] is True

        assert [k for k in cluster.object_keys() if k.startswith(prefix)] == []
        assert keystore.read(family_id) is None  # crypto-shredded on every node at once
    finally:
        keystore.dispose()


def test_rate_limits_count_across_nodes(cluster: Cluster) -> None:
    a, b = cluster.nodes
    browser = requests.Session()
    page = browser.get(f"{a.url}/login", timeout=10).text
    match = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', page)
    assert match is not None
    codes = [
        browser.post(
            f"{(a, b)[n % 2].url}/login",
            data={"csrf_token": match[1], "email": "nobody@example.org", "password": "wrong!!"},
            timeout=10,
        ).status_code
        for n in range(11)
    ]
    # Ten tries a minute from one address, counted in Redis: the eleventh is refused on
    # whichever node it reaches (each node alone has seen only five or six).
    assert codes[:10] == [401] * 10
    assert codes[10] == 429
