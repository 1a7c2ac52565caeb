"""The live review's event stream (Server-Sent Events): one held connection per open page.

The stream holds no database connection and no lock while it waits: it was given the room's
snapshot already, and it waits on its fan-out subscription (a greenlet under gevent). It
touches the database only briefly, in its own app context, to say "still here" with each
keep-alive and "gone" when it closes. It lives a few minutes at most; the page's EventSource
then reconnects by itself and resyncs from a fresh snapshot, exactly as after a lost signal.
"""

from __future__ import annotations

import json
import time
from collections.abc import Generator, Iterator
from dataclasses import dataclass
from typing import Any

from flask import Flask

from vigparent.live import service
from vigparent.live.fanout import Event, Overrun, Subscription

KEEP_ALIVE_S = 15.0
LIFETIME_S = 180.0
# How soon a page's EventSource reconnects after the stream ends or the signal drops.
RETRY_MS = 1000


@dataclass(frozen=True)
class Listener:
    review_id: int
    family_id: int
    user_id: int
    connection: str


def message(event: Event) -> bytes:
    """One SSE message; every one carries the server's time, for the page's clock offset."""
    body = json.dumps({**event, "now": service.now_ms()}, separators=(",", ":"))
    return f"data: {body}\n\n".encode()


class EventStream:
    """The stream's body. Closing it stops listening and says the person has gone, even if
    the server closes it before sending a byte (a generator that never started would skip
    its own clean-up)."""

    def __init__(
        self,
        app: Flask,
        subscription: Subscription,
        first: Event,
        listener: Listener,
        lifetime_s: float = LIFETIME_S,
    ) -> None:
        self._app = app
        self._subscription = subscription
        self._listener = listener
        self._body = _events(subscription, first, listener, app, lifetime_s)
        self._closed = False

    def __iter__(self) -> Iterator[bytes]:
        return self._body

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        self._body.close()
        self._subscription.close()
        _gone(self._app, self._listener)


def _events(
    subscription: Subscription, first: Event, listener: Listener, app: Flask, lifetime_s: float
) -> Generator[bytes, None, None]:
    """The snapshot, then each event of the room, with keep-alives, for a few minutes."""
    yield f"retry: {RETRY_MS}\n".encode() + message(first)
    start = time.monotonic()
    beat = start + KEEP_ALIVE_S
    while True:
        now = time.monotonic()
        if now >= start + lifetime_s:
            return
        try:
            event = subscription.get(timeout=max(0.0, min(beat, start + lifetime_s) - now))
        except Overrun:
            return  # fell behind: the page reconnects and resyncs
        if event is not None:
            yield message(event)
            if event.get("type") == "ended":
                return
            continue
        if time.monotonic() >= beat:
            beat = time.monotonic() + KEEP_ALIVE_S
            if not _still_here(app, listener):
                yield message({"type": "ended"})
                return
            yield message({"type": "tick"})


def _still_here(app: Flask, listener: Listener) -> bool:
    with app.app_context():
        return service.still_here(listener.review_id, listener.user_id, listener.connection)


def _gone(app: Flask, listener: Listener) -> None:
    with app.app_context():
        service.leave(listener.review_id, listener.family_id, listener.user_id, listener.connection)


def headers() -> dict[str, Any]:
    # No proxy may hold the stream back (nginx buffers answers unless told not to).
    return {"Cache-Control": "no-store", "X-Accel-Buffering": "no"}
