"""The one way the app sends email: SMTP by default, or a log line in development.

Callers build a `Mail` and call `send`. The backend comes from the settings
(`VIGPARENT_MAIL_BACKEND`): `smtp` hands the message to the configured server with the
standard library's smtplib; `log` (development only) logs that a mail of a kind was sent, and
nothing else: never the address, the subject or the body, which carry links that sign in.
"""

from __future__ import annotations

import logging
import smtplib
import ssl
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import make_msgid

from flask import current_app

from vigparent.config import Settings

log = logging.getLogger("vigparent.mail")

SMTP_TIMEOUT_S = 15


class MailNotSent(Exception):
    """The mail server could not be reached or refused the message."""


@dataclass(frozen=True)
class Mail:
    to: str
    subject: str
    body: str
    # What the mail is for ("staff_invitation", "password_reset"): the only thing logged.
    kind: str


def _message(mail: Mail, settings: Settings) -> EmailMessage:
    msg = EmailMessage()
    msg["From"] = settings.mail_from
    msg["To"] = mail.to
    # One line: names in a subject (an organisation's, say) can never add a header.
    msg["Subject"] = " ".join(mail.subject.split())
    msg["Message-ID"] = make_msgid(domain=settings.mail_from.rpartition("@")[2] or None)
    msg["Auto-Submitted"] = "auto-generated"
    msg.set_content(mail.body)
    return msg


def _send_smtp(msg: EmailMessage, settings: Settings) -> None:
    context = ssl.create_default_context()
    smtp: smtplib.SMTP
    if settings.smtp_tls == "ssl":
        smtp = smtplib.SMTP_SSL(
            settings.smtp_host, settings.smtp_port, timeout=SMTP_TIMEOUT_S, context=context
        )
    else:
        smtp = smtplib.SMTP(settings.smtp_host, settings.smtp_port, timeout=SMTP_TIMEOUT_S)
    with smtp:
        if settings.smtp_tls == "starttls":
            smtp.starttls(context=context)
        if settings.smtp_username:
            smtp.login(settings.smtp_username, settings.smtp_password)
        smtp.send_message(msg)


def send(mail: Mail) -> None:
    """Send `mail` now, or raise MailNotSent. Logs the kind only, never the content."""
    settings: Settings = current_app.extensions["vig_settings"]
    if settings.mail_backend == "log":
        log.info("mail sent (log backend): %s", mail.kind)
        return
    try:
        _send_smtp(_message(mail, settings), settings)
    except (OSError, smtplib.SMTPException) as e:
        log.warning("mail not sent: %s (%s)", mail.kind, type(e).__name__)
        raise MailNotSent(mail.kind) from e
    log.info("mail sent: %s", mail.kind)
