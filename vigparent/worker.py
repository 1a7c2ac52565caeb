"""Entry point for the job consumer: `huey_consumer vigparent.worker.huey`."""

from vigparent.jobs import huey_instance

huey = huey_instance()
