"""Keep invitation tokens and other secrets out of every log line."""

from __future__ import annotations

import logging
import re

from flask import Flask

# Invitation and password-reset links carry their secret in the path; nothing else in a URL
# is secret.
_SECRET_PATHS = re.compile(r"(/join/|/password/reset/)[^\s?\"']+")


def redact(text: str) -> str:
    return _SECRET_PATHS.sub(r"\1[redacted]", text)


class RedactSecrets(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        if record.args:
            record.msg = record.getMessage()
            record.args = None
        record.msg = redact(str(record.msg))
        return True


def init_app(app: Flask) -> None:
    for name in ("werkzeug", "waitress", "gunicorn.access", app.logger.name):
        logger = logging.getLogger(name)
        if not any(isinstance(f, RedactSecrets) for f in logger.filters):
            logger.addFilter(RedactSecrets())
