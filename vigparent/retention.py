"""Retention: delete what we should no longer keep. `vig sweep` and a daily job run it."""

from __future__ import annotations

from dataclasses import dataclass, field

from huey import crontab

from vigparent import jobs


@dataclass
class SweepReport:
    lines: list[str] = field(default_factory=list)

    def __str__(self) -> str:
        return "\n".join(self.lines) if self.lines else "Nothing to delete."


def sweep() -> SweepReport:
    """Apply every retention rule once."""
    return SweepReport()


@jobs.task(periodic=crontab(hour="3", minute="15"))
def daily_sweep() -> None:
    sweep()
