"""Untrusted video is decoded in a worker process that holds no key material.

The job process holds the master key, so it never runs FFmpeg (it does not even load PyAV).
For each step (check, transcode, poster, clip) it starts ``video_worker`` as a fresh
interpreter (a new program, not a fork: a forked child would inherit the key in its memory)
with a clean environment, no inherited descriptors, CPU-time and memory limits and a
wall-time limit enforced here by killing it. The job decrypts the source and encrypts the
output, and the worker reaches both only as byte ranges over its pipes (``video_wire``), so
no plaintext touches the disk. A worker that crashes, hangs or runs out of its limits is
killed and the video is turned away with a reason the parent can read.

The functions mirror ``video``'s and take the same open media files.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import threading
from dataclasses import dataclass
from typing import IO, Any, Protocol

from vigparent.video_wire import (
    DATA,
    FAILED,
    JOB,
    MAX_PAYLOAD,
    MAX_READ,
    OUTPUT,
    READ,
    READ_ARGS,
    RESULT,
    SIZE,
    SIZE_ANSWER,
    SIZE_ARGS,
    SOURCE,
    WRITE,
    WRITE_ARGS,
    VideoInfo,
    VideoRejected,
    WireError,
    decode_json,
    encode_json,
    known_reason,
    read_frame,
    write_frame,
)

__all__ = [
    "CRASHED",
    "VideoInfo",
    "VideoRejected",
    "TOO_BIG",
    "TOO_SLOW",
    "VideoLimits",
    "VideoWorkerError",
    "VideoWorkerFailed",
    "WireError",
    "cut_clip",
    "frame_rate",
    "inspect",
    "poster_jpeg",
    "run",
    "transcode_to_mp4",
]

# Reasons a parent reads when the worker had to be stopped (plain English, reading age ~9).
CRASHED = "Our video checker stopped while reading this video. It may be damaged."
TOO_SLOW = "This video took too long to check. It may be damaged."
TOO_BIG = "This video needs more memory than we can give it to check it."

# Only what a Python interpreter needs; nothing from the job's environment (which may hold
# VIGPARENT_MASTER_KEY, SECRET_KEY or database passwords) is passed on.
_CLEAN_ENV = {
    "PATH": "/usr/bin:/bin",
    "LC_ALL": "C.UTF-8",
    # glibc reserves 64 MiB of address space per malloc arena and FFmpeg runs a thread per
    # core: without a cap, the address-space limit would be spent on empty reservations.
    "MALLOC_ARENA_MAX": "2",
}


# Starts the worker with the video modules only. ``import vigparent`` would load the whole
# web app (Flask, SQLAlchemy...): a third of a second per worker, and code it has no use for.
_PACKAGE_DIR = os.path.dirname(os.path.abspath(__file__))
_BOOTSTRAP = (
    "import sys, types; package = types.ModuleType('vigparent'); "
    "package.__path__ = [sys.argv[1]]; sys.modules['vigparent'] = package; "
    "from vigparent import video_worker; sys.exit(video_worker.main(sys.argv[1:]))"
)


@dataclass(frozen=True)
class VideoLimits:
    """What one worker may use. Generous for a 12-minute 4K phone video on a slow machine."""

    cpu_seconds: int = 30 * 60
    wall_seconds: float = 60 * 60
    memory_bytes: int = 4 * 1024**3
    # The most a worker may write: a transcode of 12 minutes at 720p is a few hundred MB.
    output_bytes: int = 4 * 1024**3


class VideoWorkerFailed(VideoRejected):
    """The worker crashed, hung or ran out of its limits; ``reason`` is for the parent."""

    def __init__(self, reason: str, cause: str) -> None:
        super().__init__(reason)
        self.cause = cause  # a word for the log: crashed, timed-out, cpu, memory


class VideoWorkerError(RuntimeError):
    """The worker reported an unexpected error (a bug rather than a bad video): retry later."""


class _MediaFile(Protocol):
    def read(self, size: int = -1, /) -> bytes | None: ...
    def seek(self, offset: int, whence: int = 0, /) -> int: ...


class _Output(_MediaFile, Protocol):
    def write(self, data: bytes, /) -> int | None: ...


def inspect(
    src: _MediaFile,
    *,
    limits: VideoLimits,
    min_seconds: float = 1.0,
    max_seconds: float = 12 * 60,
) -> VideoInfo:
    """``video.inspect`` in a worker."""
    args = {"min_seconds": min_seconds, "max_seconds": max_seconds}
    return _video_info(run("inspect", args, src, None, limits))


def transcode_to_mp4(
    src: _MediaFile, dst: _Output, *, limits: VideoLimits, max_height: int = 720
) -> VideoInfo:
    """``video.transcode_to_mp4`` in a worker; ``dst`` must be empty."""
    return _video_info(run("transcode", {"max_height": max_height}, src, dst, limits))


def cut_clip(
    src: _MediaFile,
    dst: _Output,
    *,
    start: float,
    end: float,
    limits: VideoLimits,
    max_height: int = 720,
) -> VideoInfo:
    """``video.cut_clip`` in a worker (ValueError for an empty or out-of-range interval)."""
    args = {"start": start, "end": end, "max_height": max_height}
    return _video_info(run("cut", args, src, dst, limits))


def poster_jpeg(
    src: _MediaFile,
    dst: _Output,
    *,
    limits: VideoLimits,
    at_seconds: float | None = None,
    max_width: int = 640,
) -> None:
    """``video.poster_jpeg`` in a worker."""
    run("poster", {"at_seconds": at_seconds, "max_width": max_width}, src, dst, limits)


def frame_rate(src: _MediaFile, *, limits: VideoLimits) -> float | None:
    """``video.frame_rate`` in a worker."""
    rate = run("frame-rate", {}, src, None, limits)
    if rate is None:
        return None
    if not isinstance(rate, int | float) or not 1 <= rate <= 240:
        raise VideoWorkerFailed(CRASHED, "implausible frame rate")
    return float(rate)


def run(
    op: str,
    args: dict[str, Any],
    src: _MediaFile | None,
    dst: _Output | None,
    limits: VideoLimits,
) -> Any:
    """Run one worker operation to its end; return its result or raise why it failed."""
    worker = subprocess.Popen(  # noqa: S603 - our own worker, fixed arguments
        [
            sys.executable,
            "-I",  # ignore PYTHON* variables and the user's site-packages
            "-c",
            _BOOTSTRAP,
            _PACKAGE_DIR,
            str(limits.cpu_seconds),
            str(limits.memory_bytes),
        ],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        env=_CLEAN_ENV,
        cwd="/",
        close_fds=True,
        start_new_session=True,
    )
    assert worker.stdin is not None and worker.stdout is not None
    timed_out = threading.Event()

    def stop_hung_worker() -> None:
        timed_out.set()
        _kill(worker)

    # Killing the worker also ends any read or write of ours that it left waiting.
    watchdog = threading.Timer(limits.wall_seconds, stop_hung_worker)
    watchdog.daemon = True
    watchdog.start()
    failure: Exception | None = None
    try:
        try:
            write_frame(worker.stdin, JOB, encode_json({"op": op, "args": args}))
            result = _serve(worker.stdout, worker.stdin, src, dst, limits)
        except (WireError, BrokenPipeError, ConnectionResetError) as exc:
            # The worker died, or broke the protocol (then it is killed here).
            _kill(worker)
            failure = exc
        except BaseException:
            # Its report, or our own trouble with the media files (a withdrawal, a full
            # disk): either way this worker's part is over.
            _kill(worker)
            raise
    finally:
        # Reap the worker (which frees its pid for reuse) only once the watchdog cannot fire.
        watchdog.cancel()
        watchdog.join()
        try:
            worker.wait(timeout=5)  # one that has reported exits by itself at once
        except subprocess.TimeoutExpired:
            _kill(worker)
            worker.wait()
        for pipe in (worker.stdin, worker.stdout):
            with contextlib.suppress(OSError):
                pipe.close()
    if failure is not None:
        raise _failure(worker.returncode, timed_out.is_set()) from failure
    return result


def _video_info(result: Any) -> VideoInfo:
    try:
        return VideoInfo.from_wire(result)
    except WireError:
        raise VideoWorkerFailed(CRASHED, "malformed result") from None


def _kill(worker: subprocess.Popen[bytes]) -> None:
    """Kill the worker and anything it started (it leads its own process group, and its
    seccomp filter keeps it from leaving the group)."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(worker.pid, signal.SIGKILL)


def _serve(
    from_worker: IO[bytes],
    to_worker: IO[bytes],
    src: _MediaFile | None,
    dst: _Output | None,
    limits: VideoLimits,
) -> Any:
    """Answer the worker's reads and take its writes until it reports how it went.

    The worker is treated as hostile: every request is checked (known handle, bounded size,
    writes only to the output and only up to ``limits.output_bytes``).
    """
    files: dict[int, _MediaFile] = {}
    if src is not None:
        files[SOURCE] = src
    if dst is not None:
        files[OUTPUT] = dst
    while True:
        kind, payload = read_frame(from_worker, MAX_PAYLOAD)
        if kind == READ:
            if len(payload) != READ_ARGS.size:
                raise WireError("malformed read")
            handle, offset, size = READ_ARGS.unpack(payload)
            media = _file(files, handle)
            media.seek(offset)
            write_frame(to_worker, DATA, media.read(min(size, MAX_READ)) or b"")
        elif kind == SIZE:
            if len(payload) != SIZE_ARGS.size:
                raise WireError("malformed size request")
            (handle,) = SIZE_ARGS.unpack(payload)
            write_frame(to_worker, DATA, SIZE_ANSWER.pack(_file(files, handle).seek(0, 2)))
        elif kind == WRITE:
            if len(payload) < WRITE_ARGS.size:
                raise WireError("malformed write")
            handle, offset = WRITE_ARGS.unpack_from(payload)
            data = memoryview(payload)[WRITE_ARGS.size :]
            if handle != OUTPUT or dst is None:
                raise WireError("write to something that is not the output")
            if offset + len(data) > limits.output_bytes:
                raise WireError("the worker wrote more than its output limit")
            dst.seek(offset)
            dst.write(bytes(data))
        elif kind == RESULT:
            return decode_json(payload)
        elif kind == FAILED:
            raise _reported(decode_json(payload))
        else:
            raise WireError(f"unknown frame kind {kind}")


def _file(files: dict[int, _MediaFile], handle: int) -> _MediaFile:
    try:
        return files[handle]
    except KeyError:
        raise WireError(f"no such handle {handle}") from None


def _reported(failure: Any) -> Exception:
    """The exception for a failure the worker reported itself."""
    if not isinstance(failure, dict):
        return WireError("malformed failure report")
    reason = failure.get("rejected")
    if isinstance(reason, str):
        if known_reason(reason):
            return VideoRejected(reason)
        return VideoWorkerFailed(CRASHED, "unknown reason")
    error = str(failure.get("error", ""))[:64]
    if error == "ValueError":
        return ValueError(str(failure.get("message", ""))[:300])
    if error == "memory":
        return VideoWorkerFailed(TOO_BIG, "memory")
    return VideoWorkerError(f"the video worker failed with {error}")


def _failure(returncode: int | None, timed_out: bool) -> VideoWorkerFailed:
    """Why a worker ended without reporting: hung, out of CPU time, or crashed."""
    if timed_out:
        return VideoWorkerFailed(TOO_SLOW, "timed-out")
    if returncode == -signal.SIGXCPU:
        return VideoWorkerFailed(TOO_SLOW, "cpu")
    return VideoWorkerFailed(CRASHED, f"crashed ({returncode})")
