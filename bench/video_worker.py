"""What processing a recording in the key-free video worker costs against doing it in-process.

Both sides run the recording job's three steps (check, transcode, poster) on the same
encrypted recording through the same MediaStore; the worker side starts a fresh confined
interpreter for each step and moves every byte over its pipe. Ratios, not timings, are the
point: ``worker / in-process`` for the whole job and for each step.

    .venv/bin/python bench/video_worker.py [--seconds 20] [--runs 3] [--container webm]
"""

from __future__ import annotations

import argparse
import io
import os
import resource
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import repo_root  # noqa: F401  (tests.support below)

from tests.support.videos import make_video
from vigparent import video, video_sandbox
from vigparent.keyring import Keyring
from vigparent.storage import MediaStore

FAMILY = 1
LIMITS = video_sandbox.VideoLimits()


def cpu_seconds() -> float:
    """CPU used so far by this process and its finished children (the workers)."""
    own, kids = (
        resource.getrusage(resource.RUSAGE_SELF),
        resource.getrusage(resource.RUSAGE_CHILDREN),
    )
    return own.ru_utime + own.ru_stime + kids.ru_utime + kids.ru_stime


def steps(store: MediaStore, name: str, engine: Any, **kw: Any) -> dict[str, float]:
    """Run check, transcode and poster as the job does; seconds per step, and CPU seconds."""
    took: dict[str, float] = {}
    cpu = cpu_seconds()
    start = time.perf_counter()
    with store.open(FAMILY, name) as src:
        engine.inspect(src, **kw)
    took["check"] = time.perf_counter() - start
    mp4, poster = store.new_name("mp4"), store.new_name("poster")
    start = time.perf_counter()
    with store.open(FAMILY, name) as src, store.open(FAMILY, mp4, "w") as dst:
        engine.transcode_to_mp4(src, dst, **kw)
    took["transcode"] = time.perf_counter() - start
    start = time.perf_counter()
    with store.open(FAMILY, mp4) as src, store.open(FAMILY, poster, "w") as dst:
        engine.poster_jpeg(src, dst, **kw)
    took["poster"] = time.perf_counter() - start
    took["job"] = sum(took.values())
    took["job CPU"] = cpu_seconds() - cpu
    for out in (mp4, poster):
        store.delete(FAMILY, out)
    return took


def medians(runs: int, *sides: Callable[[], dict[str, float]]) -> list[dict[str, float]]:
    """Median seconds per step for each side, the sides taking turns so load hits both."""
    results: list[list[dict[str, float]]] = [[] for _ in sides]
    for _ in range(runs):
        for side, fn in zip(results, sides, strict=True):
            side.append(fn())
    return [{k: statistics.median(r[k] for r in side) for k in side[0]} for side in results]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=20.0, help="length of the recording")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--container", choices=["webm", "mp4"], default="webm")
    args = parser.parse_args()

    raw = io.BytesIO()
    make_video(raw, container=args.container, seconds=args.seconds, size=(640, 360), fps=30)
    data = raw.getvalue()
    with tempfile.TemporaryDirectory(prefix="vig-bench-") as tmp:
        root = Path(tmp)
        store = MediaStore(root / "media", Keyring(root / "keys", os.urandom(32)))
        name = store.new_name("upload")
        store.create(FAMILY, name)
        store.append(FAMILY, name, [data], limit=len(data))

        ours, peer = medians(
            args.runs,
            lambda: steps(store, name, video_sandbox, limits=LIMITS),
            lambda: steps(store, name, video),
        )

    print(
        f"{args.seconds:g} s {args.container} 640x360 at 30 fps ({len(data) / 1e6:.1f} MB), "
        f"median of {args.runs} runs"
    )
    print(f"{'step (wall)':<12}{'in-process s':>14}{'worker s':>10}{'ratio':>8}{'extra s':>9}")
    for step in ("check", "transcode", "poster", "job", "job CPU"):
        print(
            f"{step:<12}{peer[step]:>14.2f}{ours[step]:>10.2f}"
            f"{ours[step] / peer[step]:>8.2f}{ours[step] - peer[step]:>9.2f}"
        )


if __name__ == "__main__":
    main()
