"""vigparent.video: sniffing, whole-file inspection, transcoding, posters and exact clips.

Every function works on file objects (media is encrypted at rest), so most tests use
io.BytesIO; a few use real files opened in binary mode. Sources are tiny generated videos
whose frames carry their own index (tests.support.videos).
"""

from __future__ import annotations

import io
import math
import struct
from array import array
from collections.abc import Callable
from fractions import Fraction
from pathlib import Path
from typing import Any

import av
import pytest

from tests.support.videos import (
    ContainerName,
    frame_index_of,
    make_audio_only,
    make_video,
    make_webm_with_garbage,
    make_webm_with_scrambled_frames,
    mediarecorder_like_webm,
)
from vigparent import video
from vigparent.video import (
    DAMAGED,
    NO_PICTURE,
    NOT_A_VIDEO,
    VideoInfo,
    VideoRejected,
    cut_clip,
    inspect,
    poster_jpeg,
    sniff_container,
    transcode_to_mp4,
)

FPS = 15
MARKER = b"vig-marker-7f3a9c"


def _bytes(make: Callable[..., None], **kwargs: Any) -> bytes:
    buffer = io.BytesIO()
    make(buffer, **kwargs)
    return buffer.getvalue()


@pytest.fixture(scope="module")
def webm() -> bytes:
    return _bytes(make_video, container="webm", seconds=3.0, fps=FPS, marker=MARKER)


@pytest.fixture(scope="module")
def mp4() -> bytes:
    return _bytes(make_video, container="mp4", seconds=3.0, fps=FPS, marker=MARKER)


@pytest.fixture(scope="module")
def recorder_webm() -> bytes:
    return _bytes(mediarecorder_like_webm, seconds=3.0, fps=30)


@pytest.fixture(scope="module")
def six_seconds() -> bytes:
    return _bytes(make_video, container="webm", seconds=6.0, fps=FPS)


class NamedBytesIO(io.BytesIO):
    """Like an encrypted file object: has a name, but that path is not where the bytes are."""

    name = "/nonexistent/ciphertext/recording.bin"


def decoded_video(data: bytes) -> list[tuple[Fraction, Fraction, int]]:
    """(time, duration, label) of every frame, independently of vigparent.video."""
    frames = []
    with av.open(io.BytesIO(data), mode="r") as container:
        for frame in container.decode(video=0):
            assert frame.pts is not None and frame.time_base is not None
            time_base = frame.time_base
            frames.append(
                (frame.pts * time_base, frame.duration * time_base, frame_index_of(frame))
            )
    return frames


def decoded_audio_seconds(data: bytes) -> float:
    with av.open(io.BytesIO(data), mode="r") as container:
        return float(sum(f.samples / f.sample_rate for f in container.decode(audio=0)))


def measured_duration(frames: list[tuple[Fraction, Fraction, int]]) -> float:
    return float(frames[-1][0] + frames[-1][1] - frames[0][0])


def rejection(data: bytes, **kwargs: float) -> str:
    with pytest.raises(VideoRejected) as caught:
        inspect(io.BytesIO(data), **kwargs)
    return caught.value.reason


# --- sniffing --------------------------------------------------------------------------


def test_sniffs_generated_webm_mp4_and_mov(webm: bytes, mp4: bytes) -> None:
    mov = _bytes(make_video, container="mov", seconds=1.0)
    assert mov[4:12] == b"ftypqt  "
    assert sniff_container(webm[:64]) == "webm"
    assert sniff_container(mp4[:64]) == "mp4"
    assert sniff_container(mov[:64]) == "mp4"


def test_sniffs_hand_made_heads() -> None:
    iphone = struct.pack(">I", 20) + b"ftypqt  " + b"\0\0\0\0" + b"qt  "
    compatible_only = struct.pack(">I", 24) + b"ftypXXXX" + b"\0\0\0\0" + b"abcdmp42"
    matroska = _ebml_head(b"matroska")
    assert sniff_container(iphone) == "mp4"
    assert sniff_container(compatible_only) == "mp4"
    assert sniff_container(matroska) == "webm"
    assert sniff_container(_ebml_head(b"ogg?")) is None
    assert sniff_container(struct.pack(">I", 16) + b"ftypheic\0\0\0\0") is None  # a photo
    assert sniff_container(b"") is None
    assert sniff_container(bytes(range(64))) is None


def test_text_file_renamed_mp4_is_not_a_video(tmp_path: Path) -> None:
    path = tmp_path / "holiday.mp4"
    path.write_text("Dear diary, today we went to the park.\n" * 10)
    with path.open("rb") as fh:
        assert sniff_container(fh.read(64)) is None
        with pytest.raises(VideoRejected) as caught:
            inspect(fh)
    assert caught.value.reason == NOT_A_VIDEO


def _ebml_head(doctype: bytes) -> bytes:
    body = b"\x42\x86\x81\x01" + b"\x42\x82" + bytes([0x80 | len(doctype)]) + doctype
    return b"\x1a\x45\xdf\xa3" + bytes([0x80 | len(body)]) + body


# --- inspect: accepts --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("container", "codecs"),
    [("webm", ("vp9", "opus")), ("mp4", ("h264", "aac")), ("mov", ("h264", "aac"))],
)
def test_inspect_accepts_real_files(
    tmp_path: Path, container: ContainerName, codecs: tuple[str, str]
) -> None:
    path = tmp_path / f"clip.{container}"
    make_video(path, container=container, seconds=2.0, fps=FPS, size=(160, 120))
    with path.open("rb") as fh:
        info = inspect(fh)
        assert not fh.closed  # the caller owns the file object
    assert info.container == ("webm" if container == "webm" else "mp4")
    assert (info.video_codec, info.audio_codec) == codecs
    assert (info.width, info.height) == (160, 120)
    assert info.duration == pytest.approx(2.0, abs=0.1)
    assert info.frame_rate == pytest.approx(FPS, abs=0.1)


def test_inspect_accepts_bytesio(webm: bytes, mp4: bytes) -> None:
    for data in (webm, mp4):
        assert inspect(io.BytesIO(data)).duration == pytest.approx(3.0, abs=0.1)


def test_inspect_measures_mediarecorder_webm_without_header_duration(
    recorder_webm: bytes,
) -> None:
    with av.open(io.BytesIO(recorder_webm), mode="r") as container:
        assert container.duration is None  # as from Chrome: nothing to read it from
        assert (container.streams.video[0].start_time or 0) > 0
    info = inspect(io.BytesIO(recorder_webm))
    assert info.duration == pytest.approx(3.0, abs=0.1)
    assert info.frame_rate == pytest.approx(30, abs=1)


def test_inspect_accepts_video_without_sound_and_fragmented_mp4() -> None:
    silent = inspect(io.BytesIO(_bytes(make_video, seconds=1.5, audio=False)))
    assert silent.audio_codec is None
    safari_like = _bytes(make_video, container="mp4", seconds=1.5, fragmented=True)
    assert b"moof" in safari_like
    assert inspect(io.BytesIO(safari_like)).duration == pytest.approx(1.5, abs=0.1)


def test_portrait_phone_video_reports_displayed_size() -> None:
    data = _bytes(make_video, container="mp4", seconds=1.0, size=(160, 120), rotation=90)
    info = inspect(io.BytesIO(data))
    assert (info.width, info.height) == (120, 160)


# --- inspect: rejects --------------------------------------------------------------------


def test_rejects_random_bytes() -> None:
    assert rejection(bytes(range(256)) * 40) == NOT_A_VIDEO


def test_rejects_valid_header_followed_by_garbage() -> None:
    assert rejection(_bytes(make_webm_with_garbage)) == DAMAGED


def test_rejects_garbage_half_way() -> None:
    assert rejection(_bytes(make_webm_with_garbage, keep_fraction=0.5)) == DAMAGED


def test_rejects_scrambled_frames_that_only_a_decoder_can_spot() -> None:
    # Container structure is perfect; frames after 2 s are noise. A check that decoded only
    # a sample (or only keyframes) would let this through.
    data = _bytes(make_webm_with_scrambled_frames, seconds=3.0, from_seconds=2.0)
    assert rejection(data) == DAMAGED


@pytest.mark.parametrize("keep", [0.5, 0.97, -1])
def test_rejects_truncated_webm(webm: bytes, recorder_webm: bytes, keep: float) -> None:
    for data in (webm, recorder_webm):
        cut = len(data) - 1 if keep == -1 else int(len(data) * keep)
        assert rejection(data[:cut]) == DAMAGED


def test_rejects_truncated_mp4_and_junk_tail(mp4: bytes) -> None:
    assert rejection(mp4[: int(len(mp4) * 0.8)]) == DAMAGED
    assert rejection(mp4 + b"\x07" * 100) == DAMAGED


def test_rejects_too_short() -> None:
    data = _bytes(make_video, seconds=0.5)
    assert rejection(data) == "This video is too short (under 1 second)."


def test_rejects_too_long(webm: bytes) -> None:
    assert rejection(webm, max_seconds=2) == "This video is longer than 2 seconds."
    assert video._phrase(12 * 60) == "12 minutes"
    assert video._phrase(1.5) == "1.5 seconds"


def test_rejects_audio_only() -> None:
    assert rejection(_bytes(make_audio_only)) == NO_PICTURE


def test_rejection_carries_a_plain_reason() -> None:
    error = VideoRejected(DAMAGED)
    assert error.reason == str(error) == "This video is damaged part-way through."


# --- transcode ---------------------------------------------------------------------------


def test_transcode_mediarecorder_webm(recorder_webm: bytes) -> None:
    src, dst = io.BytesIO(recorder_webm), NamedBytesIO()
    info = transcode_to_mp4(src, dst)
    out = dst.getvalue()

    assert not src.closed and not dst.closed
    assert sniff_container(out[:64]) == "mp4"
    assert 0 < out.find(b"moov") < out.find(b"mdat")  # faststart: index before the media
    with av.open(io.BytesIO(out), mode="r") as container:
        assert container.streams.video[0].codec_context.name == "h264"
        assert container.streams.audio[0].codec_context.name == "aac"
    frames = decoded_video(out)
    assert frames[0][0] == 0  # normalised: the source's first frame was at 1.234 s
    # Variable frame rate is kept as is: every source frame once, in order.
    assert [label for _, _, label in frames] == list(range(90))
    assert measured_duration(frames) == pytest.approx(3.0, abs=0.15)
    assert info == VideoInfo("mp4", info.duration, 160, 120, "h264", "aac", info.frame_rate)
    assert info.duration == pytest.approx(3.0, abs=0.15)
    assert decoded_audio_seconds(out) == pytest.approx(3.0, abs=0.1)
    assert inspect(io.BytesIO(out)).duration == pytest.approx(3.0, abs=0.15)


def test_transcode_and_clip_keep_lip_sync_when_sound_starts_late() -> None:
    # The tone starts 300 ms after the first frame. The output's audio track starts at 0
    # (lead-in silence) and the tone must still start 300 ms after the picture.
    data = _bytes(mediarecorder_like_webm, seconds=2.0, audio_delay_ms=300)
    assert sound_onset(data) - 1.234 == pytest.approx(0.3, abs=0.005)
    transcode_to_mp4(io.BytesIO(data), whole := io.BytesIO())
    assert sound_onset(whole.getvalue()) == pytest.approx(0.3, abs=0.005)
    cut_clip(io.BytesIO(data), clip := io.BytesIO(), start=0.1, end=1.0)
    times = [t - Fraction("1.234") for t, _, _ in decoded_video(data)]
    clip_start = next(t for t in times if t >= Fraction("0.1"))
    assert sound_onset(clip.getvalue()) == pytest.approx(0.3 - float(clip_start), abs=0.005)


def sound_onset(data: bytes) -> float:
    """Seconds from the start of the file's timeline to the first audible sample."""
    with av.open(io.BytesIO(data), mode="r") as container:
        for frame in container.decode(audio=0):
            assert frame.format.name == "fltp" and frame.time is not None
            samples = array("f", bytes(frame.planes[0])[: frame.samples * 4])
            for i, value in enumerate(samples):
                if abs(value) > 0.05:
                    return frame.time + i / frame.sample_rate
    raise AssertionError("no sound")


def test_transcode_of_a_file_damaged_later_fails_cleanly() -> None:
    data = _bytes(make_webm_with_scrambled_frames, seconds=3.0, from_seconds=2.0)
    dst = io.BytesIO()
    with pytest.raises(VideoRejected) as caught:
        transcode_to_mp4(io.BytesIO(data), dst)
    assert caught.value.reason == DAMAGED
    assert not dst.closed


def test_transcode_to_a_real_file_drops_source_metadata(mp4: bytes, tmp_path: Path) -> None:
    path = tmp_path / "out.mp4"
    with path.open("w+b") as dst:
        transcode_to_mp4(io.BytesIO(mp4), dst)
    out = path.read_bytes()
    assert MARKER in mp4
    assert MARKER not in out  # phones put GPS and names in metadata; none of it is copied
    assert out.find(b"moov") < out.find(b"mdat")


def test_transcode_scales_down_to_even_size() -> None:
    data = _bytes(make_video, seconds=1.0, size=(250, 140), audio=False)
    info = transcode_to_mp4(io.BytesIO(data), dst := io.BytesIO(), max_height=101)
    assert info.height <= 101 and info.width % 2 == 0 and info.height % 2 == 0
    assert info.width / info.height == pytest.approx(250 / 140, rel=0.03)
    assert info.audio_codec is None
    with av.open(io.BytesIO(dst.getvalue()), mode="r") as container:
        assert not container.streams.audio
        stream = container.streams.video[0]
        assert (stream.width, stream.height) == (info.width, info.height)


@pytest.mark.parametrize(("rotation", "dark_half"), [(90, "bottom"), (-90, "top")])
def test_transcode_turns_portrait_phone_video_upright(rotation: int, dark_half: str) -> None:
    # Frame 0's label is all black on the left half of the stored picture. Turned 90°
    # counter-clockwise the left side ends up at the bottom; clockwise, at the top.
    data = _bytes(make_video, container="mp4", seconds=1.0, size=(160, 120), rotation=rotation)
    transcode_to_mp4(io.BytesIO(data), dst := io.BytesIO())
    with av.open(io.BytesIO(dst.getvalue()), mode="r") as container:
        frame = next(container.decode(video=0))
    assert (frame.width, frame.height) == (120, 160)
    assert frame.rotation == 0
    top, bottom = _half_brightness(frame)
    assert (top < bottom) == (dark_half == "top")
    assert abs(top - bottom) > 50


def _half_brightness(frame: av.VideoFrame) -> tuple[float, float]:
    grey = frame.reformat(format="gray")
    plane = grey.planes[0]
    data, stride, half = bytes(plane), plane.line_size, grey.height // 2
    rows = [data[y * stride : y * stride + grey.width] for y in range(grey.height)]
    top = sum(sum(r) for r in rows[:half]) / (half * grey.width)
    bottom = sum(sum(r) for r in rows[half:]) / ((grey.height - half) * grey.width)
    return top, bottom


# --- poster ------------------------------------------------------------------------------


def test_poster_is_a_jpeg_near_one_second(webm: bytes) -> None:
    dst = io.BytesIO()
    poster_jpeg(io.BytesIO(webm), dst)
    jpeg = dst.getvalue()
    assert jpeg[:2] == b"\xff\xd8" and jpeg[-2:] == b"\xff\xd9"
    with av.open(io.BytesIO(jpeg), mode="r", format="mjpeg") as container:
        frame = next(container.decode(video=0))
    assert (frame.width, frame.height) == (160, 120)
    assert frame_index_of(frame) == FPS  # the frame at 1.0 s


def test_poster_at_time_scaled_and_past_the_end() -> None:
    data = _bytes(make_video, container="mp4", seconds=3.0, size=(320, 240), audio=False)
    for at_seconds, label in [(2.0, 30), (99.0, 44)]:  # past the end: the last frame
        dst = io.BytesIO()
        poster_jpeg(io.BytesIO(data), dst, at_seconds=at_seconds, max_width=160)
        with av.open(io.BytesIO(dst.getvalue()), mode="r", format="mjpeg") as container:
            frame = next(container.decode(video=0))
        assert (frame.width, frame.height) == (160, 120)
        assert frame_index_of(frame) == label


# --- clips -------------------------------------------------------------------------------


@pytest.mark.parametrize(("start", "end"), [(0, 1), (1.2, 2.6), (2.0, 5.93), (4.5, 6.0)])
def test_clip_is_frame_accurate(six_seconds: bytes, start: float, end: float) -> None:
    dst = io.BytesIO()
    info = cut_clip(io.BytesIO(six_seconds), dst, start=start, end=end)
    out = dst.getvalue()
    frames = decoded_video(out)

    first_expected = math.ceil(start * FPS - 1e-9)  # first frame with time >= start
    last_expected = math.ceil(min(end, 6.0) * FPS - 1e-9) - 1  # last frame before end
    assert frames[0][0] == 0
    assert frames[0][2] == first_expected
    assert [label for _, _, label in frames] == list(range(first_expected, last_expected + 1))
    assert measured_duration(frames) == pytest.approx(end - start, abs=1 / FPS)
    assert info.duration == pytest.approx(end - start, abs=1 / FPS)
    # Sound is cut to the same interval (AAC works in 21 ms blocks, hence the slack).
    assert decoded_audio_seconds(out) == pytest.approx(measured_duration(frames), abs=0.05)
    assert out.find(b"moov") < out.find(b"mdat")


def test_clip_from_mediarecorder_webm_counts_from_first_frame(recorder_webm: bytes) -> None:
    # Source timestamps start at 1.234 s; clip times are from the first frame, as the
    # practitioner sees them in the player.
    source = decoded_video(recorder_webm)
    expected = next(label for t, _, label in source if t - source[0][0] >= Fraction("2.5"))
    dst = io.BytesIO()
    cut_clip(io.BytesIO(recorder_webm), dst, start=2.5, end=2.9)
    frames = decoded_video(dst.getvalue())
    assert frames[0][2] == expected
    assert measured_duration(frames) == pytest.approx(0.4, abs=1 / 30)


def test_clip_rejects_bad_intervals(six_seconds: bytes) -> None:
    for start, end in [(2.0, 2.0), (3.0, 1.0), (-1.0, 1.0), (6.5, 7.0), (0.0, math.inf)]:
        dst = io.BytesIO()
        with pytest.raises(ValueError):
            cut_clip(io.BytesIO(six_seconds), dst, start=start, end=end)
        assert dst.getvalue() == b""  # nothing half-written


# --- fixtures self-check -----------------------------------------------------------------


def test_frame_labels_survive_compression(mp4: bytes) -> None:
    assert [label for _, _, label in decoded_video(mp4)] == list(range(45))
    assert MARKER in mp4
