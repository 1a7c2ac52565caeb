"""Staff second factor: the second sign-in step, setting factors up, and the admin's page.

The rules live in vigparent/auth/mfa.py. A sign-in waiting for its second factor is not a
Flask-Login sign-in at all: the cookie holds only the pending session's secret under
_PENDING, so every other page still treats the person as signed out.
"""

from __future__ import annotations

from typing import Any

import segno
from flask import (
    Blueprint,
    Response,
    abort,
    current_app,
    flash,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask_login import current_user, login_user
from markupsafe import Markup

from vigparent import assets
from vigparent.auth import mfa, passkeys, totp
from vigparent.auth import service as auth_service
from vigparent.mfa.forms import AppCodeForm, PasskeyForm, RecoveryCodeForm, RequirementForm
from vigparent.models import LoginSession, Role, User
from vigparent.security import begin_sign_in, limiter, public

bp = Blueprint("mfa", __name__)

assets.register("passkeys_js", "js/passkeys.js")

_PENDING = "vig_pending_sign_in"
# Reachable by signed-in staff who must still set up a second factor (and by everyone).
_OPEN_WHILE_SETTING_UP = {
    "static",
    "auth.logout",
    "mfa.security",
    "mfa.start_app",
    "mfa.app",
    "mfa.confirm_app",
    "mfa.passkey_registration_options",
    "mfa.add_passkey",
}
_OPEN_BLUEPRINTS = {"pwa"}

WRONG_CODE = "That code didn't work. Check it and try again."
TOO_MANY = (
    "Too many wrong codes. Wait 15 minutes and try again, or use your passkey. "
    "If you are stuck, ask your organisation's admin."
)
PASSKEY_FAILED = "That passkey didn't work. Try again, or use another way to sign in."
FACTORS_LOCKED = (
    "Your organisation asks for a second factor. Add another one before you remove this one."
)


def _second_factor_limit() -> str:
    limit: str = current_app.extensions["vig_settings"].second_factor_rate_limit
    return limit


# One bucket per address for every code or passkey answer, whichever form it comes through.
_limited = limiter.shared_limit(_second_factor_limit, scope="second-factor", methods=["POST"])


# -- who is asking ----------------------------------------------------------------------------


def wait_for_second_factor(start: mfa.SignInStart, next_path: str | None) -> Any:
    """Called by the sign-in view once the password is right but a second step remains."""
    session[_PENDING] = {"token": start.token, "next": next_path or ""}
    if start.step is mfa.SignInStep.SET_UP:
        # The set-up page itself says why the person is there.
        return redirect(url_for("mfa.security"))
    return redirect(url_for("mfa.verify"))


def _pending() -> tuple[LoginSession, str] | None:
    data = session.get(_PENDING)
    token = data.get("token", "") if isinstance(data, dict) else ""
    login = mfa.pending_session(token) if isinstance(token, str) else None
    return (login, token) if login is not None else None


def _signer() -> tuple[LoginSession, str] | None:
    """The session that may manage factors: a signed-in staff member's, or a pending one."""
    if current_user.is_authenticated:
        if not current_user.is_staff:
            abort(404)
        login = mfa.live_session(current_user)
        return (login, current_user.get_id()) if login is not None else None
    return _pending()


def _finish(user: User, notice: str | None = None) -> Any:
    """The second factor passed: sign in for real and go where the person was heading."""
    data = session.pop(_PENDING, None)
    begin_sign_in()  # a fresh session (and CSRF token) for the signed-in person
    login_user(user)
    if notice:
        flash(notice, "info")  # after begin_sign_in, which starts the session afresh
    target = data.get("next") if isinstance(data, dict) else ""
    return redirect(target or url_for("practitioner.caseload"))


def _start_again() -> Any:
    session.pop(_PENDING, None)
    flash("Your sign-in took too long. Please sign in again.", "info")
    return redirect(url_for("auth.login"))


@bp.before_app_request
def _require_set_up() -> Any:
    """In an organisation that requires it, staff without a second factor reach nothing else."""
    if not current_user.is_authenticated or not current_user.is_staff:
        return None
    endpoint = request.endpoint or ""
    if endpoint in _OPEN_WHILE_SETTING_UP or endpoint.split(".")[0] in _OPEN_BLUEPRINTS:
        return None
    if not mfa.needs_set_up(current_user):
        return None
    if request.path.startswith("/api/") or request.accept_mimetypes.best == "application/json":
        abort(403)
    return redirect(url_for("mfa.security"))


# -- the second sign-in step ------------------------------------------------------------------


def _verify_page(status: int = 200, **forms: Any) -> Any:
    pending = _pending()
    if pending is None:
        return _start_again()
    login, _token = pending
    return render_template(
        "mfa/verify.html",
        factors=mfa.factors_of(login.user),
        passkeys_available=passkeys.available(),
        app_form=forms.get("app_form") or AppCodeForm(),
        recovery_form=forms.get("recovery_form") or RecoveryCodeForm(),
        passkey_form=PasskeyForm(),
        open_recovery=bool(forms.get("recovery_form")),
    ), status


@bp.get("/sign-in/second-step")
@public
def verify() -> Any:
    pending = _pending()
    if pending is None:
        return _start_again()
    if not mfa.has_second_factor(pending[0].user):
        return redirect(url_for("mfa.security"))
    return _verify_page()


@bp.post("/sign-in/second-step/app")
@public
@_limited
def verify_app() -> Any:
    pending = _pending()
    if pending is None:
        return _start_again()
    form = AppCodeForm()
    if not form.validate_on_submit():
        flash("Type the 6-digit code from your authenticator app.", "error")
        return _verify_page(400, app_form=form)
    try:
        user = mfa.pass_with_app(*pending, form.code.data or "")
    except mfa.TooManyTries:
        flash(TOO_MANY, "error")
        return _verify_page(429, app_form=form)
    except mfa.WrongCode:
        flash(WRONG_CODE, "error")
        return _verify_page(400, app_form=form)
    return _finish(user)


@bp.post("/sign-in/second-step/recovery")
@public
@_limited
def verify_recovery() -> Any:
    pending = _pending()
    if pending is None:
        return _start_again()
    form = RecoveryCodeForm()
    if not form.validate_on_submit():
        flash("Type one of your recovery codes.", "error")
        return _verify_page(400, recovery_form=form)
    try:
        user = mfa.pass_with_recovery_code(*pending, form.code.data or "")
    except mfa.TooManyTries:
        flash(TOO_MANY, "error")
        return _verify_page(429, recovery_form=form)
    except mfa.WrongCode:
        flash("That recovery code didn't work. Each code works only once.", "error")
        return _verify_page(400, recovery_form=form)
    left = mfa.factors_of(user).recovery_codes_left
    return _finish(
        user,
        f"You used a recovery code. You have {left} left. Set up your passkey or app again "
        "under Sign-in security if you lost them.",
    )


@bp.post("/sign-in/second-step/passkey/options")
@public
@_limited
def verify_passkey_options() -> Any:
    pending = _pending()
    if pending is None:
        abort(401)
    options = mfa.passkey_options(pending[0])
    return Response(options, mimetype="application/json")


@bp.post("/sign-in/second-step/passkey")
@public
@_limited
def verify_passkey() -> Any:
    pending = _pending()
    if pending is None:
        return _start_again()
    form = PasskeyForm()
    if not form.validate_on_submit():
        flash(PASSKEY_FAILED, "error")
        return _verify_page(400)
    try:
        user = mfa.pass_with_passkey(*pending, form.credential.data or "")
    except passkeys.PasskeyFailed:
        flash(PASSKEY_FAILED, "error")
        return _verify_page(400)
    return _finish(user)


@bp.post("/sign-in/cancel")
@public
def cancel() -> Any:
    pending = _pending()
    if pending is not None:
        mfa.cancel(pending[0])
    session.pop(_PENDING, None)
    flash("Sign-in cancelled.", "info")
    return redirect(url_for("auth.login"))


# -- the staff member's own factors -----------------------------------------------------------


def _changer() -> tuple[LoginSession, str]:
    """The session allowed to change factors, or a redirect raised as an HTTP exception."""
    signer = _signer()
    if signer is None:
        abort(redirect(url_for("auth.login")))
    if not mfa.may_change_factors(signer[0]):
        abort(redirect(url_for("mfa.verify")))
    return signer


@bp.get("/account/security")
@public
def security() -> Any:
    login, _token = _changer()
    user = login.user
    return render_template(
        "mfa/security.html",
        user=user,
        factors=mfa.factors_of(user),
        required=mfa.required_for(user),
        setting_up=login.pending_until is not None,
        passkeys_available=passkeys.available(),
        passkey_form=PasskeyForm(),
    )


@bp.post("/account/security/app")
@public
def start_app() -> Any:
    login, _token = _changer()
    try:
        mfa.start_app_setup(login)
    except totp.AppAlreadySetUp:
        flash("Your authenticator app is already set up.", "info")
        return redirect(url_for("mfa.security"))
    return redirect(url_for("mfa.app"))


def _app_page(form: AppCodeForm, status: int = 200) -> Any:
    login, _token = _changer()
    user = login.user
    secret = totp.setup_secret(user)
    if secret is None:
        return redirect(url_for("mfa.security"))
    link = totp.setup_link(user, secret)
    return render_template(
        "mfa/app.html",
        form=form,
        secret=" ".join(secret[i : i + 4] for i in range(0, len(secret), 4)),
        qr_svg=mfa_qr(link),
        setting_up=login.pending_until is not None,
    ), status


@bp.get("/account/security/app")
@public
def app() -> Any:
    return _app_page(AppCodeForm())


@bp.post("/account/security/app/confirm")
@public
@_limited
def confirm_app() -> Any:
    login, token = _changer()
    form = AppCodeForm()
    if not form.validate_on_submit():
        flash("Type the 6-digit code your app shows now.", "error")
        return _app_page(form, 400)
    was_pending = login.pending_until is not None
    try:
        codes = mfa.confirm_app(login, token, form.code.data or "")
    except mfa.TooManyTries:
        flash(TOO_MANY, "error")
        return _app_page(form, 429)
    except mfa.WrongCode:
        flash(
            "That code didn't match. Check the time on your phone is right, then type the "
            "code your app shows now.",
            "error",
        )
        return _app_page(form, 400)
    return _factor_added(login.user, codes, was_pending, "Your authenticator app is set up.")


@bp.post("/account/security/passkeys/options")
@public
def passkey_registration_options() -> Any:
    login, _token = _changer()
    options = mfa.passkey_registration_options(login)
    return Response(options, mimetype="application/json")


@bp.post("/account/security/passkeys")
@public
@_limited
def add_passkey() -> Any:
    login, token = _changer()
    form = PasskeyForm()
    was_pending = login.pending_until is not None
    try:
        if not form.validate_on_submit():
            raise passkeys.PasskeyFailed
        codes = mfa.add_passkey(login, token, form.credential.data or "", form.name.data or "")
    except passkeys.PasskeyFailed:
        flash("We couldn't add that passkey. Please try again.", "error")
        return redirect(url_for("mfa.security"))
    return _factor_added(login.user, codes, was_pending, "Your passkey is added.")


def _factor_added(user: User, codes: list[str] | None, was_pending: bool, said: str) -> Any:
    next_path = ""
    if was_pending:
        data = session.pop(_PENDING, None)
        next_path = data.get("next", "") if isinstance(data, dict) else ""
        begin_sign_in()
        login_user(user)
    if codes is None:
        flash(said, "success")
        return redirect(url_for("mfa.security"))
    return render_template(
        "mfa/recovery_codes.html",
        codes=codes,
        said=said,
        next_url=next_path or url_for("practitioner.caseload"),
    )


@bp.post("/account/security/passkeys/<int:passkey_id>/remove")
def remove_passkey(passkey_id: int) -> Any:
    _staff()
    try:
        removed = mfa.remove_passkey(current_user, passkey_id)
    except mfa.FactorsLocked:
        flash(FACTORS_LOCKED, "error")
        return redirect(url_for("mfa.security"))
    if not removed:
        abort(404)
    flash("That passkey is removed. It can't be used to sign in any more.", "success")
    return redirect(url_for("mfa.security"))


@bp.post("/account/security/app/remove")
def remove_app() -> Any:
    _staff()
    try:
        mfa.remove_app(current_user)
    except mfa.FactorsLocked:
        flash(FACTORS_LOCKED, "error")
        return redirect(url_for("mfa.security"))
    flash("Your authenticator app is removed.", "success")
    return redirect(url_for("mfa.security"))


@bp.post("/account/security/recovery-codes")
def recovery_codes() -> Any:
    _staff()
    try:
        codes = mfa.make_recovery_codes(current_user)
    except mfa.FactorsLocked:
        flash("Set up a passkey or an authenticator app first.", "error")
        return redirect(url_for("mfa.security"))
    return render_template(
        "mfa/recovery_codes.html",
        codes=codes,
        said="Here are your new recovery codes. The old ones no longer work.",
        next_url=url_for("mfa.security"),
    )


def _staff() -> None:
    if not current_user.is_staff:
        abort(404)


# -- the organisation admin -------------------------------------------------------------------


def _admin() -> User:
    if current_user.role is not Role.ADMIN:
        abort(404)
    user: User = current_user
    return user


@bp.get("/admin/security")
def admin() -> Any:
    admin = _admin()
    return render_template(
        "mfa/admin.html",
        staff=mfa.staff_of(admin),
        required=admin.organisation.staff_second_factor_required,
        form=RequirementForm(data={"required": admin.organisation.staff_second_factor_required}),
    )


@bp.post("/admin/security/requirement")
def set_requirement() -> Any:
    admin = _admin()
    form = RequirementForm()
    if not form.validate_on_submit():
        abort(400)
    try:
        mfa.set_requirement(admin, bool(form.required.data))
    except mfa.NeedOwnFactor:
        flash(
            "Set up your own passkey or authenticator app first, so you are not locked out.",
            "error",
        )
        return redirect(url_for("mfa.admin"))
    flash(
        "Staff now need a second factor to sign in. Anyone without one sets it up next time."
        if form.required.data
        else "A second factor is now optional for your staff.",
        "success",
    )
    return redirect(url_for("mfa.admin"))


@bp.post("/admin/security/staff/<int:staff_id>/reset")
def reset(staff_id: int) -> Any:
    admin = _admin()
    try:
        person = mfa.reset_factors(admin, staff_id)
    except auth_service.NotInOrganisation:
        abort(404)
    name = person.display_name or person.email
    flash(
        f"{name}'s passkeys, app and recovery codes are cleared and they are signed out. "
        "They set up a new second factor when they next sign in.",
        "success",
    )
    return redirect(url_for("mfa.admin"))


def mfa_qr(link: str) -> Markup:
    """The otpauth link as an inline SVG QR code (attributes only, so CSP allows it)."""
    qr = segno.make(link, error="m").svg_inline(
        scale=4,
        dark="#000",
        light="#fff",
        title="QR code for your authenticator app",
        svgclass="qr-code",
        lineclass="qr-line",
        omitsize=True,
    )
    return Markup(qr)  # noqa: S704 - segno output built from our own link
