"""Time to withdraw a family holding ~1 GB of media, against the time to read that media once.

One run builds a real app (SQLite, encrypted media store, keyring) in a temporary directory,
gives one family recordings and clips whose encrypted files total ``--mib`` MiB, then:

- reads every file once through the store (decrypting, as serving it would), and once as
  raw bytes from disk (no decryption: the cheapest possible read);
- withdraws consent with ``withdrawal.service.withdraw_consent`` (journal commit, key
  destroyed, jobs revoked, files and rows deleted, receipt completed);
- checks that nothing of the family is left.

Target: withdrawal is faster than reading the media once. Two cases:

- warm: every file is in the page cache (it was just written and read). The kernel must free
  those cached pages when a file is unlinked, which is most of withdrawal's time here, while
  reads never touch the disk: the hardest comparison for withdrawal.
- cold: the family's files are evicted from the page cache first (``posix_fadvise
  DONTNEED`` on our own files only), as for media written days ago.

    .venv/bin/python bench/withdraw.py [--mib 1024] [--runs 3]
"""

from __future__ import annotations

import argparse
import os
import secrets
import statistics
import tempfile
import time
from pathlib import Path

import repo_root  # noqa: F401  (tests.support below)

MIB = 1 << 20


def build(root: Path, total_mib: int, **settings: object):  # type: ignore[no-untyped-def]
    from bench_app import bench_app

    from tests.support.parent_session import create_consenting_family
    from vigparent import clock, db, media_store
    from vigparent.models import Clip, ClipStatus, Principle, Recording, RecordingStatus, User

    app = bench_app(root, **settings)
    parent_id = create_consenting_family(app)
    ctx = app.app_context()
    ctx.push()
    s = db.session()
    parent = s.get(User, parent_id)
    assert parent is not None and parent.family is not None
    family = parent.family

    store = media_store.store()
    pool = os.urandom(16 * MIB)  # AES-GCM's speed does not depend on the content

    def blob(kind: str, mib: int) -> str:
        name = store.new_name(kind)
        store.create(family.id, name)
        pieces = (pool[(i % 16) * MIB : (i % 16 + 1) * MIB] for i in range(mib))
        store.append(family.id, name, pieces, limit=mib * MIB)
        return name

    # Like a real family: 10-minute recordings (~75 MB originals, ~35 MB transcodes) and
    # a few short clips each, until the total is reached.
    written = 0
    n = 0
    while written < total_mib:
        orig = min(72, total_mib - written)
        rec = Recording(
            family_id=family.id,
            uploaded_by_id=parent.id,
            client_id=f"bench-{n}",
            upload_id=secrets.token_urlsafe(16),
            declared_size=orig * MIB,
            received_size=orig * MIB,
            status=RecordingStatus.READY,
            original_name=blob("orig", orig),
            completed_at=clock.now(),
        )
        written += orig
        if written < total_mib:
            size = min(32, total_mib - written)
            rec.transcode_name = blob("mp4", size)
            written += size
        s.add(rec)
        s.flush()
        for k in range(3):
            if written >= total_mib:
                break
            size = min(4, total_mib - written)
            s.add(
                Clip(
                    family_id=family.id,
                    recording_id=rec.id,
                    title="c",
                    principle=Principle.GUIDING,
                    start_s=0,
                    end_s=1,
                    position=k,
                    status=ClipStatus.READY,
                    media_name=blob("clip", size),
                )
            )
            written += size
        n += 1
    s.commit()
    return app, ctx, family, parent


def read_decrypted(family_id: int) -> int:
    from vigparent import media_store

    store = media_store.store()
    total = 0
    for name in store.names(family_id):
        size = store.size(family_id, name)
        with store.read_range(family_id, name, 0, size - 1, 1 << 20) as pieces:
            for piece in pieces:
                total += len(piece)
    return total


def read_raw(family_dir: Path) -> int:
    total = 0
    for path in sorted(family_dir.iterdir()):
        with open(path, "rb", buffering=0) as f:
            while chunk := f.read(4 * MIB):
                total += len(chunk)
    return total


def evict(family_dir: Path) -> None:
    """Drop our files' pages from the page cache (they are fsynced, so clean)."""
    for path in family_dir.iterdir():
        fd = os.open(path, os.O_RDONLY)
        try:
            os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
        finally:
            os.close(fd)


def one_run(total_mib: int, cold: bool) -> dict[str, float]:
    from vigparent import db, media_store
    from vigparent.models import Clip, Recording
    from vigparent.withdrawal import service

    with tempfile.TemporaryDirectory(prefix="vig-bench-withdraw-") as tmp:
        root = Path(tmp)
        app, ctx, family, parent = build(root, total_mib)
        try:
            store = media_store.store()
            family_dir = store.root / str(family.id)
            disk = store.family_usage(family.id)
            files = len(store.names(family.id))

            if cold:
                evict(family_dir)
            t = time.perf_counter()
            plain = read_decrypted(family.id)
            read_s = time.perf_counter() - t

            if cold:
                evict(family_dir)
            t = time.perf_counter()
            raw = read_raw(family_dir)
            raw_s = time.perf_counter() - t

            if cold:
                evict(family_dir)
            t = time.perf_counter()
            receipt = service.withdraw_consent(family, parent)
            withdraw_s = time.perf_counter() - t

            assert receipt.completed_at is not None and receipt.key_destroyed
            assert not family_dir.exists() and not media_store.keyring().has_key(family.id)
            assert db.session().query(Recording).count() == 0
            assert db.session().query(Clip).count() == 0
            assert raw == disk
            return {
                "plain_mib": plain / MIB,
                "disk_mib": disk / MIB,
                "files": files,
                "read_s": read_s,
                "raw_s": raw_s,
                "withdraw_s": withdraw_s,
            }
        finally:
            db.session().close()
            ctx.pop()
            app.extensions["vig_engine"].dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mib", type=int, default=1024, help="media per family, in MiB")
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()

    for cold in (False, True):
        results = [one_run(args.mib, cold) for _ in range(args.runs)]
        r0 = results[0]
        read_s = statistics.median(r["read_s"] for r in results)
        raw_s = statistics.median(r["raw_s"] for r in results)
        withdraw_s = statistics.median(r["withdraw_s"] for r in results)
        print(
            f"{'cold' if cold else 'warm'} page cache: {r0['plain_mib']:.0f} MiB of media in "
            f"{r0['files']:.0f} encrypted files ({r0['disk_mib']:.0f} MiB on disk); "
            f"median of {args.runs} runs"
        )
        print(f"  read once, decrypting (peer): {read_s * 1000:9.1f} ms")
        print(f"  read once, raw ciphertext:    {raw_s * 1000:9.1f} ms")
        print(f"  withdraw_consent (ours):      {withdraw_s * 1000:9.1f} ms")
        print(
            f"  ratio withdraw / decrypting read = {withdraw_s / read_s:.3f}"
            f"  (withdrawal {read_s / withdraw_s:.1f}x faster)"
        )
        print(f"  ratio withdraw / raw read        = {withdraw_s / raw_s:.3f}")


if __name__ == "__main__":
    main()
