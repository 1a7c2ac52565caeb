"""What the media store holds for a recording, read back through the store as the app would."""

from __future__ import annotations

from vigparent import media_store
from vigparent.models import Recording


def stored_media(rec: Recording) -> bytes:
    """The recording's uploaded bytes, decrypted (needs the app's context)."""
    with media_store.store().open(rec.family_id, rec.original_name) as f:
        return f.read()
