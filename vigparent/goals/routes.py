"""Goals and helping questions, agreed between parent and practitioner."""

from __future__ import annotations

from flask import Blueprint

bp = Blueprint("goals", __name__, url_prefix="/goals")
