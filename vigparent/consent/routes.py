"""Consent: what a family agreed to, and withdrawing it."""

from __future__ import annotations

from flask import Blueprint

bp = Blueprint("consent", __name__, url_prefix="/consent")
