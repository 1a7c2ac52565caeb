"""Supervision pages: the supervisor's shares, the practitioner's sharing, the admin's list.

Entry points: `supervision.home` (a supervisor's home after sign-in), `supervision.family`
(from the practitioner's family page), `supervision.admin_supervisors` (admin caseload).
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_login import current_user

from vigparent import access, db, safe_input
from vigparent.families.service import say_date
from vigparent.models import Family, Principle, Role, User
from vigparent.security import require_role
from vigparent.supervision import service

bp = Blueprint("supervision", __name__)
bp.before_request(require_role(Role.PRACTITIONER, Role.ADMIN, Role.SUPERVISOR))


def _only(*roles: Role) -> User:
    if current_user.role not in roles:
        abort(404)
    user: User = current_user
    return user


# -- the supervisor --------------------------------------------------------------------------


@bp.get("/supervision/")
def home() -> Any:
    supervisor = _only(Role.SUPERVISOR)
    shares = list(db.session().scalars(access.active_shares(supervisor)))
    return render_template("supervision/home.html", shares=shares)


def _share_page(share_id: int, status: int = 200, problem: str = "", clip_id: int = 0) -> Any:
    supervisor = _only(Role.SUPERVISOR)
    share = access.load_share(supervisor, share_id)
    field_errors = {f"comment-{clip_id}": problem} if problem else {}
    return render_template(
        "supervision/share.html",
        share=share,
        clips=service.clips_of(share),
        principle=Principle,
        field_errors=field_errors,
        draft=request.form.get("text", "") if problem else "",
    ), status


@bp.get("/supervision/shares/<int:share_id>")
def share(share_id: int) -> Any:
    return _share_page(share_id)


@bp.post("/supervision/shares/<int:share_id>/clips/<int:clip_id>/comments")
def comment(share_id: int, clip_id: int) -> Any:
    supervisor = _only(Role.SUPERVISOR)
    share = access.load_share(supervisor, share_id)
    clip = access.load_shared_clip(supervisor, clip_id, share.id)
    try:
        service.add_comment(share, clip, supervisor, request.form.get("text", ""))
    except service.SupervisionProblem as e:
        return _share_page(share.id, 400, e.message, clip.id)
    flash("Comment added. The practitioner can read it.", "success")
    return redirect(url_for(".share", share_id=share.id, _anchor=f"clip-{clip.id}"))


# -- the practitioner ------------------------------------------------------------------------


def _own_family(family_id: int) -> Family:
    """The family, if the signed-in practitioner is its own (admins oversee, never share)."""
    practitioner = _only(Role.PRACTITIONER)
    family = access.load_family(practitioner, family_id)
    if family.practitioner_id != practitioner.id:
        abort(404)
    return family


def _family_page(
    family: Family, status: int = 200, field_errors: dict[str, str] | None = None
) -> Any:
    shares = service.practitioner_shares(family, current_user)
    return render_template(
        "supervision/family.html",
        family=family,
        agreed=service.family_agreed(family),
        supervisors=service.supervisors_of(family.organisation_id),
        clips=service.shareable_clips(family),
        shares=[(s, service.is_active(s), service.clips_of(s)) for s in shares],
        share_days=service.SHARE_DAYS,
        field_errors=field_errors or {},
        chosen={
            "clips": {safe_input.parse_id(v) for v in request.form.getlist("clip")},
            "supervisor": safe_input.parse_id(request.form.get("supervisor")),
            "days": safe_input.parse_id(request.form.get("days")) or 14,
            "question": request.form.get("question", ""),
        },
    ), status


@bp.route("/practice/families/<int:family_id>/supervision", methods=["GET", "POST"])
def family(family_id: int) -> Any:
    fam = _own_family(family_id)
    if request.method == "GET":
        return _family_page(fam)
    clip_ids = [i for i in map(safe_input.parse_id, request.form.getlist("clip")) if i]
    try:
        share = service.share_clips(
            fam,
            current_user,
            safe_input.parse_id(request.form.get("supervisor")),
            clip_ids,
            safe_input.parse_id(request.form.get("days")),
            request.form.get("question", ""),
        )
    except service.SupervisionProblem as e:
        return _family_page(fam, 400, {e.field or "clips": e.message})
    flash(
        f"Shared with {share.supervisor.display_name} until "
        f"{say_date(share.expires_at)}. The family can see this on their Privacy page.",
        "success",
    )
    return redirect(url_for(".family", family_id=fam.id, _anchor=f"share-{share.id}"))


@bp.post("/practice/families/<int:family_id>/supervision/<int:share_id>/end")
def end(family_id: int, share_id: int) -> Any:
    fam = _own_family(family_id)
    share = service.load_family_share(fam, share_id)
    if share is None or share.practitioner_id != current_user.id:
        abort(404)
    service.end_share(share, current_user)
    flash("That share has ended. Your supervisor can no longer see those clips.", "success")
    return redirect(url_for(".family", family_id=fam.id))


# -- the admin -------------------------------------------------------------------------------


@bp.get("/admin/supervisors")
def admin_supervisors() -> Any:
    admin = _only(Role.ADMIN)
    return render_template(
        "supervision/admin.html", supervisors=service.supervisors_of(admin.organisation_id)
    )
