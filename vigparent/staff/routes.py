"""Staff accounts: the admin's staff page, joining by an emailed link, forgotten passwords."""

from __future__ import annotations

import hashlib
import hmac
from typing import Any

from flask import (
    Blueprint,
    abort,
    current_app,
    flash,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_login import current_user, login_user

from vigparent import db, mail
from vigparent.auth import mfa
from vigparent.auth import service as auth_service
from vigparent.auth.service import WeakPassword
from vigparent.mfa.routes import wait_for_second_factor
from vigparent.models import Role, StaffLinkPurpose, User
from vigparent.security import begin_sign_in, limiter, public
from vigparent.staff import service
from vigparent.staff.forms import ChoosePasswordForm, ForgotPasswordForm, InviteStaffForm

bp = Blueprint("staff", __name__)

MAIL_FAILED = (
    "We couldn't send the email just now, so nothing was saved. Please try again in a few "
    "minutes. If it keeps happening, the mail server settings need checking."
)
_REFUSALS = {
    service.LinkProblem.TAMPERED: (
        "This link doesn't work. Check you used the whole link from the email."
    ),
    service.LinkProblem.USED: (
        "This link has already been used. Sign in with your password, or ask for a new link "
        "if you forgot it."
    ),
    service.LinkProblem.EXPIRED: "This link has expired.",
    service.LinkProblem.REPLACED: (
        "A newer link was sent after this one. Use the link in the most recent email."
    ),
    service.LinkProblem.SWITCHED_OFF: (
        "This account is switched off. Ask your organisation's admin if you need it again."
    ),
}


def _login_limit() -> str:
    limit: str = current_app.extensions["vig_settings"].login_rate_limit
    return limit


def _reset_limit() -> str:
    limit: str = current_app.extensions["vig_settings"].reset_request_rate_limit
    return limit


def _reset_address_limit() -> str:
    limit: str = current_app.extensions["vig_settings"].reset_request_address_limit
    return limit


def _address_key() -> str:
    """The per-address bucket: a keyed hash, so the limiter's store never holds the address."""
    address = service.normalise_email(request.form.get("email", ""))
    key = current_app.config["SECRET_KEY"].encode()
    return "reset-address:" + hmac.new(key, address.encode(), hashlib.sha256).hexdigest()[:32]


# -- the admin's staff page -------------------------------------------------------------------


def _admin() -> User:
    if current_user.role is not Role.ADMIN:
        abort(404)
    user: User = current_user
    return user


def _staff_page(form: InviteStaffForm | None = None, field_errors: Any = None) -> Any:
    admin = _admin()
    return render_template(
        "staff/admin.html",
        rows=service.staff_of(admin),
        form=form or InviteStaffForm(),
        field_errors=field_errors or {},
        lifetime_days=admin.organisation.invitation_lifetime_days,
    ), 400 if field_errors else 200


@bp.get("/admin/staff")
def admin() -> Any:
    return _staff_page()


@bp.post("/admin/staff/invite")
def invite() -> Any:
    admin = _admin()
    form = InviteStaffForm()
    if not form.validate_on_submit():
        return _staff_page(form, {"email": "Check the name, email address and role."})
    try:
        role = Role(form.role.data)
        person = service.invite_staff(admin, form.email.data or "", form.name.data or "", role)
    except service.StaffProblem as problem:
        db.session().rollback()
        return _staff_page(form, {problem.field or "email": str(problem)})
    except mail.MailNotSent:
        db.session().rollback()
        flash(MAIL_FAILED, "error")
        return _staff_page(form)
    flash(f"Invitation sent to {person.email}. The link works once.", "success")
    return redirect(url_for("staff.admin"), code=303)


def _act(staff_id: int, act: Any, said: str) -> Any:
    admin = _admin()
    try:
        person = act(admin, staff_id)
    except auth_service.NotInOrganisation:
        abort(404)
    except service.StaffProblem as problem:
        db.session().rollback()
        flash(str(problem), "error")
        return redirect(url_for("staff.admin"), code=303)
    except mail.MailNotSent:
        db.session().rollback()
        flash(MAIL_FAILED, "error")
        return redirect(url_for("staff.admin"), code=303)
    flash(said.format(name=person.display_name or person.email), "success")
    return redirect(url_for("staff.admin"), code=303)


@bp.post("/admin/staff/<int:staff_id>/resend")
def resend(staff_id: int) -> Any:
    return _act(staff_id, service.resend_invitation, "A new invitation is on its way to {name}.")


@bp.post("/admin/staff/<int:staff_id>/switch-off")
def switch_off(staff_id: int) -> Any:
    return _act(
        staff_id,
        service.switch_off,
        "{name}'s account is switched off. They were signed out everywhere.",
    )


@bp.post("/admin/staff/<int:staff_id>/switch-on")
def switch_on(staff_id: int) -> Any:
    return _act(staff_id, service.switch_on, "{name} can sign in again.")


# -- choosing a password through an emailed link ----------------------------------------------


def _choose_password(token: str, purpose: StaffLinkPurpose) -> Any:
    try:
        link = service.check_link(token, purpose)
    except service.LinkRefused as refusal:
        return render_template(
            "staff/link_refused.html",
            message=_REFUSALS[refusal.problem],
            purpose=purpose.value,
            expired=refusal.problem is service.LinkProblem.EXPIRED,
        ), 410 if refusal.problem is not service.LinkProblem.TAMPERED else 404
    form = ChoosePasswordForm()
    error, field = "", "password"
    if request.method == "POST" and form.validate_on_submit():
        password = form.password.data or ""
        if password != (form.confirm.data or ""):
            error, field = "The two passwords are different. Type the same one twice.", "confirm"
        else:
            try:
                start = service.set_password_with_link(link, password, request.user_agent.string)
            except WeakPassword as weak:
                error = str(weak)
            except service.LinkRefused as refusal:
                flash(_REFUSALS[refusal.problem], "error")
                return redirect(url_for("auth.login"))
            else:
                return _signed_in(start, link.user, purpose)
    elif request.method == "POST":
        error = "Choose a password and type it twice."
    return render_template(
        "staff/choose_password.html",
        form=form,
        person=link.user,
        joining=purpose is StaffLinkPurpose.INVITATION,
        field_errors={field: error} if error else {},
    ), 400 if error else 200


def _signed_in(start: mfa.SignInStart, person: User, purpose: StaffLinkPurpose) -> Any:
    if start.step is not mfa.SignInStep.DONE:
        return wait_for_second_factor(start, None)
    begin_sign_in()
    login_user(person)
    if purpose is StaffLinkPurpose.INVITATION:
        flash("Welcome to VIG. Your password is set and you are signed in.", "success")
    else:
        flash("Your password is changed. Your other devices were signed out.", "success")
    return redirect(url_for("practitioner.caseload"))


@bp.route("/staff/join/<token>", methods=["GET", "POST"])
@public
@limiter.limit(_login_limit, methods=["POST"])
def join(token: str) -> Any:
    return _choose_password(token, StaffLinkPurpose.INVITATION)


@bp.route("/password/reset/<token>", methods=["GET", "POST"])
@public
@limiter.limit(_login_limit, methods=["POST"])
def reset(token: str) -> Any:
    return _choose_password(token, StaffLinkPurpose.PASSWORD_RESET)


# -- asking for a reset -----------------------------------------------------------------------


@bp.route("/password/forgot", methods=["GET", "POST"])
@public
@limiter.limit(_reset_limit, methods=["POST"])
@limiter.limit(_reset_address_limit, key_func=_address_key, methods=["POST"])
def forgot() -> Any:
    form = ForgotPasswordForm()
    if request.method == "POST":
        if not form.validate_on_submit() or "@" not in (form.email.data or ""):
            return render_template(
                "staff/forgot.html",
                form=form,
                field_errors={"email": "Enter your work email address, like name@example.org."},
            ), 400
        service.request_password_reset(form.email.data or "")
        # The same answer for every address: it never says whether one has an account.
        minutes = current_app.extensions["vig_settings"].password_reset_minutes
        return render_template("staff/forgot_sent.html", minutes=minutes)
    return render_template("staff/forgot.html", form=form, field_errors={})
