"""Where texts and emails go: GOV.UK Notify, or (development) only a log line.

Both answer the same two questions: send this (returns the provider's id) and what happened
to it. A refusal that sending again cannot fix raises `SendRefused`; one that a later try may
fix (rate limit, Notify down) raises `SendUnavailable`. Each carries plain words for the
practitioner, never Notify's raw answer (which may echo what was sent).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Protocol

from notifications_python_client.errors import APIError
from notifications_python_client.notifications import NotificationsAPIClient

from vigparent.config import Settings
from vigparent.models import MessageChannel, MessageStatus

log = logging.getLogger(__name__)


class SendRefused(Exception):
    """The provider will never send this one; `plain` says why, for the practitioner."""

    def __init__(self, plain: str, code: str) -> None:
        super().__init__(code)
        self.plain = plain
        self.code = code


class SendUnavailable(Exception):
    """The provider could not take it now; trying again later may work. `gave_up` is what the
    practitioner reads when the last try failed too."""

    def __init__(self, plain: str, code: str, gave_up: str = "") -> None:
        super().__init__(code)
        self.plain = plain
        self.code = code
        self.gave_up = gave_up or GAVE_UP


@dataclass(frozen=True)
class Outgoing:
    """One text or email, ready to hand over: a template id and its few fields."""

    channel: MessageChannel
    address: str = field(repr=False)
    template_id: str
    personalisation: dict[str, str] = field(repr=False)
    reference: str
    kind: str


class Notifier(Protocol):
    name: str

    def send(self, outgoing: Outgoing) -> str: ...

    def delivery(self, provider_id: str) -> tuple[MessageStatus, str]: ...


class LogNotifier:
    """Development: writes which kind of message it would send. Never the address, link or
    anything else that was to be sent."""

    name = "log"

    def send(self, outgoing: Outgoing) -> str:
        log.info(
            "message %s not sent (log-only backend): %s by %s",
            outgoing.reference,
            outgoing.kind,
            outgoing.channel.value,
        )
        return ""

    def delivery(self, provider_id: str) -> tuple[MessageStatus, str]:
        return MessageStatus.LOGGED, ""


RATE_LIMITED = (
    "GOV.UK Notify is busy: too many messages were sent at once. "
    "We will try again in a few minutes."
)
UNREACHABLE = "We could not reach GOV.UK Notify. We will try again in a few minutes."
GAVE_UP = (
    "GOV.UK Notify could not take this message, though we tried five times. "
    "Try again later, or reach the family another way."
)
BAD_PHONE = (
    "GOV.UK Notify says this phone number is not right. Check it is a mobile number, "
    "then make a new link and send it again."
)
BAD_EMAIL = (
    "GOV.UK Notify says this email address is not right. Check it, "
    "then make a new link and send it again."
)
TRIAL_MODE = (
    "Your organisation's GOV.UK Notify service is in trial mode, so it can only send to "
    "people in your own team. Ask your Notify administrator to make it live. "
    "Meanwhile, copy the link or show the QR code."
)
KEY_REFUSED = (
    "GOV.UK Notify did not accept this app's key. "
    "Ask your administrator to check the Notify settings."
)
NOT_SENT = "GOV.UK Notify could not send this message. Send the link another way."

# Notify's delivery statuses (https://docs.notifications.service.gov.uk/python.html).
_DELIVERY: dict[str, tuple[MessageStatus, str]] = {
    "created": (MessageStatus.SENT, ""),
    "sending": (MessageStatus.SENT, ""),
    "pending": (MessageStatus.SENT, ""),
    "sent": (MessageStatus.SENT, ""),
    "delivered": (MessageStatus.DELIVERED, ""),
    "permanent-failure": (
        MessageStatus.FAILED,
        "Not delivered: the phone number or email address does not exist or is not in use.",
    ),
    "temporary-failure": (
        MessageStatus.FAILED,
        "Not delivered: the phone was off or the inbox was full for too long. "
        "Try again later, or send the link another way.",
    ),
    "technical-failure": (
        MessageStatus.FAILED,
        "Not delivered: GOV.UK Notify had a technical problem. Make a new link and send it again.",
    ),
}


class NotifyNotifier:
    """GOV.UK Notify through its official client."""

    name = "notify"

    def __init__(self, api_key: str, base_url: str, timeout: float = 10) -> None:
        self._client = NotificationsAPIClient(api_key, base_url=base_url, timeout=timeout)

    def send(self, outgoing: Outgoing) -> str:
        try:
            if outgoing.channel is MessageChannel.SMS:
                answer = self._client.send_sms_notification(
                    phone_number=outgoing.address,
                    template_id=outgoing.template_id,
                    personalisation=outgoing.personalisation,
                    reference=outgoing.reference,
                )
            else:
                answer = self._client.send_email_notification(
                    email_address=outgoing.address,
                    template_id=outgoing.template_id,
                    personalisation=outgoing.personalisation,
                    reference=outgoing.reference,
                )
        except APIError as e:
            raise _problem(e) from None
        return str(answer.get("id", ""))

    def delivery(self, provider_id: str) -> tuple[MessageStatus, str]:
        try:
            answer = self._client.get_notification_by_id(provider_id)
        except APIError as e:
            raise _problem(e) from None
        status = str(answer.get("status", ""))
        return _DELIVERY.get(status, (MessageStatus.SENT, ""))


def _errors(e: APIError) -> list[tuple[str, str]]:
    found = e.message
    if isinstance(found, list):
        return [(str(x.get("error", "")), str(x.get("message", ""))) for x in found]
    return [("", str(found))]


def _problem(e: APIError) -> SendRefused | SendUnavailable:
    """Notify's answer, as plain words; classified by its documented error shapes."""
    status = e.status_code
    errors = _errors(e)
    names = {name for name, _ in errors}
    text = " ".join(message for _, message in errors).lower()
    if status == 429 or names & {"RateLimitError", "TooManyRequestsError"}:
        return SendUnavailable(RATE_LIMITED, "rate_limited")
    if status >= 500:
        return SendUnavailable(UNREACHABLE, f"unavailable_{status}")
    if status == 403 or "AuthError" in names:
        return SendRefused(KEY_REFUSED, "key_refused")
    if "trial mode" in text or "team-only api key" in text or "guest list" in text:
        return SendRefused(TRIAL_MODE, "trial_mode")
    if "phone_number" in text:
        return SendRefused(BAD_PHONE, "bad_phone_number")
    if "email_address" in text:
        return SendRefused(BAD_EMAIL, "bad_email_address")
    return SendRefused(NOT_SENT, f"refused_{status}")


def notifier_for(settings: Settings) -> Notifier:
    if settings.notifications_backend == "notify":
        return NotifyNotifier(settings.notify_api_key, settings.notify_base_url)
    return LogNotifier()
