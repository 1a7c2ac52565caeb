"""A recording's life is tested through real tus uploads (tests/uploads fixtures)."""

from __future__ import annotations

from tests.uploads.conftest import big_webm, family_with_parent, tus, webm

__all__ = ["big_webm", "family_with_parent", "tus", "webm"]
