"""Every background job, listed once: each app's queue registers exactly these."""

from __future__ import annotations

from vigparent import retention
from vigparent.clips import service as clips
from vigparent.jobs import Job
from vigparent.notifications import delivery
from vigparent.recordings import jobs as recordings
from vigparent.staff import service as staff
from vigparent.withdrawal import service as withdrawal

ALL: tuple[Job, ...] = (
    recordings.process_recording,
    recordings.requeue_stalled_recordings,
    clips.cut_clip_task,
    withdrawal.resume_deletions_job,
    retention.daily_sweep,
    staff.send_password_reset,
    delivery.deliver_message_job,
    delivery.release_due_messages_job,
    delivery.refresh_delivery_job,
)
