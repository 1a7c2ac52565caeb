"""What the video worker and the job that runs it say to each other over a pipe.

Shared by both sides and free of PyAV, so the key-holding job process never loads FFmpeg.
Every message is a frame: kind (1 byte) | payload length (u32, big-endian) | payload.

The worker (child) asks, the job (parent) answers:

    READ   handle u8 | offset u64 | size u32     -> DATA with up to ``size`` bytes
    SIZE   handle u8                             -> DATA with the size as u64
    WRITE  handle u8 | offset u64 | bytes        (no answer)
    RESULT JSON, the job's outcome; FAILED JSON, why it failed. The worker then exits.

The parent starts it with one JOB frame (JSON: the operation and its arguments). Byte ranges
rather than a plain stream, because PyAV must seek: an MP4 from a phone often keeps its index
('moov') at the end, and the MP4 faststart pass rereads its own output.
"""

from __future__ import annotations

import json
import re
import struct
from dataclasses import dataclass
from typing import IO, Any

from vigparent.containers import NOT_A_VIDEO

__all__ = [
    "DATA",
    "FAILED",
    "JOB",
    "MAX_PAYLOAD",
    "MAX_READ",
    "READ",
    "RESULT",
    "SIZE",
    "WRITE",
    "VideoInfo",
    "VideoRejected",
    "WireError",
    "read_frame",
    "write_frame",
]

# Reasons a parent reads when their video is turned away (plain English, reading age ~9).
DAMAGED = "This video is damaged part-way through."
NO_PICTURE = "This file has sound but no picture. Please choose a video."
PICTURE_TOO_BIG = "The picture in this video is too big for us to use."
_FIXED_REASONS = frozenset({NOT_A_VIDEO, DAMAGED, NO_PICTURE, PICTURE_TOO_BIG})
_LENGTH_REASONS = (
    re.compile(r"This video is longer than [0-9.]{1,8} (second|minute)s?\."),
    re.compile(r"This video is too short \(under [0-9.]{1,8} (second|minute)s?\)\."),
)

READ, SIZE, WRITE, RESULT, FAILED, JOB, DATA = range(1, 8)
SOURCE, OUTPUT = 0, 1  # handles
MAX_READ = 1 << 20
# A WRITE carries at most this much; PyAV writes in pieces of tens of KiB.
MAX_PAYLOAD = MAX_READ + 64

HEADER = struct.Struct(">BI")
READ_ARGS = struct.Struct(">BQI")
WRITE_ARGS = struct.Struct(">BQ")
SIZE_ARGS = struct.Struct(">B")
SIZE_ANSWER = struct.Struct(">Q")


class WireError(Exception):
    """The other side broke the protocol or went away mid-frame."""


@dataclass(frozen=True)
class VideoInfo:
    """What a video turned out to be. Width and height are as displayed (rotation applied)."""

    container: str
    duration: float
    width: int
    height: int
    video_codec: str
    audio_codec: str | None
    frame_rate: float | None

    @classmethod
    def from_wire(cls, data: Any) -> VideoInfo:
        """Rebuild from the worker's JSON, trusting nothing about its shape."""
        try:
            info = cls(
                container=str(data["container"])[:16],
                duration=float(data["duration"]),
                width=int(data["width"]),
                height=int(data["height"]),
                video_codec=str(data["video_codec"])[:32],
                audio_codec=None if data["audio_codec"] is None else str(data["audio_codec"])[:32],
                frame_rate=None if data["frame_rate"] is None else float(data["frame_rate"]),
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise WireError("the video worker sent a malformed result") from exc
        numbers = (info.duration, info.width, info.height, info.frame_rate or 1.0)
        if not all(0 <= n < 1e9 for n in numbers):
            raise WireError("the video worker sent an implausible result")
        return info


class VideoRejected(Exception):
    """A video we will not accept; `reason` is a sentence to show the parent."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def known_reason(reason: str) -> bool:
    """Whether ``reason`` is one of the sentences ``video`` turns videos away with.

    The worker's report is not trusted: a worker taken over by a crafted video could
    otherwise put any words in front of the parent.
    """
    return reason in _FIXED_REASONS or any(p.fullmatch(reason) for p in _LENGTH_REASONS)


def write_frame(out: IO[bytes], kind: int, payload: bytes | bytearray | memoryview = b"") -> None:
    out.write(HEADER.pack(kind, len(payload)))
    if payload:
        out.write(payload)
    out.flush()


def read_frame(src: IO[bytes], max_payload: int) -> tuple[int, bytes]:
    """One frame; WireError if the stream ends or the frame is larger than ``max_payload``."""
    header = _read_exactly(src, HEADER.size)
    kind, length = HEADER.unpack(header)
    if length > max_payload:
        raise WireError(f"frame of {length} bytes is larger than allowed")
    return kind, _read_exactly(src, length)


def encode_json(value: Any) -> bytes:
    return json.dumps(value, separators=(",", ":")).encode()


def decode_json(payload: bytes) -> Any:
    try:
        return json.loads(payload)
    except ValueError as exc:
        raise WireError("malformed JSON frame") from exc


def _read_exactly(src: IO[bytes], n: int) -> bytes:
    data = src.read(n) if n else b""
    if len(data) != n:
        raise WireError("the other side closed the pipe")
    return data
