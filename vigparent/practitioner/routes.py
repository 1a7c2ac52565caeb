"""The practitioner's side: caseload, family pages, invitations, carers and filming plans."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any
from urllib.parse import quote

import segno
from flask import Blueprint, abort, flash, redirect, render_template, request, session, url_for
from flask_login import current_user
from markupsafe import Markup

from vigparent import access, db, safe_input
from vigparent.consent import service as consent_service
from vigparent.families import service
from vigparent.families.service import FilmingPlan
from vigparent.goals import service as goal_service
from vigparent.invitations import service as invitation_service
from vigparent.models import (
    Cycle,
    Family,
    FamilyStatus,
    FilmingPlace,
    Invitation,
    MessageChannel,
    Role,
)
from vigparent.notifications import service as messages
from vigparent.practitioner.forms import InviteForm, NewFamilyForm, PlanForm
from vigparent.recordings import service as recordings_service
from vigparent.security import require_role

bp = Blueprint("practitioner", __name__, url_prefix="/practice")


@bp.before_request
def _supervisors_home() -> Any:
    """Staff sign-in ends on the caseload; a supervisor has none, only what is shared."""
    supervisor = current_user.is_authenticated and current_user.role is Role.SUPERVISOR
    if supervisor and request.endpoint == "practitioner.caseload":
        return redirect(url_for("supervision.home"))
    return None


bp.before_request(require_role(Role.PRACTITIONER, Role.ADMIN))

# A new link is shown once, on the next page, then forgotten: only its hash is stored.
_FRESH_LINK = "vig_fresh_invitation"


@bp.app_template_filter("say_date")
def _say_date(value: Any) -> str:
    return service.say_date(value) if value else ""


bp.add_app_template_global(service.withdrawn_sentence, "withdrawn_sentence")


@bp.app_template_filter("say_when")
def _say_when(value: Any) -> str:
    return service.say_when(value) if value else ""


def _remember_link(family: Family, invitation: Invitation, token: str) -> None:
    # The session cookie is signed, not encrypted: the live link goes in sealed.
    sealed = invitation_service.seal_token(token)
    session[_FRESH_LINK] = {"family": family.id, "invitation": invitation.id, "sealed": sealed}


def _take_link(family: Family) -> dict[str, Any] | None:
    fresh = session.pop(_FRESH_LINK, None)
    if not fresh or fresh.get("family") != family.id:
        return None
    token = invitation_service.unseal_token(str(fresh.get("sealed", "")))
    invitation = db.session().get(Invitation, fresh["invitation"])
    if token is None or invitation is None:
        return None
    if invitation_service.invitation_state(invitation) != "waiting":
        return None
    return _share_panel(family, invitation, token)


def _share_panel(family: Family, invitation: Invitation, token: str) -> dict[str, Any]:
    """Everything the share panel needs: the link, a message, and a QR code."""
    url = invitation_service.invitation_url(token)
    who = f" {invitation.carer_name}" if invitation.carer_name else ""
    practitioner = family.practitioner.display_name or "your practitioner"
    until = service.say_date(invitation.expires_at)
    message = (
        f"Hello{who}, this is {practitioner}. Here is your link to join Video Interaction "
        f"Guidance. Tap it to start: {url} It works once, until {until}."
    )
    subject = "Your link for Video Interaction Guidance"
    # segno draws the code as SVG paths with attributes only (no style attributes), so it
    # passes the strict Content-Security-Policy when placed inline.
    qr = segno.make(url, error="m").svg_inline(
        scale=4,
        dark="#000",
        light="#fff",
        title="QR code for the invitation link",
        svgclass="qr-code",
        lineclass="qr-line",
        omitsize=True,
    )
    return {
        "invitation": invitation,
        "url": url,
        "message": message,
        "subject": subject,
        "sms_href": "sms:?&body=" + quote(message),
        "mailto_href": f"mailto:?subject={quote(subject)}&body={quote(message)}",
        "qr_svg": Markup(qr),  # noqa: S704 - segno output built from our own URL
        "until": until,
        # For "send it for me" (GOV.UK Notify): the link goes back to us only sealed.
        "sealed": invitation_service.seal_token(token),
    }


def _family(family_id: int) -> Family:
    return access.load_family(current_user, family_id)


def _back(family: Family, anchor: str | None = None) -> Any:
    return redirect(url_for("practitioner.family", family_id=family.id, _anchor=anchor))


@bp.get("/")
def caseload() -> Any:
    families = db.session().scalars(
        access.visible_families(current_user).order_by(Family.created_at.desc())
    )
    return render_template(
        "practitioner/caseload.html",
        entries=service.caseload(list(families)),
        form=NewFamilyForm(),
    )


@bp.post("/families")
def create_family() -> Any:
    form = NewFamilyForm()
    if not form.validate_on_submit():
        families = db.session().scalars(access.visible_families(current_user))
        return render_template(
            "practitioner/caseload.html",
            entries=service.caseload(list(families)),
            form=form,
            form_error="Give the family a short label, such as first names.",
        ), 400
    try:
        family, invitation, token = service.start_family(
            current_user, form.label.data or "", form.carer_name.data or "", form.language.data
        )
    except service.InvalidFamilyLabel as e:
        flash(str(e), "error")
        return redirect(url_for("practitioner.caseload"))
    _remember_link(family, invitation, token)
    flash(f"Added {family.label}. Now send them their link.", "success")
    return _back(family, "share")


@bp.get("/families/<int:family_id>")
def family(family_id: int) -> Any:
    family = _family(family_id)
    goal = service.current_goal(family)
    cycles = service.cycles(family)
    return render_template(
        "practitioner/family.html",
        family=family,
        status=service.STATUS_NAMES[family.status],
        step=service.next_step(family),
        share=_take_link(family),
        invitations=invitation_service.family_invitations(family),
        invitation_state=invitation_service.invitation_state,
        carers=service.carers(family),
        describe_device=service.describe_device,
        consents=consent_service.family_consents(family),
        consent_names=consent_service.CONSENT_NAMES,
        goal=goal,
        goal_agreed_by_me=goal is not None and goal_service.agreed_by(goal, current_user),
        current_cycle=cycles[0] if cycles else None,
        past_cycles=cycles[1:],
        place_names=service.PLACE_NAMES,
        film_sentence=service.film_sentence,
        open=family.status in (FamilyStatus.INVITED, FamilyStatus.ACTIVE),
        invite_form=InviteForm(language=family.language),
        recordings=recordings_service.recordings_for(family),
        sent_messages=messages.family_messages(family),
        message_words=(messages.KIND_WORDS, messages.CHANNEL_WORDS, messages.STATUS_WORDS),
        send_error=session.pop(_SEND_ERROR, None),
    )


# How long the share panel's "send it for me" form stays usable.
_SEND_FORM_SECONDS = 3600
_SEND_ERROR = "vig_send_error"


@bp.post("/families/<int:family_id>/invitations/<int:invitation_id>/send")
def send_invitation(family_id: int, invitation_id: int) -> Any:
    """Send a link by text or email through GOV.UK Notify (a background job)."""
    family = _family(family_id)
    invitation = _invitation(family, invitation_id)
    channel = request.form.get("channel", "")
    if channel not in (MessageChannel.SMS.value, MessageChannel.EMAIL.value):
        abort(400)
    token = invitation_service.unseal_token(
        request.form.get("sealed", ""), max_age=_SEND_FORM_SECONDS
    )
    if token is None:
        flash("This page was open too long. Make a new link, then send it.", "error")
        return _back(family, "invitations")
    address = request.form.get("address", "")
    try:
        sent = messages.send_invitation(family, invitation, token, MessageChannel(channel), address)
    except messages.BadAddress as e:
        # Show the same link again with the problem beside the box.
        _remember_link(family, invitation, token)
        # The cookie is signed, not encrypted: the number or address is never put in it.
        session[_SEND_ERROR] = {"channel": channel, "error": str(e)}
        return _back(family, "share")
    except messages.NotSendable as e:
        flash(str(e), "error")
        return _back(family, "invitations")
    how = "by text" if sent.channel is MessageChannel.SMS else "by email"
    flash(
        f"Sending the link {how} to {sent.address_hint}. See how it went under Messages.", "success"
    )
    return _back(family, "messages")


@bp.post("/families/<int:family_id>/invitations")
def invite(family_id: int) -> Any:
    family = _family(family_id)
    form = InviteForm()
    if not form.validate_on_submit():
        flash("Keep the carer's name short.", "error")
        return _back(family, "invitations")
    return _issue(
        family,
        lambda: invitation_service.invite_carer(
            family, current_user, form.carer_name.data or "", language=form.language.data
        ),
    )


def _issue(family: Family, make: Callable[[], tuple[Invitation, str]]) -> Any:
    """Make a link with `make`, then show it once on the family page."""
    try:
        invitation, token = make()
    except invitation_service.FamilyNotOpen as e:
        flash(str(e), "error")
        return _back(family)
    _remember_link(family, invitation, token)
    flash("A new link is ready. Send it now: it is only shown once.", "success")
    return _back(family, "share")


def _invitation(family: Family, invitation_id: int) -> Invitation:
    invitation = access.load_owned(current_user, Invitation, invitation_id)
    if invitation.family_id != family.id:
        abort(404)
    return invitation


@bp.post("/families/<int:family_id>/invitations/<int:invitation_id>/revoke")
def revoke(family_id: int, invitation_id: int) -> Any:
    family = _family(family_id)
    invitation = _invitation(family, invitation_id)
    try:
        invitation_service.revoke_invitation(invitation, current_user)
    except invitation_service.InvitationAlreadyUsed as e:
        flash(str(e), "error")
        return _back(family, "invitations")
    flash("That link is cancelled. It won't work any more.", "success")
    return _back(family, "invitations")


@bp.post("/families/<int:family_id>/invitations/<int:invitation_id>/resend")
def resend(family_id: int, invitation_id: int) -> Any:
    family = _family(family_id)
    invitation = _invitation(family, invitation_id)
    return _issue(family, lambda: invitation_service.resend_invitation(invitation, current_user))


@bp.post("/families/<int:family_id>/carers/<int:carer_id>/invite")
def invite_carer(family_id: int, carer_id: int) -> Any:
    family = _family(family_id)
    carer = service.carer_of(family, carer_id) or abort(404)
    return _issue(
        family, lambda: invitation_service.invite_carer(family, current_user, carer=carer)
    )


@bp.post("/families/<int:family_id>/carers/<int:carer_id>/sign-out")
def sign_out_carer(family_id: int, carer_id: int) -> Any:
    family = _family(family_id)
    carer = service.carer_of(family, carer_id) or abort(404)
    device = safe_input.parse_id(request.form.get("device_id"))
    ended = service.sign_out_carer(family, carer, current_user, device)
    messages.forget_ended_devices(carer.id)
    name = carer.display_name or "This carer"
    if ended and device is not None:
        flash(f"{name} is signed out on that device. Send a new link for a new phone.", "success")
    elif ended:
        flash(f"{name} is signed out on every device. Send a new link to sign in again.", "success")
    else:
        flash(f"{name} was not signed in anywhere.", "info")
    return _back(family, "carers")


def _plan_from(form: PlanForm) -> FilmingPlan:
    return FilmingPlan(
        film_by=form.film_by.data,
        place=FilmingPlace(form.place.data),
        activity=form.activity.data or "",
        note=form.note.data or "",
        review_on=form.review_on.data,
        review_time=form.review_time.data,
    )


# Which box a plan problem is about, for the GOV.UK error summary and the message beside it.
_PLAN_ERROR_FIELDS = (
    ("review time", "review_time"),
    ("review", "review_on"),
    ("activity", "activity"),
    ("filming date", "film_by"),
)


def _plan_field_errors(form: PlanForm, error: str) -> dict[str, str]:
    if not error:
        return {}
    invalid = [name for name, found in form.errors.items() if found and name != "csrf_token"]
    if invalid:
        return {name: error for name in invalid}
    lowered = error.lower()
    return {next((f for words, f in _PLAN_ERROR_FIELDS if words in lowered), "film_by"): error}


def _plan_page(family: Family, form: PlanForm, cycle: Cycle | None, error: str = "") -> Any:
    status = 400 if error else 200
    return render_template(
        "practitioner/plan.html",
        family=family,
        form=form,
        cycle=cycle,
        field_errors=_plan_field_errors(form, error),
    ), status


@bp.route("/families/<int:family_id>/plan", methods=["GET", "POST"])
def plan(family_id: int) -> Any:
    family = _family(family_id)
    form = PlanForm()
    if request.method == "GET":
        return _plan_page(family, form, None)
    if not form.validate_on_submit():
        return _plan_page(family, form, None, "Please check the dates: use the date pickers.")
    try:
        service.plan_cycle(family, current_user, _plan_from(form))
    except (service.InvalidPlan, service.FamilyNotOpen) as e:
        return _plan_page(family, form, None, str(e))
    messages.plan_reminders(family)
    flash("Filming plan saved. The family can see it on their home screen.", "success")
    return _back(family, "plans")


@bp.route("/families/<int:family_id>/cycles/<int:cycle_id>", methods=["GET", "POST"])
def edit_plan(family_id: int, cycle_id: int) -> Any:
    family = _family(family_id)
    cycle = access.load_owned(current_user, Cycle, cycle_id)
    if cycle.family_id != family.id:
        abort(404)
    if request.method == "GET":
        plan = service.plan_of(cycle)
        form = PlanForm(
            data={
                "film_by": plan.film_by,
                "place": plan.place.value,
                "activity": plan.activity,
                "note": plan.note,
                "review_on": plan.review_on,
                "review_time": plan.review_time,
            }
        )
        return _plan_page(family, form, cycle)
    form = PlanForm()
    if not form.validate_on_submit():
        return _plan_page(family, form, cycle, "Please check the dates: use the date pickers.")
    try:
        service.update_cycle(cycle, current_user, _plan_from(form))
    except (service.InvalidPlan, service.FamilyNotOpen) as e:
        return _plan_page(family, form, cycle, str(e))
    messages.plan_reminders(family)
    flash("Filming plan changed. The family can see it on their home screen.", "success")
    return _back(family, "plans")
