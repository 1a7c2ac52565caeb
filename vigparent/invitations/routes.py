"""Opening an invitation link: welcome, consent, and signing in on this phone.

Opening the link (GET) only reads it: SMS and chat apps fetch links to draw previews, and a
preview must never use up a parent's invitation. The link is used when the parent agrees.
Never log the token: the access log redacts /join/<...>, and nothing here logs at all.
"""

from __future__ import annotations

from typing import Any

from flask import (
    Blueprint,
    current_app,
    flash,
    make_response,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask_babel import gettext
from flask_login import current_user, login_user

from vigparent import assets, i18n
from vigparent.consent import service as consent_service
from vigparent.i18n import N_
from vigparent.invitations import service
from vigparent.invitations.forms import ConsentForm
from vigparent.invitations.service import InvitationProblem, InvitationRefused
from vigparent.models import Invitation
from vigparent.notifications import service as messages
from vigparent.security import begin_sign_in, limiter, public

bp = Blueprint("invitations", __name__)

# The practitioner's share panel: copy button and the phone's share sheet.
assets.register("invitations_js", "js/invitations.js")

# What happened, and what to do next, for each way a link can fail (reading age ~9).
_ASK = N_("Ask your practitioner for a new link. They can send one in a minute.")
_RECOGNISE = (
    404,
    N_("We don't recognise this link"),
    N_("Part of the link may be missing or changed."),
    N_(
        "Try tapping the link in your message again, rather than copying it. "
        "If it still doesn't work, ask your practitioner for a new link."
    ),
)
REFUSALS: dict[InvitationProblem, tuple[int, str, str, str]] = {
    InvitationProblem.TAMPERED: _RECOGNISE,
    InvitationProblem.UNKNOWN: _RECOGNISE,
    InvitationProblem.USED: (
        410,
        N_("This link has already been used"),
        N_(
            "Each link works once, on one phone. If you joined on another phone, "
            "open the app on that phone."
        ),
        N_(
            "To use this phone instead, or if you lost your phone, ask your practitioner for "
            "a new link. They can send one in a minute."
        ),
    ),
    InvitationProblem.EXPIRED: (
        410,
        N_("This link has run out"),
        N_("Links only work for a short time, to keep you safe."),
        _ASK,
    ),
    InvitationProblem.REVOKED: (
        410,
        N_("This link has been cancelled"),
        N_("Your practitioner cancelled this link. They may have sent you a newer one."),
        N_(
            "Look for a newer message from your practitioner. If there isn't one, "
            "ask your practitioner for a new link. They can send one in a minute."
        ),
    ),
    InvitationProblem.WITHDRAWN: (
        410,
        N_("Your family has stopped taking part"),
        N_("Your family chose to stop, so the videos were deleted and this link no longer works."),
        N_("If you would like to start again, talk to your practitioner."),
    ),
    InvitationProblem.CLOSED: (
        410,
        N_("This work has finished"),
        N_("Your practitioner has closed this piece of work, so this link no longer works."),
        N_("If you think this is a mistake, talk to your practitioner."),
    ),
}


def _invitation_limit() -> str:
    limit: str = current_app.extensions["vig_settings"].invitation_rate_limit
    return limit


# One budget for every /join page, so guessing links on one page does not reset another.
join_limit = limiter.shared_limit(_invitation_limit, scope="join")


def _refused(refusal: InvitationRefused) -> Any:
    invitation = refusal.invitation
    if invitation is not None:
        i18n.speak_as_invited(invitation.family.language)
    if (
        refusal.problem is InvitationProblem.USED
        and invitation is not None
        and current_user.is_authenticated
        and current_user.is_parent
        and current_user.family_id == invitation.family_id
    ):
        # Tapping the old SMS link again on the phone that joined just opens the app.
        return redirect(url_for("parent.home"))
    status, title, message, next_step = REFUSALS[refusal.problem]
    return _page(
        "invitations/refused.html",
        status,
        title=gettext(title),
        message=gettext(message),
        next_step=gettext(next_step),
    )


def _page(template: str, status: int = 200, **context: Any) -> Any:
    response = make_response(render_template(template, **context), status)
    # Invitation pages are personal: never index them, never send the link onwards.
    response.headers["X-Robots-Tag"] = "noindex, nofollow"
    return response


def _staff_here() -> bool:
    return bool(current_user.is_authenticated and current_user.is_staff)


def _context(invitation: Invitation, token: str) -> dict[str, Any]:
    family = invitation.family
    return {
        "invitation": invitation,
        "token": token,
        "organisation": family.organisation,
        "practitioner": family.practitioner,
        "staff_here": _staff_here(),
    }


@bp.get("/join/<token>")
@public
@join_limit
def welcome(token: str) -> Any:
    try:
        invitation = service.check_invitation(token)
    except InvitationRefused as refusal:
        return _refused(refusal)
    i18n.speak_as_invited(invitation.family.language)
    return _page("invitations/welcome.html", **_context(invitation, token))


@bp.route("/join/<token>/consent", methods=["GET", "POST"])
@public
@join_limit
def consent(token: str) -> Any:
    try:
        invitation = service.check_invitation(token)
    except InvitationRefused as refusal:
        return _refused(refusal)
    i18n.speak_as_invited(invitation.family.language)
    form = ConsentForm()
    if request.method == "GET":
        form.name.data = invitation.carer_name
    context = _context(invitation, token) | {
        "form": form,
        "kinds": consent_service.offered_kinds(invitation.family.organisation),
        "statements": consent_service.statements_for(invitation.family.organisation),
    }
    if request.method == "POST" and _staff_here():
        # A practitioner testing the link on their own computer would use it up.
        return _page("invitations/consent.html", 409, **context)
    if request.method == "GET" or not form.validate_on_submit():
        status = 200 if request.method == "GET" else 400
        return _page("invitations/consent.html", status, **context)

    previous_device = current_user.get_id() if current_user.is_authenticated else None
    try:
        carer = service.redeem_invitation(
            invitation,
            form.granted(),
            form.name.data or "",
            request.user_agent.string,
            replaces_session=previous_device,
            language=i18n.language_or_english(form.read_in.data or i18n.current_language()),
        )
    except consent_service.ConsentMissing as missing:
        box = (missing.first_missing or consent_service.REQUIRED_KINDS[0]).value
        field_errors = {f"consent-{box}": str(missing)}
        return _page(
            "invitations/consent.html",
            400,
            error=str(missing),
            field_errors=field_errors,
            **context,
        )
    except InvitationRefused as refusal:
        return _refused(refusal)
    messages.carer_joined(invitation, carer)
    begin_sign_in()
    login_user(carer)
    # Parents stay signed in on their own phone for months (PERMANENT_SESSION_LIFETIME).
    session.permanent = True
    flash(
        gettext("You're in. This phone is now signed in, so you won't need the link again."),
        "success",
    )
    return redirect(url_for("parent.home"))
