"""Encrypted media storage: the only code that touches media bytes.

Every media file is encrypted at rest under a key derived from its family's data key (see
``keyring``), so destroying that data key crypto-shreds the family's media everywhere, backups
included. Plaintext never touches disk: there are no plaintext temporary files, and readers and
writers hold at most two decrypted chunks in memory.

File format (all integers big-endian)::

    header   magic b"VIGENC2\\n" (8) | chunk size C, u32 (4) | file id, 16 random bytes (16)
    chunk i  at offset 28 + i * (C + 28): nonce (12) | AES-256-GCM ciphertext | tag (16)

Chunk i holds plaintext bytes [i*C, (i+1)*C). Every chunk but the last is full; the last may
be partial but is never empty, except in an empty file, which holds exactly one empty chunk
(28 bytes: nonce and tag) so that even it has a sealed last chunk. So the plaintext size
follows from the file size alone: with ``body = file_size - 28`` and ``full, rem =
divmod(body, C + 28)``, the size is 0 when ``body == 28``, ``full * C`` when ``rem == 0`` and
``full * C + rem - 28`` otherwise (``body == 0`` means the last chunk is gone and ``0 < rem
<= 28`` a torn tail, see ``MediaStore.recover``). Fixed offsets let tus append, HTTP Range and
PyAV seek without an index.

Cryptography:

- Per-file key = HKDF-SHA256(family data key, info = label + file id). Random 96-bit nonces
  are then bounded per file rather than per family, far inside GCM's 2**32 messages per key.
- Associated data = the 28-byte header (the per-file constant: magic, chunk size, file id) +
  chunk index (u64) + last-chunk flag (1 byte: 1 for the file's final chunk, else 0), as in the
  STREAM construction. A chunk cannot be moved to another position or file, a tampered header
  fails on the first chunk read, and a file cut at a chunk boundary fails on its new final
  chunk, which was sealed as "not last".
- Appending re-seals the old final chunk as "not last" (it is decrypted and rewritten anyway
  when partial, and held back in memory until more bytes follow when full), so a growing tus
  upload is a well-formed file after every append. ``truncate`` re-seals its new final chunk.
- Each (re)write of a chunk draws a fresh random nonce, so overwriting never reuses one.
- Not authenticated: which name a whole file sits under within a family. The upload's sha256
  (``sha256()``) in the database covers that where it matters.
- Version 1 files (magic b"VIGENC1\\n", no last-chunk flag in the associated data and no
  chunk in an empty file, so truncation at a chunk boundary went unnoticed) are still read
  and appended to in their own format; every new file is version 2.

Concurrency: writers (``append``, ``truncate``, ``recover``, ``open("w"/"r+")``) take an
exclusive, non-blocking ``flock`` on the file and raise ``StorageBusy`` if another writer holds
it. Readers take no lock; a reader racing a writer on the same tail chunk may see
``IntegrityError``.
"""

from __future__ import annotations

import contextlib
import ctypes
import errno
import fcntl
import functools
import hashlib
import io
import os
import re
import secrets
import struct
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, BinaryIO

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from vigparent.keyring import DataKeyMissing, Keyring
from vigparent.serving import begin, fsync_dir, offload

if TYPE_CHECKING:
    from _typeshed import ReadableBuffer, WriteableBuffer

__all__ = [
    "CHUNK",
    "HEADER_LEN",
    "MAGIC",
    "MAGIC_V1",
    "OVERHEAD",
    "EncryptedFile",
    "IntegrityError",
    "InvalidMediaName",
    "MediaKeyDestroyed",
    "MediaNotFound",
    "MediaStore",
    "StorageBusy",
    "StorageError",
    "StorageLimitExceeded",
    "ciphertext_size",
    "new_media_name",
    "plaintext_size",
    "Buffer",
]

MAGIC = b"VIGENC2\n"
MAGIC_V1 = b"VIGENC1\n"
CHUNK = 64 * 1024
NONCE_LEN = 12
TAG_LEN = 16
OVERHEAD = NONCE_LEN + TAG_LEN
_HEADER = struct.Struct(">8sI16s")
HEADER_LEN = _HEADER.size
_INDEX = struct.Struct(">Q")
_LAST = b"\x01"
_NOT_LAST = b"\x00"
# Readers accept other chunk sizes so the writer's choice can change without a migration.
_MIN_CHUNK = 4 * 1024
_MAX_CHUNK = 16 * 1024 * 1024
# Chunks sealed side by side and written with one pwrite (about 1 MiB).
_WRITE_BATCH = 16
# A batch of full chunks this large is sealed and written on another core (see _Writer).
_BACKGROUND_WRITE = 256 * 1024
_KDF_LABEL = b"vigparent media file key v1\x00"
_FALLOC_FL_KEEP_SIZE = 1
_AVIO_FLAG_WRITE = 2

_KIND_RE = re.compile(r"[a-z][a-z0-9]{0,15}")
# kind + "-" + a token_urlsafe string: no dots or slashes, so no traversal, no hidden files.
_NAME_RE = re.compile(r"[a-z][a-z0-9]{0,15}-[A-Za-z0-9_-]{16,86}")
_FAMILY_DIR_RE = re.compile(r"0|[1-9][0-9]*")

_Bytes = bytes | bytearray | memoryview
Buffer = _Bytes  # what append's stream yields and ``on_bytes`` sees


class StorageError(Exception):
    """Base class for media storage errors."""


class StorageLimitExceeded(StorageError):
    """More bytes arrived than the caller allowed."""


class MediaNotFound(StorageError):
    """No such media file (or it can no longer be read)."""


class MediaKeyDestroyed(MediaNotFound):
    """The family's data key has been destroyed: the media is gone for good."""


class IntegrityError(StorageError):
    """Stored bytes failed authentication or are malformed; nothing unverified is returned."""


class InvalidMediaName(StorageError, ValueError):
    """A media name or family id that the store did not issue; refused before touching disk."""


class StorageBusy(StorageError):
    """Another writer holds the file (e.g. a second tus PATCH for the same upload)."""


def plaintext_size(file_size: int, chunk: int = CHUNK, *, version: int = 2) -> int:
    """Plaintext size of an encrypted file of ``file_size`` bytes (IntegrityError if torn)."""
    body = file_size - HEADER_LEN
    if body < 0:
        raise IntegrityError("encrypted file is shorter than its header")
    if version >= 2 and body <= OVERHEAD:
        if body < OVERHEAD:  # no chunk at all: even an empty file has its (empty) last one
            raise IntegrityError("encrypted file has lost its last chunk")
        return 0
    full, rem = divmod(body, chunk + OVERHEAD)
    if rem == 0:
        return full * chunk
    if rem <= OVERHEAD:
        raise IntegrityError("encrypted file ends in a torn chunk")
    return full * chunk + rem - OVERHEAD


def ciphertext_size(plain_size: int, chunk: int = CHUNK, *, version: int = 2) -> int:
    """On-disk size of an encrypted file holding ``plain_size`` plaintext bytes."""
    if plain_size == 0 and version >= 2:
        return HEADER_LEN + OVERHEAD
    full, rem = divmod(plain_size, chunk)
    return HEADER_LEN + full * (chunk + OVERHEAD) + (rem + OVERHEAD if rem else 0)


def _parse_header(header: bytes) -> tuple[int, bytes, bool]:
    """(chunk size, file id, whether the final chunk is bound) of a version 1 or 2 header."""
    if len(header) != HEADER_LEN:
        raise IntegrityError("encrypted file is shorter than its header")
    magic, chunk, file_id = _HEADER.unpack(header)
    if magic not in (MAGIC, MAGIC_V1):
        raise IntegrityError("not a vigparent encrypted media file")
    if not _MIN_CHUNK <= chunk <= _MAX_CHUNK:
        raise IntegrityError(f"implausible chunk size {chunk}")
    return chunk, file_id, magic == MAGIC


def _new_header() -> bytes:
    return _HEADER.pack(MAGIC, CHUNK, os.urandom(16))


def _start_empty(fd: int, data_key: bytes) -> _FileCipher:
    """Write a new, empty file (a fresh header and the empty last chunk) into empty ``fd``."""
    header = _new_header()
    _pwrite_all(fd, memoryview(header), 0)
    cipher = _FileCipher(data_key, header)
    cipher.write_chunks(fd, 0, [b""], last=True)
    return cipher


def _pwrite_all(fd: int, data: memoryview, offset: int) -> None:
    # Short writes on regular files are rare (a signal, a nearly full disk): carry on.
    while data:
        n = os.pwrite(fd, data, offset)
        data, offset = data[n:], offset + n


def _fsync(fd: int) -> None:
    # Seconds on a busy disk: under the gevent server, let the other requests run meanwhile.
    offload(os.fsync, fd)


def _fsync_and_forget(fd: int, start: int, end: int) -> None:
    """Make an append durable, then drop bytes [start, end) from the page cache.

    Nothing reads an upload back until its checks run, minutes later if at all, so keeping
    its pages cached only makes every byte received take a fresh page: each costs a fault on
    first touch, and far more on a VM whose host takes back free guest memory. Dropped once
    on disk, the same few pages serve the next PATCH (writing 1 GB with an fsync every 8 MiB,
    measured here: 2.0-2.3 CPU s keeping the pages, 0.7-1.0 s dropping them). Callers keep
    the file's final chunk out of the range: the next PATCH reads it. Once fsync'd the pages
    are clean, so POSIX_FADV_DONTNEED drops them (while dirty it only starts their writeback,
    see ``_start_writeback``); elsewhere it is a hint that may do nothing.
    """
    offload(_sync_and_drop, fd, start, end)


def _sync_and_drop(fd: int, start: int, end: int) -> None:
    os.fsync(fd)
    if end > start:  # a length of 0 would mean "to the end of the file"
        with contextlib.suppress(OSError, AttributeError):
            os.posix_fadvise(fd, start, end - start, os.POSIX_FADV_DONTNEED)


def _start_writeback(fd: int, start: int, end: int) -> None:
    """Ask the kernel to start writing bytes [start, end) to disk now.

    The fsync that ends an append then finds most of its pages already on their way, so the
    disk works while the next bytes arrive instead of after them (tus uploads, each PATCH
    fsync'd: about 1.5x the throughput on a disk that syncs at ~250 MB/s). On Linux,
    POSIX_FADV_DONTNEED starts writeback of dirty pages (and drops clean ones from the cache,
    which these are not yet: ``_fsync_and_forget`` drops them); elsewhere it is a hint that may
    do nothing. It can wait for pages already being written, so it is only called off the
    event loop (``_Writer``).
    """
    with contextlib.suppress(OSError, AttributeError):
        os.posix_fadvise(fd, start, end - start, os.POSIX_FADV_DONTNEED)


@functools.cache
def _fallocate() -> Callable[..., int] | None:
    """Linux's fallocate(2), which Python's os module offers only without its flags."""
    try:
        fn = ctypes.CDLL(None, use_errno=True).fallocate
    except (OSError, AttributeError):  # not Linux/glibc
        return None
    fn.argtypes = (ctypes.c_int, ctypes.c_int, ctypes.c_int64, ctypes.c_int64)
    fn.restype = ctypes.c_int
    return fn


def _reserve_blocks(fd: int, length: int) -> None:
    """Ask the filesystem for the blocks of ``length`` bytes now, keeping the file's size.

    Appending into blocks set aside in one go costs the kernel several times less CPU than
    having each written page find its own (on ext4 measured about 1.5 vs 0.25 CPU s/GB), and
    the file ends up in a few large extents. Best effort: where it is not offered, or the disk
    is full, writing still works (and still fails cleanly when the disk really is full).
    """
    fallocate = _fallocate()
    if fallocate is not None and length > 0:
        fallocate(fd, _FALLOC_FL_KEEP_SIZE, 0, length)


def _lock(fd: int) -> None:
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        raise StorageBusy("the media file is being written by someone else") from None


class _FileCipher:
    """Seals and opens the chunks of one encrypted file."""

    __slots__ = ("_aead", "binds_last", "chunk", "header", "record")

    def __init__(self, data_key: bytes, header: bytes) -> None:
        self.chunk, file_id, self.binds_last = _parse_header(header)
        self.header = header
        self.record = self.chunk + OVERHEAD
        file_key = HKDF(
            algorithm=hashes.SHA256(), length=32, salt=None, info=_KDF_LABEL + file_id
        ).derive(data_key)
        self._aead = AESGCM(file_key)

    def offset(self, index: int) -> int:
        return HEADER_LEN + index * self.record

    @property
    def version(self) -> int:
        return 2 if self.binds_last else 1

    def plain_size(self, file_size: int) -> int:
        return plaintext_size(file_size, self.chunk, version=self.version)

    def file_size(self, plain_size: int) -> int:
        return ciphertext_size(plain_size, self.chunk, version=self.version)

    def final_index(self, plain_size: int) -> int:
        """Index of the final chunk of a file of ``plain_size`` bytes.

        An empty version 2 file holds one empty chunk (so that cutting a file down to its
        header is caught too); an empty version 1 file holds none (-1).
        """
        if plain_size == 0:
            return 0 if self.binds_last else -1
        return (plain_size - 1) // self.chunk

    def _aad(self, index: int, last: bool) -> bytes:
        aad = self.header + _INDEX.pack(index)
        if self.binds_last:
            aad += _LAST if last else _NOT_LAST
        return aad

    def open(self, index: int, record: bytes | memoryview, *, last: bool) -> bytes:
        """Decrypt chunk ``index``, which must have been sealed as the final chunk iff ``last``."""
        try:
            return self._aead.decrypt(
                record[:NONCE_LEN], record[NONCE_LEN:], self._aad(index, last)
            )
        except InvalidTag:
            if last and self.binds_last:
                with contextlib.suppress(InvalidTag):
                    self._aead.decrypt(
                        record[:NONCE_LEN], record[NONCE_LEN:], self._aad(index, False)
                    )
                    raise IntegrityError(
                        f"media file ends early: chunk {index} is not its last"
                    ) from None
            raise IntegrityError(f"media chunk {index} failed authentication") from None

    def seal(self, index: int, piece: _Bytes, *, last: bool) -> bytes:
        """Chunk ``index`` sealed as a record (nonce, ciphertext, tag), for a store that
        writes whole objects instead of into a file (the object store)."""
        nonce = os.urandom(NONCE_LEN)
        return nonce + self._aead.encrypt(nonce, bytes(piece), self._aad(index, last))

    def sealed_as_last(self, index: int, record: bytes | memoryview) -> bool | None:
        """Whether chunk ``index`` was sealed as the final chunk; None if it is not authentic."""
        for last in (True, False):
            with contextlib.suppress(IntegrityError):
                self.open(index, record, last=last)
                return last or not self.binds_last
        return None

    def read_chunk(self, fd: int, index: int, plain_size: int) -> bytes:
        """Decrypt chunk ``index`` of a file whose on-disk plaintext size is ``plain_size``."""
        length = min(self.chunk, plain_size - index * self.chunk)
        if length < 0 or (length == 0 and index != self.final_index(plain_size)):
            return b""
        record = os.pread(fd, length + OVERHEAD, self.offset(index))
        if len(record) != length + OVERHEAD:
            raise IntegrityError(f"media chunk {index} is truncated")
        return self.open(index, record, last=index == self.final_index(plain_size))

    def reseal(self, fd: int, index: int, plain_size: int, *, last: bool) -> None:
        """Rewrite chunk ``index`` of the file on disk with a new last-chunk flag."""
        if self.binds_last:
            self.write_chunks(fd, index, [self.read_chunk(fd, index, plain_size)], last=last)

    def write_chunks(
        self, fd: int, first: int, pieces: Sequence[_Bytes], *, last: bool = False
    ) -> None:
        """Seal ``pieces`` as consecutive chunks from index ``first`` and write them in place.

        ``last``: the final piece is the file's final chunk (the others never are).

        Consecutive records are adjacent on disk, so a batch is sealed side by side into one
        buffer and written with one ``pwrite``, and one ``getrandom`` gives the whole batch its
        nonces.
        """
        for start in range(0, len(pieces), _WRITE_BATCH):
            batch = pieces[start : start + _WRITE_BATCH]
            out = bytearray(sum(len(p) for p in batch) + OVERHEAD * len(batch))
            with memoryview(out) as view:
                nonces = os.urandom(NONCE_LEN * len(batch))
                pos = 0
                for k, piece in enumerate(batch):
                    nonce = nonces[k * NONCE_LEN : (k + 1) * NONCE_LEN]
                    end = pos + NONCE_LEN + len(piece) + TAG_LEN
                    view[pos : pos + NONCE_LEN] = nonce
                    index = first + start + k
                    aad = self._aad(index, last and index == first + len(pieces) - 1)
                    self._aead.encrypt_into(nonce, piece, aad, view[pos + NONCE_LEN : end])
                    pos = end
                _pwrite_all(fd, view[:pos], self.offset(first + start))

    def shrink(self, fd: int, cur_size: int, new_size: int) -> None:
        """Cut the file from ``cur_size`` down to ``new_size`` plaintext bytes."""
        index = self.final_index(new_size)
        if index < 0:  # version 1: an empty file is the bare header
            os.ftruncate(fd, HEADER_LEN)
            return
        # Decrypt (and so verify) the kept part of the new final chunk before cutting anything,
        # then seal it again as the final chunk (even when it is kept whole).
        tail = self.read_chunk(fd, index, cur_size)[: new_size - index * self.chunk]
        os.ftruncate(fd, self.offset(index))
        self.write_chunks(fd, index, [tail], last=True)


class _Slot:
    __slots__ = ("data", "dirty", "index")

    def __init__(self, index: int, data: bytearray) -> None:
        self.index = index
        self.data = data
        self.dirty = False


class EncryptedFile(io.RawIOBase):
    """A seekable, random-access file object over one encrypted media file.

    Reads decrypt only the chunks they touch; writes re-encrypt the chunks they touch when
    they are evicted, flushed or the file is closed. At most two decrypted chunks are held (two
    so that MP4 faststart, which reads one place while writing another, does not thrash).
    Writing past the end fills the gap with zeros. Not thread-safe, like any file object.

    PyAV: ``av.open(f, mode="r")`` works as is. For ``movflags=+faststart`` FFmpeg reopens the
    output to read it back, so pass ``io_open=f.av_io_open`` as well.

    No io.Buffered* wrapper is needed: the chunk slots already coalesce small reads and writes,
    and a second buffer layer would only add a copy.
    """

    def __init__(self, fd: int, cipher: _FileCipher, *, writable: bool, name: str) -> None:
        super().__init__()
        self._fd = fd
        self._c = cipher
        self._writable = writable
        self._pos = 0
        # _disk_size: plaintext size covered by records on disk; _size: including dirty slots.
        self._disk_size = cipher.plain_size(os.fstat(fd).st_size)
        if self._disk_size == 0:
            cipher.read_chunk(fd, 0, 0)  # an empty file's one chunk is checked all the same
        self._size = self._disk_size
        self._slots: list[_Slot] = []
        self._unsynced = False
        # Not a path on purpose: FFmpeg opens ``name`` when it wants to reread the output, and a
        # path would let it read ciphertext (or a stray file) as if it were the video.
        self.name = f"vigenc:{name}"

    def readable(self) -> bool:
        return True

    def writable(self) -> bool:
        return self._writable

    def seekable(self) -> bool:
        return True

    @property
    def size(self) -> int:
        """Current plaintext size, including bytes not yet written back."""
        return self._size

    def _check_open(self) -> None:
        if self.closed:
            raise ValueError("I/O operation on closed file")

    def _writeback(self, slot: _Slot) -> None:
        if not slot.dirty:
            return
        c = self._c
        # The file on disk stays well formed after every write: its final chunk, and only
        # that one, is sealed as last. Growing past the old final chunk re-seals it first.
        final = c.final_index(self._disk_size)
        if slot.index > final >= 0:
            c.reseal(self._fd, final, self._disk_size, last=False)
        c.write_chunks(self._fd, slot.index, [slot.data], last=slot.index >= final)
        slot.dirty = False
        self._disk_size = max(self._disk_size, slot.index * c.chunk + len(slot.data))

    def _slot(self, index: int, *, load: bool = True) -> _Slot:
        for slot in self._slots:
            if slot.index == index:
                if slot is not self._slots[0]:
                    self._slots.remove(slot)
                    self._slots.insert(0, slot)
                return slot
        if len(self._slots) >= 2:
            self._writeback(self._slots[-1])
            self._slots.pop()
        data = bytearray()
        if load and index * self._c.chunk < self._disk_size:
            data = bytearray(self._c.read_chunk(self._fd, index, self._disk_size))
        slot = _Slot(index, data)
        self._slots.insert(0, slot)
        return slot

    def _pread_into(self, pos: int, out: memoryview) -> int:
        self._check_open()
        n = min(len(out), self._size - pos)
        done = 0
        while done < n:
            index, off = divmod(pos + done, self._c.chunk)
            data = self._slot(index).data
            k = min(n - done, len(data) - off)
            if k <= 0:
                raise IntegrityError(f"media chunk {index} is shorter than the file size says")
            out[done : done + k] = data[off : off + k]
            done += k
        return done

    def _pwrite(self, pos: int, data: ReadableBuffer) -> int:
        self._check_open()
        if not self._writable:
            raise io.UnsupportedOperation("file not open for writing")
        chunk = self._c.chunk
        while pos > self._size:
            # Zero-fill the gap through the normal path so chunks stay contiguous and full.
            self._pwrite(self._size, bytes(min(chunk, pos - self._size)))
        view = memoryview(data).cast("B")
        done = 0
        while done < len(view):
            index, off = divmod(pos + done, chunk)
            k = min(len(view) - done, chunk - off)
            # A whole-chunk overwrite need not decrypt what it replaces.
            slot = self._slot(index, load=not (off == 0 and k == chunk))
            slot.data[off : off + k] = view[done : done + k]
            slot.dirty = True
            done += k
        self._unsynced = True
        self._size = max(self._size, pos + done)
        return done

    def readinto(self, b: WriteableBuffer) -> int:
        with memoryview(b) as view:
            n = self._pread_into(self._pos, view.cast("B"))
        self._pos += n
        return n

    def readall(self) -> bytes:
        return self.read(max(self._size - self._pos, 0))

    def write(self, b: ReadableBuffer) -> int:
        n = self._pwrite(self._pos, b)
        self._pos += n
        return n

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        self._check_open()
        if whence == io.SEEK_SET:
            pos = offset
        elif whence == io.SEEK_CUR:
            pos = self._pos + offset
        elif whence == io.SEEK_END:
            pos = self._size + offset
        else:
            raise ValueError(f"invalid whence {whence}")
        if pos < 0:
            raise OSError(errno.EINVAL, "negative seek position")
        self._pos = pos
        return pos

    def tell(self) -> int:
        self._check_open()
        return self._pos

    def truncate(self, size: int | None = None) -> int:
        self._check_open()
        if not self._writable:
            raise io.UnsupportedOperation("file not open for writing")
        size = self._pos if size is None else size
        if size < 0:
            raise OSError(errno.EINVAL, "negative size")
        if size > self._size:
            while self._size < size:
                self._pwrite(self._size, bytes(min(self._c.chunk, size - self._size)))
        elif size < self._size:
            self.flush()
            self._slots.clear()
            self._c.shrink(self._fd, self._disk_size, size)
            self._disk_size = self._size = size
            self._unsynced = True
        return size

    def flush(self) -> None:
        """Encrypt and write back dirty chunks (to the OS; ``fsync`` for durability)."""
        if self.closed:
            return
        # Lowest index first, so a file written front to back never has a hole on disk.
        for slot in sorted(self._slots, key=lambda s: s.index):
            self._writeback(slot)

    def fsync(self) -> None:
        self._check_open()
        self.flush()
        _fsync(self._fd)
        self._unsynced = False

    def close(self) -> None:
        """Write back, fsync if anything was written (so a finished job's output is durable)."""
        if self.closed:
            return
        try:
            if self._unsynced:
                self.fsync()
        finally:
            # Mark closed and release the descriptor even if fsync failed, so a later close
            # (or __del__) can never write to a reused descriptor number.
            try:
                super().close()
            finally:
                self._slots.clear()
                os.close(self._fd)

    def av_io_open(self, url: str, flags: int, options: dict[str, str]) -> io.RawIOBase:
        """PyAV ``io_open`` hook: a second, read-only cursor over this same file.

        FFmpeg's faststart pass reopens the output by URL to read it back while it rewrites it.
        The cursor shares this file's chunk slots, so it sees every byte written so far.
        """
        if flags & _AVIO_FLAG_WRITE:
            raise OSError(errno.EACCES, f"FFmpeg asked to open {url!r} for writing")
        return _SharedReader(self)


class _SharedReader(io.RawIOBase):
    """Read-only cursor over an open EncryptedFile; closing it leaves the file open."""

    def __init__(self, parent: EncryptedFile) -> None:
        super().__init__()
        self._parent = parent
        self._pos = 0

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def readinto(self, b: WriteableBuffer) -> int:
        with memoryview(b) as view:
            n = self._parent._pread_into(self._pos, view.cast("B"))
        self._pos += n
        return n

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        bases = {io.SEEK_SET: 0, io.SEEK_CUR: self._pos, io.SEEK_END: self._parent.size}
        if whence not in bases:
            raise ValueError(f"invalid whence {whence}")
        pos = bases[whence] + offset
        if pos < 0:
            raise OSError(errno.EINVAL, "negative seek position")
        self._pos = pos
        return pos

    def tell(self) -> int:
        return self._pos


@dataclass(frozen=True)
class PieceSpan:
    """The chunks that hold one piece of a range read, and the ciphertext they take.

    Pieces end on chunk boundaries, so each chunk is decrypted exactly once.
    """

    first: int  # first chunk index
    last: int  # last chunk index
    end: int  # plaintext offset where the piece ends
    length: int  # ciphertext bytes from the first chunk's record through the last

    def open(self, c: _FileCipher, raw: memoryview, pos: int, size: int) -> bytes:
        """Decrypt the span's records (``raw``) and return plaintext [pos, end)."""
        final = c.final_index(size)
        first = self.first
        parts = [
            c.open(i, raw[(i - first) * c.record : (i - first + 1) * c.record], last=i == final)
            for i in range(first, self.last + 1)
        ]
        lo = pos - first * c.chunk
        return b"".join(parts)[lo : lo + self.end - pos]


def piece_span(c: _FileCipher, pos: int, stop: int, size: int, chunks_per_piece: int) -> PieceSpan:
    """The next piece of a range read from plaintext offset ``pos`` (before ``stop``)."""
    first = pos // c.chunk
    end = min(stop, (first + chunks_per_piece) * c.chunk)
    last = (end - 1) // c.chunk
    last_len = min(c.chunk, size - last * c.chunk)
    return PieceSpan(first, last, end, (last - first) * c.record + last_len + OVERHEAD)


class MediaRange(Iterator[bytes]):
    """Iterator of decrypted pieces of one byte range; closes its file when done or closed.

    A class rather than a generator so that errors (missing media, destroyed key) are raised by
    ``read_range`` itself, before a 206 status line is sent, and so ``close()`` always frees the
    descriptor even if iteration never started (WSGI servers call ``close()``).
    """

    def __init__(
        self, fd: int, cipher: _FileCipher, size: int, start: int, stop: int, block: int
    ) -> None:
        self._c = cipher
        self._size = size
        self._pos = start
        self._stop = stop
        self._chunks_per_piece = max(1, block // cipher.chunk)
        # Assigned last: once set, this object owns (and will close) the descriptor.
        self._fd: int | None = fd

    def __iter__(self) -> MediaRange:
        return self

    def __next__(self) -> bytes:
        if self._fd is None or self._pos >= self._stop:
            self.close()
            raise StopIteration
        c = self._c
        span = piece_span(c, self._pos, self._stop, self._size, self._chunks_per_piece)
        raw = memoryview(os.pread(self._fd, span.length, c.offset(span.first)))
        if len(raw) != span.length:
            raise IntegrityError("media file is shorter than expected")
        piece = span.open(c, raw, self._pos, self._size)
        self._pos = span.end
        return piece

    def close(self) -> None:
        if self._fd is not None:
            fd, self._fd = self._fd, None
            os.close(fd)

    def __enter__(self) -> MediaRange:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __del__(self) -> None:
        if getattr(self, "_fd", None) is not None:
            self.close()


def _pieces(stream: BinaryIO | Iterable[Buffer], read_size: int) -> Iterator[Buffer]:
    read = getattr(stream, "read", None)
    if callable(read):
        while piece := read(read_size):
            yield piece
    else:
        yield from stream


class _Writer:
    """Seals and writes an append's full chunks, a large batch on another core.

    While one batch is encrypted and written in gevent's thread pool (``serving.begin``), the
    request reads and hashes the next bytes, and the disk starts on the batch at once
    (``_start_writeback``). Batches are written one at a time and in order. A small batch (a
    slow phone's) is written here and now, where a thread would cost more than it saves; the
    fsync that ends the append finds few of its pages waiting anyway.
    """

    def __init__(self, cipher: _FileCipher, fd: int) -> None:
        self._cipher, self._fd = cipher, fd
        self._wait: Callable[[], None] | None = None

    def write(self, index: int, chunks: list[_Bytes]) -> None:
        self.finish()
        if sum(len(c) for c in chunks) >= _BACKGROUND_WRITE:
            self._wait = begin(self._write_and_start_writeback, index, chunks)
        else:
            self._cipher.write_chunks(self._fd, index, chunks)

    def _write_and_start_writeback(self, index: int, chunks: list[_Bytes]) -> None:
        c = self._cipher
        c.write_chunks(self._fd, index, chunks)
        _start_writeback(self._fd, c.offset(index), c.offset(index + len(chunks)))

    def finish(self) -> None:
        """Wait for the batch being written; raises what writing it raised."""
        wait, self._wait = self._wait, None
        if wait is not None:
            wait()


def new_media_name(kind: str) -> str:
    """A fresh unguessable media name such as ``clip-3q2v...`` (every store issues these)."""
    if not _KIND_RE.fullmatch(kind):
        raise InvalidMediaName(f"media kind must be a short lowercase word, got {kind!r}")
    return f"{kind}-{secrets.token_urlsafe(18)}"


class MediaStore:
    """Encrypted media files at ``root/<family_id>/<name>``, names chosen by the store.

    Callers never pass paths: they pass a family id and a name from ``new_name``, and every
    path is checked to resolve inside ``root`` (no symlinks, no traversal).
    """

    def __init__(self, root: Path, keyring: Keyring) -> None:
        Path(root).mkdir(parents=True, exist_ok=True, mode=0o700)
        self._root = os.path.realpath(root)
        self._keyring = keyring

    @property
    def root(self) -> Path:
        return Path(self._root)

    # -- paths -------------------------------------------------------------------------------

    def _family_dir(self, family_id: int) -> str:
        if not isinstance(family_id, int) or isinstance(family_id, bool) or family_id < 0:
            raise InvalidMediaName(f"family id must be a non-negative int, got {family_id!r}")
        path = os.path.join(self._root, str(family_id))
        if os.path.realpath(path) != path:
            raise InvalidMediaName(f"family {family_id} directory is not inside the media root")
        return path

    def _path(self, family_id: int, name: str) -> str:
        if not isinstance(name, str) or not _NAME_RE.fullmatch(name):
            raise InvalidMediaName(f"not a media name issued by the store: {name!r}")
        family_dir = self._family_dir(family_id)
        path = os.path.join(family_dir, name)
        if os.path.dirname(os.path.realpath(path)) != family_dir:
            raise InvalidMediaName(f"{name!r} does not resolve inside its family directory")
        return path

    def _ensure_family_dir(self, family_id: int) -> str:
        family_dir = self._family_dir(family_id)
        try:
            os.mkdir(family_dir, 0o700)
        except FileExistsError:
            pass
        else:
            fsync_dir(self._root)
        return family_dir

    def _open_fd(self, path: str, flags: int) -> int:
        try:
            return os.open(path, flags | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600)
        except FileNotFoundError:
            raise MediaNotFound(f"no media file {os.path.basename(path)!r}") from None

    def _data_key(self, family_id: int, *, create: bool) -> bytes:
        try:
            return self._keyring.data_key(family_id, create=create)
        except DataKeyMissing:
            raise MediaKeyDestroyed(f"family {family_id}'s media key has been destroyed") from None

    def _cipher(self, family_id: int, fd: int) -> _FileCipher:
        header = os.pread(fd, HEADER_LEN, 0)
        _parse_header(header)  # a damaged file is an IntegrityError even without a key
        return _FileCipher(self._data_key(family_id, create=False), header)

    # -- names and metadata ------------------------------------------------------------------

    def new_name(self, kind: str) -> str:
        """A fresh unguessable name such as ``clip-3q2v...``; ``kind`` is for humans only."""
        return new_media_name(kind)

    def create(self, family_id: int, name: str, *, expected_size: int = 0) -> None:
        """Create an empty encrypted file (header only), durably; the name must be new.

        ``expected_size``: the plaintext bytes that will be appended (a tus upload's declared
        length), so the disk blocks are set aside now (see ``_reserve_blocks``).
        """
        path = self._path(family_id, name)
        # The key first: when it is refused (a withdrawn family) no directory is left behind.
        data_key = self._data_key(family_id, create=True)
        family_dir = self._ensure_family_dir(family_id)
        # The header goes to a temporary name first so `path` never exists half-written. Only
        # the header and the empty last chunk are in it: no plaintext ever lands in a
        # temporary file.
        tmp = os.path.join(family_dir, f".tmp-{secrets.token_hex(8)}")
        fd = os.open(tmp, os.O_RDWR | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
        try:
            _start_empty(fd, data_key)
            if expected_size:
                _reserve_blocks(fd, ciphertext_size(expected_size))
            _fsync(fd)
        finally:
            os.close(fd)
        try:
            os.link(tmp, path)  # unlike rename, never replaces an existing file
        except FileExistsError:
            raise StorageError(f"media file {name!r} already exists") from None
        finally:
            os.unlink(tmp)
            fsync_dir(family_dir)

    def exists(self, family_id: int, name: str) -> bool:
        return os.path.isfile(self._path(family_id, name))

    def size(self, family_id: int, name: str) -> int:
        """Plaintext size, from the file size alone (no decryption, no key needed)."""
        fd = self._open_fd(self._path(family_id, name), os.O_RDONLY)
        try:
            chunk, _, binds_last = _parse_header(os.pread(fd, HEADER_LEN, 0))
            return plaintext_size(os.fstat(fd).st_size, chunk, version=2 if binds_last else 1)
        finally:
            os.close(fd)

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
        """Stream bytes onto the end of the file in bounded memory; fsync; return the count.

        ``on_bytes`` sees each plaintext piece in order (e.g. to hash it for tus checksums).

        If more than ``limit`` bytes arrive, StorageLimitExceeded is raised and the file is
        restored to its size before the call: nothing from that call is kept. If the stream
        itself fails (client went away), the bytes received so far are kept and made durable,
        and the error propagates; ``size()`` then gives the new tus offset.
        """
        if limit < 0 or read_size <= 0:
            raise ValueError("limit must be >= 0 and read_size > 0")
        writer: _Writer | None = None
        fd = self._open_fd(self._path(family_id, name), os.O_RDWR)
        try:
            _lock(fd)
            c = self._cipher(family_id, fd)
            start_size = c.plain_size(os.fstat(fd).st_size)
            # The final chunk (partial or full) is decrypted once and re-sealed once: as "not
            # last" when more bytes follow it, as last when the stream ends; it is never
            # rewritten per incoming piece.
            first = max(c.final_index(start_size), 0)
            tail = c.read_chunk(fd, first, start_size)
            pending = bytearray(tail)
            index = first
            total = 0
            pieces = _pieces(stream, read_size)
            writer = _Writer(c, fd)
            while True:
                try:
                    piece = next(pieces, None)
                    if piece is not None and total + len(piece) <= limit and on_bytes:
                        on_bytes(piece)
                except BaseException:
                    # The sender failed (client went away): keep what did arrive, since a tus
                    # client resumes from the offset we report. Only stream errors land here;
                    # a failed write of ours must not be followed by more writes.
                    writer.finish()
                    if pending:
                        c.write_chunks(fd, index, [pending], last=True)
                    _fsync_and_forget(fd, c.offset(first), c.offset(index))
                    raise
                if piece is None:
                    break
                if total + len(piece) > limit:
                    writer.finish()
                    if index > first:
                        # Put back the old last chunk exactly; nothing from this call is kept.
                        os.ftruncate(fd, c.offset(first))
                        if tail or c.binds_last:
                            c.write_chunks(fd, first, [tail], last=True)
                        _fsync(fd)
                    raise StorageLimitExceeded(f"more than {limit} bytes sent")
                total += len(piece)
                view = memoryview(piece).cast("B")
                full: list[_Bytes] = []
                if pending:
                    need = c.chunk - len(pending)
                    pending += view[:need]
                    view = view[need:]
                    if len(pending) == c.chunk:
                        full.append(pending)
                        pending = bytearray()
                whole = len(view) - len(view) % c.chunk
                full += (view[i : i + c.chunk] for i in range(0, whole, c.chunk))
                pending += view[whole:]
                if full and not pending:
                    # Hold the newest full chunk back: only the next bytes, or the end of the
                    # stream, say whether it is the file's last.
                    held = full.pop()
                    pending = held if isinstance(held, bytearray) else bytearray(held)
                if full:
                    writer.write(index, full)
                    index += len(full)
                    if os.fstat(fd).st_nlink == 0:
                        # Deleted under us (a withdrawal): stop now rather than take in the
                        # rest of a slow phone's body for a file nobody can read.
                        raise MediaNotFound(f"media file {name!r} was deleted while written")
            writer.finish()
            if pending:
                c.write_chunks(fd, index, [pending], last=True)
            _fsync_and_forget(fd, c.offset(first), c.offset(index))
            return total
        finally:
            if writer is not None:
                with contextlib.suppress(Exception):
                    writer.finish()  # never close the file under a write still running
            os.close(fd)

    def truncate(self, family_id: int, name: str, size: int) -> None:
        """Shrink the file to exactly ``size`` plaintext bytes (tus checksum rollback); fsync."""
        fd = self._open_fd(self._path(family_id, name), os.O_RDWR)
        try:
            _lock(fd)
            c = self._cipher(family_id, fd)
            cur = c.plain_size(os.fstat(fd).st_size)
            if not 0 <= size <= cur:
                raise ValueError(f"can only shrink: size {size} not in 0..{cur}")
            if size < cur:
                c.shrink(fd, cur, size)
                _fsync(fd)
        finally:
            os.close(fd)

    def recover(self, family_id: int, name: str) -> int:
        """Drop trailing chunks that fail authentication (a crash mid-write); return the size.

        Call it before reporting a tus offset (HEAD) for an unfinished upload. A crash while an
        append rewrote the partial last chunk can cost up to one chunk of already acknowledged
        bytes; the smaller offset makes the client send them again. A crash can also leave a
        good chunk sealed as "not last" at the end (the bytes after it never reached the
        disk): it is re-sealed as the final chunk, which is what the upload has so far. Only
        call this for unfinished uploads: finished media is never silently shortened, reads
        raise IntegrityError instead.
        """
        fd = self._open_fd(self._path(family_id, name), os.O_RDWR)
        try:
            _lock(fd)
            c = self._cipher(family_id, fd)
            file_size = os.fstat(fd).st_size
            full, rem = divmod(file_size - HEADER_LEN, c.record)
            keep, resealed = HEADER_LEN, False
            for index in range(full if rem else full - 1, -1, -1):
                length = c.record if index < full else rem
                # A bare nonce and tag is torn, except as version 2's empty first chunk.
                if length < OVERHEAD or (length == OVERHEAD and c.final_index(0) != index):
                    continue
                record = os.pread(fd, length, c.offset(index))
                sealed_last = c.sealed_as_last(index, record)
                if sealed_last is None:
                    continue
                keep = c.offset(index) + length
                if not sealed_last:
                    plain = c.open(index, record, last=False)
                    c.write_chunks(fd, index, [plain], last=True)
                    resealed = True
                break
            if keep == HEADER_LEN and c.binds_last:
                # Nothing good was left: back to an empty file, with its empty last chunk.
                os.ftruncate(fd, keep)
                c.write_chunks(fd, 0, [b""], last=True)
                keep, resealed = keep + OVERHEAD, True
            if keep != file_size or resealed:
                os.ftruncate(fd, keep)
                _fsync(fd)
            return c.plain_size(keep)
        finally:
            os.close(fd)

    def open(self, family_id: int, name: str, mode: str = "r") -> EncryptedFile:
        """Open for PyAV and friends: ``r`` read, ``r+`` read/write, ``w`` create or overwrite."""
        path = self._path(family_id, name)
        if mode == "r":
            fd = self._open_fd(path, os.O_RDONLY)
        elif mode == "r+":
            fd = self._open_fd(path, os.O_RDWR)
            try:
                _lock(fd)
            except BaseException:
                os.close(fd)
                raise
        elif mode == "w":
            data_key = self._data_key(family_id, create=True)
            family_dir = self._ensure_family_dir(family_id)
            fd = self._open_fd(path, os.O_RDWR | os.O_CREAT)
            try:
                _lock(fd)
                # A new file id on overwrite: no old chunk can be spliced into the new file.
                os.ftruncate(fd, 0)
                cipher = _start_empty(fd, data_key)
                fsync_dir(family_dir)
                return EncryptedFile(fd, cipher, writable=True, name=name)
            except BaseException:
                os.close(fd)
                raise
        else:
            raise ValueError(f"mode must be 'r', 'r+' or 'w', not {mode!r}")
        try:
            return EncryptedFile(fd, self._cipher(family_id, fd), writable=mode != "r", name=name)
        except BaseException:
            os.close(fd)
            raise

    # -- reading -----------------------------------------------------------------------------

    def read_range(
        self, family_id: int, name: str, start: int, end_inclusive: int, block: int = 256 * 1024
    ) -> MediaRange:
        """Decrypted bytes ``start..end_inclusive`` in pieces of about ``block`` bytes (HTTP 206).

        Raises before returning if the media is missing or unreadable; call ``close()`` on the
        result (WSGI does) to release the file early.
        """
        fd = self._open_fd(self._path(family_id, name), os.O_RDONLY)
        try:
            c = self._cipher(family_id, fd)
            size = c.plain_size(os.fstat(fd).st_size)
            if not 0 <= start <= end_inclusive < size:
                raise ValueError(f"range {start}-{end_inclusive} not within 0..{size - 1}")
            return MediaRange(fd, c, size, start, end_inclusive + 1, block)
        except BaseException:
            os.close(fd)
            raise

    def sha256(self, family_id: int, name: str) -> str:
        """Hex SHA-256 of the plaintext."""
        digest = hashlib.sha256()
        size = self.size(family_id, name)
        if size:
            with self.read_range(family_id, name, 0, size - 1, 1 << 20) as pieces:
                for piece in pieces:
                    digest.update(piece)
        else:
            # Still check the header and the key, so a destroyed key never hashes as "empty".
            self.open(family_id, name).close()
        return digest.hexdigest()

    # -- deletion and inventory --------------------------------------------------------------

    def delete(self, family_id: int, name: str) -> int:
        """Remove one file; return the bytes it occupied (0 if already gone)."""
        path = self._path(family_id, name)
        try:
            size = os.lstat(path).st_size
            os.unlink(path)
        except FileNotFoundError:
            return 0
        fsync_dir(os.path.dirname(path))
        return size

    def delete_family(self, family_id: int) -> tuple[int, int]:
        """Remove every file of the family and its directory; return (files, bytes).

        This removes ciphertext only; crypto-shredding is ``Keyring.destroy``. Withdrawal should
        destroy the key first, so an interrupted deletion still leaves nothing readable.
        """
        family_dir = self._family_dir(family_id)
        files = freed = 0
        if not os.path.lexists(family_dir):
            return 0, 0
        for dirpath, dirnames, filenames in os.walk(family_dir, topdown=False):
            for entry in filenames:
                path = os.path.join(dirpath, entry)
                with contextlib.suppress(FileNotFoundError):
                    size = os.lstat(path).st_size
                    os.unlink(path)
                    files += 1
                    freed += size
            for entry in dirnames:
                path = os.path.join(dirpath, entry)
                if os.path.islink(path):
                    os.unlink(path)
                else:
                    with contextlib.suppress(FileNotFoundError):
                        os.rmdir(path)
        # Two deleters may race (a double-tapped withdrawal, a resumed journal): the loser
        # finds the directory already gone, which is the outcome both wanted.
        with contextlib.suppress(FileNotFoundError):
            os.rmdir(family_dir)
        fsync_dir(self._root)
        return files, freed

    def family_usage(self, family_id: int) -> int:
        """Bytes stored on disk for the family (ciphertext, so a little over the plaintext)."""
        family_dir = self._family_dir(family_id)
        if not os.path.isdir(family_dir):
            return 0
        return sum(
            e.stat(follow_symlinks=False).st_size
            for e in os.scandir(family_dir)
            if e.is_file(follow_symlinks=False)
        )

    def modified_at(self, family_id: int, name: str) -> float:
        """When the file was last written (POSIX seconds): orphan scans leave young files to
        the job that is still writing them."""
        try:
            return os.lstat(self._path(family_id, name)).st_mtime
        except FileNotFoundError:
            raise MediaNotFound(f"no media file {name!r}") from None

    def families(self) -> list[int]:
        """Family ids that have a media directory (for orphan scans)."""
        if not os.path.isdir(self._root):
            return []  # nothing stored yet (or the root was removed): nothing to scan
        return sorted(
            int(e.name)
            for e in os.scandir(self._root)
            if _FAMILY_DIR_RE.fullmatch(e.name) and e.is_dir(follow_symlinks=False)
        )

    def names(self, family_id: int) -> list[str]:
        """Media names stored for the family (for orphan scans)."""
        family_dir = self._family_dir(family_id)
        if not os.path.isdir(family_dir):
            return []
        return sorted(
            e.name
            for e in os.scandir(family_dir)
            if _NAME_RE.fullmatch(e.name) and e.is_file(follow_symlinks=False)
        )
