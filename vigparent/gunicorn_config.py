"""How the web process is served: gunicorn with gevent workers (`make run` and production).

    gunicorn -c python:vigparent.gunicorn_config 'vigparent:create_app()'

Parents send video from phones at 1–10 Mbit/s, so one PATCH body takes seconds to minutes,
and many phones send at once. A thread per connection (gthread) runs out after a handful of
slow phones or idle sockets, and then no page answers, not even the one-tap withdrawal. Under
gevent every connection is a greenlet: waiting for a slow phone costs a few kilobytes, not a
thread, and pages keep answering. The upload path is written for it: it holds no database
connection and no blocking lock while it waits for a phone's bytes (see uploads/service.py),
and file locks are taken without blocking the process.

Every setting can still be overridden on the command line or with GUNICORN_CMD_ARGS.

Deadlines a parent on a slow link survives but an idle or trickling connection cannot abuse:
- ``keepalive``: gunicorn's gevent worker gives a connection this long to deliver each
  request's headers (and between requests); then it is closed.
- an idle timeout for each read of an upload body and a cap on one PATCH's total time:
  ``Settings.upload_idle_timeout_s`` / ``upload_patch_deadline_s``, applied by the upload
  endpoint itself (``vigparent/serving.py``). What arrived before a deadline is kept.
"""

from __future__ import annotations

import ctypes
import resource

bind = "127.0.0.1:5000"  # `--bind` on the command line overrides it
worker_class = "gevent"
# One worker keeps the in-memory rate limiter exact; several need RATELIMIT_STORAGE_URI on
# Redis (README). Each worker holds thousands of connections on its own.
workers = 1
worker_connections = 4096
# Seconds a connection has to send a request's headers (the header deadline) or to start its
# next request on a kept-alive connection. Half a minute, as Node's and nginx's defaults are of
# that order: a phone's headers take milliseconds, and a shorter deadline only makes idle
# attackers reconnect (costing the server work) more often.
keepalive = 30
# The worker's heartbeat: a worker whose event loop stays blocked this long is restarted.
timeout = 60
graceful_timeout = 30
# Request line and headers stay small; anything larger is refused before the app runs.
limit_request_line = 8190
limit_request_fields = 60

# Each connection is a file descriptor: lift the soft limit to the hard one so the worker can
# hold worker_connections of them (the default soft limit is often 1024).
_soft, _hard = resource.getrlimit(resource.RLIMIT_NOFILE)
_want = worker_connections + 512
if _soft != resource.RLIM_INFINITY and _soft < _want:
    resource.setrlimit(
        resource.RLIMIT_NOFILE,
        (_hard if _hard == resource.RLIM_INFINITY else min(_want, _hard), _hard),
    )

# Upload bodies pass through buffers of up to a MiB (a read off the socket, a batch sealed for
# disk). glibc serves every allocation over 128 KiB with its own mmap and unmaps it when freed,
# so each such buffer cost freshly zeroed pages: page faults took ~10% of the worker's CPU and
# a fast upload ran ~20% slower than with the buffers reused. Keep allocations up to 16 MiB in
# the heap, return free heap to the system only past 32 MiB, and use two arenas (not 8 per
# core), so what is kept stays bounded. mallopt(3) is glibc's documented tuning; other C
# libraries simply keep their defaults. Set here, before gunicorn forks its workers.
_M_TRIM_THRESHOLD, _M_MMAP_THRESHOLD, _M_ARENA_MAX = -1, -3, -8


def _keep_large_buffers_in_the_heap() -> None:
    try:
        mallopt = ctypes.CDLL(None).mallopt
    except (OSError, AttributeError):  # not glibc
        return
    mallopt.argtypes = (ctypes.c_int, ctypes.c_int)
    mallopt(_M_MMAP_THRESHOLD, 16 << 20)
    mallopt(_M_TRIM_THRESHOLD, 32 << 20)
    mallopt(_M_ARENA_MAX, 2)


_keep_large_buffers_in_the_heap()
