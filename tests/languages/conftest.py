"""Shared fixtures for the language tests."""

from __future__ import annotations

from tests.invitations.conftest import invited  # noqa: F401 - a family waiting for its carer
