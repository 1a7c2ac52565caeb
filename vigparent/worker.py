"""Entry point for the job consumer: `huey_consumer vigparent.worker.huey` (`make worker`).

The consumer's queue is the one the app builds from the environment's settings, with every
job of `vigparent.tasks.ALL` registered.
"""

from vigparent import create_app, jobs

app = create_app()
huey = jobs.queue_of(app).huey
