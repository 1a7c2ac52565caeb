"""Shared review: clips, notes, reflections and progress."""

from __future__ import annotations

from flask import Blueprint

bp = Blueprint("review", __name__, url_prefix="/review")
