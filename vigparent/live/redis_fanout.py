"""Fan-out across web nodes over Redis pub/sub (``fanout.Fanout``; ``fanout.build`` picks it
when Redis is configured).

Each listener has its own pub/sub connection, subscribed (and the subscription confirmed by
Redis) before ``subscribe`` returns, so it hears every event published after that, from any
node, in order: Redis delivers one channel's messages in the order it received them. A room
is the channel ``vigparent:live:<room>``; events travel as JSON.

A listener that falls far behind is cut off by Redis itself (its pub/sub output buffer limit,
``client-output-buffer-limit pubsub``); its ``get`` then raises ``Overrun`` and the page
resyncs, as with the in-process fan-out's backlog.
"""

from __future__ import annotations

import json
import threading
import time

import redis
from redis.exceptions import ConnectionError as RedisConnectionError

from vigparent.live.fanout_types import Event, Overrun

CHANNEL_PREFIX = "vigparent:live:"


class RedisSubscription:
    def __init__(self, client: redis.Redis, room: str) -> None:
        self._room = room
        # Held so the client (and its pool, which a dropped client disconnects) lives as
        # long as this listener does.
        self._client = client
        self._pubsub = client.pubsub()
        self._lock = threading.Lock()
        self._closed = False
        self._pubsub.subscribe(CHANNEL_PREFIX + room)
        # Wait for Redis to confirm: only then is an event published elsewhere sure to reach us.
        deadline = time.monotonic() + 10
        while True:
            message = self._pubsub.get_message(timeout=max(deadline - time.monotonic(), 0.01))
            if message is not None and message["type"] == "subscribe":
                break
            if time.monotonic() > deadline:
                self.close()
                raise TimeoutError("Redis did not confirm the subscription")

    def get(self, timeout: float) -> Event | None:
        deadline = time.monotonic() + timeout
        while True:
            with self._lock:
                if self._closed:
                    message = None
                else:
                    try:
                        message = self._pubsub.get_message(
                            timeout=max(deadline - time.monotonic(), 0)
                        )
                    except RedisConnectionError:
                        self.close_locked()
                        raise Overrun(self._room) from None
            if self._closed:
                # A closed listener hears nothing, and waits like an idle one.
                time.sleep(max(deadline - time.monotonic(), 0))
                return None
            if message is not None and message["type"] == "message":
                event: Event = json.loads(message["data"])
                return event
            if time.monotonic() >= deadline:
                return None

    def close_locked(self) -> None:
        if not self._closed:
            self._closed = True
            self._pubsub.close()

    def close(self) -> None:
        if self._closed:
            return
        with self._lock:
            self.close_locked()


class RedisFanout:
    """Fan-out through Redis pub/sub, across processes and machines."""

    def __init__(self, client: redis.Redis) -> None:
        self._client = client

    @classmethod
    def connect(cls, url: str) -> RedisFanout:
        # A read timeout bounds a publish on a half-open connection; a listener's wait for
        # events is bounded by get_message's own timeout, not by this.
        return cls(redis.Redis.from_url(url, socket_connect_timeout=5, socket_timeout=10))

    def publish(self, room: str, event: Event) -> None:
        self._client.publish(CHANNEL_PREFIX + room, json.dumps(event, separators=(",", ":")))

    def subscribe(self, room: str) -> RedisSubscription:
        return RedisSubscription(self._client, room)
