"""Hardening tests reuse the media and upload fixtures (a filmed family, a tus client)."""

from tests.media.conftest import filmed
from tests.uploads.conftest import family_with_parent, tus

__all__ = ["family_with_parent", "filmed", "tus"]
