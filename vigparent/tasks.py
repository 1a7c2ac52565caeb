"""Imports every module that defines background jobs, so the consumer knows them all."""

from vigparent import retention  # noqa: F401
from vigparent.clips import service as clip_jobs  # noqa: F401
from vigparent.notifications import service as notification_jobs  # noqa: F401
from vigparent.recordings import jobs as recording_jobs  # noqa: F401
from vigparent.withdrawal import service as withdrawal_service  # noqa: F401
