from __future__ import annotations

import pytest
from flask import Flask

from tests.media.conftest import Filmed, filmed  # noqa: F401 - shared fixture
from tests.media.factories import ensure_media_dirs


@pytest.fixture(autouse=True)
def _media_dirs(app: Flask) -> None:
    ensure_media_dirs(app)


__all__ = ["Filmed", "filmed"]
