"""The object-store media backend on a real S3-protocol server: the same encrypted format
and the same contract as the local store (storage.MediaStore)."""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.scaleout.conftest import bucket_keys
from vigparent.keyring import Keyring
from vigparent.object_store import ObjectMediaStore
from vigparent.storage import (
    CHUNK,
    HEADER_LEN,
    MAGIC,
    MediaKeyDestroyed,
    MediaNotFound,
    StorageLimitExceeded,
    ciphertext_size,
)

FAMILY = 7


def read_all(store: ObjectMediaStore, name: str) -> bytes:
    size = store.size(FAMILY, name)
    if not size:
        return b""
    with store.read_range(FAMILY, name, 0, size - 1) as pieces:
        return b"".join(pieces)


def new_file(store: ObjectMediaStore) -> str:
    name = store.new_name("upload")
    store.create(FAMILY, name)
    return name


def test_appends_in_odd_pieces_read_back_exactly_across_segments(
    object_store: ObjectMediaStore, s3_url: str
) -> None:
    data = os.urandom(3 * CHUNK + 12_345)
    name = new_file(object_store)
    offset = 0
    for size in (1, CHUNK - 1, 70_000, 5, 250_000):
        piece = data[offset : offset + size]
        assert object_store.append(FAMILY, name, [piece], limit=len(data)) == len(piece)
        offset += len(piece)
        assert object_store.recover(FAMILY, name) == offset
    assert read_all(object_store, name) == data[:offset]
    # Several segment objects make up the file (segment_bytes is 100 kB here).
    keys = bucket_keys(s3_url, object_store.bucket)
    assert len(keys) >= 2 and all(k.startswith(f"media/{FAMILY}/{name}/") for k in keys)
    # Range reads at chunk edges and inside segments.
    for start, end in ((0, 0), (CHUNK - 3, CHUNK + 3), (offset - 10, offset - 1), (5, 200_000)):
        with object_store.read_range(FAMILY, name, start, end, block=CHUNK) as pieces:
            assert b"".join(pieces) == data[start : end + 1]
    assert object_store.family_usage(FAMILY) >= ciphertext_size(offset)


def test_the_objects_hold_the_documented_encrypted_format(
    object_store: ObjectMediaStore, s3_url: str
) -> None:
    marker = b"PLAINTEXT-MARKER" * 1000
    name = new_file(object_store)
    object_store.append(FAMILY, name, [marker], limit=len(marker))
    first = object_store.read_object(f"media/{FAMILY}/{name}/{0:016d}")
    assert first[:8] == MAGIC and len(first) >= HEADER_LEN
    for key in object_store.all_objects():
        assert b"PLAINTEXT" not in object_store.read_object(key)


def test_too_many_bytes_keep_nothing_of_that_call(object_store: ObjectMediaStore) -> None:
    name = new_file(object_store)
    object_store.append(FAMILY, name, [b"a" * 1000], limit=10_000)
    with pytest.raises(StorageLimitExceeded):
        object_store.append(FAMILY, name, [b"b" * 150_000, b"c" * 200_000], limit=300_000)
    assert read_all(object_store, name) == b"a" * 1000


def test_a_stream_that_fails_keeps_what_arrived(object_store: ObjectMediaStore) -> None:
    name = new_file(object_store)

    def body() -> Iterator[bytes]:
        yield b"x" * 150_000
        raise ConnectionError("phone went away")

    with pytest.raises(ConnectionError):
        object_store.append(FAMILY, name, body(), limit=1 << 20)
    assert object_store.recover(FAMILY, name) == 150_000
    object_store.append(FAMILY, name, [b"y" * 10], limit=100)
    assert read_all(object_store, name) == b"x" * 150_000 + b"y" * 10


def test_truncate_rolls_back_to_an_earlier_size(object_store: ObjectMediaStore) -> None:
    data = os.urandom(300_000)
    name = new_file(object_store)
    object_store.append(FAMILY, name, [data[:100_000]], limit=len(data))
    object_store.append(FAMILY, name, [data[100_000:]], limit=len(data))
    object_store.truncate(FAMILY, name, 100_001)
    assert read_all(object_store, name) == data[:100_001]
    object_store.append(FAMILY, name, [data[100_001:]], limit=len(data))
    assert object_store.sha256(FAMILY, name) == hashlib.sha256(data).hexdigest()


def test_open_for_pyav_reads_and_writes_through_the_bucket(
    object_store: ObjectMediaStore, tmp_path: Path
) -> None:
    data = os.urandom(200_000)
    name = object_store.new_name("mp4")
    with object_store.open(FAMILY, name, "w") as f:
        f.write(data[:1000])
        f.seek(500)
        f.write(data[500:])
    with object_store.open(FAMILY, name) as f:
        assert f.read() == data
        f.seek(123_456)
        assert f.read(10) == data[123_456:123_466]
    assert read_all(object_store, name) == data
    assert list((tmp_path / "spool").iterdir()) == []  # spooled ciphertext leaves nothing


def test_destroyed_key_makes_every_object_unreadable_and_deletion_empties_the_bucket(
    object_store: ObjectMediaStore, keyring: Keyring, s3_url: str
) -> None:
    names = [new_file(object_store) for _ in range(3)]
    for name in names:
        object_store.append(FAMILY, name, [os.urandom(120_000)], limit=1 << 20)
    assert object_store.families() == [FAMILY]
    assert object_store.names(FAMILY) == sorted(names)
    keyring.destroy(FAMILY)
    for name in names:
        with pytest.raises(MediaKeyDestroyed):
            object_store.read_range(FAMILY, name, 0, 10)
        with pytest.raises(MediaKeyDestroyed):
            object_store.open(FAMILY, name)
    files, freed = object_store.delete_family(FAMILY)
    assert files == 3 and freed > 360_000
    assert bucket_keys(s3_url, object_store.bucket) == []
    with pytest.raises(MediaNotFound):
        object_store.size(FAMILY, names[0])


def test_an_append_racing_a_withdrawal_takes_its_own_objects_back(
    object_store: ObjectMediaStore, keyring: Keyring, s3_url: str
) -> None:
    name = new_file(object_store)
    store = object_store

    def body() -> Iterator[bytes]:
        yield b"z" * 120_000  # one segment is PUT after this
        # Meanwhile another node withdraws: key first, then the objects.
        keyring.destroy(FAMILY)
        store.delete_family(FAMILY)
        yield b"z" * 120_000

    with pytest.raises(MediaNotFound):
        store.append(FAMILY, name, body(), limit=1 << 20)
    assert bucket_keys(s3_url, store.bucket) == []
