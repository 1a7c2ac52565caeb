"""What a message may say. The words of texts and emails live in GOV.UK Notify's templates,
referenced by id; here are the template names, the only personalisation fields each wording
may fill in, and the words of push notifications (which we send ourselves).

A message can be read by anyone who picks up the phone, so the default ("private") wording
names neither VIG, nor the child, nor the service. An organisation may choose "full" wording,
which may name the organisation and the practitioner. Neither ever carries the child's name,
the family's label, media or anybody's free text.
"""

from __future__ import annotations

from flask_babel import gettext

from vigparent.i18n import N_
from vigparent.models import MessageChannel, MessageKind

PRIVATE = "private"
FULL = "full"
WORDINGS = (PRIVATE, FULL)

# The personalisation fields a template of each wording may receive: nothing else is sent.
ALLOWED_FIELDS: dict[str, frozenset[str]] = {
    PRIVATE: frozenset({"link"}),
    FULL: frozenset({"link", "organisation", "practitioner"}),
}

# Suggested template texts for GOV.UK Notify (docs/notifications.md lists the same).
SUGGESTED_TEMPLATES: dict[str, str] = {
    "invitation_sms": "You have a new message from your health visitor: ((link))",
    "invitation_email": "You have a new message from your health visitor: ((link))",
    "filming_reminder_sms": "You have a new message from your health visitor: ((link))",
    "filming_reminder_email": "You have a new message from your health visitor: ((link))",
    "clips_shared_sms": "You have a new message from your health visitor: ((link))",
    "clips_shared_email": "You have a new message from your health visitor: ((link))",
    "video_arrived_email": "A family sent you a new video. Sign in to see it: ((link))",
    "invitation_sms_full": "((practitioner)) from ((organisation)) invites you to Video "
    "Interaction Guidance. Tap to join: ((link))",
    "invitation_email_full": "((practitioner)) from ((organisation)) invites you to Video "
    "Interaction Guidance. Tap to join: ((link))",
    "filming_reminder_sms_full": "Today is your filming day for Video Interaction Guidance "
    "with ((organisation)): ((link))",
    "filming_reminder_email_full": "Today is your filming day for Video Interaction Guidance "
    "with ((organisation)): ((link))",
    "clips_shared_sms_full": "((practitioner)) has shared your clips: ((link))",
    "clips_shared_email_full": "((practitioner)) has shared your clips: ((link))",
}

# Push words are translated into the family's language (delivery forces its locale).
_PUSH_PRIVATE = (N_("New message"), N_("You have a new message from your health visitor."))
_PUSH_FULL: dict[MessageKind, tuple[str, str]] = {
    MessageKind.FILMING_REMINDER: (
        N_("Filming day"),
        N_("Today is your filming day for Video Interaction Guidance with {organisation}."),
    ),
    MessageKind.CLIPS_SHARED: (
        N_("Your clips are ready"),
        N_("{practitioner} has shared your clips."),
    ),
}


def template_name(kind: MessageKind, channel: MessageChannel, wording: str) -> str:
    """The settings name of a Notify template (NOTIFY_TEMPLATE_<NAME>, lower case here)."""
    base = f"{kind.value}_{channel.value}"
    return f"{base}_full" if wording == FULL else base


def personalisation(wording: str, fields: dict[str, str]) -> dict[str, str]:
    """Only the fields this wording allows: a template never receives anything else."""
    allowed = ALLOWED_FIELDS[wording if wording in ALLOWED_FIELDS else PRIVATE]
    return {name: value for name, value in fields.items() if name in allowed}


def push_text(kind: MessageKind, wording: str, fields: dict[str, str]) -> tuple[str, str]:
    """The title and body of a push notification."""
    if wording == FULL and kind in _PUSH_FULL:
        title, body = _PUSH_FULL[kind]
        return gettext(title), gettext(body).format(**personalisation(FULL, fields))
    return gettext(_PUSH_PRIVATE[0]), gettext(_PUSH_PRIVATE[1])
