"""The parent's side, on their phone."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, render_template
from flask_login import current_user

from vigparent.models import Role
from vigparent.security import require_role

bp = Blueprint("parent", __name__, url_prefix="/home")
bp.before_request(require_role(Role.PARENT))


@bp.get("/")
def home() -> Any:
    return render_template("parent/home.html", family=current_user.family)
