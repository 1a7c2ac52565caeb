"""Draw the app icons (192 and 512 px PNG, safe for maskable) with the standard library."""

import struct
import zlib
from pathlib import Path

OUT = Path(__file__).resolve().parent.parent / "vigparent" / "static" / "icons"
TEAL = (29, 92, 99)
AMBER = (233, 162, 59)
SAND = (247, 217, 166)


def _png(size: int, pixel) -> bytes:
    rows = b"".join(
        b"\x00" + bytes(c for x in range(size) for c in pixel(x / size, y / size))
        for y in range(size)
    )

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    header = struct.pack(">IIBBBBB", size, size, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(rows, 9))
        + chunk(b"IEND", b"")
    )


def pixel(x: float, y: float):
    # Two overlapping circles (parent and child, in tune) inside the maskable safe zone.
    def inside(cx: float, cy: float, r: float) -> bool:
        return (x - cx) ** 2 + (y - cy) ** 2 <= r * r

    if inside(0.42, 0.5, 0.2):
        return AMBER
    if inside(0.62, 0.53, 0.14):
        return SAND
    return TEAL


if __name__ == "__main__":
    OUT.mkdir(parents=True, exist_ok=True)
    for size in (192, 512):
        (OUT / f"icon-{size}.png").write_bytes(_png(size, pixel))
