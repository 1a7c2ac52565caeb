"""The one mail interface: SMTP to a real server by default; the log backend logs the kind."""

from __future__ import annotations

import logging

import pytest
from flask import Flask

from tests.mailbox import Mailbox, body_of
from tests.support.servers import free_port
from vigparent import mail
from vigparent.config import ConfigError, init_secrets, load_settings


def test_smtp_backend_delivers_to_a_real_server(app_ctx: Flask, mailbox: Mailbox):
    mail.send(mail.Mail(to="jo@example.org", subject="Hello", body="Line one\n", kind="test"))
    [message] = mailbox.wait_for("jo@example.org")
    assert message["Subject"] == "Hello"
    assert message["From"] == "vigparent@localhost"
    assert message["Auto-Submitted"] == "auto-generated"
    assert body_of(message) == "Line one\n"


def test_a_subject_is_always_one_line(app_ctx: Flask, mailbox: Mailbox):
    mail.send(
        mail.Mail(to="jo@example.org", subject="Team\r\nBcc: x@evil.example", body="b", kind="t")
    )
    [message] = mailbox.wait_for("jo@example.org")
    assert message["Subject"] == "Team Bcc: x@evil.example" and message["Bcc"] is None


def test_an_unreachable_server_is_a_clear_error_that_logs_no_content(
    app: Flask, caplog: pytest.LogCaptureFixture
):
    settings = app.extensions["vig_settings"]
    port = free_port()  # nobody listens there
    app.extensions["vig_settings"] = settings.with_overrides(
        mail_backend="smtp", smtp_host="127.0.0.1", smtp_port=port
    )
    try:
        with (
            app.app_context(),
            caplog.at_level(logging.INFO, "vigparent.mail"),
            pytest.raises(mail.MailNotSent),
        ):
            mail.send(mail.Mail(to="jo@example.org", subject="S", body="secret-link", kind="k"))
    finally:
        app.extensions["vig_settings"] = settings
    assert "secret-link" not in caplog.text and "jo@example.org" not in caplog.text
    assert "k" in caplog.text


def test_log_backend_logs_only_the_kind(app_ctx: Flask, caplog: pytest.LogCaptureFixture):
    with caplog.at_level(logging.INFO, "vigparent.mail"):
        mail.send(
            mail.Mail(
                to="jo@example.org",
                subject="Reset your password",
                body="https://vig.example.org/password/reset/SECRET",
                kind="password_reset",
            )
        )
    assert "password_reset" in caplog.text
    for private in ("SECRET", "jo@example.org", "Reset your password", "/password/reset/"):
        assert private not in caplog.text


def test_mail_settings_come_from_the_environment(tmp_path):
    env = {
        "VIGPARENT_DATA_DIR": str(tmp_path),
        "VIGPARENT_SMTP_HOST": "mail.example.org",
        "VIGPARENT_SMTP_PORT": "587",
        "VIGPARENT_SMTP_TLS": "starttls",
        "VIGPARENT_MAIL_FROM": "vig@example.org",
    }
    init_secrets(env)
    s = load_settings(env)
    assert (s.mail_backend, s.smtp_host, s.smtp_port, s.smtp_tls, s.mail_from) == (
        "smtp",
        "mail.example.org",
        587,
        "starttls",
        "vig@example.org",
    )
    assert load_settings({**env, "VIGPARENT_MAIL_BACKEND": "log"}).mail_backend == "log"
    with pytest.raises(ConfigError, match="VIGPARENT_MAIL_BACKEND"):
        load_settings({**env, "VIGPARENT_MAIL_BACKEND": "pigeon"})
    with pytest.raises(ConfigError, match="VIGPARENT_SMTP_TLS"):
        load_settings({**env, "VIGPARENT_SMTP_TLS": "maybe"})
