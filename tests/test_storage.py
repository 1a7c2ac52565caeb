"""Encrypted media storage: format, random access, tus-style appends, ranges, tampering,
crypto-shredding, path safety, and PyAV reading and writing through EncryptedFile."""

from __future__ import annotations

import array
import contextlib
import ctypes
import hashlib
import io
import math
import mmap
import os
import random
from collections.abc import Iterator
from fractions import Fraction
from pathlib import Path

import av
import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from vigparent.keyring import Keyring
from vigparent.storage import (
    CHUNK,
    HEADER_LEN,
    MAGIC,
    MAGIC_V1,
    OVERHEAD,
    EncryptedFile,
    IntegrityError,
    InvalidMediaName,
    MediaKeyDestroyed,
    MediaNotFound,
    MediaStore,
    StorageBusy,
    StorageLimitExceeded,
    ciphertext_size,
)

FAMILY = 1
RECORD = CHUNK + OVERHEAD
SIZES = [0, 1, CHUNK - 1, CHUNK, CHUNK + 1, 2 * CHUNK, 3 * CHUNK + 17, 5 * 1024 * 1024 + 3]


@pytest.fixture
def keyring(tmp_path: Path) -> Keyring:
    return Keyring(tmp_path / "keys", os.urandom(32))


@pytest.fixture
def store(tmp_path: Path, keyring: Keyring) -> MediaStore:
    return MediaStore(tmp_path / "media", keyring)


def payload(size: int, seed: int = 0) -> bytes:
    return random.Random(seed).randbytes(size)


def stored(store: MediaStore, data: bytes, family_id: int = FAMILY, kind: str = "upload") -> str:
    name = store.new_name(kind)
    store.create(family_id, name)
    store.append(family_id, name, [data], limit=len(data))
    return name


def read_all(store: MediaStore, name: str, family_id: int = FAMILY) -> bytes:
    with store.open(family_id, name) as f:
        return f.read()


def disk_path(store: MediaStore, name: str, family_id: int = FAMILY) -> Path:
    return store.root / str(family_id) / name


def split_randomly(data: bytes, rng: random.Random, most: int) -> Iterator[bytes]:
    pos = 0
    while pos < len(data):
        step = rng.randint(1, most)
        yield data[pos : pos + step]
        pos += step


# -- format and round trips ---------------------------------------------------------------


@pytest.mark.parametrize("size", SIZES)
def test_round_trip(store: MediaStore, size: int) -> None:
    data = payload(size, seed=size)
    name = stored(store, data)

    assert store.size(FAMILY, name) == size
    assert disk_path(store, name).stat().st_size == ciphertext_size(size)
    assert read_all(store, name) == data
    assert store.sha256(FAMILY, name) == hashlib.sha256(data).hexdigest()
    if size:
        assert b"".join(store.read_range(FAMILY, name, 0, size - 1)) == data


def test_file_layout_matches_the_documented_format(store: MediaStore) -> None:
    name = stored(store, payload(2 * CHUNK + 10))
    raw = disk_path(store, name).read_bytes()

    assert raw[:8] == MAGIC
    assert int.from_bytes(raw[8:12], "big") == CHUNK
    assert HEADER_LEN == 28
    assert len(raw) == HEADER_LEN + 2 * RECORD + 10 + OVERHEAD
    nonces = {raw[HEADER_LEN + i * RECORD : HEADER_LEN + i * RECORD + 12] for i in range(3)}
    assert len(nonces) == 3


def test_expected_size_sets_disk_blocks_aside_without_changing_the_file(
    store: MediaStore,
) -> None:
    size = 3 * CHUNK + 17
    name = store.new_name("upload")
    store.create(FAMILY, name, expected_size=size)
    path = disk_path(store, name)
    assert path.stat().st_size == ciphertext_size(0)  # the size (so the plaintext size) is kept
    assert path.stat().st_blocks * 512 >= ciphertext_size(size)  # but the blocks are there
    data = payload(size)
    store.append(FAMILY, name, split_randomly(data, random.Random(3), 50_000), limit=size)
    assert store.size(FAMILY, name) == size
    assert read_all(store, name) == data


def test_many_appends_in_pieces_of_every_size_read_back_exactly(store: MediaStore) -> None:
    rng = random.Random(5)
    names = []
    for i in range(6):
        data = payload(rng.randint(1, 3 * 1024 * 1024), seed=i)
        name = store.new_name("upload")
        store.create(FAMILY, name)
        store.append(FAMILY, name, split_randomly(data, rng, 2 * 1024 * 1024), limit=len(data))
        names.append((name, data))
    for name, data in names:
        assert read_all(store, name) == data


def test_every_file_gets_its_own_id(store: MediaStore) -> None:
    a, b = stored(store, b"same"), stored(store, b"same")
    assert disk_path(store, a).read_bytes()[12:28] != disk_path(store, b).read_bytes()[12:28]


def test_appends_in_odd_pieces_equal_one_big_write(store: MediaStore) -> None:
    data = payload(4 * CHUNK + 12345, seed=1)
    rng = random.Random(2)
    name = store.new_name("upload")
    store.create(FAMILY, name)
    pieces = list(split_randomly(data, rng, most=CHUNK + 999))
    pos = 0
    while pos < len(pieces):
        # Several tus PATCHes, each with several reads of different sizes.
        take = rng.randint(1, 4)
        store.append(FAMILY, name, pieces[pos : pos + take], limit=len(data))
        pos += take
    name2 = store.new_name("upload")
    store.create(FAMILY, name2)
    store.append(FAMILY, name2, io.BytesIO(data), limit=len(data), read_size=7777)

    assert read_all(store, name) == data == read_all(store, name2)
    assert disk_path(store, name).stat().st_size == disk_path(store, name2).stat().st_size


def test_append_reports_bytes_and_feeds_on_bytes(store: MediaStore) -> None:
    data = payload(CHUNK * 2 + 5)
    digest = hashlib.sha1()  # noqa: S324 - tus checksum extension requires sha1
    name = store.new_name("upload")
    store.create(FAMILY, name)
    store.append(FAMILY, name, [b"abc"], limit=3)

    count = store.append(
        FAMILY, name, io.BytesIO(data), limit=len(data), read_size=1000, on_bytes=digest.update
    )

    assert count == len(data)
    assert digest.digest() == hashlib.sha1(data).digest()  # noqa: S324
    assert read_all(store, name) == b"abc" + data


def cached_share(path: Path) -> float:
    """The share of a file's pages held in the page cache, as mincore(2) reports it."""
    size = path.stat().st_size
    pages = -(-size // mmap.PAGESIZE)
    vec = (ctypes.c_ubyte * pages)()
    with open(path, "rb") as f, mmap.mmap(f.fileno(), size, access=mmap.ACCESS_COPY) as mm:
        start = ctypes.c_char.from_buffer(mm)
        failed = ctypes.CDLL(None, use_errno=True).mincore(
            ctypes.c_void_p(ctypes.addressof(start)), ctypes.c_size_t(size), vec
        )
        del start  # the mapping cannot close while ctypes holds it
    if failed:
        raise OSError(ctypes.get_errno(), "mincore")
    return sum(page & 1 for page in vec) / pages


def test_an_append_leaves_its_bytes_on_disk_not_in_the_page_cache(
    store: MediaStore, tmp_path: Path
) -> None:
    # Pages kept would make every byte of the next PATCH take a fresh page (see
    # _fsync_and_forget). Control: a file written and fsync'd the plain way stays cached.
    data = payload(8 << 20)
    control = tmp_path / "control"
    fd = os.open(control, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        os.write(fd, data)
        os.fsync(fd)
    finally:
        os.close(fd)
    assert cached_share(control) > 0.9

    name = store.new_name("upload")
    store.create(FAMILY, name, expected_size=len(data))
    store.append(FAMILY, name, io.BytesIO(data), limit=len(data))

    assert cached_share(disk_path(store, name)) < 0.1
    assert read_all(store, name) == data


def test_append_to_missing_file_is_not_found(store: MediaStore) -> None:
    with pytest.raises(MediaNotFound):
        store.append(FAMILY, store.new_name("upload"), [b"x"], limit=1)


@pytest.mark.parametrize("start", [0, 10, CHUNK, CHUNK + 10])
def test_limit_exceeded_keeps_nothing_from_that_call(store: MediaStore, start: int) -> None:
    before = payload(start, seed=3)
    name = stored(store, before)
    size_on_disk = disk_path(store, name).stat().st_size
    incoming = [payload(CHUNK, seed=4), payload(CHUNK, seed=5), b"one too many"]

    with pytest.raises(StorageLimitExceeded):
        store.append(FAMILY, name, incoming, limit=2 * CHUNK)

    assert store.size(FAMILY, name) == start
    assert disk_path(store, name).stat().st_size == size_on_disk
    assert read_all(store, name) == before
    store.append(FAMILY, name, [b"later"], limit=5)
    assert read_all(store, name) == before + b"later"


def test_interrupted_stream_keeps_what_arrived(store: MediaStore) -> None:
    data = payload(CHUNK + 500)
    name = stored(store, b"head")

    def body() -> Iterator[bytes]:
        yield data
        raise ConnectionResetError("client went away")

    with pytest.raises(ConnectionResetError):
        store.append(FAMILY, name, body(), limit=10 * CHUNK)

    assert read_all(store, name) == b"head" + data


# -- truncate (tus checksum rollback) and crash recovery --------------------------------------


@pytest.mark.parametrize("first", [0, 1, CHUNK - 1, CHUNK, CHUNK + 3])
def test_truncate_rolls_back_a_failed_chunk_exactly(store: MediaStore, first: int) -> None:
    kept = payload(first, seed=6)
    name = stored(store, kept)
    size_on_disk = disk_path(store, name).stat().st_size
    store.append(FAMILY, name, [payload(CHUNK + 77, seed=7)], limit=CHUNK + 77)

    store.truncate(FAMILY, name, first)

    assert store.size(FAMILY, name) == first
    assert disk_path(store, name).stat().st_size == size_on_disk
    assert read_all(store, name) == kept
    store.append(FAMILY, name, [b"retry"], limit=5)
    assert read_all(store, name) == kept + b"retry"


def test_truncate_cannot_grow(store: MediaStore) -> None:
    name = stored(store, b"abc")
    with pytest.raises(ValueError):
        store.truncate(FAMILY, name, 4)


def test_recover_drops_a_torn_tail(store: MediaStore) -> None:
    data = payload(3 * CHUNK + 100, seed=8)
    name = stored(store, data)
    path = disk_path(store, name)
    full = path.stat().st_size

    assert store.recover(FAMILY, name) == len(data)
    # A crash mid-write of the last record: only part of it reached the disk.
    os.truncate(path, full - 50)
    assert store.recover(FAMILY, name) == 3 * CHUNK
    assert read_all(store, name) == data[: 3 * CHUNK]
    # Zero-filled blocks past the end (delayed allocation after a crash) are dropped too.
    with path.open("ab") as f:
        f.write(bytes(RECORD + 10))
    assert store.recover(FAMILY, name) == 3 * CHUNK
    # A torn header-sized sliver (rem <= 28) is also handled.
    with path.open("ab") as f:
        f.write(bytes(20))
    with pytest.raises(IntegrityError):
        store.size(FAMILY, name)
    assert store.recover(FAMILY, name) == 3 * CHUNK
    store.append(FAMILY, name, [data[3 * CHUNK :]], limit=100)
    assert read_all(store, name) == data


# -- random access ------------------------------------------------------------------------


def test_random_access_writes_match_a_bytearray(store: MediaStore) -> None:
    rng = random.Random(9)
    model = bytearray(payload(2 * CHUNK + 300, seed=10))
    name = stored(store, bytes(model))

    with store.open(FAMILY, name, "r+") as f:
        for _ in range(60):
            pos = rng.randint(0, len(model) + CHUNK // 2)
            blob = rng.randbytes(rng.choice([1, 17, CHUNK - 1, CHUNK, CHUNK + 5, 3 * CHUNK]))
            if pos > len(model):
                model.extend(bytes(pos - len(model)))
            model[pos : pos + len(blob)] = blob
            f.seek(pos)
            assert f.write(blob) == len(blob)
            assert f.tell() == pos + len(blob)
            if rng.random() < 0.3:
                probe = rng.randint(0, len(model))
                f.seek(probe)
                assert f.read(1000) == bytes(model[probe : probe + 1000])
        assert f.seek(0, io.SEEK_END) == len(model)

    assert read_all(store, name) == bytes(model)
    assert store.size(FAMILY, name) == len(model)
    assert disk_path(store, name).stat().st_size == ciphertext_size(len(model))


def test_writing_past_the_end_fills_with_zeros(store: MediaStore) -> None:
    name = store.new_name("clip")
    with store.open(FAMILY, name, "w") as f:
        f.write(b"start")
        f.seek(2 * CHUNK + 3)
        f.write(b"end")
    assert read_all(store, name) == b"start" + bytes(2 * CHUNK - 2) + b"end"


def test_encrypted_file_truncate(store: MediaStore) -> None:
    data = payload(2 * CHUNK + 9)
    name = stored(store, data)
    with store.open(FAMILY, name, "r+") as f:
        f.seek(CHUNK + 1)
        f.write(b"XY")
        assert f.truncate(CHUNK + 2) == CHUNK + 2
        assert f.truncate(CHUNK + 5) == CHUNK + 5
    assert read_all(store, name) == data[: CHUNK + 1] + b"X" + bytes(3)


def test_open_w_overwrites_with_a_new_file_id(store: MediaStore) -> None:
    name = stored(store, payload(CHUNK * 2))
    old_id = disk_path(store, name).read_bytes()[12:28]
    with store.open(FAMILY, name, "w") as f:
        f.write(b"new")
    assert read_all(store, name) == b"new"
    assert disk_path(store, name).read_bytes()[12:28] != old_id


def test_read_only_file_refuses_writes(store: MediaStore) -> None:
    name = stored(store, b"abc")
    with store.open(FAMILY, name) as f, pytest.raises(io.UnsupportedOperation):
        f.write(b"x")


def test_memory_stays_bounded_while_writing(store: MediaStore) -> None:
    name = store.new_name("transcode")
    with store.open(FAMILY, name, "w") as f:
        for i in range(40):
            f.write(bytes([i]) * 10_000)
            assert len(f._slots) <= 2
        f.fsync()


def test_writers_exclude_each_other(store: MediaStore) -> None:
    name = stored(store, b"abc")
    with store.open(FAMILY, name, "r+"):
        with pytest.raises(StorageBusy):
            store.append(FAMILY, name, [b"x"], limit=1)
        with pytest.raises(StorageBusy):
            store.open(FAMILY, name, "r+")
        assert read_all(store, name) == b"abc"  # readers are not blocked
    store.append(FAMILY, name, [b"d"], limit=1)


# -- ranges -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("start", "end"),
    [
        (0, 0),
        (CHUNK - 1, CHUNK - 1),
        (CHUNK - 1, CHUNK),
        (CHUNK, CHUNK),
        (CHUNK, 2 * CHUNK - 1),
        (1, 3 * CHUNK + 99),
        (3 * CHUNK + 99, 3 * CHUNK + 99),
        (5, 6 * CHUNK),
    ],
)
@pytest.mark.parametrize("block", [1, CHUNK, 256 * 1024, 1 << 20])
def test_range_reads_at_boundaries(store: MediaStore, start: int, end: int, block: int) -> None:
    data = payload(3 * CHUNK + 100, seed=11)
    name = stored(store, data)
    end = min(end, len(data) - 1)

    pieces = list(store.read_range(FAMILY, name, start, end, block=block))

    assert b"".join(pieces) == data[start : end + 1]
    assert all(pieces)
    assert max(map(len, pieces)) <= max(block, CHUNK)


@pytest.mark.parametrize(("start", "end"), [(-1, 0), (5, 4), (0, 100), (100, 100)])
def test_range_outside_the_file_is_refused(store: MediaStore, start: int, end: int) -> None:
    name = stored(store, bytes(100))
    with pytest.raises(ValueError):
        store.read_range(FAMILY, name, start, end)


def test_range_reader_releases_its_file(store: MediaStore) -> None:
    name = stored(store, payload(3 * CHUNK))
    fds_before = len(os.listdir("/proc/self/fd"))
    pieces = store.read_range(FAMILY, name, 0, 10)
    pieces.close()
    with store.read_range(FAMILY, name, 0, 3 * CHUNK - 1) as more:
        next(more)
    assert len(os.listdir("/proc/self/fd")) == fds_before


# -- tampering ----------------------------------------------------------------------------


def flip(path: Path, offset: int) -> None:
    raw = bytearray(path.read_bytes())
    raw[offset] ^= 0x01
    path.write_bytes(bytes(raw))


@pytest.mark.parametrize(
    "offset",
    [
        HEADER_LEN + 5,  # nonce of chunk 0
        HEADER_LEN + 12 + 100,  # ciphertext of chunk 0
        HEADER_LEN + RECORD - 1,  # tag of chunk 0
        HEADER_LEN + RECORD + 12 + 7,  # ciphertext of chunk 1
        10,  # chunk size in the header
        20,  # file id in the header
    ],
)
def test_flipped_byte_raises_integrity_error(store: MediaStore, offset: int) -> None:
    name = stored(store, payload(2 * CHUNK + 10))
    flip(disk_path(store, name), offset)

    with pytest.raises(IntegrityError):
        read_all(store, name)
    with pytest.raises(IntegrityError):
        store.sha256(FAMILY, name)
    with pytest.raises(IntegrityError):
        b"".join(store.read_range(FAMILY, name, 0, 2 * CHUNK + 9))


def test_flipped_magic_is_not_our_file(store: MediaStore) -> None:
    name = stored(store, b"abc")
    flip(disk_path(store, name), 0)
    with pytest.raises(IntegrityError, match="not a vigparent"):
        store.open(FAMILY, name)


def test_swapped_chunks_raise(store: MediaStore) -> None:
    name = stored(store, payload(3 * CHUNK))
    path = disk_path(store, name)
    raw = bytearray(path.read_bytes())
    one = slice(HEADER_LEN, HEADER_LEN + RECORD)
    two = slice(HEADER_LEN + RECORD, HEADER_LEN + 2 * RECORD)
    raw[one], raw[two] = raw[two], raw[one]
    path.write_bytes(bytes(raw))

    with pytest.raises(IntegrityError):
        read_all(store, name)
    with pytest.raises(IntegrityError):
        list(store.read_range(FAMILY, name, CHUNK, CHUNK))


def test_chunk_moved_from_another_file_raises(store: MediaStore) -> None:
    a = stored(store, payload(2 * CHUNK, seed=1))
    b = stored(store, payload(2 * CHUNK, seed=2))
    raw_a = disk_path(store, a).read_bytes()
    raw_b = bytearray(disk_path(store, b).read_bytes())
    raw_b[HEADER_LEN : HEADER_LEN + RECORD] = raw_a[HEADER_LEN : HEADER_LEN + RECORD]
    disk_path(store, b).write_bytes(bytes(raw_b))

    with pytest.raises(IntegrityError):
        list(store.read_range(FAMILY, b, 0, 0))


def test_file_moved_to_another_family_cannot_be_read(store: MediaStore) -> None:
    name = stored(store, b"family one's video")
    stored(store, b"x", family_id=2)
    os.rename(disk_path(store, name), disk_path(store, name, family_id=2))
    with pytest.raises(IntegrityError):
        read_all(store, name, family_id=2)


# -- truncation, the final chunk, and version 1 files ---------------------------------------


def records(path: Path) -> tuple[bytes, list[bytes]]:
    """The header and the records of an encrypted file, as laid out on disk."""
    raw = path.read_bytes()
    body = raw[HEADER_LEN:]
    return raw[:HEADER_LEN], [body[i : i + RECORD] for i in range(0, len(body), RECORD)]


def unreadable(store: MediaStore, name: str, *, end_only: bool = False) -> bool:
    """True if every way of reading the whole file refuses it (none returns short data).

    ``end_only``: reading just the last byte is refused too (a cut is seen at the end).
    """
    size = store.size(FAMILY, name)
    checks = [
        lambda: read_all(store, name),
        lambda: store.sha256(FAMILY, name),
        lambda: b"".join(store.read_range(FAMILY, name, 0, size - 1)),
    ]
    if end_only:
        checks.append(lambda: b"".join(store.read_range(FAMILY, name, size - 1, size - 1)))
    refused = 0
    for check in checks:
        with contextlib.suppress(IntegrityError):
            check()
            continue
        refused += 1
    return refused == len(checks)


@pytest.mark.parametrize("size", [4 * CHUNK, 4 * CHUNK + 100])
def test_a_file_cut_at_any_chunk_boundary_is_refused(store: MediaStore, size: int) -> None:
    name = stored(store, payload(size, seed=30))
    path = disk_path(store, name)
    header, recs = records(path)
    path.write_bytes(header)  # cut down to the bare header: not even an empty file
    for read in (lambda: store.size(FAMILY, name), lambda: read_all(store, name)):
        with pytest.raises(IntegrityError, match="lost its last chunk"):
            read()
    for kept in range(1, len(recs)):
        path.write_bytes(header + b"".join(recs[:kept]))
        assert store.size(FAMILY, name) == kept * CHUNK  # the size alone cannot tell, reads can
        assert unreadable(store, name, end_only=True), f"cut after chunk {kept} went unnoticed"
    path.write_bytes(header + b"".join(recs))
    assert read_all(store, name) == payload(size, seed=30)


def test_chunks_reordered_or_swapped_between_files_are_refused(store: MediaStore) -> None:
    a = stored(store, payload(3 * CHUNK, seed=31))
    b = stored(store, payload(3 * CHUNK, seed=32))
    header_a, recs_a = records(disk_path(store, a))
    header_b, recs_b = records(disk_path(store, b))
    cases = {
        "first and last swapped": header_a + recs_a[2] + recs_a[1] + recs_a[0],
        "middle and last swapped": header_a + recs_a[0] + recs_a[2] + recs_a[1],
        "last chunk from another file": header_a + recs_a[0] + recs_a[1] + recs_b[2],
        "middle chunk from another file": header_a + recs_a[0] + recs_b[1] + recs_a[2],
        "another file's header": header_b + b"".join(recs_a),
        "cut, then another file's last chunk": header_a + recs_a[0] + recs_b[2],
    }
    for case, raw in cases.items():
        disk_path(store, a).write_bytes(raw)
        assert unreadable(store, a), case


@pytest.mark.parametrize("step", [CHUNK, 3 * CHUNK, CHUNK + 5, 100])
def test_appends_seal_only_the_newest_end_as_last(store: MediaStore, step: int) -> None:
    """A tus upload grows by many appends; each earlier end must stop counting as an end."""
    name = store.new_name("upload")
    store.create(FAMILY, name)
    data = payload(4 * CHUNK + 7, seed=33)
    ends = []
    for at in range(0, len(data), step):
        store.append(FAMILY, name, [data[at : at + step]], limit=step)
        ends.append(min(at + step, len(data)))
        assert read_all(store, name) == data[: ends[-1]]
    path = disk_path(store, name)
    header, recs = records(path)
    for end in ends[:-1]:
        if end % CHUNK == 0:  # an old end on a chunk boundary: cutting back to it is caught
            path.write_bytes(header + b"".join(recs[: end // CHUNK]))
            assert unreadable(store, name, end_only=True), f"old end {end} still reads as one"
    path.write_bytes(header + b"".join(recs))
    assert read_all(store, name) == data


def test_an_empty_file_holds_one_checked_empty_chunk(store: MediaStore) -> None:
    name = stored(store, b"")
    path = disk_path(store, name)
    header, recs = records(path)
    assert recs == [recs[0]] and len(recs[0]) == OVERHEAD
    assert read_all(store, name) == b"" and store.size(FAMILY, name) == 0
    path.write_bytes(header + os.urandom(OVERHEAD))  # not our empty chunk
    with pytest.raises(IntegrityError):
        read_all(store, name)
    with pytest.raises(IntegrityError):
        store.sha256(FAMILY, name)
    # A crash that left only the header (or junk) recovers to an empty, growable file.
    path.write_bytes(header)
    assert store.recover(FAMILY, name) == 0
    store.append(FAMILY, name, [b"abc"], limit=3)
    assert read_all(store, name) == b"abc"
    store.truncate(FAMILY, name, 0)
    assert read_all(store, name) == b"" and path.stat().st_size == ciphertext_size(0)
    with pytest.raises(StorageLimitExceeded):
        store.append(FAMILY, name, [payload(2 * CHUNK)], limit=CHUNK)
    assert read_all(store, name) == b""


def test_an_empty_append_keeps_a_full_final_chunk_readable(store: MediaStore) -> None:
    name = stored(store, payload(2 * CHUNK, seed=34))
    assert store.append(FAMILY, name, [b""], limit=10) == 0
    assert store.append(FAMILY, name, [], limit=10) == 0
    assert read_all(store, name) == payload(2 * CHUNK, seed=34)


def test_failed_stream_and_limit_leave_a_well_formed_file(store: MediaStore) -> None:
    kept = payload(2 * CHUNK, seed=35)
    name = stored(store, kept)
    with pytest.raises(StorageLimitExceeded):
        store.append(FAMILY, name, [payload(3 * CHUNK)], limit=CHUNK)
    assert read_all(store, name) == kept

    def sender() -> Iterator[bytes]:
        yield payload(CHUNK, seed=36)
        raise ConnectionError("phone went away")

    with pytest.raises(ConnectionError):
        store.append(FAMILY, name, sender(), limit=10 * CHUNK)
    assert read_all(store, name) == kept + payload(CHUNK, seed=36)


@pytest.mark.parametrize("size", [CHUNK, 2 * CHUNK, 2 * CHUNK + 9])
def test_truncate_seals_the_new_final_chunk(store: MediaStore, size: int) -> None:
    name = stored(store, payload(3 * CHUNK + 50, seed=37))
    store.truncate(FAMILY, name, size)
    assert read_all(store, name) == payload(3 * CHUNK + 50, seed=37)[:size]
    with store.open(FAMILY, name, "r+") as f:
        f.truncate(CHUNK)
    assert read_all(store, name) == payload(3 * CHUNK + 50, seed=37)[:CHUNK]


def test_recover_reseals_a_good_chunk_a_crash_left_as_not_last(store: MediaStore) -> None:
    """A crash mid-append: chunks sealed "not last" reached the disk, the rest did not."""
    data = payload(4 * CHUNK + 10, seed=38)
    name = stored(store, data[: CHUNK + 10])
    path = disk_path(store, name)
    header, _ = records(path)
    store.append(FAMILY, name, [data[CHUNK + 10 :]], limit=len(data))
    _, recs = records(path)
    # Chunks 0-2 are on disk, sealed as not last; chunk 3 was torn and its tail never came.
    path.write_bytes(header + b"".join(recs[:3]) + recs[3][:1000])
    assert unreadable(store, name)

    assert store.recover(FAMILY, name) == 3 * CHUNK
    assert read_all(store, name) == data[: 3 * CHUNK]
    store.append(FAMILY, name, [data[3 * CHUNK :]], limit=len(data))
    assert read_all(store, name) == data


def test_random_writes_keep_the_file_well_formed(store: MediaStore) -> None:
    """EncryptedFile (PyAV's output) grows and rewrites chunks in any order."""
    rng = random.Random(39)
    name = store.new_name("mp4")
    expected = bytearray()
    with store.open(FAMILY, name, "w") as f:
        for _ in range(60):
            at = rng.randint(0, len(expected) + CHUNK)
            piece = rng.randbytes(rng.randint(1, 2 * CHUNK))
            f.seek(at)
            f.write(piece)
            if at > len(expected):
                expected += bytes(at - len(expected))
            expected[at : at + len(piece)] = piece
            if rng.random() < 0.3:
                f.flush()
                assert read_all(store, name) == bytes(expected[: store.size(FAMILY, name)])
    assert read_all(store, name) == bytes(expected)
    header, recs = records(disk_path(store, name))
    disk_path(store, name).write_bytes(header + b"".join(recs[:-1]))
    assert unreadable(store, name)


def version_1_file(store: MediaStore, keyring: Keyring, data: bytes) -> str:
    """Write ``data`` in the version 1 format, independently of the code under test."""
    file_id = os.urandom(16)
    header = b"VIGENC1\n" + CHUNK.to_bytes(4, "big") + file_id
    key = HKDF(
        algorithm=hashes.SHA256(),
        length=32,
        salt=None,
        info=b"vigparent media file key v1\x00" + file_id,
    ).derive(keyring.data_key(FAMILY))
    raw = bytearray(header)
    for index, at in enumerate(range(0, len(data), CHUNK)):
        nonce = os.urandom(12)
        aad = header + index.to_bytes(8, "big")
        raw += nonce + AESGCM(key).encrypt(nonce, data[at : at + CHUNK], aad)
    name = store.new_name("upload")
    store.create(FAMILY, name)
    disk_path(store, name).write_bytes(bytes(raw))
    return name


def test_version_1_files_are_still_read_and_grown(store: MediaStore, keyring: Keyring) -> None:
    empty = version_1_file(store, keyring, b"")
    assert read_all(store, empty) == b"" and store.size(FAMILY, empty) == 0
    assert store.recover(FAMILY, empty) == 0
    store.append(FAMILY, empty, [b"abc"], limit=3)
    assert read_all(store, empty) == b"abc"
    store.truncate(FAMILY, empty, 0)
    assert disk_path(store, empty).stat().st_size == HEADER_LEN  # version 1's empty file

    data = payload(3 * CHUNK + 70, seed=40)
    name = version_1_file(store, keyring, data[: 2 * CHUNK])
    assert MAGIC_V1 != MAGIC
    assert read_all(store, name) == data[: 2 * CHUNK]
    assert store.recover(FAMILY, name) == 2 * CHUNK
    store.append(FAMILY, name, [data[2 * CHUNK :]], limit=len(data))
    assert disk_path(store, name).read_bytes()[:8] == MAGIC_V1  # grown in its own format
    assert read_all(store, name) == data
    assert b"".join(store.read_range(FAMILY, name, 5, len(data) - 1)) == data[5:]
    assert store.sha256(FAMILY, name) == hashlib.sha256(data).hexdigest()
    store.truncate(FAMILY, name, CHUNK + 1)
    assert read_all(store, name) == data[: CHUNK + 1]
    # Version 1 never bound the final chunk: such a cut is the old, documented blind spot.
    header, recs = records(disk_path(store, name))
    disk_path(store, name).write_bytes(header + recs[0])
    assert read_all(store, name) == data[:CHUNK]


def test_new_files_are_version_2(store: MediaStore) -> None:
    assert MAGIC == b"VIGENC2\n"
    name = stored(store, b"abc")
    assert disk_path(store, name).read_bytes()[:8] == MAGIC
    with store.open(FAMILY, name, "w") as f:
        f.write(b"def")
    assert disk_path(store, name).read_bytes()[:8] == MAGIC


# -- crypto-shredding and key rotation ----------------------------------------------------


def test_destroyed_key_makes_media_unreadable(store: MediaStore, keyring: Keyring) -> None:
    names = [stored(store, payload(n, seed=n)) for n in (0, 10, 3 * CHUNK)]
    keyring.destroy(FAMILY)

    for name in names:
        for read in (
            lambda n: store.open(FAMILY, n),
            lambda n: store.sha256(FAMILY, n),
            lambda n: store.append(FAMILY, n, [b"more"], limit=4),
            lambda n: store.open(FAMILY, n, "r+"),
        ):
            with pytest.raises(MediaKeyDestroyed):
                read(name)
    with pytest.raises(MediaNotFound):  # MediaKeyDestroyed is a MediaNotFound
        store.read_range(FAMILY, names[2], 0, 0)
    assert not keyring.has_key(FAMILY), "reading must not mint a new key"


def test_new_key_does_not_revive_old_media(store: MediaStore, keyring: Keyring) -> None:
    name = stored(store, b"before withdrawal")
    keyring.destroy(FAMILY)
    stored(store, b"after")  # creates a fresh key for the family
    with pytest.raises(IntegrityError):
        read_all(store, name)


def test_rewrap_keeps_media_readable(store: MediaStore, keyring: Keyring, tmp_path: Path) -> None:
    data = payload(2 * CHUNK + 1)
    name = stored(store, data)
    new_master = os.urandom(32)

    keyring.rewrap_all(new_master)

    fresh = MediaStore(tmp_path / "media", Keyring(tmp_path / "keys", new_master))
    assert read_all(fresh, name) == data
    assert read_all(store, name) == data


# -- names and paths ----------------------------------------------------------------------


def test_new_names_are_random_and_readable(store: MediaStore) -> None:
    names = {store.new_name("clip") for _ in range(100)}
    assert len(names) == 100
    assert all(n.startswith("clip-") and len(n) == 29 for n in names)


@pytest.mark.parametrize("kind", ["", "Clip", "../x", "clip-1", "a" * 17, "poster.jpg"])
def test_new_name_refuses_odd_kinds(store: MediaStore, kind: str) -> None:
    with pytest.raises(InvalidMediaName):
        store.new_name(kind)


@pytest.mark.parametrize(
    "name",
    [
        "",
        ".",
        "..",
        "../1/upload-AAAAAAAAAAAAAAAAAAAA",
        "upload-AAAAAAAAAAAA/../../../../etc/passwd",
        "/etc/passwd",
        "upload-AAAAAAAAAAAAAAAAAAAA/",
        "upload-AAAAAAAAAAAAAAAAAAAA\x00",
        "upload-AAAAAAAAAAAAAAAAAAAA.mp4",
        ".tmp-0123456789abcdef",
        "upload-short",
        "UPLOAD-AAAAAAAAAAAAAAAAAAAA",
    ],
)
def test_names_not_issued_by_the_store_are_refused(store: MediaStore, name: str) -> None:
    for call in (
        lambda: store.create(FAMILY, name),
        lambda: store.open(FAMILY, name, "w"),
        lambda: store.exists(FAMILY, name),
        lambda: store.delete(FAMILY, name),
        lambda: store.append(FAMILY, name, [b"x"], limit=1),
    ):
        with pytest.raises(InvalidMediaName):
            call()


@pytest.mark.parametrize("family_id", [-1, True, "1", "../1", 1.5, None])
def test_odd_family_ids_are_refused(store: MediaStore, family_id: object) -> None:
    with pytest.raises(InvalidMediaName):
        store.create(family_id, store.new_name("upload"))  # type: ignore[arg-type]
    with pytest.raises(InvalidMediaName):
        store.delete_family(family_id)  # type: ignore[arg-type]


def test_symlinks_out_of_the_root_are_refused(store: MediaStore, tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    (store.root / "5").symlink_to(outside)
    with pytest.raises(InvalidMediaName):
        store.create(5, store.new_name("upload"))
    name = store.new_name("upload")
    target = outside / "secret"
    target.write_bytes(b"secret")
    (store.root / str(FAMILY)).mkdir()
    disk_path(store, name).symlink_to(target)
    with pytest.raises(InvalidMediaName):
        store.open(FAMILY, name)
    assert target.read_bytes() == b"secret"


def test_create_refuses_an_existing_name(store: MediaStore) -> None:
    name = stored(store, b"keep me")
    with pytest.raises(Exception, match="already exists"):
        store.create(FAMILY, name)
    assert read_all(store, name) == b"keep me"


# -- no plaintext on disk -----------------------------------------------------------------


def test_no_plaintext_reaches_the_disk(store: MediaStore, tmp_path: Path) -> None:
    marker = b"VIG-PLAINTEXT-MARKER-0123456789"
    data = (marker + payload(1000)) * 300  # ~300 KB, the marker in every chunk
    name = stored(store, data)
    store.append(FAMILY, name, [marker * 10, data[:CHUNK]], limit=10**9)
    store.truncate(FAMILY, name, len(data) + 5)
    with store.open(FAMILY, store.new_name("clip"), "w") as f:
        f.write(data)
        f.seek(CHUNK - 5)
        f.write(marker)
    with store.open(FAMILY, name, "r+") as f:
        f.seek(len(data) // 2)
        f.write(marker * 3)
        f.truncate(len(data))

    files = [p for p in tmp_path.rglob("*") if p.is_file()]
    # Two media files, one key and the keyring's lock file; no temporaries left behind.
    assert sorted(p.name for p in files if p.name.startswith(".")) == [".keyring.lock"]
    assert len(files) == 4
    for path in files:
        assert marker not in path.read_bytes(), path


# -- deletion and inventory ---------------------------------------------------------------


def test_delete_and_inventory(store: MediaStore) -> None:
    a = stored(store, payload(CHUNK + 1), family_id=1)
    b = stored(store, payload(10), family_id=1, kind="poster")
    c = stored(store, payload(20), family_id=3)

    assert store.families() == [1, 3]
    assert store.names(1) == sorted([a, b])
    assert store.exists(1, a)
    assert store.family_usage(1) == ciphertext_size(CHUNK + 1) + ciphertext_size(10)

    assert store.delete(1, b) == ciphertext_size(10)
    assert store.delete(1, b) == 0
    assert not store.exists(1, b)
    with pytest.raises(MediaNotFound):
        store.open(1, b)

    assert store.delete_family(1) == (1, ciphertext_size(CHUNK + 1))
    assert store.delete_family(1) == (0, 0)
    assert store.families() == [3]
    assert store.names(1) == []
    assert store.family_usage(1) == 0
    assert read_all(store, c, family_id=3) == payload(20)


def test_delete_family_removes_leftover_temporaries(store: MediaStore) -> None:
    stored(store, b"x")
    (store.root / str(FAMILY) / ".tmp-0123456789abcdef").write_bytes(b"VIGENC1\n")
    assert store.delete_family(FAMILY)[0] == 2
    assert not (store.root / str(FAMILY)).exists()


# -- PyAV through EncryptedFile -----------------------------------------------------------


def write_test_video(f: EncryptedFile, *, faststart: bool, seconds: float = 1.0) -> int:
    """Encode a small H.264 + AAC MP4 into ``f``; return the number of video frames."""
    options = {"movflags": "+faststart"} if faststart else {}
    # FFmpeg's faststart pass rereads the output; it must do so through the same decryption.
    io_open = f.av_io_open if faststart else None
    fps, width, height, rate = 25, 64, 48, 48000
    frames = int(fps * seconds)
    with av.open(f, mode="w", format="mp4", options=options, io_open=io_open) as out:
        video = out.add_stream("libx264", rate=fps, options={"preset": "ultrafast"})
        video.width, video.height, video.pix_fmt = width, height, "yuv420p"
        audio = out.add_stream("aac", rate=rate, layout="mono")
        for i in range(frames):
            frame = av.VideoFrame(width, height, "yuv420p")
            for plane, value in zip(frame.planes, (16 + i * 8, 128, 255 - i * 8), strict=True):
                plane.update(bytes([value % 256]) * plane.buffer_size)
            frame.pts = i
            out.mux(video.encode(frame))
        samples = 1024
        for n in range(int(rate * seconds) // samples):
            tone = array.array(
                "f",
                (
                    0.2 * math.sin(2 * math.pi * 440 * (n * samples + k) / rate)
                    for k in range(samples)
                ),
            )
            sound = av.AudioFrame(format="fltp", layout="mono", samples=samples)
            sound.planes[0].update(tone.tobytes())
            sound.sample_rate = rate
            sound.pts = n * samples
            sound.time_base = Fraction(1, rate)
            out.mux(audio.encode(sound))
        out.mux(video.encode(None))
        out.mux(audio.encode(None))
    return frames


def count_frames(f: EncryptedFile) -> tuple[int, int]:
    with av.open(f, mode="r") as container:
        video = sum(1 for _ in container.decode(video=0))
        container.seek(0)
        audio = sum(1 for _ in container.decode(audio=0))
    return video, audio


@pytest.mark.parametrize("faststart", [True, False])
def test_pyav_writes_and_reads_through_encrypted_file(store: MediaStore, faststart: bool) -> None:
    name = store.new_name("transcode")
    with store.open(FAMILY, name, "w") as f:
        frames = write_test_video(f, faststart=faststart)
        f.fsync()

    with store.open(FAMILY, name) as f:
        mp4 = f.read()
        assert mp4[4:8] == b"ftyp"
        # faststart means FFmpeg reread and shifted the whole file through av_io_open.
        assert (mp4.find(b"moov") < mp4.find(b"mdat")) is faststart
        f.seek(0)
        video, audio = count_frames(f)
    assert video == frames
    assert audio > 0
    raw = disk_path(store, name).read_bytes()
    assert b"ftyp" not in raw and b"moov" not in raw


def test_faststart_without_io_open_fails_loudly(store: MediaStore) -> None:
    name = store.new_name("transcode")
    with store.open(FAMILY, name, "w") as f:
        assert not f.name.startswith("/")  # FFmpeg must not be able to open the real path
        options = {"movflags": "+faststart"}
        with (
            pytest.raises(av.FFmpegError),
            av.open(f, mode="w", format="mp4", options=options) as out,
        ):
            stream = out.add_stream("libx264", rate=25)
            stream.width, stream.height, stream.pix_fmt = 64, 48, "yuv420p"
            frame = av.VideoFrame(64, 48, "yuv420p")
            frame.pts = 0
            out.mux(stream.encode(frame))
            out.mux(stream.encode(None))


def test_pyav_reads_an_uploaded_recording(store: MediaStore) -> None:
    scratch = store.new_name("transcode")
    with store.open(FAMILY, scratch, "w") as f:
        frames = write_test_video(f, faststart=False, seconds=0.4)
    mp4 = read_all(store, scratch)
    # The tus path: the same bytes arrive in odd-sized PATCH bodies.
    upload = store.new_name("upload")
    store.create(FAMILY, upload)
    for piece in split_randomly(mp4, random.Random(12), most=5000):
        store.append(FAMILY, upload, io.BytesIO(piece), limit=len(piece))
    with store.open(FAMILY, upload) as f:
        assert count_frames(f)[0] == frames


def test_an_append_stops_when_its_file_is_deleted_under_it(store: MediaStore) -> None:
    """A withdrawal deletes the file while a slow phone's body streams in: the append stops at
    its next write instead of taking in the rest for a file nobody can read."""
    name = store.new_name("upload")
    store.create(FAMILY, name)
    sent = []

    def body() -> Iterator[bytes]:
        for i in range(10):
            if i == 2:
                store.delete(FAMILY, name)
            sent.append(i)
            yield payload(CHUNK, seed=i)

    with pytest.raises(MediaNotFound):
        store.append(FAMILY, name, body(), limit=10 * CHUNK)
    assert sent == [0, 1, 2]
    assert not store.exists(FAMILY, name)
