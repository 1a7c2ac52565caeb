"""Encrypted media in an S3-compatible object store (MinIO, AWS S3; moto's server in tests).

The same encrypted file format as the local store (``storage``), the same calls
(``media_store.MediaStorage``), only the S3 API through boto3's public client.

Layout: one media file is one or more **segment** objects under ``<prefix><family>/<name>/``,
each named by the ciphertext offset it starts at (``0000000000000000``, ``0000000000196636``,
...). Segment *i* supplies the file's bytes from its own start up to the next segment's start;
the last supplies the rest. Every segment starts on a chunk record boundary, and the file
they make up is always well formed (its final chunk, and only that, sealed as last), because
each segment is written whole by one PUT, which S3 makes visible all at once or not at all.

- A tus PATCH (``append``) re-seals the old final chunk as "not last" and writes it, with the
  new chunks, as a new segment starting at that chunk's offset (a PUT to the old last
  segment's own name when they start at the same place). The body is sealed into memory and
  PUT every ``segment_bytes`` (8 MiB by default), and once more at its end, or when the phone
  goes away (what arrived is kept, as on disk). No multipart upload is involved, so S3's
  5 MiB minimum part size never meets a slow phone's 256 KiB PATCH: a small PATCH is a small
  segment. A web node that dies mid-PATCH loses only the bytes since its last PUT, which it
  had not acknowledged: the phone's HEAD, on any node, reports the offset the segments hold.
- ``truncate`` (a checksum rollback) deletes the segments past the new end, last first, then
  PUTs the re-sealed new final chunk as a segment.
- Range reads (HTTP 206) list the segments once, then GET only the byte ranges of the chunks
  they need from the segments that hold them.
- ``open`` (PyAV, the video jobs) works on a local copy of the *ciphertext* in the spool
  directory; a file opened for writing is PUT back as one segment when it is closed. Plaintext
  never touches a disk here either.
- Deleting lists and deletes until the listing comes back empty, and ``append`` checks after
  each PUT that the family key and the file are still there (withdrawal destroys the key, then
  deletes), removing its own segment if not: a withdrawal racing a PATCH on another node
  leaves nothing behind in the bucket.

Concurrency: S3 has no file locks. One writer per upload is the upload lock's job
(``uploads.locks``, on Redis when several nodes share the store); jobs write only to fresh
names.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import os
import re
import tempfile
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO

import boto3
from botocore.config import Config
from botocore.exceptions import ClientError

from vigparent.config import Settings
from vigparent.keyring import DataKeyMissing, Keyring
from vigparent.storage import (
    _FAMILY_DIR_RE,
    _NAME_RE,
    HEADER_LEN,
    OVERHEAD,
    Buffer,
    EncryptedFile,
    IntegrityError,
    InvalidMediaName,
    MediaKeyDestroyed,
    MediaNotFound,
    StorageError,
    StorageLimitExceeded,
    _FileCipher,
    _new_header,
    _parse_header,
    _pieces,
    new_media_name,
    piece_span,
    plaintext_size,
)

SEGMENT_BYTES = 8 * 1024 * 1024
_OFFSET_DIGITS = 16
_SEGMENT_RE = re.compile(r"[0-9]{16}")


@dataclass(frozen=True)
class _Segment:
    start: int
    size: int
    key: str
    modified: float


class _Segments:
    """The segments of one media file, in order, and the file they make up."""

    def __init__(self, segments: list[_Segment]) -> None:
        if not segments or segments[0].start != 0:
            raise IntegrityError("media file has lost its first segment")
        for seg, nxt in zip(segments, segments[1:], strict=False):
            if seg.start + seg.size < nxt.start:
                raise IntegrityError("media file has a gap between its segments")
        self.items = segments

    @property
    def total(self) -> int:
        last = self.items[-1]
        return last.start + last.size

    def spans(self, start: int, stop: int) -> Iterator[tuple[_Segment, int, int]]:
        """(segment, first byte, end byte) within each segment for file bytes [start, stop)."""
        for i, seg in enumerate(self.items):
            end = self.items[i + 1].start if i + 1 < len(self.items) else self.total
            lo, hi = max(start, seg.start), min(stop, end)
            if lo < hi:
                yield seg, lo - seg.start, hi - seg.start


class ObjectMediaStore:
    """Encrypted media files as segment objects in one bucket (see the module doc)."""

    def __init__(
        self,
        client: Any,
        bucket: str,
        keyring: Keyring,
        *,
        prefix: str = "media/",
        spool_dir: Path,
        segment_bytes: int = SEGMENT_BYTES,
    ) -> None:
        self._s3 = client
        self._bucket = bucket
        self._prefix = prefix
        self._keyring = keyring
        self._segment_bytes = segment_bytes
        self._spool = Path(spool_dir)
        self._spool.mkdir(parents=True, exist_ok=True, mode=0o700)

    @classmethod
    def from_settings(cls, settings: Settings, keyring: Keyring) -> ObjectMediaStore:
        """The bucket the settings name, through boto3's S3 client."""
        client = boto3.client(
            "s3",
            endpoint_url=settings.s3_endpoint_url or None,
            region_name=settings.s3_region or None,
            aws_access_key_id=settings.s3_access_key_id or None,
            aws_secret_access_key=settings.s3_secret_access_key or None,
            # MinIO and most self-hosted stores want path-style addressing; AWS accepts it too.
            config=Config(s3={"addressing_style": "path"}, retries={"mode": "standard"}),
        )
        return cls(
            client,
            settings.s3_bucket,
            keyring,
            prefix=settings.s3_prefix,
            spool_dir=settings.data_dir / "spool",
            segment_bytes=settings.s3_segment_bytes,
        )

    @property
    def bucket(self) -> str:
        return self._bucket

    # -- names and keys ----------------------------------------------------------------------

    def _family_prefix(self, family_id: int) -> str:
        if not isinstance(family_id, int) or isinstance(family_id, bool) or family_id < 0:
            raise InvalidMediaName(f"family id must be a non-negative int, got {family_id!r}")
        return f"{self._prefix}{family_id}/"

    def _file_prefix(self, family_id: int, name: str) -> str:
        if not isinstance(name, str) or not _NAME_RE.fullmatch(name):
            raise InvalidMediaName(f"not a media name issued by the store: {name!r}")
        return f"{self._family_prefix(family_id)}{name}/"

    def _segment_key(self, family_id: int, name: str, start: int) -> str:
        return f"{self._file_prefix(family_id, name)}{start:0{_OFFSET_DIGITS}d}"

    def _data_key(self, family_id: int, *, create: bool) -> bytes:
        try:
            return self._keyring.data_key(family_id, create=create)
        except DataKeyMissing:
            raise MediaKeyDestroyed(f"family {family_id}'s media key has been destroyed") from None

    def new_name(self, kind: str) -> str:
        """A fresh unguessable name such as ``clip-3q2v...``; ``kind`` is for humans only."""
        return new_media_name(kind)

    # -- S3 calls ----------------------------------------------------------------------------

    def _list(self, prefix: str, delimiter: str = "") -> Iterator[dict[str, Any]]:
        paginator = self._s3.get_paginator("list_objects_v2")
        kw = {"Bucket": self._bucket, "Prefix": prefix}
        if delimiter:
            kw["Delimiter"] = delimiter
        yield from paginator.paginate(**kw)

    def _objects(self, prefix: str) -> list[dict[str, Any]]:
        return [obj for page in self._list(prefix) for obj in page.get("Contents", ())]

    def _segments(self, family_id: int, name: str) -> _Segments:
        prefix = self._file_prefix(family_id, name)
        found = []
        for obj in self._objects(prefix):
            tail = obj["Key"][len(prefix) :]
            if _SEGMENT_RE.fullmatch(tail):
                found.append(
                    _Segment(int(tail), obj["Size"], obj["Key"], obj["LastModified"].timestamp())
                )
        if not found:
            raise MediaNotFound(f"no media file {name!r}")
        return _Segments(sorted(found, key=lambda s: s.start))

    def _get(self, key: str, first: int, end: int) -> bytes:
        try:
            answer = self._s3.get_object(
                Bucket=self._bucket, Key=key, Range=f"bytes={first}-{end - 1}"
            )
        except ClientError as e:
            if e.response.get("Error", {}).get("Code") in ("NoSuchKey", "404"):
                raise MediaNotFound("media segment went while it was read") from None
            raise
        with contextlib.closing(answer["Body"]) as body:
            data: bytes = body.read()
        return data

    def _read(self, segments: _Segments, start: int, stop: int) -> bytes:
        data = b"".join(self._get(seg.key, lo, hi) for seg, lo, hi in segments.spans(start, stop))
        if len(data) != stop - start:
            raise IntegrityError("media file is shorter than expected")
        return data

    def _put(self, key: str, body: bytes | BinaryIO) -> None:
        self._s3.put_object(Bucket=self._bucket, Key=key, Body=body)

    def _delete_keys(self, keys: list[str]) -> None:
        for i in range(0, len(keys), 1000):  # DeleteObjects takes up to 1000 keys a call
            batch = [{"Key": k} for k in keys[i : i + 1000]]
            self._s3.delete_objects(Bucket=self._bucket, Delete={"Objects": batch, "Quiet": True})

    def _delete_prefix(self, prefix: str) -> list[dict[str, Any]]:
        """Delete everything under ``prefix`` until a listing finds nothing; what went."""
        gone: dict[str, dict[str, Any]] = {}
        while objects := self._objects(prefix):
            self._delete_keys([o["Key"] for o in objects])
            gone.update((o["Key"], o) for o in objects)
        return list(gone.values())

    def _cipher(self, family_id: int, segments: _Segments) -> _FileCipher:
        header = self._read(segments, 0, HEADER_LEN)
        _parse_header(header)  # a damaged file is an IntegrityError even without a key
        return _FileCipher(self._data_key(family_id, create=False), header)

    def _chunk(self, c: _FileCipher, segments: _Segments, index: int, plain_size: int) -> bytes:
        length = min(c.chunk, plain_size - index * c.chunk)
        if length < 0 or (length == 0 and index != c.final_index(plain_size)):
            return b""
        record = self._read(segments, c.offset(index), c.offset(index) + length + OVERHEAD)
        return c.open(index, record, last=index == c.final_index(plain_size))

    # -- metadata ----------------------------------------------------------------------------

    def create(self, family_id: int, name: str, *, expected_size: int = 0) -> None:
        """Create an empty encrypted file (header and empty last chunk); the name must be new."""
        prefix = self._file_prefix(family_id, name)
        data_key = self._data_key(family_id, create=True)
        if self._objects(prefix):
            raise StorageError(f"media file {name!r} already exists")
        header = _new_header()
        cipher = _FileCipher(data_key, header)
        self._put(self._segment_key(family_id, name, 0), header + cipher.seal(0, b"", last=True))

    def exists(self, family_id: int, name: str) -> bool:
        try:
            self._segments(family_id, name)
        except MediaNotFound:
            return False
        return True

    def size(self, family_id: int, name: str) -> int:
        """Plaintext size, from the segments' sizes and the header (no key needed)."""
        segments = self._segments(family_id, name)
        chunk, _, binds_last = _parse_header(self._read(segments, 0, HEADER_LEN))
        return plaintext_size(segments.total, chunk, version=2 if binds_last else 1)

    # -- writing -----------------------------------------------------------------------------

    def append(
        self,
        family_id: int,
        name: str,
        stream: BinaryIO | Iterable[Buffer],
        *,
        limit: int,
        read_size: int = 1 << 20,
        on_bytes: Callable[[Buffer], None] | None = None,
    ) -> int:
        """Stream bytes onto the end of the file as segments; return the count (see
        ``storage.MediaStore.append`` for the contract, and the module doc for the layout).
        """
        if limit < 0 or read_size <= 0:
            raise ValueError("limit must be >= 0 and read_size > 0")
        segments = self._segments(family_id, name)
        c = self._cipher(family_id, segments)
        start_size = c.plain_size(segments.total)
        index = max(c.final_index(start_size), 0)
        pending = bytearray(self._chunk(c, segments, index, start_size))
        writer = _SegmentWriter(self, family_id, name, c, index)
        total = put_at = 0
        pieces = _pieces(stream, read_size)
        while True:
            try:
                piece = next(pieces, None)
                if piece is not None and total + len(piece) <= limit and on_bytes:
                    on_bytes(piece)
            except BaseException:
                # The sender failed (client went away): keep what did arrive, as on disk.
                if total != put_at:
                    writer.put(index, pending)
                raise
            if piece is None:
                break
            if total + len(piece) > limit:
                if writer.wrote:
                    self.truncate(family_id, name, start_size)  # nothing of this call is kept
                raise StorageLimitExceeded(f"more than {limit} bytes sent")
            total += len(piece)
            view = memoryview(piece).cast("B")
            while view:
                if len(pending) == c.chunk:
                    # Only now, with more bytes to come, is this full chunk known not last.
                    writer.add(c.seal(index, pending, last=False))
                    index += 1
                    pending = bytearray()
                need = c.chunk - len(pending)
                pending += view[:need]
                view = view[need:]
            if writer.buffered >= self._segment_bytes:
                writer.put(index, pending)
                put_at = total
        if total != put_at:
            writer.put(index, pending)
        return total

    def truncate(self, family_id: int, name: str, size: int) -> None:
        """Shrink the file to exactly ``size`` plaintext bytes (tus checksum rollback)."""
        segments = self._segments(family_id, name)
        c = self._cipher(family_id, segments)
        cur = c.plain_size(segments.total)
        if not 0 <= size <= cur:
            raise ValueError(f"can only shrink: size {size} not in 0..{cur}")
        if size == cur:
            return
        index = c.final_index(size)
        if index < 0:
            raise IntegrityError("version 1 media files are not kept in the object store")
        tail = self._chunk(c, segments, index, cur)[: size - index * c.chunk]
        start = c.offset(index)
        later = [s.key for s in reversed(segments.items) if s.start > start]
        for key in later:  # last first: what is left is always a prefix of the file
            self._delete_keys([key])
        holder = [s for s in segments.items if s.start <= start][-1]
        record = c.seal(index, tail, last=True)
        if holder.start == start:
            self._put(holder.key, (c.header if start == 0 else b"") + record)
        else:
            self._put(self._segment_key(family_id, name, start), record)

    def recover(self, family_id: int, name: str) -> int:
        """The durable plaintext size of an unfinished upload.

        Segments appear whole or not at all, so there is no torn tail to drop; the final chunk
        is still checked, so a destroyed key or a damaged file is noticed here.
        """
        segments = self._segments(family_id, name)
        c = self._cipher(family_id, segments)
        size = c.plain_size(segments.total)
        self._chunk(c, segments, max(c.final_index(size), 0), size)
        return size

    def open(self, family_id: int, name: str, mode: str = "r") -> EncryptedFile:
        """Open for PyAV and friends (``r``, ``r+``, ``w``) on a local copy of the ciphertext."""
        if mode not in ("r", "r+", "w"):
            raise ValueError(f"mode must be 'r', 'r+' or 'w', not {mode!r}")
        key = self._segment_key(family_id, name, 0)
        fd, path = tempfile.mkstemp(dir=self._spool, prefix=".spool-")
        os.unlink(path)  # only this process's descriptor reaches it; nothing to clean up
        try:
            if mode == "w":
                data_key = self._data_key(family_id, create=True)
                header = _new_header()
                cipher = _FileCipher(data_key, header)
                os.pwrite(fd, header + cipher.seal(0, b"", last=True), 0)
            else:
                segments = self._segments(family_id, name)
                cipher = self._cipher(family_id, segments)
                offset = 0
                for seg, lo, hi in segments.spans(0, segments.total):
                    data = self._get(seg.key, lo, hi)
                    os.pwrite(fd, data, offset)
                    offset += len(data)
            on_close = None
            if mode != "r":
                on_close = functools.partial(self._replace_whole, family_id, name, key)
            return _SpooledFile(fd, cipher, writable=mode != "r", name=name, on_close=on_close)
        except BaseException:
            os.close(fd)
            raise

    def _replace_whole(self, family_id: int, name: str, key: str, fd: int) -> None:
        """Make the ciphertext in ``fd`` the whole file: one segment at 0, no others."""
        prefix = self._file_prefix(family_id, name)
        others = [o["Key"] for o in self._objects(prefix) if o["Key"] != key]
        for other in sorted(others, reverse=True):
            self._delete_keys([other])
        with os.fdopen(os.dup(fd), "rb") as f:
            f.seek(0)
            self._put(key, f)
        self._check_still_wanted(family_id, name, key)

    def _check_still_wanted(self, family_id: int, name: str, key: str) -> None:
        """After a PUT: if a withdrawal or deletion got there first, take the object back.

        Withdrawal destroys the key before it deletes; deletion lists until empty. So either
        they see this object, or we see them here (see the module doc).
        """
        try:
            self._keyring.data_key(family_id, create=False)
            gone = not self._objects(self._segment_key(family_id, name, 0))
        except DataKeyMissing:
            gone = True
        if gone:
            self._delete_prefix(self._file_prefix(family_id, name))
            raise MediaNotFound(f"media file {name!r} was deleted while written")

    # -- reading -----------------------------------------------------------------------------

    def read_range(
        self, family_id: int, name: str, start: int, end_inclusive: int, block: int = 256 * 1024
    ) -> ObjectRange:
        """Decrypted bytes ``start..end_inclusive`` in pieces of about ``block`` bytes, each
        from byte-range GETs of just the chunks it needs."""
        segments = self._segments(family_id, name)
        c = self._cipher(family_id, segments)
        size = c.plain_size(segments.total)
        if not 0 <= start <= end_inclusive < size:
            raise ValueError(f"range {start}-{end_inclusive} not within 0..{size - 1}")
        return ObjectRange(self, segments, c, size, start, end_inclusive + 1, block)

    def sha256(self, family_id: int, name: str) -> str:
        """Hex SHA-256 of the plaintext."""
        digest = hashlib.sha256()
        segments = self._segments(family_id, name)
        c = self._cipher(family_id, segments)
        size = c.plain_size(segments.total)
        if size:
            with self.read_range(family_id, name, 0, size - 1, 4 << 20) as pieces:
                for piece in pieces:
                    digest.update(piece)
        else:
            self._chunk(c, segments, 0, 0)  # the empty chunk is checked all the same
        return digest.hexdigest()

    # -- deletion and inventory --------------------------------------------------------------

    def delete(self, family_id: int, name: str) -> int:
        """Remove one file (every segment); return the bytes it occupied (0 if already gone)."""
        return sum(o["Size"] for o in self._delete_prefix(self._file_prefix(family_id, name)))

    def delete_family(self, family_id: int) -> tuple[int, int]:
        """Remove every object of the family; return (files, bytes). Crypto-shredding is
        ``Keyring.destroy``; withdrawal destroys the key first."""
        prefix = self._family_prefix(family_id)
        gone = self._delete_prefix(prefix)
        files = {o["Key"][len(prefix) :].split("/", 1)[0] for o in gone}
        return len(files), sum(o["Size"] for o in gone)

    def family_usage(self, family_id: int) -> int:
        """Bytes stored for the family (ciphertext, segments' overlaps included)."""
        return sum(o["Size"] for o in self._objects(self._family_prefix(family_id)))

    def modified_at(self, family_id: int, name: str) -> float:
        """When the file was last written (POSIX seconds)."""
        return max(s.modified for s in self._segments(family_id, name).items)

    def families(self) -> list[int]:
        """Family ids that have objects (for orphan scans)."""
        found = set()
        for page in self._list(self._prefix, "/"):
            for common in page.get("CommonPrefixes", ()):
                part = common["Prefix"][len(self._prefix) :].rstrip("/")
                if _FAMILY_DIR_RE.fullmatch(part):
                    found.add(int(part))
        return sorted(found)

    def names(self, family_id: int) -> list[str]:
        """Media names stored for the family (for orphan scans)."""
        prefix = self._family_prefix(family_id)
        found = set()
        for page in self._list(prefix, "/"):
            for common in page.get("CommonPrefixes", ()):
                part = common["Prefix"][len(prefix) :].rstrip("/")
                if _NAME_RE.fullmatch(part):
                    found.add(part)
        return sorted(found)

    def all_objects(self) -> list[str]:
        """Every key under the store's prefix (for audits and the plaintext scan)."""
        return [o["Key"] for o in self._objects(self._prefix)]

    def read_object(self, key: str) -> bytes:
        """One stored object's bytes, as they sit in the bucket (ciphertext)."""
        answer = self._s3.get_object(Bucket=self._bucket, Key=key)
        with contextlib.closing(answer["Body"]) as body:
            data: bytes = body.read()
        return data


class _SegmentWriter:
    """Collects sealed chunks of one append and PUTs them as segments."""

    def __init__(
        self, store: ObjectMediaStore, family_id: int, name: str, cipher: _FileCipher, index: int
    ) -> None:
        self._store, self._family_id, self._name = store, family_id, name
        self._c = cipher
        self._first = index  # the chunk the next segment starts with
        self._sealed = bytearray()
        self.wrote = False

    @property
    def buffered(self) -> int:
        return len(self._sealed)

    def add(self, record: bytes) -> None:
        self._sealed += record

    def put(self, index: int, pending: bytearray) -> None:
        """PUT the chunks so far and ``pending`` (chunk ``index``, sealed as the last)."""
        c, store = self._c, self._store
        start = c.offset(self._first)
        body = bytes(self._sealed + c.seal(index, pending, last=True))
        if self._first == 0:
            start, body = 0, c.header + body  # the file's first segment carries the header
        key = store._segment_key(self._family_id, self._name, start)
        store._put(key, body)
        self.wrote = True
        store._check_still_wanted(self._family_id, self._name, key)
        # The next segment starts by re-sealing chunk ``index`` as "not last".
        self._first = index
        self._sealed = bytearray()


class _SpooledFile(EncryptedFile):
    """An EncryptedFile over a spooled copy of the ciphertext; PUT back when closed."""

    def __init__(
        self,
        fd: int,
        cipher: _FileCipher,
        *,
        writable: bool,
        name: str,
        on_close: Callable[[int], None] | None,
    ) -> None:
        self._on_close = on_close
        super().__init__(fd, cipher, writable=writable, name=name)
        # Closing the EncryptedFile closes ``fd``; this one is kept to PUT the file back.
        self._spool_fd = os.dup(fd)

    def close(self) -> None:
        if self.closed:
            return
        try:
            super().close()
            if self._on_close is not None:
                self._on_close(self._spool_fd)
        finally:
            os.close(self._spool_fd)


class ObjectRange(Iterator[bytes]):
    """Decrypted pieces of one byte range, fetched chunk-aligned with ranged GETs."""

    def __init__(
        self,
        store: ObjectMediaStore,
        segments: _Segments,
        cipher: _FileCipher,
        size: int,
        start: int,
        stop: int,
        block: int,
    ) -> None:
        self._store = store
        self._segments = segments
        self._c = cipher
        self._size = size
        self._pos = start
        self._stop = stop
        self._chunks_per_piece = max(1, block // cipher.chunk)

    def __iter__(self) -> ObjectRange:
        return self

    def __next__(self) -> bytes:
        if self._pos >= self._stop:
            raise StopIteration
        c = self._c
        span = piece_span(c, self._pos, self._stop, self._size, self._chunks_per_piece)
        start = c.offset(span.first)
        raw = memoryview(self._store._read(self._segments, start, start + span.length))
        piece = span.open(c, raw, self._pos, self._size)
        self._pos = span.end
        return piece

    def close(self) -> None:
        self._pos = self._stop

    def __enter__(self) -> ObjectRange:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
