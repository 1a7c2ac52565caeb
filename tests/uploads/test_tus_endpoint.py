"""The tus 1.0.0 endpoint, request by request: headers and status codes exactly as the spec
says, and what the parent reads when something is refused."""

from __future__ import annotations

import base64
import hashlib
import io
import re
import threading
from datetime import datetime

import pytest
from sqlalchemy import func, select

from tests.conftest import Factory
from tests.support.media import stored_media
from tests.support.parent_session import sign_in
from tests.uploads.conftest import OFFSET_STREAM, Tus, metadata, new_client_id
from vigparent import db, media_store
from vigparent.models import (
    ConsentKind,
    ConsentRecord,
    Cycle,
    FamilyStatus,
    Recording,
    RecordingStatus,
)

HTTP_DATE = re.compile(r"[A-Z][a-z]{2}, \d{2} [A-Z][a-z]{2} \d{4} \d{2}:\d{2}:\d{2} GMT")


def recordings() -> list[Recording]:
    db.session().expire_all()
    return list(db.session().scalars(select(Recording)))


def only_recording() -> Recording:
    rows = recordings()
    assert len(rows) == 1
    return rows[0]


def sha1_header(data: bytes) -> str:
    return "sha1 " + base64.b64encode(hashlib.sha1(data, usedforsecurity=False).digest()).decode()


# -- discovery and versions ----------------------------------------------------------------


def test_options_advertises_version_extensions_checksums_and_max_size(client, app):
    r = client.options("/api/uploads")
    assert r.status_code == 204
    assert r.headers["Tus-Resumable"] == "1.0.0"
    assert r.headers["Tus-Version"] == "1.0.0"
    assert r.headers["Tus-Extension"] == (
        "creation,creation-with-upload,termination,expiration,checksum"
    )
    assert r.headers["Tus-Checksum-Algorithm"] == "sha1,sha256"
    assert r.headers["Tus-Max-Size"] == str(app.extensions["vig_settings"].max_upload_bytes)


def test_unsupported_tus_version_is_412_with_tus_version(tus: Tus):
    r = tus.client.post(
        "/api/uploads",
        headers={**tus.headers(), "Tus-Resumable": "0.2.2", "Upload-Length": "10"},
    )
    assert r.status_code == 412
    assert r.headers["Tus-Version"] == "1.0.0"
    assert r.headers["Tus-Resumable"] == "1.0.0"
    assert recordings() == []


# -- creation ------------------------------------------------------------------------------


def test_creation_answers_201_with_location_offset_and_expiry(tus: Tus, frozen_clock, webm):
    r = tus.create(len(webm), recorded_at="2026-11-25T21:04:05.123Z", filename="Sam bath.webm")
    assert r.status_code == 201
    assert re.fullmatch(r"/api/uploads/[A-Za-z0-9_-]{32}", r.headers["Location"])
    assert r.headers["Upload-Offset"] == "0"
    assert r.headers["Upload-Expires"] == "Sat, 28 Nov 2026 12:00:00 GMT"
    assert r.headers["Tus-Resumable"] == "1.0.0"
    rec = only_recording()
    assert rec.status is RecordingStatus.UPLOADING
    assert rec.declared_size == len(webm)
    assert rec.recorded_at == datetime(2026, 11, 25, 21, 4, 5, 123000)
    assert "Sam bath" not in rec.upload_metadata  # file names are not kept

    h = tus.head(r.headers["Location"])
    assert h.status_code == 200
    assert h.headers["Upload-Offset"] == "0"
    assert h.headers["Upload-Length"] == str(len(webm))
    assert "no-store" in h.headers["Cache-Control"]
    assert HTTP_DATE.fullmatch(h.headers["Upload-Expires"])
    # The metadata we act on is echoed exactly as sent, without the file name.
    echoed = dict(pair.split(" ") for pair in h.headers["Upload-Metadata"].split(","))
    assert set(echoed) == {"client_id", "filetype", "recorded_at"}
    assert base64.b64decode(echoed["filetype"]) == b"video/webm"


def test_same_client_id_returns_the_same_upload_never_two_recordings(tus: Tus, webm):
    client_id = new_client_id()
    first = tus.create(len(webm), client_id=client_id)
    tus.patch(first.headers["Location"], 0, webm[:1000])
    again = tus.create(len(webm), client_id=client_id.upper())
    assert again.status_code == 201
    assert again.headers["Location"] == first.headers["Location"]
    assert again.headers["Upload-Offset"] == "1000"
    assert len(recordings()) == 1


def test_a_fast_upload_writes_its_row_at_most_once_a_second_but_answers_the_truth(
    tus: Tus, webm, frozen_clock
):
    """The row's received_size is a cache of the file: PATCHes within a second answer the
    right offset without writing it; HEAD, a repeated POST and the next second catch up."""
    client_id = new_client_id()
    url = tus.create(len(webm), client_id=client_id).headers["Location"]
    assert tus.patch(url, 0, webm[:1000]).headers["Upload-Offset"] == "1000"
    assert only_recording().received_size == 1000  # the first bytes are always written
    assert tus.patch(url, 1000, webm[1000:2000]).headers["Upload-Offset"] == "2000"
    assert only_recording().received_size == 1000  # the same second: not written
    assert tus.create(len(webm), client_id=client_id).headers["Upload-Offset"] == "2000"
    assert tus.head(url).headers["Upload-Offset"] == "2000"
    assert only_recording().received_size == 2000  # HEAD reads the file and writes the row
    frozen_clock(seconds=1)
    r = tus.patch(url, 2000, webm[2000:3000])
    assert r.headers["Upload-Offset"] == "3000"
    rec = only_recording()
    assert rec.received_size == 3000
    assert r.headers["Upload-Expires"] == "Sat, 28 Nov 2026 12:00:01 GMT"  # moved on too


def test_same_client_id_with_another_length_is_409(tus: Tus, webm):
    client_id = new_client_id()
    tus.create(len(webm), client_id=client_id)
    r = tus.create(len(webm) + 1, client_id=client_id)
    assert r.status_code == 409
    assert r.json["code"] == "length_mismatch"
    assert len(recordings()) == 1


def test_racing_creations_with_one_client_id_make_one_recording(app, tus: Tus, webm):
    client_id = new_client_id()
    locations: list[str] = []

    def create() -> None:
        c = app.test_client()
        c.set_cookie(tus.signed.cookie_name, tus.signed.cookie_value)
        r = c.post(
            "/api/uploads",
            headers=tus.headers(
                **{
                    "Upload-Length": str(len(webm)),
                    "Upload-Metadata": metadata(client_id=client_id, filetype="video/webm"),
                }
            ),
        )
        assert r.status_code == 201, r.get_data(as_text=True)
        locations.append(r.headers["Location"])

    threads = [threading.Thread(target=create) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(set(locations)) == 1
    assert len(recordings()) == 1
    # The losers' blobs were removed: one file for one recording.
    assert len(media_store.store().names(tus.family.id)) == 1


def test_creation_with_upload_sends_the_first_bytes_in_the_post(tus: Tus, webm):
    r = tus.create(len(webm), body=webm[:5000])
    assert r.status_code == 201
    assert r.headers["Upload-Offset"] == "5000"
    r = tus.patch(r.headers["Location"], 5000, webm[5000:])
    assert r.status_code == 204
    rec = only_recording()
    assert rec.sha256 == hashlib.sha256(webm).hexdigest()


def test_a_retried_creation_with_upload_does_not_append_twice(tus: Tus, webm):
    client_id = new_client_id()
    tus.create(len(webm), client_id=client_id, body=webm[:5000])
    again = tus.create(len(webm), client_id=client_id, body=webm[:5000])
    assert again.headers["Upload-Offset"] == "5000"
    assert stored_media(only_recording()) == webm[:5000]


@pytest.mark.parametrize(
    ("headers", "code"),
    [
        ({}, "bad_request"),  # no Upload-Length
        ({"Upload-Length": "-5"}, "bad_request"),
        ({"Upload-Length": "10", "Upload-Defer-Length": "1"}, "bad_request"),
    ],
)
def test_creation_needs_a_length(tus: Tus, headers, code):
    h = tus.headers(**headers, **{"Upload-Metadata": metadata(client_id=new_client_id())})
    r = tus.client.post("/api/uploads", headers=h)
    assert r.status_code == 400
    assert r.json["code"] == code
    assert r.json["message"]


@pytest.mark.parametrize(
    ("meta", "status", "code"),
    [
        ({"filetype": "video/webm"}, 400, "bad_metadata"),  # no client_id
        ({"client_id": "not-a-uuid", "filetype": "video/webm"}, 400, "bad_metadata"),
        ({"client_id": new_client_id()}, 415, "not_a_video"),  # no filetype
        ({"client_id": new_client_id(), "filetype": "image/png"}, 415, "not_a_video"),
        (
            {"client_id": new_client_id(), "filetype": "video/mp4", "recorded_at": "yesterday"},
            400,
            "bad_metadata",
        ),
        (
            {"client_id": new_client_id(), "filetype": "video/mp4", "cycle_id": "999999"},
            400,
            "bad_metadata",
        ),
    ],
)
def test_bad_metadata_is_refused_and_nothing_is_created(tus: Tus, meta, status, code):
    h = tus.headers(**{"Upload-Length": "100", "Upload-Metadata": metadata(**meta)})
    r = tus.client.post("/api/uploads", headers=h)
    assert r.status_code == status
    assert r.json["code"] == code
    assert recordings() == []


def test_cycle_id_must_be_this_familys(tus: Tus, make: Factory, webm):
    other = make.family(label="Other")
    theirs = Cycle(family_id=other.id, number=1)
    ours = Cycle(family_id=tus.family.id, number=1)
    db.session().add_all([theirs, ours])
    db.session().commit()
    assert tus.create(len(webm), cycle_id=str(theirs.id)).status_code == 400
    assert tus.create(len(webm), cycle_id=str(ours.id)).status_code == 201
    assert only_recording().cycle_id == ours.id


# -- size limits ---------------------------------------------------------------------------


def test_upload_length_over_max_size_is_413(tus: Tus, app):
    too_big = app.extensions["vig_settings"].max_upload_bytes + 1
    r = tus.create(too_big)
    assert r.status_code == 413
    assert r.json["code"] == "too_large"
    assert "too big" in r.json["message"]
    assert recordings() == []


def test_family_quota_is_enforced_at_creation(tus: Tus):
    tus.family.organisation.family_quota_bytes = 1000
    db.session().commit()
    assert tus.create(600).status_code == 201
    r = tus.create(600)
    assert r.status_code == 413
    assert r.json["code"] == "quota_full"
    assert "no more room" in r.json["message"]
    assert len(recordings()) == 1


def test_body_past_upload_length_is_413_and_nothing_is_kept(tus: Tus, webm):
    url = tus.create(len(webm)).headers["Location"]
    tus.patch(url, 0, webm[:100])
    r = tus.patch(url, 100, webm[100:] + b"more")
    assert r.status_code == 413
    assert tus.head(url).headers["Upload-Offset"] == "100"
    assert stored_media(only_recording()) == webm[:100]


# -- PATCH ---------------------------------------------------------------------------------


def test_patch_without_offset_content_type_is_415(tus: Tus, webm):
    url = tus.create(len(webm)).headers["Location"]
    r = tus.patch(url, 0, webm[:10], **{"Content-Type": "application/octet-stream"})
    assert r.status_code == 415
    assert r.json["code"] == "wrong_content_type"
    assert tus.head(url).headers["Upload-Offset"] == "0"


def test_wrong_offset_is_409_and_says_the_real_offset(tus: Tus, webm):
    url = tus.create(len(webm)).headers["Location"]
    assert tus.patch(url, 0, webm[:1000]).status_code == 204
    for wrong in (0, 999, 1001):
        r = tus.patch(url, wrong, webm[wrong : wrong + 10])
        assert r.status_code == 409
        assert r.json["code"] == "offset_mismatch"
        assert r.headers["Upload-Offset"] == "1000"
    assert stored_media(only_recording()) == webm[:1000]


def test_missing_upload_offset_is_400(tus: Tus, webm):
    url = tus.create(len(webm)).headers["Location"]
    h = tus.headers(**{"Content-Type": OFFSET_STREAM})
    assert tus.client.patch(url, headers=h, data=b"x").status_code == 400


def test_checksum_mismatch_is_460_and_the_chunk_never_enters(tus: Tus, webm):
    url = tus.create(len(webm)).headers["Location"]
    assert (
        tus.patch(url, 0, webm[:1000], **{"Upload-Checksum": sha1_header(webm[:1000])}).status_code
        == 204
    )
    corrupted = bytearray(webm[1000:3000])
    corrupted[500] ^= 0x01
    r = tus.patch(url, 1000, bytes(corrupted), **{"Upload-Checksum": sha1_header(webm[1000:3000])})
    assert r.status_code == 460
    assert r.json["code"] == "checksum_mismatch"
    assert tus.head(url).headers["Upload-Offset"] == "1000"
    assert stored_media(only_recording()) == webm[:1000]
    # The same chunk sent again intact goes in.
    sha256 = "sha256 " + base64.b64encode(hashlib.sha256(webm[1000:]).digest()).decode()
    assert tus.patch(url, 1000, webm[1000:], **{"Upload-Checksum": sha256}).status_code == 204
    assert only_recording().sha256 == hashlib.sha256(webm).hexdigest()


def test_unsupported_checksum_algorithm_is_400(tus: Tus, webm):
    url = tus.create(len(webm)).headers["Location"]
    md5 = "md5 " + base64.b64encode(hashlib.md5(webm[:10], usedforsecurity=False).digest()).decode()
    r = tus.patch(url, 0, webm[:10], **{"Upload-Checksum": md5})
    assert r.status_code == 400
    assert tus.head(url).headers["Upload-Offset"] == "0"


def test_patch_success_is_204_with_new_offset_and_expiry(tus: Tus, webm):
    url = tus.create(len(webm)).headers["Location"]
    r = tus.patch(url, 0, webm[:4096])
    assert r.status_code == 204
    assert r.headers["Upload-Offset"] == "4096"
    assert HTTP_DATE.fullmatch(r.headers["Upload-Expires"])
    assert r.get_data() == b""


def test_patch_and_head_answers_carry_no_session_cookie(tus: Tus, webm):
    # A phone sends a PATCH every few MiB: renewing the cookie on each would cost bytes and
    # work for nothing (pages renew it). Control: the creation still renews it.
    created = tus.create(len(webm))
    assert "vig_session=" in created.headers["Set-Cookie"]
    url = created.headers["Location"]
    assert "Set-Cookie" not in tus.patch(url, 0, webm[:4096]).headers
    assert "Set-Cookie" not in tus.head(url).headers


def test_a_finished_upload_answers_head_and_an_empty_patch(tus: Tus, webm):
    url = tus.upload(webm)
    assert tus.head(url).headers["Upload-Offset"] == str(len(webm))
    assert tus.patch(url, len(webm), b"").status_code == 204
    assert tus.patch(url, 0, webm[:10]).status_code == 409


def test_method_override_header_is_honoured(tus: Tus, webm):
    url = tus.create(len(webm)).headers["Location"]
    h = tus.headers(
        **{"X-HTTP-Method-Override": "PATCH", "Content-Type": OFFSET_STREAM, "Upload-Offset": "0"}
    )
    r = tus.client.post(url, headers=h, data=webm[:10])
    assert r.status_code == 204
    assert r.headers["Upload-Offset"] == "10"


# -- expiration and termination ------------------------------------------------------------


def test_expired_upload_is_410_and_a_new_post_starts_it_again(tus: Tus, frozen_clock, webm):
    client_id = new_client_id()
    url = tus.create(len(webm), client_id=client_id).headers["Location"]
    tus.patch(url, 0, webm[:1000])
    frozen_clock(hours=71)
    assert tus.head(url).status_code == 200  # each PATCH pushes the expiry on
    frozen_clock(hours=2)
    assert tus.head(url).status_code == 410
    r = tus.patch(url, 1000, webm[1000:2000])
    assert r.status_code == 410
    assert r.json["code"] == "expired"

    again = tus.create(len(webm), client_id=client_id)
    assert again.status_code == 201
    new_url = again.headers["Location"]
    assert new_url != url
    assert again.headers["Upload-Offset"] == "0"
    assert tus.head(url).status_code == 404
    assert tus.patch(new_url, 0, webm).status_code == 204
    assert only_recording().sha256 == hashlib.sha256(webm).hexdigest()


def test_sweeper_deletes_bytes_of_expired_uploads(tus: Tus, frozen_clock, webm):
    from vigparent.uploads import service

    url = tus.create(len(webm)).headers["Location"]
    tus.patch(url, 0, webm[:1000])
    assert service.expire_abandoned_uploads() == 0
    frozen_clock(hours=73)
    assert service.expire_abandoned_uploads() == 1
    rec = only_recording()
    assert not media_store.store().exists(rec.family_id, rec.original_name)


def test_sweeper_frees_the_space_of_expired_uploads_that_never_got_a_byte(tus: Tus, frozen_clock):
    from vigparent.uploads import service

    tus.family.organisation.family_quota_bytes = 1000
    db.session().commit()
    client_id = new_client_id()
    assert tus.create(800, client_id=client_id).status_code == 201
    rec = only_recording()
    assert media_store.store().exists(rec.family_id, rec.original_name)  # blocks set aside
    assert tus.create(800).json["code"] == "quota_full"
    frozen_clock(hours=73)
    assert service.expire_abandoned_uploads() == 1
    assert not media_store.store().exists(rec.family_id, rec.original_name)
    assert service.expire_abandoned_uploads() == 0  # nothing left to free
    # An abandoned upload holds no quota: a new video fits, and the old one must fit again.
    assert tus.create(800).status_code == 201
    again = tus.create(800, client_id=client_id)
    assert again.status_code == 413
    assert again.json["code"] == "quota_full"


@pytest.mark.parametrize(
    "body, code",
    [(b"\x00" * 2000, "not_a_video"), (None, "checksum_mismatch"), (b"x" * 3000, "too_large")],
)
def test_a_creation_whose_body_is_refused_leaves_no_row_or_file(tus: Tus, webm, body, code):
    data = webm[:2000] if body is None else body
    headers = tus.headers(
        **{
            "Upload-Length": "2000",
            "Upload-Metadata": metadata(client_id=new_client_id(), filetype="video/webm"),
            "Content-Type": OFFSET_STREAM,
        }
    )
    if body is None:
        headers["Upload-Checksum"] = "sha1 " + base64.b64encode(b"\x01" * 20).decode()
    r = tus.client.post("/api/uploads", headers=headers, data=data)
    assert r.status_code in (413, 415, 460)
    assert r.json["code"] == code
    assert recordings() == []
    family_dir = media_store.store().root / str(tus.family.id)
    assert not family_dir.exists() or not any(family_dir.iterdir())


def test_new_uploads_are_limited_per_signed_in_phone_not_per_address(tus: Tus, app):
    for _ in range(60):
        assert tus.create(100).status_code == 201
    r = tus.create(100)
    assert r.status_code == 429
    # Another phone of the same family, from the same address, is not held back.
    other = sign_in(app, tus.parent.id, "second phone")
    tus.client.set_cookie(other.cookie_name, other.cookie_value)
    r = tus.client.post(
        "/api/uploads",
        headers={
            "Tus-Resumable": "1.0.0",
            "X-CSRFToken": other.csrf_token,
            "Upload-Length": "100",
            "Upload-Metadata": metadata(client_id=new_client_id(), filetype="video/webm"),
        },
    )
    assert r.status_code == 201


def test_delete_terminates_an_unfinished_upload(tus: Tus, webm):
    url = tus.create(len(webm)).headers["Location"]
    tus.patch(url, 0, webm[:1000])
    rec = only_recording()
    family_id, name = rec.family_id, rec.original_name
    r = tus.delete(url)
    assert r.status_code == 204
    assert tus.head(url).status_code == 404
    assert tus.patch(url, 1000, webm[1000:]).status_code == 404
    assert recordings() == []
    assert not media_store.store().exists(family_id, name)


def test_delete_of_a_finished_upload_is_409(tus: Tus, webm):
    url = tus.upload(webm)
    r = tus.delete(url)
    assert r.status_code == 409
    assert r.json["code"] == "already_sent"
    assert only_recording().status is RecordingStatus.READY


# -- who may upload ------------------------------------------------------------------------


def test_signed_out_requests_are_401_json(client, webm):
    r = client.post(
        "/api/uploads",
        headers={"Tus-Resumable": "1.0.0", "Upload-Length": "10"},
    )
    assert r.status_code in (400, 401)  # CSRF or sign-in: either way refused
    r = client.head("/api/uploads/" + "a" * 32, headers={"Tus-Resumable": "1.0.0"})
    assert r.status_code == 401
    assert r.headers["Tus-Resumable"] == "1.0.0"


def test_missing_tus_resumable_is_412(tus: Tus, webm):
    url = tus.create(len(webm)).headers["Location"]
    r = tus.client.head(url, headers={"X-CSRFToken": tus.signed.csrf_token})
    assert r.status_code == 412
    assert r.headers["Tus-Version"] == "1.0.0"


def test_csrf_header_is_required_for_post_and_patch_but_not_head(tus: Tus, webm):
    url = tus.create(len(webm)).headers["Location"]
    h = {"Tus-Resumable": "1.0.0", "Content-Type": OFFSET_STREAM, "Upload-Offset": "0"}
    r = tus.client.patch(url, headers=h, data=webm[:10])
    assert r.status_code == 400
    assert r.json["code"] == "csrf"
    r = tus.client.post(
        "/api/uploads",
        headers={"Tus-Resumable": "1.0.0", "Upload-Length": "10"},
    )
    assert r.json["code"] == "csrf"
    assert tus.client.head(url, headers={"Tus-Resumable": "1.0.0"}).status_code == 200
    assert tus.client.delete(url, headers={"Tus-Resumable": "1.0.0"}).status_code == 400


def test_another_familys_upload_is_404(app, tus: Tus, make: Factory, webm):
    url = tus.create(len(webm)).headers["Location"]
    other_family = make.family(label="Other")
    other = sign_in(app, make.parent_of(other_family).id)
    c = app.test_client()
    c.set_cookie(other.cookie_name, other.cookie_value)
    h = {"Tus-Resumable": "1.0.0", "X-CSRFToken": other.csrf_token}
    assert c.head(url, headers=h).status_code == 404
    r = c.patch(
        url,
        headers={**h, "Content-Type": OFFSET_STREAM, "Upload-Offset": "0"},
        data=webm[:10],
    )
    assert r.status_code == 404
    assert r.json["code"] == "not_found"
    assert c.delete(url, headers=h).status_code == 404
    assert c.head("/api/uploads/" + "x" * 32, headers=h).status_code == 404
    assert tus.head(url).headers["Upload-Offset"] == "0"


def test_practitioner_cannot_upload(app, tus: Tus, make: Factory, webm):
    url = tus.create(len(webm)).headers["Location"]
    staff = sign_in(app, tus.family.practitioner_id)
    c = app.test_client()
    c.set_cookie(staff.cookie_name, staff.cookie_value)
    h = {"Tus-Resumable": "1.0.0", "X-CSRFToken": staff.csrf_token}
    r = c.post(
        "/api/uploads",
        headers={
            **h,
            "Upload-Length": "10",
            "Upload-Metadata": metadata(client_id=new_client_id(), filetype="video/webm"),
        },
    )
    assert r.status_code == 404
    assert c.head(url, headers=h).status_code == 404
    assert len(recordings()) == 1


@pytest.mark.parametrize(
    ("consents", "status", "code"),
    [
        ((), FamilyStatus.ACTIVE, "no_consent"),
        ((ConsentKind.FILMING,), FamilyStatus.ACTIVE, "no_consent"),
        ((ConsentKind.FILMING, ConsentKind.STORAGE), FamilyStatus.WITHDRAWN, "consent_withdrawn"),
        ((ConsentKind.FILMING, ConsentKind.STORAGE), FamilyStatus.CLOSED, "family_closed"),
    ],
)
def test_family_without_consent_cannot_upload(app, client, make: Factory, consents, status, code):
    family = make.family(consents=consents, status=status)
    t = Tus(client, sign_in(app, make.parent_of(family).id), family, make.parent_of(family))
    r = t.create(1000)
    assert r.status_code == 403
    assert r.json["code"] == code
    assert r.json["message"]
    assert recordings() == []


def test_consent_withdrawn_before_a_chunk_refuses_it_and_keeps_nothing(tus: Tus, webm):
    url = tus.create(len(webm)).headers["Location"]
    tus.patch(url, 0, webm[:1000])
    rec = only_recording()
    _withdraw(tus)
    r = tus.patch(url, 1000, webm[1000:])
    assert r.status_code == 403
    assert r.json == {
        "error": "You have withdrawn consent",
        "message": "You have withdrawn consent, so we did not keep this video.",
        "code": "consent_withdrawn",
    }
    # Nothing of the upload is left behind (the withdrawal feature deletes the rest).
    r = tus.patch(url, 1000, webm[1000:])
    assert r.status_code == 403 and r.json["code"] == "consent_withdrawn"
    assert not media_store.store().exists(rec.family_id, rec.original_name) or recordings()


def test_consent_withdrawn_while_a_chunk_streams_in_keeps_nothing(tus: Tus, webm):
    url = tus.create(len(webm)).headers["Location"]
    tus.patch(url, 0, webm[:1000])
    rec = only_recording()
    name = rec.original_name

    class WithdrawingMidway(io.BytesIO):
        """A body that arrives in small pieces; consent is withdrawn after the first."""

        calls = 0

        def read(self, size: int | None = -1) -> bytes:
            self.calls += 1
            if self.calls == 2:
                _withdraw(tus)  # as the withdrawal request would, in another thread
            return super().read(1000)

    h = tus.headers(**{"Content-Type": OFFSET_STREAM, "Upload-Offset": "1000"})
    r = tus.client.patch(url, headers=h, input_stream=WithdrawingMidway(webm[1000:]))
    assert r.status_code == 403
    assert r.json["code"] == "consent_withdrawn"
    assert "did not keep this video" in r.json["message"]
    assert recordings() == []
    assert not media_store.store().exists(tus.family.id, name)


def _withdraw(tus: Tus) -> None:
    s = db.session()
    for record in s.scalars(select(ConsentRecord).where(ConsentRecord.family_id == tus.family.id)):
        record.withdrawn_at = datetime(2026, 11, 25, 12, 0)
    s.commit()


# -- content checks as bytes arrive --------------------------------------------------------


def test_random_bytes_named_mp4_are_refused_on_the_first_chunk(tus: Tus):
    import random

    junk = random.Random(5).randbytes(300_000)
    client_id = new_client_id()
    url = tus.create(len(junk), client_id=client_id, filetype="video/mp4").headers["Location"]
    r = tus.patch(url, 0, junk)
    assert r.status_code == 415
    assert r.json["code"] == "not_a_video"
    assert r.json["reason"] == "This file is not a video we can play."
    rec = only_recording()
    assert rec.status is RecordingStatus.REJECTED
    assert not media_store.store().exists(rec.family_id, rec.original_name)
    # Later requests for it say it is gone, and the status says why.
    assert tus.head(url).status_code == 410
    status = tus.status(client_id).json
    assert status["status"] == "rejected"
    assert status["safe"] is False
    assert status["reason"] == "This file is not a video we can play."


def test_a_tiny_first_chunk_is_sniffed_once_enough_bytes_arrive(tus: Tus, webm):
    url = tus.create(len(webm)).headers["Location"]
    assert tus.patch(url, 0, webm[:10]).status_code == 204
    assert tus.patch(url, 10, webm[10:40]).status_code == 204
    assert tus.patch(url, 40, webm[40:]).status_code == 204
    assert only_recording().status is RecordingStatus.READY


def test_status_lists_the_familys_recordings(tus: Tus, webm, make: Factory):
    client_id = new_client_id()
    tus.upload(webm, client_id=client_id)
    tus.create(1234)
    listed = tus.status().json["recordings"]
    assert len(listed) == 2
    done = tus.status(client_id).json
    assert done["safe"] is True
    assert done["sha256"] == hashlib.sha256(webm).hexdigest()
    assert done["size"] == done["received"] == len(webm)
    assert tus.status(new_client_id()).status_code == 404
    assert tus.status("nonsense").status_code == 404


def test_one_recording_per_client_id_in_the_database(tus: Tus, webm):
    client_id = new_client_id()
    for _ in range(3):
        tus.create(len(webm), client_id=client_id)
    count = db.session().scalar(select(func.count()).select_from(Recording))
    assert count == 1
