"""Staff sign-in and sign-out, and the front door that sends each person to their home."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from flask import Blueprint, current_app, flash, redirect, render_template, request, url_for
from flask_login import current_user, login_user, logout_user

from vigparent.auth import mfa, service
from vigparent.auth.forms import LoginForm
from vigparent.mfa.routes import wait_for_second_factor
from vigparent.notifications import service as messages
from vigparent.security import CLEAR_ON_SIGN_OUT, begin_sign_in, limiter, public

bp = Blueprint("auth", __name__)


def _login_limit() -> str:
    limit: str = current_app.extensions["vig_settings"].login_rate_limit
    return limit


def _safe_next(target: str | None) -> str | None:
    # Only same-site paths: an open redirect after sign-in is a phishing tool.
    if not target:
        return None
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not target.startswith("/") or target.startswith("//"):
        return None
    return target


@bp.get("/")
@public
def index() -> Any:
    if current_user.is_authenticated:
        if current_user.is_parent:
            return redirect(url_for("parent.home"))
        return redirect(url_for("practitioner.caseload"))
    return render_template("auth/welcome.html")


@bp.route("/login", methods=["GET", "POST"])
@public
@limiter.limit(_login_limit, methods=["POST"])
def login() -> Any:
    if current_user.is_authenticated and current_user.is_staff:
        return redirect(url_for("practitioner.caseload"))
    form = LoginForm()
    if form.validate_on_submit():
        try:
            user = service.authenticate(form.email.data or "", form.password.data or "")
        except service.InvalidCredentials:
            flash("That email and password do not match. Check them and try again.", "error")
            return render_template("auth/login.html", form=form), 401
        start = mfa.begin_sign_in(user, request.user_agent.string)
        next_path = _safe_next(request.args.get("next"))
        if start.step is not mfa.SignInStep.DONE:
            return wait_for_second_factor(start, next_path)
        begin_sign_in()
        login_user(user)
        return redirect(next_path or url_for("practitioner.caseload"))
    status = 400 if request.method == "POST" else 200
    return render_template("auth/login.html", form=form), status


@bp.post("/logout")
@public
def logout() -> Any:
    if current_user.is_authenticated:
        user_id = current_user.id
        service.sign_out(current_user)
        messages.forget_ended_devices(user_id)
        logout_user()
    flash("You have signed out.", "info")
    response = redirect(url_for("auth.index"))
    response.headers["Clear-Site-Data"] = CLEAR_ON_SIGN_OUT
    return response
