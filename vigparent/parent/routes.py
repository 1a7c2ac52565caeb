"""The parent's side, on their phone."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, abort, render_template
from flask_login import current_user

from vigparent import access
from vigparent.families import service
from vigparent.live import service as live
from vigparent.models import GoalStatus, Role
from vigparent.security import require_role

bp = Blueprint("parent", __name__, url_prefix="/home")
bp.before_request(require_role(Role.PARENT))


@bp.get("/")
def home() -> Any:
    if current_user.family_id is None:
        abort(404)
    family = access.load_family(current_user, current_user.family_id)
    goal = service.current_goal(family)
    return render_template(
        "parent/home.html",
        family=family,
        step=service.next_step(family),
        goal=goal,
        goal_agreed=goal is not None and goal.status is GoalStatus.AGREED,
        cycle=service.current_cycle(family),
        place_names=service.PLACE_NAMES,
        practitioner=family.practitioner,
        live_review=live.open_review(family),
    )
