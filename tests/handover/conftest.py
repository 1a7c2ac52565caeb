"""Handover tests reuse the supervision world (a filmed family, its practitioner, a supervisor)."""

from tests.supervision.conftest import as_user, supervised

__all__ = ["as_user", "supervised"]
