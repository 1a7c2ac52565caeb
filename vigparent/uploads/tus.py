"""tus 1.0.0 wire format: header parsing and formatting, nothing about families or storage.

Spec: https://tus.io/protocols/resumable-upload (core, creation, creation-with-upload,
termination, expiration, checksum). Everything here is pure, so it is tested directly.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import format_datetime
from typing import Any

from vigparent import safe_input

TUS_VERSION = "1.0.0"
EXTENSIONS = "creation,creation-with-upload,termination,expiration,checksum"
CHECKSUM_ALGORITHMS = {"sha1": hashlib.sha1, "sha256": hashlib.sha256}
OFFSET_CONTENT_TYPE = "application/offset+octet-stream"
# Cap header values we parse, so a hostile header cannot cost much.
_MAX_METADATA_HEADER = 4096
_INT_RE = re.compile(r"[0-9]{1,19}")
# Keys are non-empty printable ASCII without spaces or commas.
_METADATA_KEY_RE = re.compile(r"[\x21-\x2b\x2d-\x7e]+")


class TusHeaderError(ValueError):
    """A tus header is missing or malformed (the answer is 400 Bad Request)."""


def parse_nonnegative_int(value: str | None, name: str) -> int:
    """``Upload-Length`` / ``Upload-Offset``: a non-negative decimal integer."""
    if value is None:
        raise TusHeaderError(f"{name} is missing")
    value = value.strip()
    if not _INT_RE.fullmatch(value):
        raise TusHeaderError(f"{name} must be a non-negative integer")
    return int(value)


def parse_row_id(value: str) -> int | None:
    """A row id in decoded metadata (``cycle_id``): the app-wide rule (ASCII digits, bounded)."""
    return safe_input.parse_id(value)


def parse_metadata(header: str | None) -> dict[str, str | None]:
    """``Upload-Metadata``: comma-separated ``key base64value`` pairs (value optional).

    Keys must be unique tokens; values must be valid base64. Returns raw (still encoded)
    values so they can be echoed exactly; ``decode_value`` decodes one.
    """
    if header is None or not header.strip():
        return {}
    if len(header) > _MAX_METADATA_HEADER:
        raise TusHeaderError("Upload-Metadata is too long")
    pairs: dict[str, str | None] = {}
    for item in header.split(","):
        parts = item.strip().split(" ")
        if not parts or not parts[0] or len(parts) > 2:
            raise TusHeaderError("Upload-Metadata is malformed")
        key = parts[0]
        if not _METADATA_KEY_RE.fullmatch(key):
            raise TusHeaderError("Upload-Metadata has an invalid key")
        if key in pairs:
            raise TusHeaderError("Upload-Metadata repeats a key")
        value = parts[1] if len(parts) == 2 else None
        if value is not None:
            decode_value(value)  # validate now, decode when used
        pairs[key] = value
    return pairs


def decode_value(encoded: str | None) -> str:
    """Decode one base64 metadata value as UTF-8 ('' for a key without a value)."""
    if encoded is None or encoded == "":
        return ""
    try:
        return base64.b64decode(encoded, validate=True).decode("utf-8")
    except (binascii.Error, ValueError):
        raise TusHeaderError("Upload-Metadata value is not valid base64 UTF-8") from None


def encode_metadata(pairs: Mapping[str, str | None]) -> str:
    """Format raw (already base64) pairs back into an ``Upload-Metadata`` header value."""
    return ",".join(key if value is None else f"{key} {value}" for key, value in pairs.items())


@dataclass(frozen=True)
class Checksum:
    """A parsed ``Upload-Checksum``: the algorithm name and the expected raw digest."""

    algorithm: str
    digest: bytes

    def new_hash(self) -> Any:
        return CHECKSUM_ALGORITHMS[self.algorithm]()


class UnsupportedChecksum(TusHeaderError):
    """A checksum algorithm we do not offer (400, as the spec says)."""


def parse_checksum(header: str | None) -> Checksum | None:
    """``Upload-Checksum: <algorithm> <base64 digest>`` or None when absent."""
    if header is None:
        return None
    parts = header.strip().split(" ")
    if len(parts) != 2:
        raise TusHeaderError("Upload-Checksum must be '<algorithm> <base64 digest>'")
    algorithm, encoded = parts[0].lower(), parts[1]
    if algorithm not in CHECKSUM_ALGORITHMS:
        raise UnsupportedChecksum(f"checksum algorithm {algorithm!r} is not supported")
    try:
        digest = base64.b64decode(encoded, validate=True)
    except (binascii.Error, ValueError):
        raise TusHeaderError("Upload-Checksum digest is not valid base64") from None
    if len(digest) != CHECKSUM_ALGORITHMS[algorithm]().digest_size:
        raise TusHeaderError("Upload-Checksum digest has the wrong length")
    return Checksum(algorithm, digest)


def http_date(at: datetime) -> str:
    """RFC 7231 IMF-fixdate (``Wed, 25 Nov 2026 12:00:00 GMT``) for a naive-UTC datetime."""
    return format_datetime(at.replace(tzinfo=UTC, microsecond=0), usegmt=True)


def is_offset_stream(content_type: str | None) -> bool:
    """Whether ``Content-Type`` is ``application/offset+octet-stream`` (parameters ignored)."""
    if not content_type:
        return False
    return content_type.split(";", 1)[0].strip().lower() == OFFSET_CONTENT_TYPE
