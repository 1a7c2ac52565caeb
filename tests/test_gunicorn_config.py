"""The web process's own settings (``vigparent/gunicorn_config.py``), checked in a fresh process."""

from __future__ import annotations

import subprocess
import sys

# How many buffers of 1 MiB and of 8 MiB got their own mmap, read back with glibc's mallinfo2(3).
_MMAPPED_BUFFERS = """
import ctypes, sys

class MallInfo2(ctypes.Structure):
    _fields_ = [(name, ctypes.c_size_t) for name in (
        "arena", "ordblks", "smblks", "hblks", "hblkhd",
        "usmblks", "fsmblks", "uordblks", "fordblks", "keepcost")]

mallinfo2 = ctypes.CDLL(None).mallinfo2
mallinfo2.restype = MallInfo2
if sys.argv[1] == "configured":
    import vigparent.gunicorn_config
counts = []
for size in (1 << 20, 8 << 20):
    before = mallinfo2().hblks
    buffer = bytearray(size)
    counts.append(mallinfo2().hblks - before)
    del buffer
print(*counts)
"""


def mmapped_buffers(how: str) -> list[int]:
    out = subprocess.run(
        [sys.executable, "-c", _MMAPPED_BUFFERS, how],
        capture_output=True, text=True, check=True, timeout=60,
    )  # fmt: skip
    return [int(n) for n in out.stdout.split()]


def test_upload_sized_buffers_come_from_the_heap_not_a_fresh_mmap_each() -> None:
    # Each PATCH passes its body through buffers of about a MiB. By default glibc maps every one
    # afresh and unmaps it when freed (the control below), and the zeroed pages cost the worker
    # ~10% of its CPU on a fast upload; the config keeps them in the heap for reuse.
    assert mmapped_buffers("default") == [1, 1]
    assert mmapped_buffers("configured") == [0, 0]
