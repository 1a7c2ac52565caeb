"""Organisation tests use the withdrawal fixtures (families with stored media)."""

from __future__ import annotations

from tests.withdrawal.conftest import marked_video, with_media

__all__ = ["marked_video", "with_media"]
