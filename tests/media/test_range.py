"""HTTP Range streaming of recordings and clips (RFC 9110 §14), as a phone's player uses it."""

from __future__ import annotations

import pytest

from tests.media.conftest import Filmed
from vigparent.media.service import Unsatisfiable, parse_range


def _targets(filmed: Filmed) -> list[tuple[str, str]]:
    return [
        (f"/media/recordings/{filmed.recording.id}", filmed.recording.transcode_name or ""),
        (f"/media/clips/{filmed.clip.id}", filmed.clip.media_name or ""),
    ]


@pytest.fixture(params=["parent", "practitioner"])
def viewer(request: pytest.FixtureRequest, filmed: Filmed, login_as, client):
    login_as(filmed.parent if request.param == "parent" else filmed.practitioner)
    return client


@pytest.mark.parametrize("which", [0, 1], ids=["recording", "clip"])
def test_no_range_header_sends_whole_file(filmed: Filmed, viewer, which: int):
    url, name = _targets(filmed)[which]
    body = filmed.plaintext(name)
    r = viewer.get(url)
    assert r.status_code == 200
    assert r.headers["Accept-Ranges"] == "bytes"
    assert r.headers["Content-Type"] == "video/mp4"
    assert r.headers["Content-Length"] == str(len(body))
    assert r.headers["Content-Disposition"] == "inline"
    assert r.headers["Cache-Control"] == "private, no-store"
    assert "Content-Range" not in r.headers
    assert r.data == body
    assert body[4:8] == b"ftyp"  # a real MP4, decrypted on the way out


@pytest.mark.parametrize("which", [0, 1], ids=["recording", "clip"])
def test_first_bytes(filmed: Filmed, viewer, which: int):
    url, name = _targets(filmed)[which]
    body = filmed.plaintext(name)
    r = viewer.get(url, headers={"Range": "bytes=0-99"})
    assert r.status_code == 206
    assert r.headers["Content-Range"] == f"bytes 0-99/{len(body)}"
    assert r.headers["Content-Length"] == "100"
    assert r.headers["Accept-Ranges"] == "bytes"
    assert r.data == body[:100]
    # The player's first question is usually "bytes=0-": the whole file, as a 206.
    r = viewer.get(url, headers={"Range": "bytes=0-"})
    assert r.status_code == 206
    assert r.headers["Content-Range"] == f"bytes 0-{len(body) - 1}/{len(body)}"
    assert r.data == body


@pytest.mark.parametrize("which", [0, 1], ids=["recording", "clip"])
def test_middle_across_encryption_chunks(filmed: Filmed, viewer, which: int):
    url, name = _targets(filmed)[which]
    body = filmed.plaintext(name)
    size = len(body)
    # Straddle the store's 64 KiB chunk boundary when the file is big enough.
    start = min(65_536 - 10, size // 3)
    end = min(start + 70_000, size - 2)
    r = viewer.get(url, headers={"Range": f"bytes={start}-{end}"})
    assert r.status_code == 206
    assert r.headers["Content-Range"] == f"bytes {start}-{end}/{size}"
    assert r.headers["Content-Length"] == str(end - start + 1)
    assert r.data == body[start : end + 1]


@pytest.mark.parametrize("which", [0, 1], ids=["recording", "clip"])
def test_suffix_range(filmed: Filmed, viewer, which: int):
    url, name = _targets(filmed)[which]
    body = filmed.plaintext(name)
    size = len(body)
    r = viewer.get(url, headers={"Range": "bytes=-500"})
    assert r.status_code == 206
    assert r.headers["Content-Range"] == f"bytes {size - 500}-{size - 1}/{size}"
    assert r.headers["Content-Length"] == "500"
    assert r.data == body[-500:]
    # A suffix longer than the file is the whole file.
    r = viewer.get(url, headers={"Range": f"bytes=-{size + 1000}"})
    assert r.status_code == 206
    assert r.headers["Content-Range"] == f"bytes 0-{size - 1}/{size}"
    assert r.data == body


@pytest.mark.parametrize("which", [0, 1], ids=["recording", "clip"])
def test_beyond_the_end_is_416(filmed: Filmed, viewer, which: int):
    url, name = _targets(filmed)[which]
    size = len(filmed.plaintext(name))
    for header in (f"bytes={size}-", f"bytes={size + 10}-{size + 20}", "bytes=-0"):
        r = viewer.get(url, headers={"Range": header})
        assert r.status_code == 416, header
        assert r.headers["Content-Range"] == f"bytes */{size}"
        assert r.headers["Accept-Ranges"] == "bytes"
        assert r.data == b""


@pytest.mark.parametrize("which", [0, 1], ids=["recording", "clip"])
def test_end_past_the_file_is_trimmed(filmed: Filmed, viewer, which: int):
    url, name = _targets(filmed)[which]
    body = filmed.plaintext(name)
    size = len(body)
    r = viewer.get(url, headers={"Range": f"bytes={size - 10}-{size + 5000}"})
    assert r.status_code == 206
    assert r.headers["Content-Range"] == f"bytes {size - 10}-{size - 1}/{size}"
    assert r.data == body[-10:]


def test_ignored_ranges_send_the_whole_file(filmed: Filmed, viewer):
    url, name = _targets(filmed)[1]
    body = filmed.plaintext(name)
    for header in ("bytes=0-1,5-9", "items=0-5", "bytes=9-2", "bytes=abc", "bytes=-"):
        r = viewer.get(url, headers={"Range": header})
        assert r.status_code == 200, header
        assert r.data == body


def test_if_range_mismatch_sends_whole_file(filmed: Filmed, viewer):
    url, name = _targets(filmed)[1]
    body = filmed.plaintext(name)
    etag = viewer.get(url, headers={"Range": "bytes=0-0"}).headers["ETag"]
    assert viewer.get(url, headers={"Range": "bytes=0-9", "If-Range": etag}).status_code == 206
    r = viewer.get(url, headers={"Range": "bytes=0-9", "If-Range": '"something-else"'})
    assert r.status_code == 200 and r.data == body
    assert filmed.clip.media_name not in etag  # storage names never leave the server


def test_posters_are_jpeg(filmed: Filmed, viewer):
    for url in (
        f"/media/recordings/{filmed.recording.id}/poster",
        f"/media/clips/{filmed.clip.id}/poster",
    ):
        r = viewer.get(url)
        assert r.status_code == 200
        assert r.headers["Content-Type"] == "image/jpeg"
        assert r.data[:3] == b"\xff\xd8\xff"
        assert viewer.get(url, headers={"Range": "bytes=0-1"}).data == r.data[:2]


def test_recording_without_transcode_streams_its_original(make, login_as, client):
    from tests.media.factories import add_recording

    fam = make.family()
    parent = make.parent_of(fam)
    rec = add_recording(fam, parent, transcode=False, original="webm")
    login_as(fam.practitioner)
    r = client.get(f"/media/recordings/{rec.id}", headers={"Range": "bytes=0-3"})
    assert r.status_code == 206
    assert r.headers["Content-Type"] == "video/webm"
    assert r.data == b"\x1a\x45\xdf\xa3"


def test_recording_still_uploading_is_not_served(make, login_as, client):
    from tests.media.factories import add_recording
    from vigparent.models import RecordingStatus

    fam = make.family()
    rec = add_recording(fam, make.parent_of(fam), transcode=False, status=RecordingStatus.UPLOADING)
    login_as(fam.practitioner)
    assert client.get(f"/media/recordings/{rec.id}").status_code == 404


def test_clip_still_cutting_is_not_served(filmed: Filmed, login_as, client):
    from tests.media.factories import add_clip

    cutting = add_clip(filmed.recording, cut=False, published=False)
    login_as(filmed.practitioner)
    assert client.get(f"/media/clips/{cutting.id}").status_code == 404


@pytest.mark.parametrize(
    ("header", "size", "expected"),
    [
        (None, 10, None),
        ("bytes=0-0", 10, (0, 0)),
        ("bytes=3-", 10, (3, 9)),
        ("bytes=-3", 10, (7, 9)),
        ("bytes=-30", 10, (0, 9)),
        ("bytes=2-100", 10, (2, 9)),
        ("bytes = 2 - 4", 10, (2, 4)),
        ("BYTES=1-2", 10, (1, 2)),
        ("bytes=5-1", 10, None),
        ("bytes=1-2,4-5", 10, None),
        ("bytes=x-", 10, None),
        ("pages=1-2", 10, None),
    ],
)
def test_parse_range(header, size, expected):
    assert parse_range(header, size) == expected


@pytest.mark.parametrize(("header", "size"), [("bytes=10-", 10), ("bytes=-0", 10), ("bytes=0-", 0)])
def test_parse_range_unsatisfiable(header, size):
    with pytest.raises(Unsatisfiable):
        parse_range(header, size)


def test_head_gives_the_headers_without_the_body(filmed: Filmed, viewer):
    url, name = _targets(filmed)[1]
    size = len(filmed.plaintext(name))
    r = viewer.head(url)
    assert r.status_code == 200
    assert r.headers["Content-Length"] == str(size)
    assert r.headers["Accept-Ranges"] == "bytes"
    assert r.data == b""


def test_media_of_a_destroyed_key_is_gone(filmed: Filmed, login_as, client):
    """After withdrawal shreds the family key, nothing can be streamed, not even a range."""
    from vigparent import media_store

    login_as(filmed.parent)
    media_store.keyring().destroy(filmed.family.id)
    for url, _name in _targets(filmed):
        assert client.get(url).status_code == 404
        assert client.get(url, headers={"Range": "bytes=0-10"}).status_code == 404
