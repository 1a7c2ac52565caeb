"""Input the database cannot hold is refused at the door, never passed on to fail as a 500.

Row ids are INTEGER columns: 32-bit on PostgreSQL, 64-bit on SQLite. A larger number in a
URL is simply a page that does not exist (404), and in a form or metadata field it is
malformed (400), never a database overflow. PostgreSQL
cannot store a NUL character in text, so a field holding one is refused with plain words.
"""

from __future__ import annotations

import re
from typing import Any

from flask import Flask, request
from werkzeug.routing import IntegerConverter

from vigparent.errors import PlainError

# At most 18 ASCII digits, so even a hostile id is cheap to parse; Python's int() would also
# accept non-ASCII digits such as "٣", and str.isdigit() lets "²" through to int().
MAX_ID_DIGITS = 18
# The largest id an INTEGER primary key holds on every database we run on (PostgreSQL int4).
MAX_ROW_ID = 2**31 - 1
_ID_RE = re.compile(rf"[0-9]{{1,{MAX_ID_DIGITS}}}")
_FORM_TYPES = {"application/x-www-form-urlencoded", "multipart/form-data"}
NUL_MESSAGE = (
    "Some of what you typed has a hidden character we can't save. "
    "Please type it again, without copying and pasting, and send it."
)


class BoundedIdConverter(IntegerConverter):
    """`<int:…>` for row ids: ASCII digits up to MAX_ROW_ID, so anything larger is a 404."""

    regex = rf"[0-9]{{1,{MAX_ID_DIGITS}}}"

    def __init__(self, map: Any, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("max", MAX_ROW_ID)
        super().__init__(map, *args, **kwargs)


def parse_id(text: str | None) -> int | None:
    """A row id from a form or metadata field: ASCII digits up to MAX_ROW_ID, else None."""
    if text is None:
        return None
    text = text.strip()
    if not _ID_RE.fullmatch(text) or int(text) > MAX_ROW_ID:
        return None
    return int(text)


def _has_nul(values: Any) -> bool:
    return any("\x00" in key or any("\x00" in v for v in values.getlist(key)) for key in values)


def _json_has_nul(value: Any) -> bool:
    if isinstance(value, str):
        return "\x00" in value
    if isinstance(value, dict):
        return any(_json_has_nul(k) or _json_has_nul(v) for k, v in value.items())
    if isinstance(value, list):
        return any(_json_has_nul(v) for v in value)
    return False


def refuse_nul_characters() -> None:
    """Refuse a request whose query, form fields, JSON or User-Agent hold a NUL character."""
    form_sent = request.mimetype in _FORM_TYPES
    if (
        _has_nul(request.args)
        or "\x00" in request.headers.get("User-Agent", "")
        or (form_sent and _has_nul(request.form))
        or (request.is_json and _json_has_nul(request.get_json(silent=True)))
    ):
        raise PlainError(400, NUL_MESSAGE)


def init_app(app: Flask) -> None:
    # Before any blueprint registers a route, so every `<int:…>` segment is bounded.
    app.url_map.converters["int"] = BoundedIdConverter
    app.before_request(refuse_nul_characters)
