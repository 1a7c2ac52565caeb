"""Waiting inside a request without holding up the server.

The web process runs under gunicorn's gevent workers (``gunicorn_config.py``): while a request
waits on its socket every other request runs. ``time_limit`` bounds such a wait, and
``offload`` moves a call that blocks in the kernel (fsync) off the event loop; ``begin`` does
the same without waiting, so a request can go on reading while the call runs on another core.

Outside gevent (werkzeug's threaded server in tests, a CLI command, the job consumer) there is
no event loop that could interrupt a blocking read, so ``time_limit`` does not apply there:
only the deployed server enforces the upload deadlines.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TypeVar

import gevent
from gevent import monkey

T = TypeVar("T")


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


def offload(fn: Callable[..., T], *args: object) -> T:
    """Run a blocking call (an fsync) in gevent's thread pool, so only this request waits.

    Outside gevent the call simply runs here: threads already wait on their own.
    """
    return begin(fn, *args)()


def begin(fn: Callable[..., T], *args: object) -> Callable[[], T]:
    """Start a blocking call in gevent's thread pool; return a function that waits for it.

    The waiting function returns the call's result or raises its exception. Outside gevent the
    call runs here and now, and the waiting function only hands over what it gave.
    """
    if not cooperative():
        result = fn(*args)
        return lambda: result
    pending = gevent.get_hub().threadpool.spawn(fn, *args)

    def wait() -> T:
        done: T = pending.get()
        return done

    return wait


def fsync_dir(path: Path | str) -> None:
    """Make a directory's entries durable (a file created, renamed or removed in it)."""
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        offload(os.fsync, fd)
    finally:
        os.close(fd)
