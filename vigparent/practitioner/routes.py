"""The practitioner's side: caseload and family pages."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, render_template
from flask_login import current_user

from vigparent import access, db
from vigparent.models import Family, Role
from vigparent.security import require_role

bp = Blueprint("practitioner", __name__, url_prefix="/practice")
bp.before_request(require_role(Role.PRACTITIONER, Role.ADMIN))


@bp.get("/")
def caseload() -> Any:
    families = db.session().scalars(
        access.visible_families(current_user).order_by(Family.created_at.desc())
    )
    return render_template("practitioner/caseload.html", families=list(families))
