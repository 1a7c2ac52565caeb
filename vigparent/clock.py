"""The app's notion of now, in naive UTC. Tests set it instead of sleeping."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

_frozen: datetime | None = None


def now() -> datetime:
    return _frozen if _frozen is not None else datetime.now(UTC).replace(tzinfo=None)


def freeze(at: datetime) -> None:
    global _frozen
    _frozen = at


def advance(delta: timedelta) -> datetime:
    freeze(now() + delta)
    return now()


def unfreeze() -> None:
    global _frozen
    _frozen = None
