"""Waiting inside a request without holding up the server.

The web process runs under gunicorn's gevent workers (``gunicorn_config.py``): while a request
waits on its socket every other request runs, and ``time_limit`` bounds such a wait.

Outside gevent (werkzeug's threaded server in tests, a CLI command, the job consumer) there is
no event loop that could interrupt a blocking read, so ``time_limit`` does not apply there:
only the deployed server enforces the upload deadlines.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import gevent
from gevent import monkey


def cooperative() -> bool:
    """Whether this process runs under gevent (its socket module is patched)."""
    return bool(monkey.is_module_patched("socket"))


@contextlib.contextmanager
def time_limit(seconds: float, error: BaseException) -> Iterator[None]:
    """Raise ``error`` in the block if it still waits after ``seconds`` (under gevent only)."""
    if not cooperative():
        yield
        return
    with gevent.Timeout(max(seconds, 0.001), error):
        yield
