"""The admin's handover screen: `handover.confirm` (family_id), linked from the family page."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_login import current_user

from vigparent import access, safe_input
from vigparent.handover import service
from vigparent.models import Role
from vigparent.security import require_role

bp = Blueprint("handover", __name__, url_prefix="/practice/families")
bp.before_request(require_role(Role.ADMIN))


@bp.route("/<int:family_id>/handover", methods=["GET", "POST"])
def confirm(family_id: int) -> Any:
    family = access.load_family(current_user, family_id)
    colleagues = service.colleagues_for(family)
    chosen = safe_input.parse_id(request.form.get("practitioner"))
    error = ""
    if request.method == "POST":
        old_name = family.practitioner.display_name or "The previous practitioner"
        try:
            new = service.hand_over(family, chosen, current_user)
        except service.HandoverProblem as e:
            error = e.message
        else:
            flash(
                f"{family.label} is now with {new.display_name}. "
                f"{old_name} can no longer see them.",
                "success",
            )
            return redirect(url_for("practitioner.family", family_id=family.id), code=303)
    return render_template(
        "handover/confirm.html",
        family=family,
        colleagues=colleagues,
        chosen=chosen,
        field_errors={"practitioner": error} if error else {},
    ), (400 if error else 200)
