"""Background jobs on Huey: SQLite storage by default, Redis when scaled out.

Run the consumer with `huey_consumer vigparent.jobs.huey` (make run starts one beside the web
server). Tasks create their own app context, so a job never borrows a request's session.
"""

from __future__ import annotations

import functools
import threading
from collections.abc import Callable
from typing import Any

from flask import Flask, current_app, has_app_context
from huey import MemoryHuey, RedisHuey, SqliteHuey
from huey.api import Huey

from vigparent import serving
from vigparent.config import load_settings


def _make_huey() -> Huey:
    settings = load_settings()
    if settings.redis_url:
        return RedisHuey("vigparent", url=settings.redis_url)
    return SqliteHuey("vigparent", filename=str(settings.jobs_db))


class _LazyHuey:
    """Creates the real Huey on first use, so importing this module reads no settings."""

    _lock = threading.Lock()
    _huey: Huey | None = None

    def get(self) -> Huey:
        with self._lock:
            if self._huey is None:
                self._huey = _make_huey()
            return self._huey

    def use_immediate(self) -> None:
        with self._lock:
            self._huey = MemoryHuey("vigparent-tests", immediate=True)


_lazy = _LazyHuey()
_app_for_jobs: Flask | None = None


def init_app(app: Flask) -> None:
    global _app_for_jobs
    if app.extensions["vig_settings"].jobs_immediate:
        _lazy.use_immediate()
    else:
        # Open the queue (creating its database) now, not inside the first request that
        # queues a job: under the gevent server that would hold up every request for a while.
        _lazy.get()
    _app_for_jobs = app


def job_app() -> Flask:
    """The app a job runs in: the current one, the registered one, or a new one."""
    global _app_for_jobs
    if has_app_context():
        return current_app._get_current_object()  # type: ignore[attr-defined]
    if _app_for_jobs is None:
        from vigparent import create_app

        _app_for_jobs = create_app()
    return _app_for_jobs


def task(**kwargs: Any) -> Callable[[Callable[..., Any]], Any]:
    """Register a Huey task that runs inside an app context."""

    def decorate(fn: Callable[..., Any]) -> Any:
        def run_in_app(*a: Any, **kw: Any) -> Any:
            app = job_app()
            if has_app_context():
                return fn(*a, **kw)
            with app.app_context():
                return fn(*a, **kw)

        run_in_app.__name__ = fn.__name__
        run_in_app.__qualname__ = fn.__qualname__
        run_in_app.__module__ = fn.__module__
        return _DeferredTask(run_in_app, kwargs)

    return decorate


_TASKS: list[_DeferredTask] = []


class _DeferredTask:
    """Binds to Huey on first use, after the app chose immediate or queued mode."""

    def __init__(self, fn: Callable[..., Any], options: dict[str, Any]) -> None:
        self.fn = fn
        self.options = options
        self._bound: dict[int, Any] = {}
        _TASKS.append(self)

    def _task(self) -> Any:
        h = _lazy.get()
        if id(h) not in self._bound:
            options = dict(self.options)
            periodic = options.pop("periodic", None)
            if periodic is not None:
                self._bound[id(h)] = h.periodic_task(periodic, **options)(self.fn)
            else:
                self._bound[id(h)] = h.task(**options)(self.fn)
        return self._bound[id(h)]

    def __call__(self, *a: Any, **kw: Any) -> Any:
        # Queuing commits (and fsyncs) the queue's database: under the gevent server, let
        # the other requests run meanwhile.
        return serving.offload(functools.partial(self._task(), *a, **kw))

    def call_local(self, *a: Any, **kw: Any) -> Any:
        return self.fn(*a, **kw)


def huey_instance() -> Huey:
    """The Huey with every task registered, for the consumer process."""
    import vigparent.tasks  # noqa: F401 - importing registers every feature's tasks

    for t in _TASKS:
        t._task()
    return _lazy.get()
