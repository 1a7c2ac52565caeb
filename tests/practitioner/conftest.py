"""The practitioner's screens are tested on a filmed family (tests/media)."""

from __future__ import annotations

from tests.media.conftest import Filmed, filmed  # noqa: F401 - shared fixture

__all__ = ["Filmed", "filmed"]
