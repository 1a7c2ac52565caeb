"""The practitioner's clip editor."""

from __future__ import annotations

from flask import Blueprint

bp = Blueprint("clips", __name__, url_prefix="/practice/clips")
