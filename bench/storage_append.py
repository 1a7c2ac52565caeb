"""Append throughput of MediaStore (AES-256-GCM chunks) against plain unencrypted writes.

Both sides write the same 1 MiB pieces into a temporary directory on the same filesystem and
fsync the same way, so the ratio shows what encryption costs. Two patterns:

- one request: a single append of the whole upload, one fsync at the end;
- tus PATCHes: 4 MiB per append, each fsync'd before it returns (what the tus layer does).

It also times reading the whole file back (``read_range`` against a plain read).

    .venv/bin/python bench/storage_append.py [--mib 256] [--runs 3]
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path

from vigparent.keyring import Keyring
from vigparent.storage import MediaStore

MIB = 1 << 20
FAMILY = 1


def pieces(pool: bytes, count: int) -> Iterator[bytes]:
    slots = len(pool) // MIB
    for i in range(count):
        at = (i % slots) * MIB
        yield pool[at : at + MIB]


def timed(fn: Callable[[], object]) -> tuple[float, float]:
    wall, cpu = time.perf_counter(), time.process_time()
    fn()
    return time.perf_counter() - wall, time.process_time() - cpu


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mib", type=int, default=256, help="upload size in MiB")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--patch-mib", type=int, default=4, help="MiB per tus PATCH")
    args = parser.parse_args()
    total, patch = args.mib, args.patch_mib
    pool = os.urandom(16 * MIB)  # content does not change AES-GCM's speed

    with tempfile.TemporaryDirectory(prefix="vig-bench-") as tmp:
        root = Path(tmp)
        store = MediaStore(root / "media", Keyring(root / "keys", os.urandom(32)))
        plain = root / "plain.bin"

        def ours_one() -> None:
            name = store.new_name("upload")
            store.create(FAMILY, name)
            store.append(FAMILY, name, pieces(pool, total), limit=total * MIB)

        def plain_one() -> None:
            with plain.open("wb", buffering=0) as f:
                for piece in pieces(pool, total):
                    f.write(piece)
                os.fsync(f.fileno())

        def ours_patches() -> None:
            name = store.new_name("upload")
            store.create(FAMILY, name)
            for _ in range(total // patch):
                store.append(FAMILY, name, pieces(pool, patch), limit=patch * MIB)

        def plain_patches() -> None:
            plain.touch()
            for _ in range(total // patch):
                with plain.open("ab", buffering=0) as f:
                    for piece in pieces(pool, patch):
                        f.write(piece)
                    os.fsync(f.fileno())

        def ours_read() -> None:
            name = store.names(FAMILY)[0]
            for _ in store.read_range(FAMILY, name, 0, store.size(FAMILY, name) - 1, MIB):
                pass

        def plain_read() -> None:
            with plain.open("rb", buffering=0) as f:
                while f.read(MIB):
                    pass

        def clean() -> None:
            store.delete_family(FAMILY)
            plain.unlink(missing_ok=True)

        print(f"{total} MiB in 1 MiB pieces, median of {args.runs} runs")
        print(f"{'case':<28}{'ours MB/s':>11}{'plain MB/s':>12}{'ratio':>8}{'ours CPU MB/s':>15}")
        # The read case reads the files the PATCH case leaves behind.
        for label, ours, peer in (
            ("one append, one fsync", ours_one, plain_one),
            (f"tus PATCH {patch} MiB + fsync", ours_patches, plain_patches),
            ("read whole file", ours_read, plain_read),
        ):
            ours_t, peer_t, ours_cpu = [], [], []
            for _ in range(args.runs):
                if ours is not ours_read:
                    clean()
                wall, cpu = timed(ours)
                ours_t.append(wall)
                ours_cpu.append(cpu)
                peer_t.append(timed(peer)[0])
            mb = total * MIB / 1e6
            ours_rate = mb / statistics.median(ours_t)
            peer_rate = mb / statistics.median(peer_t)
            cpu_rate = mb / max(statistics.median(ours_cpu), 1e-9)
            print(
                f"{label:<28}{ours_rate:>11.0f}{peer_rate:>12.0f}"
                f"{ours_rate / peer_rate:>8.2f}{cpu_rate:>15.0f}"
            )


if __name__ == "__main__":
    main()
