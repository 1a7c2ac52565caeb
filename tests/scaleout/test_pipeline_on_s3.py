"""The whole journey with media in the bucket: a tus upload, the video jobs (remux,
transcode, poster), a clip, playback by range, then withdrawal. No object, and no file a
node keeps, ever holds plaintext; withdrawal leaves nothing in the bucket and no key; the
retention sweep finds stray objects in the bucket too."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from flask import Flask
from sqlalchemy import select

from tests.conftest import make_test_settings
from tests.scaleout.conftest import REGION, TEST_CREDENTIALS, bucket_keys, s3_client
from tests.support.parent_session import create_consenting_family, sign_in
from tests.uploads.conftest import Tus
from tests.withdrawal.conftest import (
    data_files,
    file_contains,
    sent_processed_and_clipped,
    video_bytes,
)
from vigparent import create_app, db, media_store, retention
from vigparent.db import Base
from vigparent.models import Clip, User
from vigparent.object_store import ObjectMediaStore
from vigparent.withdrawal import service as withdrawal


@pytest.fixture(scope="module")
def marked_video() -> tuple[bytes, bytes]:
    marker = b"VIG-PLAINTEXT-MARKER-5e1d02"
    return marker, video_bytes(marker)


@pytest.fixture
def s3_app(tmp_path: Path, s3_url: str, bucket: str) -> Iterator[Flask]:
    settings = make_test_settings(
        tmp_path / "data",
        s3_bucket=bucket,
        s3_endpoint_url=s3_url,
        s3_region=REGION,
        s3_access_key_id=TEST_CREDENTIALS["aws_access_key_id"],
        s3_secret_access_key=TEST_CREDENTIALS["aws_secret_access_key"],
        s3_segment_bytes=64 * 1024,
    )
    app = create_app(settings)
    with app.app_context():
        Base.metadata.create_all(app.extensions["vig_engine"])
    yield app
    app.extensions["vig_engine"].dispose()


def test_upload_jobs_clip_and_withdrawal_with_media_in_the_bucket(
    s3_app: Flask, s3_url: str, bucket: str, marked_video: tuple[bytes, bytes]
) -> None:
    marker, data = marked_video
    parent_id = create_consenting_family(s3_app)
    with s3_app.app_context():
        store = media_store.store()
        assert isinstance(store, ObjectMediaStore)
        s = db.session()
        parent = s.get(User, parent_id)
        assert parent is not None and parent.family is not None
        family = parent.family
        tus = Tus(s3_app.test_client(), sign_in(s3_app, parent_id), family, parent)
        recording, clip = sent_processed_and_clipped(tus, family, data)

        # The bucket holds the real video, readable by range through the app...
        with store.read_range(family.id, recording.original_name, 0, len(data) - 1) as pieces:
            assert b"".join(pieces) == data
        names = set(store.names(family.id))
        assert {recording.original_name, recording.transcode_name, clip.media_name} <= names

        # ...and no object or local file holds any of it in clear.
        head = data[: 64 * 1024]
        needles = [marker, *(head[i : i + 512] for i in range(4096, len(head) - 512, 8192))]
        objects = bucket_keys(s3_url, bucket)
        assert len(objects) >= len(names)
        leaks = [k for k in objects if any(n in store.read_object(k) for n in needles)]
        assert leaks == []
        assert [p for p in data_files(s3_app) if file_contains(p, needles)] == []

        withdrawal.withdraw_consent(family, parent)
        assert bucket_keys(s3_url, bucket) == []
        assert not media_store.keyring().has_key(family.id)
        assert s.scalars(select(Clip).where(Clip.family_id == family.id)).all() == []


def test_the_sweep_removes_objects_of_families_that_may_hold_no_media(
    s3_app: Flask, s3_url: str, bucket: str
) -> None:
    # Objects of a family with no row (erased by hand, or an upload that raced a deletion).
    ghost = 4242
    key = f"media/{ghost}/mp4-abcdefghijklmnopqrstuvwx/{0:016d}"
    s3_client(s3_url).put_object(Bucket=bucket, Key=key, Body=b"ciphertext")
    with s3_app.app_context():
        assert media_store.store().families() == [ghost]
        report = retention.sweep()
    assert f"Family {ghost} may no longer hold media: deleted 1 files" in str(report)
    assert bucket_keys(s3_url, bucket) == []
