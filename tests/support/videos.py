"""Synthetic test videos, made with PyAV, for the whole test suite.

Every frame carries its own index as a binary code in horizontal bands on the left half of
the picture (black = 0, white = 1, most significant bit at the top). Big flat bands survive
lossy VP9/H.264 compression and scaling, so `frame_index_of()` can read a decoded frame back
and a test can tell exactly which source frame a clip starts on. The right half is a moving
ramp, so the encoders have real motion to code and no two frames are identical.

Audio is a quiet 440 Hz sine tone. Nothing here touches the network or the app.
"""

from __future__ import annotations

import io
import math
import os
import random
from array import array
from collections.abc import Iterator
from contextlib import contextmanager
from fractions import Fraction
from typing import BinaryIO, Literal

import av
from av.audio.stream import AudioStream
from av.container import OutputContainer
from av.video.stream import VideoStream

ContainerName = Literal["webm", "mp4", "mov"]
Target = str | os.PathLike[str] | BinaryIO

#: Bits in the frame label: 1024 distinct frames, over a minute at 15 fps.
LABEL_BITS = 10
AUDIO_RATE = 48_000
_BLACK, _WHITE, _GREY = 16, 235, 128
_TONE_HZ = 440.0
_AUDIO_FRAME_SAMPLES = 960  # 20 ms, a natural Opus packet; AAC's encoder re-chunks as needed

# Fast encoder settings: fixtures must be cheap to make, but still real VP9 / H.264.
_VP9_OPTIONS = {"deadline": "realtime", "cpu-used": "8", "crf": "32", "b": "0", "row-mt": "1"}
# veryfast (not ultrafast) keeps B-frames, so fixtures exercise decode-order reordering
# the way phone and camera files do.
_X264_OPTIONS = {"preset": "veryfast", "crf": "23"}

_RAMP = bytes((x * 3) % 256 for x in range(4096))

#: The four bytes every EBML (WebM/Matroska) Cluster element starts with.
_CLUSTER_ID = b"\x1f\x43\xb6\x75"


def make_video(
    target: Target,
    *,
    container: ContainerName = "webm",
    seconds: float = 3.0,
    fps: int = 15,
    size: tuple[int, int] = (160, 120),
    audio: bool = True,
    marker: bytes | None = None,
    frame_labels: bool = True,
    rotation: int = 0,
    fragmented: bool = False,
) -> None:
    """Write a labelled test video: WebM = VP9 + Opus; MP4 and MOV (QuickTime, as iPhones
    write) = H.264 + AAC.

    `marker` (valid UTF-8) is stored as the container's title so privacy tests can search
    stored bytes for it. Frame i has pts i in a 1/fps time base and starts at i / fps s.
    `rotation` (MP4 only) stores a display matrix asking players to turn the picture that
    many degrees counter-clockwise, the way iPhones store portrait videos. `fragmented`
    (MP4 only) writes moof/mdat fragments after an empty moov, as Safari's MediaRecorder does.
    """
    frame_count = round(seconds * fps)
    pts = list(range(frame_count))
    options = {"movflags": "frag_keyframe+empty_moov+default_base_moof"} if fragmented else {}
    with _output(target, container, options) as out:
        _write_av(
            out,
            container=container,
            time_base=Fraction(1, fps),
            frame_pts=pts,
            end_pts=frame_count,
            size=size,
            audio=audio,
            marker=marker,
            frame_labels=frame_labels,
            rate=fps,
            rotation=rotation,
        )


def mediarecorder_like_webm(
    target: Target,
    *,
    seconds: float = 3.0,
    fps: int = 30,
    size: tuple[int, int] = (160, 120),
    audio: bool = True,
    start_ms: int = 1234,
    jitter_ms: int = 7,
    audio_delay_ms: int = 0,
    seed: int = 1,
) -> None:
    """Write a WebM shaped like Chrome's MediaRecorder output.

    Like the real thing it is written as a live stream to an unseekable sink, so it has no
    Duration, no Cues and unknown-size clusters; the video track declares no frame rate
    (frames carry no duration); timestamps are in milliseconds, start at `start_ms` rather
    than 0, and frame intervals jitter (variable frame rate). Frame i is labelled i.
    `audio_delay_ms` starts the sound that much after the picture.
    """
    rng = random.Random(seed)
    frame_count = round(seconds * fps)
    pts = []
    for i in range(frame_count):
        nominal = start_ms + round(i * 1000 / fps)
        jitter = rng.randint(-jitter_ms, jitter_ms) if 0 < i < frame_count - 1 else 0
        pts.append(nominal + jitter)
    end_pts = start_ms + round(frame_count * 1000 / fps)
    with _output(target, "webm", {"live": "1"}, seekable=False) as out:
        _write_av(
            out,
            container="webm",
            time_base=Fraction(1, 1000),
            frame_pts=pts,
            end_pts=end_pts,
            size=size,
            audio=audio,
            marker=None,
            frame_labels=True,
            rate=fps,
            declare_rate=False,
            audio_delay_ms=audio_delay_ms,
        )


def make_webm_with_garbage(
    target: Target,
    *,
    seconds: float = 3.0,
    keep_fraction: float = 0.0,
    seed: int = 7,
) -> None:
    """Write a WebM whose header is valid but whose media is random bytes.

    With `keep_fraction` 0 everything after the header (from the first Cluster) is noise;
    with e.g. 0.5 the first half of the file is intact and the rest is noise, like a file
    damaged part-way through. The length is the same as the good file's.
    """
    good = io.BytesIO()
    make_video(good, container="webm", seconds=seconds)
    data = good.getvalue()
    header_end = data.index(_CLUSTER_ID)
    keep = max(header_end, int(len(data) * keep_fraction))
    noise = random.Random(seed).randbytes(len(data) - keep)
    _write_bytes(target, data[:keep] + noise)


def make_webm_with_scrambled_frames(
    target: Target, *, seconds: float = 3.0, from_seconds: float = 1.0, seed: int = 11
) -> None:
    """Write a WebM whose structure is perfect but whose video frames from `from_seconds`
    on are random bytes: only a real decoder can tell."""
    good = io.BytesIO()
    make_video(good, container="webm", seconds=seconds)
    data = bytearray(good.getvalue())
    rng = random.Random(seed)
    good.seek(0)
    with av.open(good, mode="r", format="matroska") as source:
        for packet in source.demux(video=0):
            if not packet.size or packet.pts is None:
                continue
            if packet.pts * packet.time_base >= from_seconds:
                payload = bytes(packet)
                at = data.index(payload, packet.pos or 0)
                data[at : at + len(payload)] = rng.randbytes(len(payload))
    _write_bytes(target, bytes(data))


def make_audio_only(
    target: Target, *, container: ContainerName = "webm", seconds: float = 2.0
) -> None:
    """Write a file with a sine tone and no video stream at all."""
    with _output(target, container, {}) as out:
        astream = _add_audio(out, container)
        for frame in _tone_frames(0, round(seconds * AUDIO_RATE)):
            out.mux(astream.encode(frame))
        out.mux(astream.encode(None))


def frame_index_of(frame: av.VideoFrame) -> int:
    """Read back the index that make_video() drew into a (decoded, upright) frame.

    Labels have LABEL_BITS bits, so frame 1024 reads back as 0 again.
    """
    grey = frame.reformat(format="gray")
    plane = grey.planes[0]
    data = bytes(plane)
    width, height, stride = grey.width, grey.height, plane.line_size
    x0, x1 = width // 10, (width * 4) // 10
    index = 0
    for bit in range(LABEL_BITS):
        y = int((bit + 0.5) * height / LABEL_BITS)
        row = data[y * stride + x0 : y * stride + x1]
        index = (index << 1) | (sum(row) / len(row) > _GREY)
    return index


# --- internals -------------------------------------------------------------------------


def _write_av(
    out: OutputContainer,
    *,
    container: ContainerName,
    time_base: Fraction,
    frame_pts: list[int],
    end_pts: int,
    size: tuple[int, int],
    audio: bool,
    marker: bytes | None,
    frame_labels: bool,
    rate: int,
    rotation: int = 0,
    declare_rate: bool = True,
    audio_delay_ms: int = 0,
) -> None:
    width, height = size
    if marker is not None:
        out.metadata["title"] = marker.decode("utf-8")
    vstream = _add_video(out, container, rate, width, height, time_base)
    if not declare_rate:
        # No frame rate means no Matroska DefaultDuration, as in Chrome's files.
        vstream.codec_context.framerate = Fraction(0, 1)
    if rotation:
        vstream.set_display_rotation(rotation)
    astream = _add_audio(out, container) if audio else None

    # Interleave: before each video frame, write the audio that plays before it.
    # The tone starts `audio_delay_ms` after the first frame; sample n plays at
    # audio_start + n in a 1/AUDIO_RATE time base.
    audio_samples_done = 0
    delay = round(audio_delay_ms * AUDIO_RATE / 1000)
    audio_start = round(frame_pts[0] * time_base * AUDIO_RATE) + delay
    for index, pts in enumerate(frame_pts):
        frame = _picture(index if frame_labels else None, index, width, height)
        frame.pts = pts
        frame.time_base = time_base
        out.mux(vstream.encode(frame))
        if astream is not None:
            due = round((pts - frame_pts[0]) * time_base * AUDIO_RATE) - delay
            for aframe in _tone_frames(audio_samples_done, due - audio_samples_done, audio_start):
                out.mux(astream.encode(aframe))
            audio_samples_done = max(audio_samples_done, due)
    out.mux(vstream.encode(None))
    if astream is not None:
        total = round((end_pts - frame_pts[0]) * time_base * AUDIO_RATE) - delay
        for aframe in _tone_frames(audio_samples_done, total - audio_samples_done, audio_start):
            out.mux(astream.encode(aframe))
        out.mux(astream.encode(None))


def _add_video(
    out: OutputContainer,
    container: ContainerName,
    rate: int,
    width: int,
    height: int,
    time_base: Fraction,
) -> VideoStream:
    codec = "libvpx-vp9" if container == "webm" else "libx264"
    options = _VP9_OPTIONS if container == "webm" else _X264_OPTIONS
    stream = out.add_stream(codec, rate=rate, options=dict(options))
    assert isinstance(stream, VideoStream)
    stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
    stream.codec_context.time_base = time_base
    return stream


def _add_audio(out: OutputContainer, container: ContainerName) -> AudioStream:
    codec = "libopus" if container == "webm" else "aac"
    stream = out.add_stream(codec, rate=AUDIO_RATE)
    assert isinstance(stream, AudioStream)
    stream.layout = "mono"
    return stream


def _picture(label: int | None, index: int, width: int, height: int) -> av.VideoFrame:
    frame = av.VideoFrame(width, height, "yuv420p")
    y_plane = frame.planes[0]
    stride = y_plane.line_size
    half = width // 2
    ramp = _RAMP
    rows = []
    for y in range(height):
        if label is None:
            left = bytes([_GREY]) * half
        else:
            bit = LABEL_BITS - 1 - min(LABEL_BITS - 1, y * LABEL_BITS // height)
            left = bytes([_WHITE if label >> bit & 1 else _BLACK]) * half
        offset = (index * 4 + y) % 256
        right = ramp[offset : offset + (width - half)]
        rows.append((left + right).ljust(stride, b"\0"))
    y_plane.update(b"".join(rows))
    for chroma in frame.planes[1:]:
        chroma.update(bytes([128]) * chroma.buffer_size)
    return frame


def _tone_frames(first_sample: int, count: int, pts_offset: int = 0) -> Iterator[av.AudioFrame]:
    done = 0
    while done < count:
        n = min(_AUDIO_FRAME_SAMPLES, count - done)
        start = first_sample + done
        samples = array(
            "h",
            (
                int(8000 * math.sin(2 * math.pi * _TONE_HZ * (start + i) / AUDIO_RATE))
                for i in range(n)
            ),
        )
        frame = av.AudioFrame(format="s16", layout="mono", samples=n)
        frame.planes[0].update(samples.tobytes())
        frame.sample_rate = AUDIO_RATE
        frame.pts = pts_offset + start
        frame.time_base = Fraction(1, AUDIO_RATE)
        yield frame
        done += n


class _Unseekable:
    """A write-only view of a file: the muxer cannot go back and patch in a duration."""

    def __init__(self, target: BinaryIO) -> None:
        self._target = target

    def write(self, data: bytes) -> int:
        return self._target.write(data)


@contextmanager
def _output(
    target: Target,
    container: ContainerName,
    options: dict[str, str],
    *,
    seekable: bool = True,
) -> Iterator[OutputContainer]:
    if isinstance(target, str | os.PathLike):
        with open(target, "wb") as fh, _output(fh, container, options, seekable=seekable) as out:
            yield out
        return
    sink: BinaryIO | _Unseekable = target if seekable else _Unseekable(target)
    with av.open(sink, mode="w", format=container, container_options=options) as out:
        yield out


def _write_bytes(target: Target, data: bytes) -> None:
    if isinstance(target, str | os.PathLike):
        with open(target, "wb") as fh:
            fh.write(data)
    else:
        target.write(data)
