"""`vig rotate-master-key`: re-wrap every data key under a new master key.

Media is never touched: only the small wrapped key files change. Destroyed keys stay
destroyed (there is nothing to re-wrap), so rotation cannot bring withdrawn media back.
"""

from __future__ import annotations

import base64
import os
import sys
from collections.abc import Iterator

from flask import current_app

from vigparent import media_store
from vigparent.config import Settings
from vigparent.keyring import (
    KEY_LEN,
    master_key_from_b64,
    pending_master_key_path,
    rotate_master_key_file,
)


def rotate(*, resume_from_stdin: bool = False) -> Iterator[str]:
    """Rotate the app's master key; yields lines for the operator to read."""
    settings: Settings = current_app.extensions["vig_settings"]
    keyring = media_store.keyring()
    key_file = settings.master_key_file

    if key_file is not None and not resume_from_stdin:
        pending = pending_master_key_path(key_file)
        if pending.exists():
            yield f"Resuming an interrupted rotation with the key in {pending}."
        count, _resumed = rotate_master_key_file(keyring, key_file)
        yield f"Re-wrapped {count} family data keys under a new master key."
        yield f"The new master key is in {key_file} (mode 0600); the old one is gone."
        yield "Start the web app and the job worker again: they read the new key at start."
        return

    # The key lives in VIGPARENT_MASTER_KEY (a secret store we cannot write to).
    new_key = master_key_from_b64(sys.stdin.read()) if resume_from_stdin else os.urandom(KEY_LEN)
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
