"""Goals and helping questions, agreed between parent and practitioner.

Both sides use the same pages. Every goal and family is loaded through the access check, so
a parent can only ever reach their own family's goal (anything else is "not found").
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from flask import Blueprint, abort, flash, redirect, render_template, url_for
from flask_babel import gettext
from flask_login import current_user

from vigparent import access, db
from vigparent.goals import service
from vigparent.goals.forms import AgreeForm, GoalForm
from vigparent.models import Family, FamilyStatus, Goal, GoalStatus, User

bp = Blueprint("goals", __name__, url_prefix="/goals")


def _page_url(family: Family) -> str:
    if current_user.is_parent:
        return url_for("goals.mine")
    return url_for("goals.family", family_id=family.id)


def _author_name(author_id: int, family: Family) -> str:
    if author_id == current_user.id:
        return gettext("You")
    if author_id == family.practitioner_id:
        return (
            gettext("Your practitioner")
            if current_user.is_parent
            else (family.practitioner.display_name or "The practitioner")
        )
    user = db.session().get(User, author_id)
    if user is None:
        return gettext("Someone")
    if user.is_parent:
        return user.display_name or gettext("A carer")
    return user.display_name or "A practitioner"


def _render(
    family: Family, form: GoalForm | None = None, error: str = "", status: int = 200
) -> Any:
    goal = service.current_goal(family)
    revision = service.latest_revision(goal) if goal is not None else None
    if form is None:
        form = GoalForm(
            data=(
                {
                    "text": goal.text,
                    "helping_question": goal.helping_question,
                    "revision_id": revision.id if revision else None,
                }
                if goal is not None
                else {}
            )
        )
    return render_template(
        "goals/goal.html",
        family=family,
        goal=goal,
        revision=revision,
        history=service.history(goal) if goal is not None else [],
        agreed_by_me=goal is not None and service.agreed_by(goal, current_user),
        form=form,
        agree_form=AgreeForm(data={"revision_id": revision.id if revision else None}),
        author_name=lambda author_id: _author_name(author_id, family),
        open=family.status in (FamilyStatus.INVITED, FamilyStatus.ACTIVE),
        error=error,
        field_errors=_field_errors(form, error),
    ), status


def _field_errors(form: GoalForm | None, error: str) -> dict[str, str]:
    """Which box the problem is about, for the error summary and the message beside it."""
    if not error or form is None:
        return {}
    return {"helping_question" if "helping question" in error else "text": error}


@bp.get("/")
def mine() -> Any:
    """The parent's own family's goal."""
    if not current_user.is_parent or current_user.family_id is None:
        abort(404)
    return _render(access.load_family(current_user, current_user.family_id))


@bp.get("/family/<int:family_id>")
def family(family_id: int) -> Any:
    return _render(access.load_family(current_user, family_id))


@bp.post("/family/<int:family_id>/propose")
def propose(family_id: int) -> Any:
    family = access.load_family(current_user, family_id)
    form = GoalForm()
    if not form.validate_on_submit():
        return _render(family, form, "Please write the goal in a few words.", 400)
    return _save_wording(
        family,
        form,
        lambda: service.propose_goal(
            family, current_user, form.text.data or "", form.helping_question.data or ""
        ),
    )


@bp.post("/<int:goal_id>/edit")
def edit(goal_id: int) -> Any:
    goal = access.load_owned(current_user, Goal, goal_id)
    family = access.load_family(current_user, goal.family_id)
    form = GoalForm()
    if not form.validate_on_submit() or form.revision_id.data is None:
        return _render(family, form, "Please write the goal in a few words.", 400)
    revision_id = form.revision_id.data
    return _save_wording(
        family,
        form,
        lambda: service.edit_goal(
            goal,
            current_user,
            form.text.data or "",
            form.helping_question.data or "",
            revision_id,
        ),
    )


@bp.post("/<int:goal_id>/agree")
def agree(goal_id: int) -> Any:
    goal = access.load_owned(current_user, Goal, goal_id)
    family = access.load_family(current_user, goal.family_id)
    form = AgreeForm()
    if not form.validate_on_submit() or form.revision_id.data is None:
        return _render(family, None, "Something went wrong. Please try again.", 400)
    try:
        service.agree_goal(goal, current_user, form.revision_id.data)
    except service.GoalChanged as e:
        return _render(family, None, str(e), 409)
    except service.GoalNotOpen as e:
        return _render(family, None, str(e), 400)
    if goal.status is GoalStatus.AGREED:
        flash(gettext("You both agree. This is your goal now."), "success")
    else:
        if current_user.is_parent:
            flash(gettext("Thank you. Now we wait for your practitioner to agree."), "success")
        else:
            flash("Thank you. Now we wait for the family to agree.", "success")
    if current_user.is_parent:
        return redirect(url_for("parent.home"))
    return redirect(_page_url(family))


def _save_wording(family: Family, form: GoalForm, change: Callable[[], object]) -> Any:
    """Apply a proposal or an edit; the other side is then asked to agree the new words."""
    try:
        change()
    except service.GoalChanged as e:
        return _render(family, None, str(e), 409)
    except (service.InvalidGoal, service.GoalNotOpen) as e:
        return _render(family, form, str(e), 400)
    if current_user.is_parent:
        flash(gettext("Saved. Your practitioner will be asked to agree these words."), "success")
    else:
        flash("Saved. The family will be asked to agree these words.", "success")
    return redirect(_page_url(family))
