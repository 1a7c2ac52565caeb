"""Background jobs on Huey: SQLite storage by default, Redis when scaled out.

Each app has its own queue, built from the settings it was given (`create_app(settings)`),
with every job of `vigparent.tasks.ALL` registered on it. Run the consumer with
`huey_consumer vigparent.worker.huey` (`make worker`). A job runs inside its app's context,
so it never borrows a request's session and never reads settings of its own.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterable
from typing import Any

from flask import Flask, current_app, has_app_context
from huey import MemoryHuey, RedisHuey, SqliteHuey
from huey.api import Huey, TaskWrapper

from vigparent import serving
from vigparent.config import Settings


class Job:
    """A background job: a function and its Huey options, queued on the current app's queue."""

    def __init__(self, fn: Callable[..., Any], options: dict[str, Any]) -> None:
        self.fn = fn
        self.options = options
        self.name = fn.__name__

    def __call__(self, *a: Any, **kw: Any) -> Any:
        task = queue_of(current_app).task(self)
        # Queuing commits (and fsyncs) the queue's database: under the gevent server, let
        # the other requests run meanwhile.
        return serving.offload(functools.partial(task, *a, **kw))

    def call_local(self, *a: Any, **kw: Any) -> Any:
        """Run now, in this thread and app context, without the queue."""
        return self.fn(*a, **kw)

    def __repr__(self) -> str:
        return f"<Job {self.fn.__module__}.{self.name}>"


def task(**options: Any) -> Callable[[Callable[..., Any]], Job]:
    """Declare a job; `periodic=crontab(...)` makes it a periodic one.

    Declaring does not register it anywhere: `vigparent.tasks.ALL` lists every job, and each
    app's queue registers that list.
    """

    def declare(fn: Callable[..., Any]) -> Job:
        return Job(fn, options)

    return declare


def make_huey(settings: Settings) -> Huey:
    """The Huey the settings name: inline in tests, Redis when set, else SQLite in the data dir."""
    if settings.jobs_immediate:
        return MemoryHuey("vigparent-tests", immediate=True)
    if settings.redis_url:
        return RedisHuey("vigparent", url=settings.redis_url)
    return SqliteHuey("vigparent", filename=str(settings.jobs_db))


class JobQueue:
    """One app's Huey with the given jobs registered; each runs inside that app's context."""

    def __init__(self, app: Flask, huey: Huey, jobs: Iterable[Job]) -> None:
        self.app = app
        self.huey = huey
        self._tasks: dict[Job, TaskWrapper] = {}
        for job in jobs:
            self._tasks[job] = self._register(job)

    def _register(self, job: Job) -> TaskWrapper:
        app, fn = self.app, job.fn

        def run_in_app(*a: Any, **kw: Any) -> Any:
            if has_app_context():  # inline (immediate) jobs run in the caller's context
                return fn(*a, **kw)
            with app.app_context():
                return fn(*a, **kw)

        functools.update_wrapper(run_in_app, fn)
        options = dict(job.options)
        periodic = options.pop("periodic", None)
        if periodic is not None:
            wrapper: TaskWrapper = self.huey.periodic_task(periodic, **options)(run_in_app)
        else:
            wrapper = self.huey.task(**options)(run_in_app)
        return wrapper

    def task(self, job: Job) -> TaskWrapper:
        try:
            return self._tasks[job]
        except KeyError:
            raise LookupError(f"{job!r} is not listed in vigparent.tasks.ALL") from None

    def jobs(self) -> list[Job]:
        return list(self._tasks)


def init_app(app: Flask, jobs: Iterable[Job], huey: Huey | None = None) -> JobQueue:
    """Give the app its queue (opened now, not inside the first request that queues a job:
    under the gevent server that would hold up every request for a while)."""
    queue = JobQueue(app, huey or make_huey(app.extensions["vig_settings"]), jobs)
    app.extensions["vig_jobs"] = queue
    return queue


def queue_of(app: Flask) -> JobQueue:
    q: JobQueue = app.extensions["vig_jobs"]
    return q


def current_huey() -> Huey:
    """The current app's Huey (to list or revoke queued jobs)."""
    return queue_of(current_app).huey


def job_app() -> Flask:
    """The app a job runs in: jobs always run inside their app's context."""
    return current_app._get_current_object()  # type: ignore[attr-defined]
