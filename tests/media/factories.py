"""Builders for recordings and clips with real, generated, encrypted video behind them.

Shared by tests/media, tests/clips, tests/review and the review browser test. Every function
runs inside an app context (the `make` fixture provides one) and commits.
"""

from __future__ import annotations

import secrets
from typing import Literal

from tests.support.videos import make_video
from vigparent import clock, db, media_store, video
from vigparent.clips import service as clip_service
from vigparent.models import (
    Clip,
    ClipStatus,
    Cycle,
    Family,
    Principle,
    Recording,
    RecordingStatus,
    User,
)


def store_video(
    family_id: int,
    kind: str = "video",
    *,
    container: Literal["mp4", "webm"] = "mp4",
    seconds: float = 3.0,
    fps: int = 15,
    size: tuple[int, int] = (160, 120),
) -> str:
    """Generate a labelled test video straight into the encrypted store; return its name."""
    store = media_store.store()
    name = store.new_name(kind)
    with store.open(family_id, name, "w") as out:
        make_video(out, container=container, seconds=seconds, fps=fps, size=size)
    return name


def add_cycle(family: Family, number: int = 1) -> Cycle:
    cycle = Cycle(family_id=family.id, number=number, activity="bath time")
    db.session().add(cycle)
    db.session().commit()
    return cycle


def add_recording(
    family: Family,
    uploader: User,
    *,
    cycle: Cycle | None = None,
    seconds: float = 3.0,
    fps: int = 15,
    size: tuple[int, int] = (160, 120),
    original: Literal["mp4", "webm"] = "webm",
    transcode: bool = True,
    status: RecordingStatus = RecordingStatus.READY,
) -> Recording:
    """A recording as the upload pipeline leaves it: original, transcode and poster stored."""
    store = media_store.store()
    original_name = store_video(
        family.id, "orig", container=original, seconds=seconds, fps=fps, size=size
    )
    transcode_name = poster_name = None
    if transcode:
        transcode_name = store.new_name("mp4")
        with (
            store.open(family.id, original_name) as src,
            store.open(family.id, transcode_name, "w") as dst,
        ):
            info = video.transcode_to_mp4(src, dst)
        poster_name = store.new_name("poster")
        with (
            store.open(family.id, transcode_name) as src,
            store.open(family.id, poster_name, "w") as dst,
        ):
            video.poster_jpeg(src, dst)
        duration: float | None = info.duration
    else:
        duration = None
    rec = Recording(
        family_id=family.id,
        cycle_id=cycle.id if cycle is not None else None,
        uploaded_by_id=uploader.id,
        client_id=secrets.token_hex(8),
        upload_id=secrets.token_urlsafe(16),
        declared_size=store.size(family.id, original_name),
        received_size=store.size(family.id, original_name),
        container=original,
        duration_s=duration,
        status=status,
        original_name=original_name,
        transcode_name=transcode_name,
        poster_name=poster_name,
        completed_at=clock.now(),
    )
    db.session().add(rec)
    db.session().commit()
    return rec


def add_clip(
    recording: Recording,
    *,
    start: float = 0.4,
    end: float = 1.6,
    title: str = "You waited",
    note: str = "You waited, and Sam looked back at you.",
    principle: Principle = Principle.ENCOURAGING_INITIATIVES,
    position: int = 1,
    published: bool = True,
    cut: bool = True,
) -> Clip:
    """A clip row; with `cut` it is cut for real by the clip job (inline)."""
    clip = Clip(
        family_id=recording.family_id,
        recording_id=recording.id,
        title=title,
        strength_note=note,
        principle=principle,
        position=position,
        start_s=start,
        end_s=end,
        status=ClipStatus.CUTTING,
        published_at=clock.now() if published else None,
    )
    s = db.session()
    s.add(clip)
    s.commit()
    if cut:
        clip_service.run_cut(clip.id, start, end)
        s.refresh(clip)
    return clip
