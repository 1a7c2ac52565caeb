"""A PATCH body as it comes off a phone's connection: in pieces, within the upload deadlines.

A phone on 4G sends at 1–10 Mbit/s, so a 5 MiB PATCH body takes seconds to a minute; one that
stops sending, or trickles a byte now and then, must not hold its upload (and its lock)
forever. Each read may wait at most the idle timeout, and the whole body at most the PATCH
cap; past either the read fails like a dropped connection and what was read before it is kept,
so the phone resumes from there (the piece being read when a deadline passes is sent again).
The deadlines work under the deployed server (gevent, see ``vigparent/serving.py``).

``wsgi.input`` returns a read only once all the bytes asked for are in, so the size asked for
adapts to the phone: it grows while bytes are already waiting (a fast link: large reads cost
little per byte) and shrinks when a read had to wait (a slow link: many phones at once hold
little memory, and a deadline loses little).
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import IO

from vigparent import serving
from vigparent.uploads import tus

MIN_READ = 16 * 1024
MAX_READ = 1024 * 1024
# A read that took longer than this waited for the phone: ask for less next time.
_WAITED_S = 0.05


class BodyFailed(Exception):
    """The body stopped before its end: the phone went away or missed a deadline."""


class BodyTimedOut(BodyFailed):
    """No bytes within the idle timeout, or the PATCH ran past its cap."""


@dataclass(frozen=True)
class Body:
    """A request body to append: its stream, its length (None when chunked), its checksum.

    With a ``length``, a stream that ends early means the client went away.
    """

    stream: IO[bytes]
    length: int | None
    checksum: tus.Checksum | None


@dataclass(frozen=True)
class Deadlines:
    idle_s: float
    total_s: float


def pieces(body: Body, deadlines: Deadlines) -> Iterator[bytes]:
    """The body a piece at a time; raises BodyFailed if it ends early or misses a deadline."""
    left = body.length
    cap = time.monotonic() + deadlines.total_s
    size = MIN_READ
    while left is None or left > 0:
        want = size if left is None else min(size, left)
        started = time.monotonic()
        wait = min(deadlines.idle_s, cap - started)
        if wait <= 0:
            raise BodyTimedOut()
        try:
            with serving.time_limit(wait, BodyTimedOut()):
                piece = body.stream.read(want)
        except BodyFailed:
            raise
        except Exception as exc:  # resets, werkzeug's ClientDisconnected, socket timeouts
            raise BodyFailed() from exc
        if time.monotonic() - started < _WAITED_S:
            size = min(size * 2, MAX_READ)
        else:
            size = max(size // 2, MIN_READ)
        if not piece:
            if left:
                raise BodyFailed()  # the body ended early: the client went away
            return
        if left is not None:
            left -= len(piece)
        yield piece
