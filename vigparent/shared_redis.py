"""The app's Redis connection pool, when several web nodes share one (``VIGPARENT_REDIS_URL``).

Used for what every node must agree on at once: upload locks (``uploads.locks``) and, through
their own clients, the job queue (``jobs``), rate limits (flask-limiter) and the live fan-out
(``live.redis_fanout``). redis-py talks over plain sockets, which gevent patches under the
deployed server, so waiting on Redis never blocks other requests.
"""

from __future__ import annotations

import redis
from flask import Flask, current_app

from vigparent.config import Settings


def connect(url: str) -> redis.Redis:
    """A client with its own pool; short timeouts so a lost Redis fails a request, not a node."""
    return redis.Redis.from_url(url, socket_timeout=10, socket_connect_timeout=5)


def init_app(app: Flask, settings: Settings) -> None:
    app.extensions["vig_redis"] = connect(settings.redis_url) if settings.redis_url else None


def current() -> redis.Redis | None:
    """The running app's Redis client, or None on one machine without Redis."""
    client: redis.Redis | None = current_app.extensions.get("vig_redis")
    return client
