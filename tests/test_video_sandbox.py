"""Untrusted video is decoded in a worker process with no key in reach.

The worker is the real one (``python -m vigparent.video_worker``); the "drills" make it
misbehave the way a malicious video might (crash, hang, eat memory or CPU, scribble) or let us
look inside it.
"""

from __future__ import annotations

import base64
import hashlib
import io
import os
import platform
import sys
from pathlib import Path

import av
import pytest

from tests.support.videos import make_video
from vigparent import video
from vigparent.keyring import Keyring
from vigparent.storage import MediaStore
from vigparent.video_sandbox import (
    CRASHED,
    TOO_BIG,
    TOO_SLOW,
    VideoLimits,
    VideoRejected,
    VideoWorkerFailed,
    cut_clip,
    frame_rate,
    inspect,
    poster_jpeg,
    run,
    transcode_to_mp4,
)

FAMILY = 1
LIMITS = VideoLimits(cpu_seconds=120, wall_seconds=120)


@pytest.fixture
def store(tmp_path: Path) -> MediaStore:
    return MediaStore(tmp_path / "media", Keyring(tmp_path / "keys", os.urandom(32)))


def stored_video(store: MediaStore, container: str) -> str:
    """A recording stored encrypted; the MP4 keeps its index ('moov') at the end, as phones do."""
    raw = io.BytesIO()
    make_video(raw, container=container, seconds=2.0, size=(160, 120))  # type: ignore[arg-type]
    name = store.new_name("upload")
    store.create(FAMILY, name)
    store.append(FAMILY, name, [raw.getvalue()], limit=len(raw.getvalue()))
    return name


def frames_of(store: MediaStore, name: str) -> int:
    with store.open(FAMILY, name) as f, av.open(f) as container:
        return sum(1 for _ in container.decode(video=0))


# -- the work itself ------------------------------------------------------------------------


@pytest.mark.parametrize("container", ["webm", "mp4"])
def test_the_worker_does_what_the_job_did_in_process(store: MediaStore, container: str) -> None:
    name = stored_video(store, container)
    with store.open(FAMILY, name) as src:
        assert inspect(src, limits=LIMITS) == video.inspect(src)
        assert frame_rate(src, limits=LIMITS) == video.frame_rate(src) == 15.0
        mp4, poster, clip = store.new_name("mp4"), store.new_name("poster"), store.new_name("clip")
        with store.open(FAMILY, mp4, "w") as dst:
            transcoded = transcode_to_mp4(src, dst, limits=LIMITS)
        in_process = io.BytesIO()
        assert transcoded == video.transcode_to_mp4(src, in_process)
        with store.open(FAMILY, clip, "w") as dst:
            cut = cut_clip(src, dst, start=0.5, end=1.5, limits=LIMITS)
        assert cut == video.cut_clip(src, io.BytesIO(), start=0.5, end=1.5)
    with store.open(FAMILY, mp4) as src, store.open(FAMILY, poster, "w") as dst:
        poster_jpeg(src, dst, limits=LIMITS)
    assert frames_of(store, mp4) == 30
    assert frames_of(store, clip) == 15
    with store.open(FAMILY, poster) as f:
        assert f.read(3) == b"\xff\xd8\xff"  # a JPEG
    # Faststart: the index comes before the media, so phones can play while downloading.
    with store.open(FAMILY, mp4) as f:
        head = f.read(64)
    assert head.index(b"moov") < head.index(b"mdat") if b"mdat" in head else b"moov" in head


def test_the_workers_verdicts_come_back_as_they_were(store: MediaStore) -> None:
    junk = store.new_name("upload")
    store.create(FAMILY, junk)
    store.append(FAMILY, junk, [b"\x1a\x45\xdf\xa3" + os.urandom(5000)], limit=10_000)
    with store.open(FAMILY, junk) as src, pytest.raises(VideoRejected) as refused:
        inspect(src, limits=LIMITS)
    assert not isinstance(refused.value, VideoWorkerFailed)
    assert refused.value.reason in (video.NOT_A_VIDEO, video.DAMAGED)

    name = stored_video(store, "webm")
    with store.open(FAMILY, name) as src, pytest.raises(ValueError, match="beyond the end"):
        cut_clip(src, io.BytesIO(), start=30.0, end=31.0, limits=LIMITS)


@pytest.mark.parametrize(
    "limits, reason",
    [
        ({"min_seconds": 5}, "This video is too short (under 5 seconds)."),
        ({"max_seconds": 1}, "This video is longer than 1 second."),
    ],
)
def test_length_verdicts_reach_the_parent_word_for_word(
    store: MediaStore, limits: dict[str, float], reason: str
) -> None:
    name = stored_video(store, "mp4")
    with store.open(FAMILY, name) as src, pytest.raises(VideoRejected) as refused:
        inspect(src, limits=LIMITS, **limits)
    assert refused.value.reason == reason


# -- a worker that misbehaves -------------------------------------------------------------


def test_a_worker_cannot_put_its_own_words_before_the_parent() -> None:
    """A worker taken over by a crafted video may only use our sentences."""
    with pytest.raises(VideoWorkerFailed) as failed:
        run("drill-claim", {"reason": "Call 0800 000 000 now."}, io.BytesIO(), None, LIMITS)
    assert failed.value.reason == CRASHED
    with pytest.raises(VideoRejected) as refused:
        run("drill-claim", {"reason": video.DAMAGED}, io.BytesIO(), None, LIMITS)
    assert refused.value.reason == video.DAMAGED


def test_a_crashing_worker_is_reported_in_plain_words() -> None:
    with pytest.raises(VideoWorkerFailed) as failed:
        run("drill-crash", {}, io.BytesIO(b"x"), None, LIMITS)
    assert failed.value.reason == CRASHED
    assert failed.value.cause == "crashed (-6)"  # SIGABRT


def test_a_hung_worker_is_killed_at_the_wall_time_limit() -> None:
    limits = VideoLimits(cpu_seconds=120, wall_seconds=3)
    with pytest.raises(VideoWorkerFailed) as failed:
        run("drill-hang", {}, io.BytesIO(b"x"), None, limits)
    assert (failed.value.reason, failed.value.cause) == (TOO_SLOW, "timed-out")


def test_a_worker_spinning_the_cpu_is_stopped_by_its_cpu_limit() -> None:
    limits = VideoLimits(cpu_seconds=1, wall_seconds=120)
    with pytest.raises(VideoWorkerFailed) as failed:
        run("drill-hang", {"busy": True}, io.BytesIO(b"x"), None, limits)
    assert (failed.value.reason, failed.value.cause) == (TOO_SLOW, "cpu")


def test_a_worker_eating_memory_is_stopped_by_its_memory_limit() -> None:
    limits = VideoLimits(cpu_seconds=120, wall_seconds=120, memory_bytes=1024**3)
    with pytest.raises(VideoWorkerFailed) as failed:
        run("drill-hog", {}, io.BytesIO(b"x"), None, limits)
    assert (failed.value.reason, failed.value.cause) == (TOO_BIG, "memory")


@pytest.mark.parametrize(
    "handle, offset",
    [(0, 0), (1, 10**9)],  # the source is read-only; the output has a size limit
    ids=["write to the source", "write past the output limit"],
)
def test_a_scribbling_worker_is_stopped(store: MediaStore, handle: int, offset: int) -> None:
    name = stored_video(store, "webm")
    before = store.sha256(FAMILY, name)
    limits = VideoLimits(cpu_seconds=120, wall_seconds=120, output_bytes=10**6)
    with store.open(FAMILY, name) as src, pytest.raises(VideoWorkerFailed) as failed:
        run("drill-write", {"handle": handle, "offset": offset}, src, io.BytesIO(), limits)
    assert failed.value.reason == CRASHED
    assert store.sha256(FAMILY, name) == before


# -- no key in reach ----------------------------------------------------------------------


def key_forms(key: bytes) -> set[str]:
    """SHA-256 digests of the ways a key could sit in memory: raw, hex, base64."""
    forms = [key, key.hex().encode(), base64.b64encode(key), base64.urlsafe_b64encode(key)]
    forms += [f.rstrip(b"=") for f in forms]
    return {hashlib.sha256(f).hexdigest()[:16] for f in forms}


@pytest.mark.skipif(
    sys.platform != "linux" or platform.machine() != "x86_64",
    reason="the worker's seccomp filter is written for x86-64 Linux",
)
def test_the_worker_holds_no_key_and_cannot_reach_one(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    master = os.urandom(32)
    master_file = tmp_path / "master.key"
    master_file.write_text(base64.urlsafe_b64encode(master).decode())
    keyring = Keyring(tmp_path / "keys", master)
    data_key = keyring.data_key(FAMILY)
    key_files = sorted(str(p) for p in (tmp_path / "keys").rglob("*") if p.is_file())
    assert key_files
    # The job process has the key in its environment, as production may.
    monkeypatch.setenv("VIGPARENT_MASTER_KEY", base64.urlsafe_b64encode(master).decode())
    monkeypatch.setenv("SECRET_KEY", "s" * 40)
    marker = "a marker the worker must be able to see-" + os.urandom(8).hex()
    paths = [str(master_file), *key_files, f"/proc/{os.getpid()}/mem", "/etc/hostname"]
    assert master_file.read_bytes() and Path(key_files[-1]).read_bytes()
    for path in paths:
        Path(path).open("rb").close()  # the job can open them all: only the worker cannot

    probe = run(
        "drill-probe",
        {"paths": paths, "marker": marker, "read_source": True},
        io.BytesIO(b"plaintext video"),
        None,
        LIMITS,
    )

    assert probe["pid"] != os.getpid()
    # The video modules only: not the web app, not the keyring.
    assert probe["modules"] == [
        "vigparent",
        "vigparent.containers",
        "vigparent.video",
        "vigparent.video_wire",
        "vigparent.video_worker",
    ]
    assert set(probe["environ"]) <= {"PATH", "LC_ALL", "MALLOC_ARENA_MAX"}
    assert not any("KEY" in v or "key" in v for v in probe["argv"])
    refused = {"socket": "EPERM", "setsid": "EPERM"}  # no network; cannot escape our kill
    assert probe["attempts"] == {**dict.fromkeys(paths, "EPERM"), **refused}
    assert set(probe["open_fds"]) <= {0, 1, 2, 3, 4}  # stdio and its two pipes
    digests = set(probe["digests"])
    assert hashlib.sha256(marker.encode()).hexdigest()[:16] in digests  # the search sees
    assert not digests & (key_forms(master) | key_forms(data_key))
    assert probe["confinement"]["seccomp"] and probe["confinement"]["not_dumpable"]
    assert probe["limits"] == {"cpu": LIMITS.cpu_seconds + 5, "as": LIMITS.memory_bytes, "core": 0}
    assert bytes.fromhex(probe["source"]) == b"plaintext video"  # over the pipe, and only so
