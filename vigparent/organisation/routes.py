"""The admin's organisation settings and audit log. Admins only; their own organisation."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_login import current_user
from wtforms import SelectChoice

from vigparent.languages import service as languages
from vigparent.models import Role, User
from vigparent.organisation import service
from vigparent.organisation.forms import OrganisationSettingsForm
from vigparent.security import require_role

bp = Blueprint("organisation", __name__, url_prefix="/admin")
bp.before_request(require_role(Role.ADMIN))


def _admin() -> User:
    if current_user.role is not Role.ADMIN:
        abort(404)
    user: User = current_user
    return user


def _settings_page(form: OrganisationSettingsForm, field_errors: dict[str, str]) -> Any:
    form.wording_version.choices = [SelectChoice(v, v) for v in service.wording_versions()]
    return render_template(
        "organisation/settings.html",
        form=form,
        field_errors=field_errors,
        retention_max=service.RETENTION_MAX_DAYS,
        invitation_max=service.INVITATION_MAX_DAYS,
        translations=languages.review_status(_admin().organisation),
        contact_max=service.CONTACT_MAX_CHARS,
    ), 400 if field_errors else 200


@bp.get("/settings")
def settings() -> Any:
    current = service.settings_of(_admin().organisation)
    form = OrganisationSettingsForm(
        data={
            "retention_days": str(current.retention_days),
            "keep_copies": current.keep_copies,
            "invitation_days": str(current.invitation_days),
            "wording_version": current.wording_version,
            "family_contact": current.family_contact,
        }
    )
    return _settings_page(form, {})


@bp.post("/settings")
def save_settings() -> Any:
    admin = _admin()
    form = OrganisationSettingsForm()
    if not form.validate_on_submit():
        return _settings_page(form, {"retention_days": "Check each setting and save again."})
    try:
        new = service.parse_settings(
            form.retention_days.data or "",
            bool(form.keep_copies.data),
            form.invitation_days.data or "",
            form.wording_version.data or "",
            form.family_contact.data or "",
        )
    except service.SettingsProblem as problem:
        return _settings_page(form, problem.problems)
    changed = service.update_settings(admin, new)
    if not changed:
        flash("Nothing changed.", "info")
    elif "retention_days" in changed:
        flash(
            "Settings saved. The new retention period applies from the next nightly sweep.",
            "success",
        )
    else:
        flash("Settings saved.", "success")
    return redirect(url_for("organisation.settings"), code=303)


@bp.get("/audit")
def audit_log() -> Any:
    admin = _admin()
    args = request.args
    raw = {k: args.get(k, "")[:40] for k in ("kind", "person", "since", "until", "page")}
    field_errors: dict[str, str] = {}
    try:
        wanted = service.parse_filter(**raw)
    except service.FilterProblem as problem:
        field_errors = problem.problems
        wanted = service.AuditFilter()
    page = service.audit_page(admin, wanted)
    query = {k: v for k, v in raw.items() if v and k != "page"} if not field_errors else {}
    return render_template(
        "organisation/audit.html",
        page=page,
        raw=raw,
        kinds=service.AUDIT_KINDS,
        people=service.audit_people(admin),
        query=query,
        field_errors=field_errors,
    ), 400 if field_errors else 200
