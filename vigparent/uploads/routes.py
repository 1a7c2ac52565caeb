"""The tus 1.0.0 upload endpoint for recordings."""

from __future__ import annotations

from flask import Blueprint

bp = Blueprint("uploads", __name__, url_prefix="/api/uploads")
