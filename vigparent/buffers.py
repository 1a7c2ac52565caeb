"""Byte buffers kept for reuse by the upload path.

An upload moves every byte through a few large buffers (read from the socket, sealed for disk).
Made afresh for each request, each buffer costs its size in page faults and zeroed pages once
the allocator hands the freed memory back to the kernel, which it does: about a tenth of the
CPU of an upload. A pool keeps a few of them between requests instead, and no more than that,
so memory stays bounded.
"""

from __future__ import annotations

import threading


class BufferPool:
    """Buffers of one size; ``take`` one, ``give`` it back when done (at most ``keep`` kept)."""

    def __init__(self, size: int, keep: int) -> None:
        self.size = size
        self._keep = keep
        self._free: list[bytearray] = []
        self._guard = threading.Lock()

    def take(self) -> bytearray:
        with self._guard:
            if self._free:
                return self._free.pop()
        return bytearray(self.size)

    def give(self, buf: bytearray) -> None:
        if len(buf) != self.size:
            raise ValueError("not one of this pool's buffers")
        with self._guard:
            if len(self._free) < self._keep:
                self._free.append(buf)
