"""The tus wire format on its own: headers parsed and written exactly as tus 1.0.0 says."""

from __future__ import annotations

import base64
import hashlib
from datetime import datetime

import pytest

from vigparent.uploads import tus


def b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


def test_metadata_keeps_raw_values_and_decodes_them():
    header = f"client_id {b64('abc')},filetype {b64('video/webm')},is_confidential"
    pairs = tus.parse_metadata(header)
    assert pairs == {
        "client_id": b64("abc"),
        "filetype": b64("video/webm"),
        "is_confidential": None,
    }
    assert tus.decode_value(pairs["filetype"]) == "video/webm"
    assert tus.decode_value(pairs["is_confidential"]) == ""
    assert tus.encode_metadata(pairs) == header


@pytest.mark.parametrize(
    "header",
    [
        "client_id not-base64!",
        f"client_id {b64('a')},client_id {b64('b')}",
        f"client_id {b64('a')} extra",
        f",client_id {b64('a')}",
        "x" * 5000,
    ],
)
def test_bad_metadata_is_refused(header):
    with pytest.raises(tus.TusHeaderError):
        tus.parse_metadata(header)


def test_empty_metadata_is_empty():
    assert tus.parse_metadata(None) == {}
    assert tus.parse_metadata("  ") == {}


@pytest.mark.parametrize("value", ["0", "17", " 42 "])
def test_offsets_are_non_negative_integers(value):
    assert tus.parse_nonnegative_int(value, "Upload-Offset") == int(value)


@pytest.mark.parametrize("value", [None, "", "-1", "1.5", "0x10", "1e3", "9" * 20])
def test_bad_offsets_are_refused(value):
    with pytest.raises(tus.TusHeaderError):
        tus.parse_nonnegative_int(value, "Upload-Offset")


def test_checksum_header_parses_sha1_and_sha256():
    digest = hashlib.sha1(b"hello", usedforsecurity=False).digest()
    parsed = tus.parse_checksum("sha1 " + base64.b64encode(digest).decode())
    assert parsed == tus.Checksum("sha1", digest)
    h = parsed.new_hash()
    h.update(b"hello")
    assert h.digest() == digest
    digest256 = hashlib.sha256(b"x").digest()
    assert tus.parse_checksum("sha256 " + base64.b64encode(digest256).decode()).digest == digest256
    assert tus.parse_checksum(None) is None


def test_unknown_checksum_algorithm_and_bad_digests_are_refused():
    with pytest.raises(tus.UnsupportedChecksum):
        tus.parse_checksum(
            "md5 " + base64.b64encode(hashlib.md5(b"x", usedforsecurity=False).digest()).decode()
        )
    with pytest.raises(tus.TusHeaderError):
        tus.parse_checksum("sha1 not*base64")
    with pytest.raises(tus.TusHeaderError):
        tus.parse_checksum("sha1 " + base64.b64encode(b"short").decode())
    with pytest.raises(tus.TusHeaderError):
        tus.parse_checksum("sha1")


def test_upload_expires_is_an_rfc7231_date():
    assert tus.http_date(datetime(2026, 11, 28, 12, 0, 5, 123)) == "Sat, 28 Nov 2026 12:00:05 GMT"


def test_offset_content_type_ignores_case_and_parameters():
    assert tus.is_offset_stream("application/offset+octet-stream")
    assert tus.is_offset_stream("Application/Offset+Octet-Stream; charset=binary")
    assert not tus.is_offset_stream("application/octet-stream")
    assert not tus.is_offset_stream(None)
