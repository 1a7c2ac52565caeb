"""One PATCH at a time per upload, across threads *and* processes.

Gunicorn workers, or several servers on one data dir, may each get a request for the same
upload. Each upload has a lock file, ``<data_dir>/upload-locks/<upload_id>.lock``, taken with a
non-blocking ``flock`` for the whole of a PATCH (offset check, append, checksum check or
rollback, database update). A second PATCH finds it held and gets 423 Locked at once instead of
interleaving bytes. The kernel drops the lock if the process dies (SIGKILL included), so a
crash never leaves an upload stuck. Lock files are removed when the upload finishes or ends;
the inode check after locking makes that removal race-free. This needs a local (or
flock-honouring) filesystem for the data dir, as the media store does already.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
from collections.abc import Iterator
from pathlib import Path

from flask import current_app

from vigparent.config import settings_of
from vigparent.uploads.refusals import UploadBusy


def lock_path(data_dir: Path | str, upload_id: str) -> Path:
    """Where an upload's lock file lives under the data dir."""
    return Path(data_dir) / "upload-locks" / f"{upload_id}.lock"


def _lock_path(upload_id: str) -> Path:
    return lock_path(settings_of(current_app).data_dir, upload_id)


@contextlib.contextmanager
def upload_lock(upload_id: str) -> Iterator[None]:
    """Hold the upload's cross-process lock or raise UploadBusy at once."""
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
        yield
    finally:
        os.close(fd)


def drop_lock_file(upload_id: str) -> None:
    """Remove the lock file while holding its lock (upload finished, rejected or ended)."""
    with contextlib.suppress(FileNotFoundError):
        os.unlink(_lock_path(upload_id))
