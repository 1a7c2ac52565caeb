"""Streaming recordings and clips, behind the access check, with HTTP Range."""

from __future__ import annotations

from flask import Blueprint

bp = Blueprint("media", __name__, url_prefix="/media")
