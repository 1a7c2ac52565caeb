"""Input the database cannot hold is refused at the door, never passed on to fail as a 500.

Row ids are 64-bit integers in the database: a longer digit run in a URL is simply a page
that does not exist (404), and in a form or metadata field it is malformed (400). PostgreSQL
cannot store a NUL character in text, so a field holding one is refused with plain words.
"""

from __future__ import annotations

import re
from typing import Any

from flask import Flask, request
from werkzeug.routing import IntegerConverter

from vigparent.errors import PlainError

# 18 ASCII digits always fit a signed 64-bit column; Python's int() would also accept "²"-free
# but non-ASCII digits such as "٣", which str.isdigit() lets through.
MAX_ID_DIGITS = 18
_ID_RE = re.compile(rf"[0-9]{{1,{MAX_ID_DIGITS}}}")
_FORM_TYPES = {"application/x-www-form-urlencoded", "multipart/form-data"}
NUL_MESSAGE = (
    "Some of what you typed has a hidden character we can't save. "
    "Please type it again, without copying and pasting, and send it."
)


class BoundedIdConverter(IntegerConverter):
    """`<int:…>` for row ids: 1 to 18 ASCII digits, so anything longer is a 404, not a crash."""

    regex = rf"[0-9]{{1,{MAX_ID_DIGITS}}}"


def parse_id(text: str | None) -> int | None:
    """A row id from a form or metadata field: 1–18 ASCII digits, else None."""
    if text is None:
        return None
    text = text.strip()
    return int(text) if _ID_RE.fullmatch(text) else None


def _has_nul(values: Any) -> bool:
    return any("\x00" in key or any("\x00" in v for v in values.getlist(key)) for key in values)


def refuse_nul_characters() -> None:
    """Refuse a request whose query, form fields or User-Agent hold a NUL character."""
    form_sent = request.mimetype in _FORM_TYPES
    if (
        _has_nul(request.args)
        or "\x00" in request.headers.get("User-Agent", "")
        or (form_sent and _has_nul(request.form))
    ):
        raise PlainError(400, NUL_MESSAGE)


def init_app(app: Flask) -> None:
    # Before any blueprint registers a route, so every `<int:…>` segment is bounded.
    app.url_map.converters["int"] = BoundedIdConverter
    app.before_request(refuse_nul_characters)
