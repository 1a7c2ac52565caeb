"""One PATCH at a time per upload, across threads *and* processes.

Gunicorn workers, or several servers on one data dir, may each get a request for the same
upload. Each upload has a lock file, ``<data_dir>/upload-locks/<upload_id>.lock``, taken with a
non-blocking ``flock`` for the whole of a PATCH (offset check, append, checksum check or
rollback, database update). A second PATCH finds it held and gets 423 Locked at once instead of
interleaving bytes. The kernel drops the lock if the process dies (SIGKILL included), so a
crash never leaves an upload stuck. Lock files are removed when the upload finishes or ends;
the inode check after locking makes that removal race-free. This needs a local (or
flock-honouring) filesystem for the data dir, as the media store does already.

Several web nodes (Redis configured): the lock is a Redis key instead, set only if absent
(redis-py's ``Lock``, a token only its holder can release), so a PATCH on one node turns away
a PATCH for the same upload on any other. A node that dies cannot release it, so the key
lives ``upload_lock_ttl_s`` seconds (15 by default) and the holder renews it every third of
that while the PATCH runs: a dead node's upload is free again within seconds and the phone
resumes on another node. If a renewal fails, the PATCH stops writing at its next piece
(``Held.check``) and answers 423, before the key runs out and another node could take it.
Renewing runs in a thread, a greenlet under the gevent server, so nothing blocks the event
loop; redis-py's sockets are gevent's.
"""

from __future__ import annotations

import contextlib
import fcntl
import logging
import os
import threading
from collections.abc import Iterator
from pathlib import Path

import redis
from flask import current_app
from redis.exceptions import LockError, RedisError
from redis.lock import Lock

from vigparent import shared_redis
from vigparent.config import settings_of
from vigparent.uploads.refusals import UploadBusy

log = logging.getLogger(__name__)


def lock_path(data_dir: Path | str, upload_id: str) -> Path:
    """Where an upload's lock file lives under the data dir."""
    return Path(data_dir) / "upload-locks" / f"{upload_id}.lock"


def _lock_path(upload_id: str) -> Path:
    return lock_path(settings_of(current_app).data_dir, upload_id)


def redis_lock_name(upload_id: str) -> str:
    """The Redis key that holds an upload's lock."""
    return f"vigparent:upload-lock:{upload_id}"


class Held:
    """A held upload lock. ``check()`` raises UploadBusy once the lock may be another's (a
    Redis lock whose renewal failed): the PATCH then stops writing before that node starts."""

    def __init__(self) -> None:
        self._lost = threading.Event()

    def lose(self) -> None:
        self._lost.set()

    def check(self) -> None:
        if self._lost.is_set():
            raise UploadBusy()


def upload_lock(upload_id: str) -> contextlib.AbstractContextManager[Held]:
    """Hold the upload's lock (every node's, or every process's) or raise UploadBusy at once."""
    client = shared_redis.current()
    if client is not None:
        return _redis_lock(client, upload_id)
    return _file_lock(upload_id)


class _Renewer(threading.Thread):
    """Keeps a Redis lock alive while its PATCH runs; says when it could not."""

    def __init__(self, lock: Lock, ttl_s: float, held: Held) -> None:
        super().__init__(daemon=True, name="upload-lock-renewer")
        self._lock = lock
        self._ttl_s = ttl_s
        self._held = held
        self._done = threading.Event()

    def run(self) -> None:
        while not self._done.wait(self._ttl_s / 3):
            try:
                self._lock.reacquire()
            except (LockError, RedisError):
                self._held.lose()
                # Ids only: the upload id is not personal data, but keep logs lean anyway.
                log.warning("an upload lock could not be renewed; its PATCH stops writing")
                return

    def stop(self) -> None:
        self._done.set()
        self.join()


@contextlib.contextmanager
def _redis_lock(client: redis.Redis, upload_id: str) -> Iterator[Held]:
    ttl_s = settings_of(current_app).upload_lock_ttl_s
    lock = client.lock(
        redis_lock_name(upload_id), timeout=ttl_s, blocking=False, thread_local=False
    )
    if not lock.acquire(blocking=False):
        raise UploadBusy()
    held = Held()
    renewer = _Renewer(lock, ttl_s, held)
    renewer.start()
    try:
        yield held
    finally:
        renewer.stop()
        with contextlib.suppress(LockError):
            lock.release()


@contextlib.contextmanager
def _file_lock(upload_id: str) -> Iterator[Held]:
    path = _lock_path(upload_id)
    path.parent.mkdir(mode=0o700, exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC | os.O_NOFOLLOW, 0o600)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            # The file may have been unlinked (upload finished) between our open and flock;
            # a lock on an unlinked inode excludes nobody, so count it as busy.
            if os.fstat(fd).st_ino != os.stat(path).st_ino:
                raise BlockingIOError
        except (BlockingIOError, FileNotFoundError):
            raise UploadBusy() from None
        yield Held()  # the kernel holds it until the process ends: never lost
    finally:
        os.close(fd)


def drop_lock_file(upload_id: str) -> None:
    """Remove the lock file while holding its lock (upload finished, rejected or ended).

    A Redis lock leaves nothing behind once released."""
    if shared_redis.current() is not None:
        return
    with contextlib.suppress(FileNotFoundError):
        os.unlink(_lock_path(upload_id))
