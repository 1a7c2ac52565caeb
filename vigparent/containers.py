"""Recognise a video container from its first bytes, without loading any media library.

The upload endpoint checks magic bytes on the first chunk of every PATCH; keeping this apart
from `vigparent.video` keeps PyAV (and FFmpeg) out of the web process.
"""

from __future__ import annotations

import struct

# The reason a parent sees when a file is not a video at all.
NOT_A_VIDEO = "This file is not a video we can play."

# ftyp brands of MP4-family files that browsers and phones write, including "qt  " for
# iPhone .MOV and the 3GPP brands of older Android cameras.
_MP4_BRANDS = frozenset(
    {
        b"isom", b"iso2", b"iso3", b"iso4", b"iso5", b"iso6", b"iso8", b"iso9",
        b"mp41", b"mp42", b"avc1", b"dash", b"M4V ", b"M4VH", b"M4VP", b"qt  ",
        b"3gp4", b"3gp5", b"3gp6", b"3g2a", b"mmp4", b"MSNV", b"XAVC",
    }
)  # fmt: skip

EBML_HEADER_ID = 0x1A45DFA3  # every WebM/Matroska file starts with this element
_EBML_MAGIC = EBML_HEADER_ID.to_bytes(4, "big")
_EBML_DOCTYPE_ID = 0x4282


def sniff_container(head: bytes) -> str | None:
    """Name the container from a file's first bytes (64 is plenty): "webm", "mp4" or None."""
    if head.startswith(_EBML_MAGIC):
        doctype = _ebml_doctype(head)
        return "webm" if doctype in (b"webm", b"matroska") else None
    if len(head) >= 12 and head[4:8] == b"ftyp":
        box_end = min(len(head), struct.unpack(">I", head[:4])[0])
        brands = [head[8:12]] + [head[i : i + 4] for i in range(16, box_end - 3, 4)]
        if any(brand in _MP4_BRANDS for brand in brands):
            return "mp4"
    return None


def ebml_header(buf: bytes, at: int = 0) -> tuple[int, int | None, int] | None:
    """Parse an EBML element's id and size at `at`: (id, size or None if unknown, bytes used),
    or None if bad or cut off. The one EBML parser (sniffing here, the damage walk in video.py)."""
    id_len = _vint_length(buf, at)
    if id_len is None or id_len > 4:
        return None
    size_len = _vint_length(buf, at + id_len)
    if size_len is None:
        return None
    element = int.from_bytes(buf[at : at + id_len], "big")
    raw = int.from_bytes(buf[at + id_len : at + id_len + size_len], "big")
    value = raw & ((1 << (7 * size_len)) - 1)
    size = None if value == (1 << (7 * size_len)) - 1 else value
    return element, size, id_len + size_len


def _vint_length(buf: bytes, at: int) -> int | None:
    if at >= len(buf) or buf[at] == 0:
        return None
    length = 9 - buf[at].bit_length()
    return length if at + length <= len(buf) else None


def _ebml_doctype(head: bytes) -> bytes | None:
    parsed = ebml_header(head)
    if parsed is None or parsed[1] is None:
        return None
    pos, end = parsed[2], min(len(head), parsed[2] + parsed[1])
    while pos < end:
        child = ebml_header(head, pos)
        if child is None:
            return None
        element, size, used = child
        if size is None:
            return None
        if element == _EBML_DOCTYPE_ID:
            return head[pos + used : pos + used + size]
        pos += used + size
    return None
