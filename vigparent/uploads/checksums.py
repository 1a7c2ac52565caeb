"""The sha256 of each unfinished upload, kept between its PATCHes (see ``RunningHashes``)."""

from __future__ import annotations

import hashlib
import threading
from collections import OrderedDict
from typing import Any


class RunningHashes:
    """The sha256 of each unfinished upload's stored bytes so far, between its PATCHes.

    Hashing as the bytes stream in saves reading the whole file back (decrypt + hash) when
    the last PATCH arrives, which for a 1 GB upload is seconds. An entry is used only when
    its offset equals the upload's durable offset at the start of the next PATCH; any other
    case (a restart, another worker process, a dropped connection, a rollback) simply falls
    back to hashing the stored file, so a stale entry can cost time but never correctness.
    Accessed only under the upload's lock.
    """

    _MAX = 256

    def __init__(self) -> None:
        self._entries: OrderedDict[str, tuple[int, Any]] = OrderedDict()
        self._guard = threading.Lock()

    def take(self, upload_id: str, offset: int) -> Any | None:
        with self._guard:
            entry = self._entries.pop(upload_id, None)
        if entry is not None and entry[0] == offset:
            return entry[1]
        return hashlib.sha256() if offset == 0 else None

    def put(self, upload_id: str, offset: int, running: Any) -> None:
        with self._guard:
            self._entries[upload_id] = (offset, running)
            while len(self._entries) > self._MAX:
                self._entries.popitem(last=False)


running_hashes = RunningHashes()
