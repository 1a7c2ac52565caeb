"""Video understanding and processing for recordings and clips, with PyAV only.

Media is encrypted at rest, so every function here reads from and writes to binary
file-like objects handed over by `storage` (anything with read/seek/tell; outputs also need
write, and read for the MP4 faststart pass). Nothing takes a path, runs the ffmpeg binary or
writes a temporary file, so no plaintext ever lands on disk. Each function treats its source
as the whole object from offset 0 and leaves it open.

Times given to and returned by this module are seconds from the first video frame, which is
how the transcoded MP4 (always starting at 0) presents them in the browser.
"""

from __future__ import annotations

import contextlib
import math
import struct
from collections import deque
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from fractions import Fraction
from typing import Any, Protocol

import av
from av.audio.frame import AudioFrame
from av.audio.stream import AudioStream
from av.container import InputContainer, OutputContainer
from av.video.frame import VideoFrame
from av.video.stream import VideoStream

from vigparent.containers import (
    EBML_HEADER_ID,
    NOT_A_VIDEO,
    ebml_header,
    sniff_container,
)
from vigparent.video_wire import (
    DAMAGED,
    NO_PICTURE,
    PICTURE_TOO_BIG,
    VideoInfo,
    VideoRejected,
)

__all__ = [
    "MediaOutput",
    "MediaSink",
    "MediaSource",
    "VideoInfo",
    "VideoRejected",
    "cut_clip",
    "frame_rate",
    "inspect",
    "poster_jpeg",
    "sniff_container",
    "transcode_to_mp4",
]


# 8K (7680x4320): above what any phone films, and a cap on decoder memory per frame.
MAX_PIXELS = 7680 * 4320

# Demuxer per sniffed container. Forcing it (rather than letting FFmpeg probe) keeps the
# attack surface to the two demuxers phones actually produce.
_DEMUXERS = {"webm": "matroska", "mp4": "mov"}

_SEGMENT_ID = 0x18538067
_CLUSTER_ID = 0x1F43B675
# Matroska top-level ids (plus the EBML header): an unknown-size Cluster, as MediaRecorder
# writes, ends where one of these begins.
_LEVEL1_IDS = frozenset(
    {
        0x1A45DFA3, 0x18538067, 0x114D9B74, 0x1549A966, 0x1654AE6B,
        0x1F43B675, 0x1C53BB6B, 0x1941A469, 0x1043A770, 0x1254C367,
    }
)  # fmt: skip

# Output settings. 90 kHz is the usual video clock: fine enough for variable frame rates.
_OUT_TIME_BASE = Fraction(1, 90_000)
_AUDIO_RATE = 48_000
_X264_OPTIONS = {"preset": "veryfast", "crf": "23"}
# A keyframe every ~2 s keeps browser seeking snappy when the practitioner scrubs for clips.
_KEYFRAME_SECONDS = 2
_AAC_BIT_RATE = 128_000
# A gap longer than this in the audio timestamps is filled with silence to keep lip sync.
_AUDIO_GAP = Fraction(1, 20)
# Timestamps within a microsecond count as equal, so float seconds like 1.2 select the frame
# stamped exactly 1.2 s.
_EPSILON = Fraction(1, 1_000_000)


class MediaSource(Protocol):
    """A binary file object to read: io.BytesIO, open(..., "rb"), storage's EncryptedFile."""

    def read(self, size: int = -1, /) -> bytes | None: ...
    def seek(self, offset: int, whence: int = 0, /) -> int: ...
    def tell(self) -> int: ...


class MediaSink(Protocol):
    """A binary file object to write (a poster needs nothing more)."""

    def write(self, data: bytes, /) -> int | None: ...


class MediaOutput(MediaSource, MediaSink, Protocol):
    """An output that can also be read back: the MP4 faststart pass rereads what it wrote."""


def inspect(
    src: MediaSource, *, min_seconds: float = 1.0, max_seconds: float = 12 * 60
) -> VideoInfo:
    """Check that `src` is a whole, playable video of acceptable length; raise VideoRejected.

    Every packet of the video and audio streams goes through a real decoder: a file whose
    header is fine but whose body is not must not get in. Decoding a whole 10-minute
    recording costs seconds of CPU, so this belongs in a background job; we pay it rather
    than decode a sample, because a sample cannot vouch for the parts it skipped. Before
    decoding, the container's element/box structure is walked (cheap: headers only), which
    catches what decoders silently forgive: a cut-off end or a tail of junk.
    """
    kind = _sniff(src)
    _check_structure(src, kind)
    with _open_input(src, kind) as container:
        video = _video_stream(container)
        if video.codec_context.width * video.codec_context.height > MAX_PIXELS:
            raise VideoRejected(PICTURE_TOO_BIG)
        audio = container.streams.audio[0] if container.streams.audio else None
        clock = _VideoClock()
        for frame in _decoded(container, video, audio):
            # Stop as soon as a file is too long rather than decode all of it.
            if (
                isinstance(frame, VideoFrame)
                and clock.add(frame)
                and clock.duration() > max_seconds
            ):
                raise VideoRejected(f"This video is longer than {_phrase(max_seconds)}.")
        if clock.frames == 0:
            raise VideoRejected(DAMAGED)
        duration = clock.duration()
        if duration < min_seconds:
            raise VideoRejected(f"This video is too short (under {_phrase(min_seconds)}).")
        if duration > max_seconds:
            raise VideoRejected(f"This video is longer than {_phrase(max_seconds)}.")
        width, height = clock.display_size
        return VideoInfo(
            container=kind,
            duration=round(float(duration), 3),
            width=width,
            height=height,
            video_codec=video.codec_context.name,
            audio_codec=audio.codec_context.name if audio is not None else None,
            frame_rate=clock.frame_rate(),
        )


def transcode_to_mp4(src: MediaSource, dst: MediaOutput, *, max_height: int = 720) -> VideoInfo:
    """Re-encode a whole recording as H.264/AAC MP4 that plays and seeks in every browser.

    `dst` must be empty, seekable and readable; if this raises, discard whatever it holds.
    The output starts at 0 whatever the source's first timestamp (MediaRecorder's often is
    not 0) and keeps the source's real frame timing, which with phones is variable, rather
    than forcing a constant rate that would duplicate or drop frames. Portrait phone videos
    are turned upright. No source metadata is copied (phones put GPS in it).
    """
    return _reencode(src, dst, start=Fraction(0), end=None, max_height=max_height)


def cut_clip(
    src: MediaSource, dst: MediaOutput, *, start: float, end: float, max_height: int = 720
) -> VideoInfo:
    """Cut [start, end) seconds out of a video, frame-accurately, as H.264/AAC MP4.

    The clip's first frame is the first source frame at or after `start` and its last is
    the last one before `end`, so it is within a frame of `end - start` long; its sound is
    cut to the same span. A stream copy could only start on a keyframe (seconds away), so
    the clip is re-encoded. Raises ValueError for an empty interval or a start past the end
    (then nothing has been written to `dst`).
    """
    if not (math.isfinite(start) and math.isfinite(end)) or start < 0:
        raise ValueError("start and end must be finite and start must not be negative")
    if start >= end:
        raise ValueError("start must be before end")
    return _reencode(src, dst, start=Fraction(start), end=Fraction(end), max_height=max_height)


def frame_rate(src: MediaSource) -> float | None:
    """The nominal frame rate from the headers (for the editor's one-frame step), or None.

    The nominal rate (what the camera aimed at) steps cleanly from frame to frame; the average
    is skewed by a short last frame or by jitter.
    """
    with _open_input(src, _sniff(src)) as container:
        stream = _video_stream(container)
        rate = stream.guessed_rate or stream.average_rate
    if not rate or not 1 <= rate <= 240:
        return None
    return round(float(Fraction(rate)), 2)


def poster_jpeg(
    src: MediaSource, dst: MediaSink, *, at_seconds: float | None = None, max_width: int = 640
) -> None:
    """Write one JPEG still from near 1 s (or `at_seconds`; the last frame if it is later)."""
    target = Fraction(1 if at_seconds is None else max(0.0, at_seconds))
    kind = _sniff(src)
    with _open_input(src, kind) as container:
        video = _video_stream(container)
        origin = _stream_origin(video)
        _seek_before(container, video, origin, target)
        chosen: VideoFrame | None = None
        for frame in _decoded(container, video, None):
            if not isinstance(frame, VideoFrame) or frame.pts is None:
                continue
            t = _frame_time(frame)
            if origin is None:
                origin = t
            chosen = frame
            if t - origin >= target - _EPSILON:
                break
        if chosen is None:
            raise VideoRejected(DAMAGED)
        width, height = _fit(*_display_size(chosen), max_width=max_width)
        picture = _Shaper(width, height, "yuvj420p")(chosen)
    encoder = av.CodecContext.create("mjpeg", "w")
    encoder.width, encoder.height, encoder.pix_fmt = width, height, "yuvj420p"
    encoder.time_base = Fraction(1, 25)
    # Fixed quantiser 3 (of 2..31): a crisp still; the default bit-rate target is blurry.
    encoder.qscale = True
    encoder.global_quality = 3 * 118  # FF_QP2LAMBDA
    picture.pts = 0
    for packet in [*encoder.encode(picture), *encoder.encode(None)]:
        dst.write(bytes(packet))


# --- structure walk ----------------------------------------------------------------------


class _Damaged(Exception):
    pass


class _Window:
    """Random-access reads over a file object through one cached 64 KiB block."""

    _BLOCK = 64 * 1024

    def __init__(self, src: MediaSource) -> None:
        self._src = src
        self.size = src.seek(0, 2)
        self._start = 0
        self._data = b""

    def read(self, pos: int, n: int) -> bytes:
        if not (self._start <= pos and pos + n <= self._start + len(self._data)):
            self._src.seek(pos)
            self._start, self._data = pos, self._src.read(max(n, self._BLOCK)) or b""
        offset = pos - self._start
        return self._data[offset : offset + n]


def _check_structure(src: MediaSource, kind: str) -> None:
    try:
        window = _Window(src)
        if kind == "webm":
            _check_matroska(window)
        else:
            _check_mp4(window)
    except _Damaged as exc:
        raise VideoRejected(DAMAGED) from exc
    finally:
        src.seek(0)


def _check_mp4(window: _Window) -> None:
    """Every top-level box must fit inside the file and a moov box must be there."""
    pos, saw_moov = 0, False
    while pos < window.size:
        header = window.read(pos, 16)
        if len(header) < 8:
            raise _Damaged("cut off in a box header")
        size, kind = struct.unpack(">I", header[:4])[0], header[4:8]
        if not all(0x20 <= c < 0x7F for c in kind):
            raise _Damaged("junk where a box should start")
        header_len = 8
        if size == 1:
            if len(header) < 16:
                raise _Damaged("cut off in a box header")
            size, header_len = struct.unpack(">Q", header[8:16])[0], 16
        elif size == 0:  # "runs to the end of the file"
            size = window.size - pos
        if size < header_len or pos + size > window.size:
            raise _Damaged("box runs past the end of the file")
        saw_moov = saw_moov or kind == b"moov"
        pos += size
    if not saw_moov:
        raise _Damaged("no moov box")


def _check_matroska(window: _Window) -> None:
    """Every element down to the blocks inside clusters must fit inside its parent.

    Live (MediaRecorder) files have unknown-size Segments and Clusters, so the demuxer cannot
    tell a cut-off file from a finished one; walking the elements can.
    """
    pos, end = 0, window.size
    while pos < end:
        element, size, data = _ebml_element(window, pos, end)
        if pos == 0 and element != EBML_HEADER_ID:
            raise _Damaged("no EBML header")
        if element == _SEGMENT_ID:
            segment_end = end if size is None else data + size
            if segment_end > end:
                raise _Damaged("segment runs past the end of the file")
            _check_segment(window, data, segment_end)
            pos = segment_end
        else:
            pos = _skip(data, size, end)


def _check_segment(window: _Window, pos: int, end: int) -> None:
    while pos < end:
        element, size, data = _ebml_element(window, pos, end)
        if element != _CLUSTER_ID:
            pos = _skip(data, size, end)
            continue
        cluster_end = end if size is None else _skip(data, size, end)
        pos = data
        while pos < cluster_end:
            child, child_size, child_data = _ebml_element(window, pos, cluster_end)
            if size is None and child in _LEVEL1_IDS:
                break  # an unknown-size cluster ends where the next top-level element starts
            pos = _skip(child_data, child_size, cluster_end)


def _skip(data: int, size: int | None, end: int) -> int:
    if size is None or data + size > end:
        raise _Damaged("element runs past its parent")
    return data + size


def _ebml_element(window: _Window, pos: int, end: int) -> tuple[int, int | None, int]:
    """Read an element header at `pos`: (id, size or None if unknown, offset of its data)."""
    header = window.read(pos, min(12, end - pos))
    parsed = ebml_header(header)
    if parsed is None:
        raise _Damaged("bad or cut-off element header")
    element, size, header_len = parsed
    return element, size, pos + header_len


# --- decoding ----------------------------------------------------------------------------


def _sniff(src: MediaSource) -> str:
    src.seek(0)
    kind = sniff_container(src.read(64) or b"")
    src.seek(0)
    if kind is None:
        raise VideoRejected(NOT_A_VIDEO)
    return kind


def _refuse_io_open(url: str, flags: int, options: dict[str, str]) -> Any:
    # Demuxers can ask to open further files by name (e.g. MP4 data references). The only
    # bytes we ever let FFmpeg see are the ones we hand it.
    raise PermissionError("video input may not open other files")


@contextmanager
def _open_input(src: MediaSource, kind: str) -> Iterator[InputContainer]:
    src.seek(0)
    try:
        container = av.open(src, mode="r", format=_DEMUXERS[kind], io_open=_refuse_io_open)
    except (av.FFmpegError, PermissionError) as exc:
        raise VideoRejected(NOT_A_VIDEO) from exc
    try:
        yield container
    finally:
        container.close()


def _video_stream(container: InputContainer) -> VideoStream:
    if not container.streams.video:
        raise VideoRejected(NO_PICTURE if container.streams.audio else NOT_A_VIDEO)
    video = container.streams.video[0]
    # Frame and slice threads: a long recording decodes about twice as fast on two cores.
    video.thread_type = "AUTO"
    return video


def _decoded(
    container: InputContainer, video: VideoStream, audio: AudioStream | None
) -> Iterator[VideoFrame | AudioFrame]:
    """Decode the chosen streams in file order, turning decoder errors into DAMAGED."""
    streams = (video,) if audio is None else (video, audio)
    try:
        # demux() ends with an empty packet per stream, which flushes each decoder.
        for packet in container.demux(*streams):
            for frame in packet.decode():
                if isinstance(frame, VideoFrame | AudioFrame):
                    yield frame
    except (av.FFmpegError, PermissionError) as exc:  # PermissionError: _refuse_io_open
        raise VideoRejected(DAMAGED) from exc


def _frame_time(frame: VideoFrame | AudioFrame) -> Fraction:
    assert frame.pts is not None and frame.time_base is not None
    return frame.pts * frame.time_base


def _frame_duration(frame: VideoFrame) -> Fraction:
    if frame.duration and frame.time_base:
        return frame.duration * frame.time_base
    return Fraction(0)


def _stream_origin(video: VideoStream) -> Fraction | None:
    if video.start_time is None or video.time_base is None:
        return None
    return video.start_time * video.time_base


def _seek_before(
    container: InputContainer, video: VideoStream, origin: Fraction | None, target: Fraction
) -> None:
    """Jump to a keyframe a second before `target` so we need not decode from the start."""
    if origin is None or target <= 2 or video.time_base is None:
        return
    try:
        container.seek(int((origin + target - 1) / video.time_base), stream=video, backward=True)
    except av.FFmpegError:
        # A file without an index may refuse; decode from the start instead.
        try:
            container.seek(video.start_time or 0, stream=video, backward=True)
        except av.FFmpegError as exc:
            raise VideoRejected(DAMAGED) from exc


def _display_size(frame: VideoFrame) -> tuple[int, int]:
    turned = _quarter_turns(frame) % 2 == 1
    return (frame.height, frame.width) if turned else (frame.width, frame.height)


def _quarter_turns(frame: VideoFrame) -> int:
    """Counter-clockwise quarter turns the display matrix asks for (iPhones film sideways)."""
    return round(frame.rotation / 90) % 4


def _fit(
    width: int, height: int, *, max_width: int | None = None, max_height: int | None = None
) -> tuple[int, int]:
    """Scale down (never up) to fit, keeping the aspect; H.264 4:2:0 needs even sizes."""
    scale = Fraction(1)
    if max_width is not None and width > max_width:
        scale = min(scale, Fraction(max_width, width))
    if max_height is not None and height > max_height:
        scale = min(scale, Fraction(max_height, height))
    return max(2, round(width * scale / 2) * 2), max(2, round(height * scale / 2) * 2)


class _VideoClock:
    """Tracks decoded video frames to measure duration, rate and displayed size."""

    def __init__(self) -> None:
        self.frames = 0
        self.display_size = (0, 0)
        self._first: Fraction | None = None
        self._last = Fraction(0)
        self._first_duration = Fraction(0)

    def add(self, frame: VideoFrame) -> bool:
        if frame.pts is None:
            return False
        t = _frame_time(frame)
        if self._first is None:
            self._first, self._last, self.display_size = t, t, _display_size(frame)
            self._first_duration = _frame_duration(frame)
        self._last = max(self._last, t)
        self.frames += 1
        return True

    def mean_interval(self) -> Fraction:
        """The average time from one frame to the next (the one frame's own, if alone).

        The last frame is taken to last this long. Its own stamped duration is not trusted:
        phones often leave it out and muxers sometimes write 1 tick; the mean is also
        steadier than the last gap when the frame rate wobbles.
        """
        if self._first is None:
            return Fraction(0)
        if self.frames < 2 or self._last <= self._first:
            return self._first_duration
        return (self._last - self._first) / (self.frames - 1)

    def duration(self) -> Fraction:
        # MediaRecorder WebM has no duration in its header, so we measure what we decoded.
        if self._first is None:
            return Fraction(0)
        return self._last + self.mean_interval() - self._first

    def frame_rate(self) -> float | None:
        # With a variable frame rate this is the average.
        interval = self.mean_interval()
        return round(1 / float(interval), 2) if interval > 0 else None


# --- re-encoding -------------------------------------------------------------------------


class _Shaper:
    """Turns decoded frames upright, scales them and converts their pixel format.

    Rebuilt whenever the input's size or format changes: Chrome's MediaRecorder may change
    resolution mid-recording when the phone is busy.
    """

    def __init__(self, width: int, height: int, pix_fmt: str) -> None:
        self.width, self.height, self.pix_fmt = width, height, pix_fmt
        self._key: tuple[int, int, str, int] | None = None
        self._graph: av.filter.Graph | None = None

    def __call__(self, frame: VideoFrame) -> VideoFrame:
        key = (frame.width, frame.height, frame.format.name, _quarter_turns(frame))
        if key != self._key or self._graph is None:
            self._graph, self._key = self._build(frame, key[3]), key
        self._graph.vpush(frame)
        return self._graph.vpull()

    def _build(self, frame: VideoFrame, turns: int) -> av.filter.Graph:
        graph = av.filter.Graph()
        nodes = [
            graph.add_buffer(
                width=frame.width,
                height=frame.height,
                format=frame.format,
                time_base=frame.time_base or Fraction(1, 1000),
            )
        ]
        # FFmpeg does not apply the display matrix for us; the output carries none, so the
        # pixels themselves must be turned.
        rotations: dict[int, list[tuple[str, str | None]]] = {
            1: [("transpose", "cclock")],
            2: [("hflip", None), ("vflip", None)],
            3: [("transpose", "clock")],
        }
        for name, args in rotations.get(turns, []):
            nodes.append(graph.add(name, args))
        nodes.append(graph.add("scale", f"{self.width}:{self.height}"))
        nodes.append(graph.add("format", self.pix_fmt))
        nodes.append(graph.add("buffersink"))
        graph.link_nodes(*nodes).configure()
        return graph


class _ReadView:
    """A read-only, independently positioned view of the output being written.

    The MP4 faststart pass re-opens its output to move the index ('moov') in front of the
    media ('mdat'), so browsers can start playing and seeking before the whole file has
    arrived. FFmpeg would re-open it *by name*, which for our encrypted file objects means
    the ciphertext path or nothing; this view hands it the same object instead, restoring
    the writer's position after every read.
    """

    def __init__(self, target: MediaOutput) -> None:
        self._target = target
        self._pos = 0

    def read(self, n: int = -1) -> bytes:
        saved = self._target.tell()
        try:
            self._target.seek(self._pos)
            data = self._target.read(n) or b""
        finally:
            self._target.seek(saved)
        self._pos += len(data)
        return data

    def seek(self, offset: int, whence: int = 0) -> int:
        if whence == 2:
            saved = self._target.tell()
            try:
                offset += self._target.seek(0, 2)
            finally:
                self._target.seek(saved)
        elif whence == 1:
            offset += self._pos
        self._pos = offset
        return self._pos

    def tell(self) -> int:
        return self._pos

    def close(self) -> None:
        """FFmpeg closes what it re-opened; the real output stays open for its owner."""


class _Mp4Writer:
    """H.264/AAC MP4 output, opened on the first frame (when the size is known)."""

    def __init__(
        self,
        dst: MediaOutput,
        *,
        width: int,
        height: int,
        rate: Fraction,
        audio_layout: str | None,
    ) -> None:
        def reopen(url: str, flags: int, options: dict[str, str]) -> _ReadView:
            if flags & 2:  # AVIO_FLAG_WRITE: nothing but the faststart read-back is allowed
                raise PermissionError("video output may not open other files")
            return _ReadView(dst)

        self._out: OutputContainer = av.open(
            dst,
            mode="w",
            format="mp4",
            container_options={"movflags": "+faststart"},
            io_open=reopen,
        )
        options = dict(_X264_OPTIONS, g=str(max(1, round(rate * _KEYFRAME_SECONDS))))
        self.video = self._out.add_stream("libx264", rate=rate, options=options)
        self.video.width, self.video.height, self.video.pix_fmt = width, height, "yuv420p"
        self.video.codec_context.time_base = _OUT_TIME_BASE
        self.video.time_base = _OUT_TIME_BASE
        self.audio: AudioStream | None = None
        if audio_layout is not None:
            self.audio = self._out.add_stream("aac", rate=_AUDIO_RATE)
            self.audio.layout = audio_layout
            self.audio.bit_rate = _AAC_BIT_RATE
        self.width, self.height = width, height
        self.frames = 0
        self.last_pts = 0
        self.end = 0  # in _OUT_TIME_BASE units

    def write_video(self, frame: VideoFrame, pts: int, duration: int) -> None:
        frame.pts, frame.duration, frame.time_base = pts, duration, _OUT_TIME_BASE
        self._out.mux(self.video.encode(frame))
        self.frames += 1
        self.last_pts = pts
        self.end = max(self.end, pts + duration)

    def write_audio(self, frame: AudioFrame) -> None:
        assert self.audio is not None
        self._out.mux(self.audio.encode(frame))

    def abandon(self) -> None:
        """Release FFmpeg's hold on `dst` after a failure; what it holds is then junk."""
        with contextlib.suppress(Exception):
            self._out.close()

    def close(self) -> VideoInfo:
        self._out.mux(self.video.encode(None))
        if self.audio is not None:
            self._out.mux(self.audio.encode(None))
        self._out.close()
        duration = round(float(self.end * _OUT_TIME_BASE), 3)
        span = float(self.last_pts * _OUT_TIME_BASE)  # first frame is at 0
        return VideoInfo(
            container="mp4",
            duration=duration,
            width=self.width,
            height=self.height,
            video_codec="h264",
            audio_codec="aac" if self.audio is not None else None,
            frame_rate=round((self.frames - 1) / span, 2) if span > 0 else None,
        )


class _AudioTrimmer:
    """Resamples audio to 48 kHz fltp for AAC and keeps exactly [output start, end).

    Audio is laid on a sample clock that starts at the first decoded audio frame, so the cut
    is sample-accurate. Frames wait here until the output's first video frame (its time
    zero) is known, which with decoder delay comes a few packets after the audio.
    """

    def __init__(self, layout: str, emit: Callable[[AudioFrame], None]) -> None:
        self._layout = layout
        self._emit = emit
        self._resampler = av.AudioResampler(format="fltp", layout=layout, rate=_AUDIO_RATE)
        self._origin: Fraction | None = None  # source time of sample 0
        self._expected: Fraction | None = None  # source time the next input frame should have
        self._samples = 0  # samples laid on the clock so far
        self._window: tuple[Fraction, Fraction | None] | None = None  # source start, end
        self._start: int | None = None  # first sample to keep (negative: sound starts late)
        self._stop: int | None = None  # first sample not to keep
        self._waiting: deque[tuple[int, AudioFrame]] = deque()

    @property
    def done(self) -> bool:
        return self._stop is not None and self._samples >= self._stop

    def start(self, t0: Fraction, end: Fraction | None) -> None:
        """Fix the output's time zero (its first video frame) and end; release the waiting."""
        self._window = (t0, end)
        self._fix_bounds()
        waiting, self._waiting = self._waiting, deque()
        for first, frame in waiting:
            self._place(first, frame)

    def discard_before(self, t: Fraction) -> None:
        """Drop waiting audio that ends before `t`, which the output cannot start before."""
        if self._origin is None:
            return
        keep_from = math.floor((t - self._origin) * _AUDIO_RATE)
        while self._waiting and self._waiting[0][0] + self._waiting[0][1].samples <= keep_from:
            self._waiting.popleft()

    def add(self, frame: AudioFrame) -> None:
        if frame.pts is None or self.done:
            return
        t = _frame_time(frame)
        if self._origin is None:
            self._origin = t
            self._fix_bounds()
        elif self._expected is not None and t - self._expected > _AUDIO_GAP:
            # The recorder dropped audio (phone busy); fill with silence to keep lip sync.
            for silence in self._silence(round((t - self._expected) * _AUDIO_RATE)):
                self._push(silence)
        self._expected = t + Fraction(frame.samples, frame.sample_rate)
        for resampled in self._resampler.resample(frame):
            self._push(resampled)

    def _fix_bounds(self) -> None:
        if self._window is None or self._origin is None:
            return
        t0, end = self._window
        self._start = math.ceil((t0 - self._origin) * _AUDIO_RATE)
        self._stop = None if end is None else math.floor((end - self._origin) * _AUDIO_RATE)
        if self._start < 0:
            # The sound starts after the picture. Lead in with silence so the audio track
            # also starts at 0: the MP4 muxer mistimes AAC that starts late by one packet.
            for silence in self._silence(-self._start):
                self._send(silence)

    def finish(self) -> None:
        if not self.done:
            for resampled in self._resampler.resample(None):
                self._push(resampled)

    def _push(self, frame: AudioFrame) -> None:
        first = self._samples
        self._samples += frame.samples
        if self._start is None:
            self._waiting.append((first, frame))
        else:
            self._place(first, frame)

    def _place(self, first: int, frame: AudioFrame) -> None:
        assert self._start is not None
        lo = max(first, self._start)
        hi = first + frame.samples
        if self._stop is not None:
            hi = min(hi, self._stop)
        if hi <= lo:
            return
        if (lo, hi) != (first, first + frame.samples):
            frame = self._slice(frame, lo - first, hi - lo)
        frame.pts = lo - self._start
        self._send(frame)

    def _send(self, frame: AudioFrame) -> None:
        frame.time_base = Fraction(1, _AUDIO_RATE)
        frame.sample_rate = _AUDIO_RATE
        self._emit(frame)

    def _slice(self, frame: AudioFrame, offset: int, count: int) -> AudioFrame:
        part = AudioFrame(format="fltp", layout=self._layout, samples=count)
        for source, target in zip(frame.planes, part.planes, strict=True):
            target.update(bytes(source)[offset * 4 : (offset + count) * 4])  # 4-byte floats
        return part

    def _silence(self, count: int) -> Iterator[AudioFrame]:
        """`count` samples of silence, in frames of at most a second, stamped from 0."""
        for done in range(0, count, _AUDIO_RATE):
            frame = AudioFrame(
                format="fltp", layout=self._layout, samples=min(_AUDIO_RATE, count - done)
            )
            for plane in frame.planes:
                plane.update(bytes(plane.buffer_size))
            frame.pts = done
            yield frame


class _VideoCutter:
    """Chooses the frames of [start, end), converts them and times them from 0.

    Each frame is held until the next arrives, because with a variable frame rate a frame
    lasts until the next one starts.
    """

    def __init__(
        self,
        writer_factory: Callable[[int, int], _Mp4Writer],
        *,
        origin: Fraction | None,
        start: Fraction,
        end: Fraction | None,
        max_height: int,
        rate: Fraction,
    ) -> None:
        self._new_writer = writer_factory
        self.origin = origin  # source time of the video's first frame, once known
        self._start, self._end = start, end
        self._max_height = max_height
        self._rate = rate
        self.t0: Fraction | None = None  # source time of the output's first frame
        self.writer: _Mp4Writer | None = None
        self.done = False
        self._shaper: _Shaper | None = None
        self._clock = _VideoClock()  # of the frames taken
        self._held: tuple[VideoFrame, Fraction] | None = None  # converted picture, its time
        self._last_pts = -1

    @property
    def end_time(self) -> Fraction | None:
        """The window's end in source time, once the origin is known."""
        if self._end is None or self.origin is None:
            return None
        return self.origin + self._end

    @property
    def earliest_start(self) -> Fraction | None:
        return None if self.origin is None else self.origin + self._start

    def add(self, frame: VideoFrame) -> bool:
        """Take a decoded frame; True if it is the output's first frame."""
        if self.done or frame.pts is None:
            return False
        t = _frame_time(frame)
        if self.origin is None:  # no start time in the header: the first frame is 0
            self.origin = t
        if t - self.origin < self._start - _EPSILON:
            return False
        end = self.end_time
        if end is not None and t >= end - _EPSILON:
            self.done = True
            self._write_held(t)
            return False
        first = self.writer is None
        if self.writer is None:
            self.t0 = t
            width, height = _fit(*_display_size(frame), max_height=self._max_height)
            self._shaper = _Shaper(width, height, "yuv420p")
            self.writer = self._new_writer(width, height)
        assert self._shaper is not None
        self._write_held(t)
        self._clock.add(frame)
        self._held = (self._shaper(frame), t)
        return first

    def finish(self) -> None:
        self._write_held(None)

    def _write_held(self, next_time: Fraction | None) -> None:
        if self._held is None:
            return
        assert self.writer is not None and self.t0 is not None
        picture, t = self._held
        self._held = None
        if next_time is not None:
            length = next_time - t
        else:
            length = self._clock.mean_interval() or 1 / self._rate
        if self.end_time is not None:
            length = min(length, self.end_time - t)
        pts = round((t - self.t0) / _OUT_TIME_BASE)
        if pts <= self._last_pts:
            return  # a repeated or backwards timestamp: x264 needs them strictly rising
        self.writer.write_video(picture, pts, max(1, round(length / _OUT_TIME_BASE)))
        self._last_pts = pts


def _reencode(
    src: MediaSource, dst: MediaOutput, *, start: Fraction, end: Fraction | None, max_height: int
) -> VideoInfo:
    kind = _sniff(src)
    with _open_input(src, kind) as container:
        video = _video_stream(container)
        audio = container.streams.audio[0] if container.streams.audio else None
        origin = _stream_origin(video)
        _seek_before(container, video, origin, start)
        # Only a hint for x264's rate control: timestamps carry the real (variable) timing.
        rate = video.average_rate or video.guessed_rate or Fraction(30)
        rate = min(max(rate, Fraction(1)), Fraction(120))
        layout = None
        if audio is not None:
            layout = "mono" if audio.codec_context.layout.nb_channels == 1 else "stereo"

        def new_writer(width: int, height: int) -> _Mp4Writer:
            return _Mp4Writer(dst, width=width, height=height, rate=rate, audio_layout=layout)

        def emit_audio(frame: AudioFrame) -> None:
            assert cutter.writer is not None
            cutter.writer.write_audio(frame)

        cutter = _VideoCutter(
            new_writer, origin=origin, start=start, end=end, max_height=max_height, rate=rate
        )
        trimmer = _AudioTrimmer(layout, emit_audio) if layout is not None else None
        try:
            for frame in _decoded(container, video, audio):
                if isinstance(frame, AudioFrame):
                    if trimmer is not None:
                        trimmer.add(frame)
                        earliest = cutter.earliest_start
                        if cutter.t0 is None and earliest is not None:
                            trimmer.discard_before(earliest)
                elif cutter.add(frame) and trimmer is not None:
                    assert cutter.t0 is not None
                    trimmer.start(cutter.t0, cutter.end_time)
                if cutter.done and (trimmer is None or trimmer.done or _past(frame, cutter)):
                    break  # a clip: no need to read the rest of the file
            if cutter.writer is None:
                raise ValueError("start is beyond the end of the video")
            cutter.finish()
            if trimmer is not None:
                trimmer.finish()
            return cutter.writer.close()
        except BaseException:
            if cutter.writer is not None:
                cutter.writer.abandon()
            raise


def _past(frame: VideoFrame | AudioFrame, cutter: _VideoCutter) -> bool:
    """Two seconds beyond a clip's end, stop waiting for audio that is not coming."""
    end = cutter.end_time
    return end is not None and frame.pts is not None and _frame_time(frame) > end + 2


def _phrase(seconds: float) -> str:
    """12*60 -> "12 minutes", 1 -> "1 second", 1.5 -> "1.5 seconds"."""
    if seconds >= 60 and seconds % 60 == 0:
        value, unit = seconds / 60, "minute"
    else:
        value, unit = seconds, "second"
    number = f"{value:g}"
    return f"{number} {unit}" if number == "1" else f"{number} {unit}s"
