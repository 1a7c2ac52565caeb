"""Clips start and end where the practitioner marked them, to the frame.

The source is a generated video whose every frame carries its own index (frame_index_of), so
we can tell exactly which source frame a clip starts on. The clip is cut the real way: the
practitioner's form, then the clip job (inline in tests), from the stored original.
"""

from __future__ import annotations

import math
from fractions import Fraction

import av
import pytest

from tests.conftest import Factory, csrf_token
from tests.media.factories import add_cycle, add_recording
from tests.support.videos import frame_index_of
from vigparent import db, media_store
from vigparent.models import ClipStatus, Recording

FPS = 25
# (in, out): on frame boundaries, between frames, from the very start, up to the end.
MARKS = [(0.0, 1.0), (1.24, 2.52), (0.52, 1.08), (2.0, 4.8), (3.96, 5.0)]


def _decode(family_id: int, name: str) -> tuple[list[av.VideoFrame], float]:
    store = media_store.store()
    with store.open(family_id, name) as f, av.open(f) as container:
        stream = container.streams.video[0]
        frames = list(container.decode(stream))
        assert stream.duration is not None and stream.time_base is not None
        duration = float(stream.duration * stream.time_base)
    return frames, duration


def _first_at_or_after(t: float) -> int:
    # Frame i starts at i / FPS; a mark between frames starts the clip on the next one.
    return math.ceil(Fraction(t).limit_denominator(1000) * FPS)


@pytest.mark.parametrize("original", ["webm", "mp4"])
def test_clips_are_frame_accurate(make: Factory, client, login_as, original: str):
    practitioner = make.practitioner()
    family = make.family(practitioner)
    rec = add_recording(
        family,
        make.parent_of(family),
        cycle=add_cycle(family),
        seconds=5.0,
        fps=FPS,
        original=original,  # type: ignore[arg-type]
    )
    login_as(practitioner)
    url = f"/practice/clips/recordings/{rec.id}"
    token = csrf_token(client, url)
    for position, (start, end) in enumerate(MARKS, 1):
        r = client.post(
            url,
            data={
                "csrf_token": token,
                "title": f"Moment {position}",
                "strength_note": "You waited.",
                "principle": "encouraging_initiatives",
                "position": position,
                "start_s": f"{start:.3f}",
                "end_s": f"{end:.3f}",
            },
        )
        assert r.status_code == 302, r.get_data(as_text=True)

    s = db.session()
    s.expire_all()
    clips = list(s.get(Recording, rec.id).clips)  # type: ignore[union-attr]
    assert len(clips) == len(MARKS)
    played, _ = _decode(family.id, rec.transcode_name or "")
    played_at = {round(float(f.time), 4): frame_index_of(f) for f in played}
    for clip, (start, end) in zip(clips, MARKS, strict=True):
        assert clip.status is ClipStatus.READY
        frames, duration = _decode(family.id, clip.media_name or "")
        first, last = _first_at_or_after(start), _first_at_or_after(end) - 1
        # Duration measured by PyAV within one frame of out - in.
        assert abs(duration - (end - start)) <= 1 / FPS + 1e-6, (start, end, duration)
        # The first frame is the source frame at the in point, the last the one before out.
        assert frame_index_of(frames[0]) == first, (start, end)
        assert frame_index_of(frames[-1]) == last, (start, end)
        assert len(frames) == last - first + 1
        # And it is the frame the practitioner saw in the player when pressing I.
        assert played_at[round(first / FPS, 4)] == first


def test_clip_is_h264_aac_mp4_with_a_jpeg_poster(make: Factory, app_ctx):
    from tests.media.factories import add_clip

    family = make.family()
    rec = add_recording(family, make.parent_of(family), seconds=3.0)
    clip = add_clip(rec, start=0.5, end=2.0)
    store = media_store.store()
    with store.open(family.id, clip.media_name or "") as f, av.open(f) as container:
        assert container.format.name.startswith("mov,mp4")
        assert container.streams.video[0].codec_context.name == "h264"
        assert container.streams.audio[0].codec_context.name == "aac"
    with store.open(family.id, clip.poster_name or "") as f:
        assert f.read(3) == b"\xff\xd8\xff"


# Strings every such plaintext file carries, long enough never to occur by chance in
# ciphertext: MP4 and WebM headers, x264's banner, FFmpeg's JPEG comment.
_PLAINTEXT_MARKS = (b"ftypisom", b"B\x82\x84webm", b"x264 - core", b"\xff\xd8\xff\xfe\x00\x10Lavc")


def test_nothing_readable_lands_on_disk(make: Factory, app_ctx):
    """Every stored file (recording, transcode, clip, poster) is ciphertext, and nothing else
    under the data directory holds media in the clear."""
    from tests.media.factories import add_clip

    family = make.family()
    rec = add_recording(family, make.parent_of(family), seconds=2.0)
    add_clip(rec, start=0.2, end=1.2)
    store = media_store.store()
    names = store.names(family.id)
    assert len(names) == 5  # original, transcode, its poster, clip, clip poster
    for name in names:
        with store.open(family.id, name) as f:
            plain = f.read()
        assert any(mark in plain for mark in _PLAINTEXT_MARKS), name  # the marks are real
    data_dir = app_ctx.extensions["vig_settings"].data_dir
    for path in data_dir.rglob("*"):
        if path.is_file():
            blob = path.read_bytes()
            for mark in _PLAINTEXT_MARKS:
                assert mark not in blob, path.name
