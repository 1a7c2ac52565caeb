"""Retention tests share the withdrawal fixtures (families with stored media, scans)."""

from __future__ import annotations

from tests.withdrawal.conftest import marked_video, with_media

__all__ = ["marked_video", "with_media"]
