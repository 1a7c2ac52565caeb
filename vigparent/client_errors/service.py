"""Errors reported by parents' phones: checked, stripped of anything personal, and listed.

A report is a small JSON object of known keys and short strings. Whatever the phone sends,
what is stored is scrubbed: links, query strings, email addresses, numbers and long tokens
become placeholders, so no invitation link, name lookup or id of a family lands here.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from flask import current_app
from sqlalchemy import delete, select

from vigparent import clock, db
from vigparent.models import ClientError, User

MAX_BODY_BYTES = 2048
# Reports are for fixing what is broken now: the nightly sweep deletes them after this long.
KEEP_DAYS = 90
RATE_LIMIT = "6 per minute;60 per day"
KINDS = {
    "script_error": "Script error",
    "unhandled_rejection": "Unhandled failure",
    "upload_failed": "Upload failed",
    "storage_failed": "Saving on the phone failed",
    "caught": "Handled error",
}
_LIMITS = {"kind": 32, "message": 300, "source": 200, "page": 120, "app_version": 40}
_OPTIONAL = {"source", "page", "app_version"}
_VERSION_RE = re.compile(r"[0-9A-Za-z.+_-]{0,40}")
_SCRUB = [
    (re.compile(r"https?://[^\s\"'<>]+"), lambda m: _strip_url(m.group(0))),
    (re.compile(r"/join/[^\s\"'/?#]+"), lambda _m: "/join/[link]"),
    (re.compile(r"[^\s@\"'<>]+@[^\s@\"'<>]+\.[A-Za-z]{2,}"), lambda _m: "[email]"),
    (re.compile(r"[A-Za-z0-9_\-]{24,}"), lambda _m: "[token]"),
    (re.compile(r"\d+"), lambda _m: "N"),
]


class BadReport(ValueError):
    """The report is not a small JSON object of the known keys and short strings."""


@dataclass(frozen=True)
class Report:
    kind: str
    message: str
    source: str
    page: str
    app_version: str


def _strip_url(url: str) -> str:
    # Keep the path only: a query or fragment may carry anything, the host is ours.
    path = re.sub(r"^https?://[^/]+", "", url).split("?", 1)[0].split("#", 1)[0]
    return path or "/"


def _printable(text: str) -> str:
    return " ".join("".join(ch if ch.isprintable() else " " for ch in text).split())


def scrub(text: str) -> str:
    """The text with links, emails, long tokens and numbers replaced by placeholders."""
    text = _printable(text)
    for pattern, replace in _SCRUB:
        text = pattern.sub(replace, text)
    return text


def script_location(text: str) -> str:
    """Where in our scripts: a path with line and column, nothing else (no host, no query)."""
    return re.sub(r"[^A-Za-z0-9/._:-]", "", _strip_url(_printable(text)) if text else "")


def parse_report(body: Any) -> Report:
    """Check a decoded JSON body against the schema; raise BadReport otherwise."""
    if not isinstance(body, Mapping) or not set(body) <= set(_LIMITS):
        raise BadReport("unknown keys")
    if not {"kind", "message"} <= set(body):
        raise BadReport("kind and message are required")
    values: dict[str, str] = {}
    for key, limit in _LIMITS.items():
        value = body.get(key, "")
        if not isinstance(value, str) or len(value) > limit:
            raise BadReport(f"{key} must be a string of at most {limit} characters")
        values[key] = value
    if values["kind"] not in KINDS:
        raise BadReport("unknown kind")
    if not _VERSION_RE.fullmatch(values["app_version"]):
        raise BadReport("app_version has odd characters")
    return Report(
        kind=values["kind"],
        message=scrub(values["message"])[: _LIMITS["message"]],
        source=script_location(values["source"])[: _LIMITS["source"]],
        page=scrub(values["page"])[: _LIMITS["page"]],
        app_version=values["app_version"],
    )


def record(report: Report, by: User, user_agent: str) -> ClientError:
    """Store one report under the reporter's organisation only (not their family or name)."""
    row = ClientError(
        organisation_id=by.organisation_id,
        kind=report.kind,
        message=report.message,
        source=report.source,
        page=report.page,
        browser=_printable(user_agent)[:200],
        app_version=report.app_version,
    )
    db.session().add(row)
    db.session().commit()
    return row


def recent(organisation_id: int, limit: int = 200) -> list[ClientError]:
    return list(
        db.session().scalars(
            select(ClientError)
            .where(ClientError.organisation_id == organisation_id)
            .order_by(ClientError.id.desc())
            .limit(limit)
        )
    )


def prune() -> int:
    """Delete reports older than KEEP_DAYS; returns how many."""
    cutoff = clock.now() - timedelta(days=KEEP_DAYS)
    result = db.session().execute(delete(ClientError).where(ClientError.at < cutoff))
    db.session().commit()
    return int(getattr(result, "rowcount", 0) or 0)


def app_version() -> str:
    """What the phone reports as its app version: the fingerprint of its shared script."""
    urls: list[str] = current_app.extensions["vig_assets"]["common_js"].urls()
    match = re.search(r"\.([0-9a-f]{6,})\.js", urls[0]) if urls else None
    return match.group(1) if match else "dev"
