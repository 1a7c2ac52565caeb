"""Fan-out: every event published in a live room reaches everyone listening in it.

One web process by default (``LocalFanout``); across several processes or machines a real
broker implements the same two calls. Events are small JSON-able dicts (a play, a seek, "I
noticed something here"); they carry no media and no free text beyond what the room shows.

A listener that falls too far behind is dropped (its ``get`` raises ``Overrun``): its page
reconnects and resyncs from the room's current state, as after a lost signal.

Waits use ``threading`` and ``queue``, which gevent patches under the deployed server, so a
listener costs a greenlet there and a thread under werkzeug in tests.
"""

from __future__ import annotations

import queue
import threading
from typing import TYPE_CHECKING, Protocol

from flask import Flask, current_app

from vigparent.live.fanout_types import BACKLOG as BACKLOG
from vigparent.live.fanout_types import Event as Event
from vigparent.live.fanout_types import Overrun as Overrun
from vigparent.live.redis_fanout import RedisFanout

if TYPE_CHECKING:
    from vigparent.config import Settings


class Subscription(Protocol):
    def get(self, timeout: float) -> Event | None:
        """The next event in the room, or None if none came within ``timeout`` seconds."""

    def close(self) -> None:
        """Stop listening (idempotent)."""


class Fanout(Protocol):
    def publish(self, room: str, event: Event) -> None:
        """Send ``event`` to everyone listening in ``room`` now (not to later listeners)."""

    def subscribe(self, room: str) -> Subscription:
        """Start listening in ``room``; events published from now on arrive in order."""


class _LocalSubscription:
    def __init__(self, fanout: LocalFanout, room: str) -> None:
        self._fanout = fanout
        self._room = room
        self._events: queue.Queue[Event | None] = queue.Queue(BACKLOG)
        self._overrun = False

    def deliver(self, event: Event) -> None:
        try:
            self._events.put_nowait(event)
        except queue.Full:
            self._overrun = True
            self._fanout.forget(self._room, self)

    def get(self, timeout: float) -> Event | None:
        if self._overrun and self._events.empty():
            raise Overrun(self._room)
        try:
            return self._events.get(timeout=timeout)
        except queue.Empty:
            return None

    def close(self) -> None:
        self._fanout.forget(self._room, self)


class LocalFanout:
    """Fan-out inside one process."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._rooms: dict[str, set[_LocalSubscription]] = {}

    def publish(self, room: str, event: Event) -> None:
        with self._lock:
            listeners = list(self._rooms.get(room, ()))
        for listener in listeners:
            listener.deliver(event)

    def subscribe(self, room: str) -> _LocalSubscription:
        subscription = _LocalSubscription(self, room)
        with self._lock:
            self._rooms.setdefault(room, set()).add(subscription)
        return subscription

    def forget(self, room: str, subscription: _LocalSubscription) -> None:
        with self._lock:
            listeners = self._rooms.get(room)
            if listeners is not None:
                listeners.discard(subscription)
                if not listeners:
                    del self._rooms[room]


def build(settings: Settings) -> Fanout:
    """The fan-out these settings ask for: in-process unless a broker is configured."""
    if settings.redis_url:
        return RedisFanout.connect(settings.redis_url)
    return LocalFanout()


def init_app(app: Flask, settings: Settings) -> None:
    app.extensions["vig_fanout"] = build(settings)


def current() -> Fanout:
    """The running app's fan-out."""
    fanout: Fanout = current_app.extensions["vig_fanout"]
    return fanout
