"""The language switcher in every page's footer, and the admins' translation review page."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from flask import Blueprint, abort, flash, redirect, render_template, request, session, url_for
from flask_babel import refresh
from flask_login import current_user

from vigparent import i18n
from vigparent.languages import service
from vigparent.models import Role, User
from vigparent.security import public

bp = Blueprint("languages", __name__)


def _back_to(target: str | None) -> str:
    """Only a path on this site (never another host): the page the switcher was on."""
    text = target or ""
    parts = urlsplit(text)
    if parts.scheme or parts.netloc or not parts.path.startswith("/") or "\\" in text:
        return url_for("auth.index")
    return parts.path + (f"?{parts.query}" if parts.query else "")


@bp.post("/language")
@public
def choose() -> Any:
    code = request.form.get("language", "")
    if code not in i18n.LANGUAGES:
        abort(400)
    if current_user.is_authenticated and current_user.is_parent and current_user.family:
        service.change_family_language(current_user.family, code, current_user)
    else:
        session[i18n.SESSION_KEY] = code
    refresh()
    return redirect(_back_to(request.form.get("next")), code=303)


def _admin() -> User:
    if not (current_user.is_authenticated and current_user.role is Role.ADMIN):
        abort(404)
    user: User = current_user
    return user


@bp.get("/admin/translations")
def review_status() -> Any:
    admin = _admin()
    return render_template(
        "languages/admin.html", statuses=service.review_status(admin.organisation)
    )


@bp.post("/admin/translations/<code>")
def mark_reviewed(code: str) -> Any:
    admin = _admin()
    try:
        changed = service.mark_reviewed(admin, code)
    except service.UnknownLanguage:
        abort(404)
    name = i18n.LANGUAGES[code].english_name
    flash(
        f"{name} marked as checked by a qualified translator." if changed else "Nothing changed.",
        "success" if changed else "info",
    )
    return redirect(url_for("languages.review_status"), code=303)
