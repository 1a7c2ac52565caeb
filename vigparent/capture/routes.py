"""Filming on the phone: the recorder and the list of recordings waiting to send."""

from __future__ import annotations

from flask import Blueprint

bp = Blueprint("capture", __name__, url_prefix="/film")
