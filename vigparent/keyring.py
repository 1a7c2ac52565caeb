"""Per-family media data keys, wrapped by one master key.

Every family's media is encrypted under its own random data key. The data key is stored only
wrapped (encrypted) by the master key, one small file per family. Withdrawing consent destroys
that file, which makes every copy of the family's media unreadable, backups of the media
included (crypto-shredding). For that to hold, the key directory must live apart from the media
and from long-lived backups (DESIGN.md §7).

Key file format (76 bytes): magic ``b"VIGKEY1\\n"`` (8) + master key id (8) + nonce (12) +
AES-256-GCM(data key) with its tag (48).

We wrap with AES-256-GCM rather than AES key wrap (RFC 3394) because GCM takes associated
data: we bind the magic, the master key id and the family id into every wrapped key, so a key
file copied or renamed to another family's name fails to unwrap instead of silently handing
family B's media key to family A. Random 96-bit nonces are safe here because a master key only
ever wraps a few thousand keys. The master key id (a hash of the master key, not a secret when
the key is 256 random bits) lets us tell "wrong master key" from "tampered file" and lets an
interrupted ``rewrap_all`` resume.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import fcntl
import hashlib
import os
import re
import secrets
import stat
import struct
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Protocol

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from vigparent.serving import fsync_dir, offload

__all__ = [
    "KEY_LEN",
    "DataKeyMissing",
    "DirectoryKeyStore",
    "KeyStore",
    "KeyCreationRefused",
    "KeyUnwrapError",
    "Keyring",
    "KeyringError",
    "MasterKeyError",
    "load_or_create_master_key",
    "read_master_key",
    "master_key_from_b64",
    "pending_master_key_path",
    "rotate_master_key",
    "rotate_master_key_file",
]

KEY_LEN = 32
_MAGIC = b"VIGKEY1\n"
_KEY_ID_LEN = 8
_NONCE_LEN = 12
_TAG_LEN = 16
_FILE_LEN = len(_MAGIC) + _KEY_ID_LEN + _NONCE_LEN + KEY_LEN + _TAG_LEN
_FAMILY = struct.Struct(">Q")
_KEY_FILE_RE = re.compile(r"(0|[1-9][0-9]*)\.key")
_LOCK_NAME = ".keyring.lock"


class KeyringError(Exception):
    """Base class for key management errors."""


class DataKeyMissing(KeyringError):
    """The family has no data key: it was never created or has been destroyed."""


class KeyCreationRefused(DataKeyMissing):
    """The family may not get a new data key: its media was withdrawn, erased or swept."""


class KeyUnwrapError(KeyringError):
    """A wrapped key cannot be opened: wrong master key, or the file was altered or moved."""


class MasterKeyError(KeyringError):
    """The master key material is unusable (wrong length, bad encoding, unsafe permissions)."""


def _check_family_id(family_id: int) -> int:
    # bool is an int subclass; True must not quietly mean family 1.
    if not isinstance(family_id, int) or isinstance(family_id, bool) or family_id < 0:
        raise ValueError(f"family id must be a non-negative int, got {family_id!r}")
    return family_id


def _check_master(master_key: bytes) -> bytes:
    if not isinstance(master_key, bytes | bytearray) or len(master_key) != KEY_LEN:
        raise MasterKeyError(f"master key must be {KEY_LEN} bytes")
    return bytes(master_key)


def _master_key_id(master_key: bytes) -> bytes:
    return hashlib.sha256(b"vigparent master key id\x00" + master_key).digest()[:_KEY_ID_LEN]


def _write_atomic(path: Path, data: bytes, *, replace: bool) -> bool:
    """Durably write ``data`` to ``path`` (mode 0600) so readers see all of it or none of it.

    With ``replace=False`` an existing file wins and False is returned: two processes creating
    the same family's key at once must end up using one key, not each encrypt with their own.
    """
    tmp = path.with_name(f".{path.name}.{secrets.token_hex(8)}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600)
    try:
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view) :]
        offload(os.fsync, fd)
    except BaseException:
        os.close(fd)
        tmp.unlink(missing_ok=True)
        raise
    os.close(fd)
    try:
        if replace:
            os.replace(tmp, path)
        else:
            try:
                # link() fails if the target exists, unlike rename(): no-clobber, atomically.
                os.link(tmp, path)
            except FileExistsError:
                return False
    finally:
        tmp.unlink(missing_ok=True)
        fsync_dir(path.parent)
    return True


def _read_small(path: Path, *, follow_symlinks: bool) -> tuple[bytes, os.stat_result]:
    flags = os.O_RDONLY | os.O_CLOEXEC | (0 if follow_symlinks else os.O_NOFOLLOW)
    fd = os.open(path, flags)
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            raise KeyringError(f"{path} is not a regular file")
        # Read one byte more than any valid file so a too-long file is noticed.
        return os.read(fd, max(_FILE_LEN, KEY_LEN) + 1), st
    finally:
        os.close(fd)


def _flock_politely(fd: int) -> None:
    """Take an exclusive flock, waiting with short sleeps rather than inside the kernel.

    A blocking flock stops the whole OS thread. Under the gevent server that is every request
    of the process, including the one holding the lock, which may be waiting for a database
    connection: a deadlock. ``time.sleep`` lets the others run (gevent patches it).
    """
    pause = 0.001
    while True:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return
        except BlockingIOError:
            time.sleep(pause)
            pause = min(pause * 2, 0.05)


class KeyStore(Protocol):
    """Where wrapped data keys are kept: apart from media and from database backups."""

    def read(self, family_id: int) -> bytes | None:
        """The family's wrapped key, or None if there is none."""

    def add(self, family_id: int, blob: bytes) -> bool:
        """Store a new wrapped key durably; False (keeping the old) if the family has one."""

    def replace(self, family_id: int, blob: bytes) -> None:
        """Overwrite the family's wrapped key durably (master key rotation)."""

    def shred(self, family_id: int) -> bool:
        """Destroy the family's wrapped key everywhere it is held; whether there was one."""

    def family_ids(self) -> list[int]:
        """Families that have a wrapped key."""

    def locked(self) -> contextlib.AbstractContextManager[None]:
        """Exclusive across every process using the store: create, destroy, rewrap."""


class DirectoryKeyStore:
    """One small file per family in a local directory (one machine, or a shared volume)."""

    def __init__(self, key_dir: Path) -> None:
        self._dir = Path(key_dir)
        self._dir.mkdir(parents=True, exist_ok=True, mode=0o700)

    @property
    def key_dir(self) -> Path:
        return self._dir

    def _path(self, family_id: int) -> Path:
        return self._dir / f"{_check_family_id(family_id)}.key"

    @contextlib.contextmanager
    def locked(self) -> Iterator[None]:
        # Serialises destroy/create/rewrap across threads and processes, so a rewrap that read
        # a key just before it was destroyed cannot write it back afterwards.
        fd = os.open(self._dir / _LOCK_NAME, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
        try:
            _flock_politely(fd)
            yield
        finally:
            os.close(fd)

    def read(self, family_id: int) -> bytes | None:
        try:
            return _read_small(self._path(family_id), follow_symlinks=False)[0]
        except FileNotFoundError:
            return None

    def add(self, family_id: int, blob: bytes) -> bool:
        return _write_atomic(self._path(family_id), blob, replace=False)

    def replace(self, family_id: int, blob: bytes) -> None:
        _write_atomic(self._path(family_id), blob, replace=True)

    def shred(self, family_id: int) -> bool:
        """Overwriting before unlinking keeps the old bytes out of the free blocks of a plain
        in-place filesystem. On SSDs and copy-on-write filesystems that is best effort only;
        the real guarantee is that the wrapped key exists nowhere else (keep key_dir out of
        long-lived backups)."""
        path = self._path(family_id)
        existed = False
        # Stale temporaries from an interrupted write or rewrap hold the same key.
        victims = [path, *self._dir.glob(f".{path.name}.*.tmp")]
        for victim in victims:
            try:
                fd = os.open(victim, os.O_WRONLY | os.O_NOFOLLOW | os.O_CLOEXEC)
            except FileNotFoundError:
                continue
            try:
                size = os.fstat(fd).st_size
                os.pwrite(fd, bytes(size), 0)
                offload(os.fsync, fd)
            finally:
                os.close(fd)
            with contextlib.suppress(FileNotFoundError):
                os.unlink(victim)
                if victim == path:
                    existed = True
        fsync_dir(self._dir)
        return existed

    def family_ids(self) -> list[int]:
        ids: list[int] = []
        if not self._dir.is_dir():
            return ids
        for entry in os.scandir(self._dir):
            match = _KEY_FILE_RE.fullmatch(entry.name)
            if match and entry.is_file(follow_symlinks=False):
                ids.append(int(match.group(1)))
        return sorted(ids)


class Keyring:
    """Per-family 32-byte data keys, stored wrapped under a master key in a ``KeyStore``
    (a key directory when given a path).

    Unwrapped keys are never cached: every call reads the store, so a key destroyed by one
    process (a withdrawal handled by another worker or web node) is gone for all of them at
    once.
    """

    def __init__(
        self,
        store: KeyStore | Path,
        master_key: bytes,
        *,
        may_create: Callable[[int], bool] | None = None,
    ) -> None:
        self._master = _check_master(master_key)
        # Asked before minting a key. Without it, a job that writes after a withdrawal
        # destroyed the key would silently get a fresh key and leave readable media behind.
        self._may_create = may_create
        self._store: KeyStore = (
            DirectoryKeyStore(store) if isinstance(store, str | os.PathLike) else store
        )

    @property
    def store(self) -> KeyStore:
        return self._store

    @property
    def key_dir(self) -> Path:
        """The key directory (only for a directory key store)."""
        if not isinstance(self._store, DirectoryKeyStore):
            raise KeyringError("this keyring keeps its keys in a database, not a directory")
        return self._store.key_dir

    def _wrap(self, family_id: int, data_key: bytes, master_key: bytes) -> bytes:
        key_id = _master_key_id(master_key)
        nonce = os.urandom(_NONCE_LEN)
        aad = _MAGIC + key_id + _FAMILY.pack(family_id)
        return _MAGIC + key_id + nonce + AESGCM(master_key).encrypt(nonce, data_key, aad)

    def _unwrap(self, family_id: int, blob: bytes, master_key: bytes) -> bytes:
        if len(blob) != _FILE_LEN or not blob.startswith(_MAGIC):
            raise KeyUnwrapError(f"key file for family {family_id} is damaged")
        key_id = blob[len(_MAGIC) : len(_MAGIC) + _KEY_ID_LEN]
        if key_id != _master_key_id(master_key):
            raise KeyUnwrapError(
                f"key file for family {family_id} was wrapped by a different master key "
                f"(id {key_id.hex()}, ours {_master_key_id(master_key).hex()})"
            )
        nonce_at = len(_MAGIC) + _KEY_ID_LEN
        nonce = blob[nonce_at : nonce_at + _NONCE_LEN]
        aad = _MAGIC + key_id + _FAMILY.pack(family_id)
        try:
            return AESGCM(master_key).decrypt(nonce, blob[nonce_at + _NONCE_LEN :], aad)
        except InvalidTag:
            raise KeyUnwrapError(
                f"key file for family {family_id} failed authentication "
                "(altered, or copied from another family)"
            ) from None

    def data_key(self, family_id: int, create: bool = True) -> bytes:
        """Return the family's data key, creating it on first use unless ``create`` is False.

        Raises DataKeyMissing when there is no key and ``create`` is False: reads must never
        mint a fresh key, or destroyed media would just look corrupt instead of gone. Raises
        KeyCreationRefused (a DataKeyMissing) when ``may_create`` says the family may not
        have media any more.
        """
        _check_family_id(family_id)
        blob = self._store.read(family_id)
        if blob is None:
            if not create:
                raise DataKeyMissing(f"family {family_id} has no data key")
            key = os.urandom(KEY_LEN)
            with self._store.locked():
                # Asked under the lock that destroy() takes: a withdrawal commits its status
                # before destroying the key, so either we are refused here or our key is
                # written before destroy() runs and is destroyed with the rest.
                if self._may_create is not None and not self._may_create(family_id):
                    raise KeyCreationRefused(f"family {family_id} may not get a new data key")
                if self._store.add(family_id, self._wrap(family_id, key, self._master)):
                    return key
            # Another process created it first; everyone must use that one.
            blob = self._store.read(family_id)
            if blob is None:
                raise DataKeyMissing(f"family {family_id}'s data key went as it was made")
        return self._unwrap(family_id, blob, self._master)

    def has_key(self, family_id: int) -> bool:
        return self._store.read(_check_family_id(family_id)) is not None

    def destroy(self, family_id: int) -> bool:
        """Shred the family's wrapped key; idempotent; returns whether a key existed."""
        _check_family_id(family_id)
        with self._store.locked():
            return self._store.shred(family_id)

    def rewrap_all(self, new_master: bytes) -> int:
        """Re-wrap every key under ``new_master`` (one atomic replace per key); return the count.

        Resumable: keys already under ``new_master`` (from an interrupted run) are verified and
        counted. Run it with the app stopped: other processes still hold the old master key.
        """
        new_master = _check_master(new_master)
        new_id = _master_key_id(new_master)
        count = 0
        with self._store.locked():
            for family_id in self._store.family_ids():
                blob = self._store.read(family_id)
                if blob is None:
                    continue
                if blob[len(_MAGIC) : len(_MAGIC) + _KEY_ID_LEN] == new_id:
                    self._unwrap(family_id, blob, new_master)
                else:
                    key = self._unwrap(family_id, blob, self._master)
                    self._store.replace(family_id, self._wrap(family_id, key, new_master))
                count += 1
            self._master = new_master
        return count

    def family_ids(self) -> list[int]:
        return self._store.family_ids()


def read_master_key(path: Path) -> bytes:
    """Read the 32-byte master key at ``path``; FileNotFoundError when there is none.

    Refuses a file of the wrong length or one that group/others can access: a leaked master
    key undoes the point of wrapping. Symlinks are followed so a mounted secret can be used.
    """
    data, st = _read_small(Path(path), follow_symlinks=True)
    if st.st_mode & 0o077:
        raise MasterKeyError(
            f"master key file {path} is accessible by group or others "
            f"(mode {stat.S_IMODE(st.st_mode):04o}); run: chmod 600 {path}"
        )
    if len(data) != KEY_LEN:
        raise MasterKeyError(
            f"master key file {path} must hold exactly {KEY_LEN} raw bytes"
            f"{'' if len(data) < KEY_LEN else ' (it is longer)'}"
        )
    return data


def load_or_create_master_key(path: Path) -> bytes:
    """Read the master key at ``path`` (as ``read_master_key``), creating it (mode 0600) if it
    does not exist."""
    path = Path(path)
    try:
        return read_master_key(path)
    except FileNotFoundError:
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        key = os.urandom(KEY_LEN)
        if _write_atomic(path, key, replace=False):
            return key
        return read_master_key(path)


def master_key_from_b64(s: str) -> bytes:
    """Decode a base64 (standard or URL-safe, padding optional) 32-byte master key."""
    text = "".join(s.split()).replace("-", "+").replace("_", "/")
    text += "=" * (-len(text) % 4)
    try:
        key = base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        # Never echo the input: it is a secret, possibly mistyped.
        raise MasterKeyError("master key is not valid base64") from None
    if len(key) != KEY_LEN:
        raise MasterKeyError(f"master key decodes to {len(key)} bytes; it must be {KEY_LEN}")
    return key


def pending_master_key_path(key_file: Path) -> Path:
    """Where a rotation keeps the new master key until every data key is re-wrapped."""
    key_file = Path(key_file)
    return key_file.with_name(key_file.name + ".new")


def rotate_master_key_file(keyring: Keyring, key_file: Path) -> tuple[int, bool]:
    """Rotate a master key held in a file; return (data keys re-wrapped, resumed).

    Crash-safe in three steps: the new key is written durably to ``<file>.new`` (0600) before
    any data key is re-wrapped, so no data key is ever wrapped under a key that exists nowhere;
    every data key is re-wrapped (resumable, see ``rewrap_all``); then ``<file>.new`` replaces
    ``<file>`` atomically. Run again after a crash: an existing ``<file>.new`` is resumed.
    """
    key_file = Path(key_file)
    if key_file.is_symlink():
        raise MasterKeyError(
            f"{key_file} is a link (a mounted secret?): rotate it where it is managed, "
            "using a new key file and `rewrap_all`."
        )
    pending = pending_master_key_path(key_file)
    resumed = pending.exists()
    new_key = load_or_create_master_key(pending)  # reads the pending key, or creates it (0600)
    count = keyring.rewrap_all(new_key)
    os.replace(pending, key_file)
    fsync_dir(key_file.parent)
    return count, resumed


def rotate_master_key(
    keyring: Keyring, key_file: Path | None, new_key_b64: str | None = None
) -> Iterator[str]:
    """`vig rotate-master-key`: re-wrap every data key under a new master key; yields lines
    for the operator to read.

    Media is never touched: only the small wrapped key files change. Destroyed keys stay
    destroyed (there is nothing to re-wrap), so rotation cannot bring withdrawn media back.
    With a key file, the rotation is crash-safe and resumable (``rotate_master_key_file``).
    With the key in ``VIGPARENT_MASTER_KEY`` (a secret store we cannot write to), a new key
    is made and shown, or ``new_key_b64`` (the one shown by an interrupted run) resumes.
    """
    if key_file is not None and new_key_b64 is None:
        pending = pending_master_key_path(key_file)
        if pending.exists():
            yield f"Resuming an interrupted rotation with the key in {pending}."
        count, _resumed = rotate_master_key_file(keyring, key_file)
        yield f"Re-wrapped {count} family data keys under a new master key."
        yield f"The new master key is in {key_file} (mode 0600); the old one is gone."
        yield "Start the web app and the job worker again: they read the new key at start."
        return

    new_key = master_key_from_b64(new_key_b64) if new_key_b64 is not None else os.urandom(KEY_LEN)
    encoded = base64.b64encode(new_key).decode()
    # Shown before anything changes: if we crash half-way, this is the only copy of the key
    # that some data keys are already wrapped under.
    yield "New master key (store it in your secret store now; it is shown only once):"
    yield f"  VIGPARENT_MASTER_KEY={encoded}"
    count = keyring.rewrap_all(new_key)
    yield f"Re-wrapped {count} family data keys under the new master key."
    yield "Now set VIGPARENT_MASTER_KEY to the value above for the web app and the job worker,"
    yield "remove the old value everywhere, and start them again. If this run was interrupted,"
    yield "run `vig rotate-master-key --resume-from-stdin` with the new value on stdin."
