"""Opening an invitation link: welcome, consent, and signing in on this phone."""

from __future__ import annotations

from flask import Blueprint

bp = Blueprint("invitations", __name__)
