"""What every fan-out backend shares (``fanout`` re-exports these): the event type and the
error a listener that fell behind gets. Apart from ``fanout`` so that a backend in its own
module (``redis_fanout``) and ``fanout.build``, which picks it, import no cycle."""

from __future__ import annotations

from typing import Any

Event = dict[str, Any]

# Events a listener may have waiting before it is dropped: a live review sends a few a second.
BACKLOG = 256


class Overrun(Exception):
    """The listener fell behind and lost events: reconnect and resync."""
