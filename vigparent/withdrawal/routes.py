"""Withdrawing consent, deleting recordings, closing cases and erasing families.

Parents: the one-tap "stop and delete everything" (its panel sits in the privacy page),
"stop filming only", deleting one video, and the receipt. Staff: close a case (its media goes
after the organisation's retention period); admins: erase a family entirely.
"""

from __future__ import annotations

from typing import Any

from flask import (
    Blueprint,
    abort,
    current_app,
    flash,
    jsonify,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_babel import gettext, ngettext
from flask_login import current_user
from sqlalchemy import func, select

from vigparent import access, assets, db
from vigparent.families import service as families
from vigparent.families.service import say_when
from vigparent.models import (
    Clip,
    DeletionReceipt,
    Family,
    FamilyStatus,
    Recording,
    RecordingStatus,
    Role,
)
from vigparent.security import require_role
from vigparent.withdrawal import service, words

bp = Blueprint("withdrawal", __name__, url_prefix="/withdrawal")
bp.before_request(require_role(Role.PARENT, Role.PRACTITIONER, Role.ADMIN))

# On every parent page: wipes the phone after a withdrawal, and sends a withdrawal that was
# tapped while offline as soon as the phone is back online.
assets.register("withdrawal_js", "js/withdraw.js")

# Where a parent of a withdrawn family may still go: the receipt (and a repeated tap, which
# leads there), signing out, and the app shell.
_OPEN_BLUEPRINTS = {"pwa", "auth"}
_OPEN_ENDPOINTS = {"static", "withdrawal.receipt", "withdrawal.withdraw"}


def _parent_family() -> Family:
    if not current_user.is_parent or current_user.family_id is None:
        abort(404)
    return access.load_family(current_user, current_user.family_id)


def _staff_only(*roles: Role) -> None:
    if current_user.role not in roles:
        abort(404)


def _wants_json() -> bool:
    return request.accept_mimetypes.best == "application/json"


@bp.app_template_global()
def withdrawal_summary(family: Family) -> dict[str, Any]:
    """What the one-tap withdrawal would delete, for the words beside the button."""
    s = db.session()
    recordings = s.scalar(
        select(func.count()).select_from(Recording).where(Recording.family_id == family.id)
    )
    clips = s.scalar(select(func.count()).select_from(Clip).where(Clip.family_id == family.id))
    return {
        "recordings": int(recordings or 0),
        "clips": int(clips or 0),
        "filming_withdrawn": service.filming_withdrawn(family),
        "withdrawn": family.status is FamilyStatus.WITHDRAWN,
    }


# Plain words for templates (receipts, lists of videos).
bp.add_app_template_global(words.reason_words, "reason_words")
bp.add_app_template_global(words.size_words, "size_words")
bp.add_app_template_global(words.duration_words, "duration_words")


@bp.app_template_global()
def withdrawal_status(family: Family) -> str | None:
    """'Consent withdrawn, media deleted (25 November at 14:02).' for staff pages, or None."""
    return words.family_status_words(family)


@bp.before_app_request
def _withdrawn_parent_sees_receipt() -> Any:
    """After withdrawal a parent's account exists only to show the receipt.

    The upload API answers for itself (403 consent_withdrawn, which makes the phone delete
    its copies); every other page leads to the receipt.
    """
    if not current_user.is_authenticated or not current_user.is_parent:
        return None
    if request.endpoint is None or request.endpoint in _OPEN_ENDPOINTS:
        return None
    if request.blueprint in _OPEN_BLUEPRINTS:
        return None
    if request.path.startswith("/api/"):
        return None
    family = current_user.family
    if family is None or family.status is not FamilyStatus.WITHDRAWN:
        return None
    return redirect(url_for("withdrawal.receipt"), code=303)


# -- parents ----------------------------------------------------------------------------------


@bp.get("/")
def index() -> Any:
    """The withdrawal choices. They live in the privacy page when it exists."""
    family = _parent_family()
    if family.status is FamilyStatus.WITHDRAWN:
        return redirect(url_for("withdrawal.receipt"))
    if "consent.privacy" in current_app.view_functions:
        return redirect(url_for("consent.privacy", _anchor="withdraw"))
    return render_template("withdrawal/withdraw.html", family=family)


@bp.post("/withdraw")
def withdraw() -> Any:
    """The one tap: withdraw consent and delete everything. A second tap changes nothing."""
    family = _parent_family()
    receipt = service.withdraw_consent(family, current_user)
    url = url_for("withdrawal.receipt")
    if _wants_json():
        return jsonify(
            receipt_url=url,
            message=words.receipt_sentence(receipt),
            complete=receipt.completed_at is not None,
        )
    return redirect(url, code=303)


@bp.post("/filming")
def stop_filming() -> Any:
    family = _parent_family()
    if family.status is FamilyStatus.WITHDRAWN:
        return redirect(url_for("withdrawal.receipt"), code=303)
    service.withdraw_filming_only(family, current_user)
    flash(
        gettext(
            "Filming is stopped. We will not take any new videos. The videos and clips you "
            "already have are kept."
        ),
        "success",
    )
    return redirect(url_for("withdrawal.index"), code=303)


@bp.get("/receipt")
def receipt() -> Any:
    family = _parent_family()
    receipts = service.receipts_for_family(family.id)
    whole = service.latest_family_receipt(family.id)
    response = render_template(
        "withdrawal/receipt.html",
        family=family,
        receipt=whole,
        sentence=words.receipt_sentence(whole) if whole else None,
        others=[r for r in receipts if r is not whole],
        sentence_of=words.receipt_sentence,
        reference=words.receipt_reference(whole) if whole else None,
    )
    headers = {}
    if family.status is FamilyStatus.WITHDRAWN:
        # The browser's own HTTP cache may hold clips a parent was allowed to keep; JS cannot
        # reach it, this header can. (IndexedDB and Cache Storage are emptied by withdraw.js.)
        headers["Clear-Site-Data"] = '"cache"'
    return response, 200, headers


@bp.get("/videos")
def videos() -> Any:
    """The parent's videos on our server, each with a delete button."""
    family = _parent_family()
    recordings = list(
        db.session().scalars(
            select(Recording)
            .where(Recording.family_id == family.id)
            .order_by(Recording.created_at.desc(), Recording.id.desc())
        )
    )
    return render_template(
        "withdrawal/videos.html",
        family=family,
        recordings=recordings,
        uploading=RecordingStatus.UPLOADING,
    )


@bp.post("/recordings/<int:recording_id>/delete")
def delete_recording(recording_id: int) -> Any:
    """Delete one recording and its clips (the family's carers, or its practitioner)."""
    recording = access.load_owned(current_user, Recording, recording_id)
    if current_user.is_staff and current_user.role is not Role.ADMIN:
        family = db.session().get(Family, recording.family_id)
        if family is None or family.practitioner_id != current_user.id:
            abort(404)
    family_id = recording.family_id
    client_id = recording.client_id
    receipt = service.delete_recording(recording, current_user)
    clips = receipt.clips
    if not clips:
        message = gettext("We deleted that video.")
    else:
        message = ngettext(
            "We deleted that video and the %(num)s clip made from it.",
            "We deleted that video and the %(num)s clips made from it.",
            clips,
        )
    if _wants_json():
        return jsonify(message=message, client_id=client_id)
    flash(message, "success")
    if current_user.is_parent:
        # The phone forgets its own copy too (withdraw.js reads this from the flash page).
        return redirect(url_for("withdrawal.videos", forget=client_id), code=303)
    back = request.form.get("next", "")
    if back.startswith("/") and not back.startswith("//"):
        return redirect(back, code=303)
    return redirect(url_for("withdrawal.family_receipts", family_id=family_id), code=303)


# -- staff ------------------------------------------------------------------------------------


@bp.route("/families/<int:family_id>/close", methods=["GET", "POST"])
def close_case(family_id: int) -> Any:
    _staff_only(Role.PRACTITIONER, Role.ADMIN)
    family = access.load_family(current_user, family_id)
    error = None
    if request.method == "POST":
        try:
            due = families.close_case(family, current_user)
        except families.CaseNotOpen as e:
            error = str(e)
        else:
            flash(
                "Case closed. The family's videos were already deleted when they withdrew."
                if family.status is FamilyStatus.WITHDRAWN
                else f"Case closed. Its videos and clips will be deleted on {say_when(due)}.",
                "success",
            )
            return redirect(url_for("withdrawal.family_receipts", family_id=family.id), code=303)
    return render_template(
        "withdrawal/close.html",
        family=family,
        summary=withdrawal_summary(family),
        days=family.organisation.retention_days_after_close,
        error=error,
    ), (409 if error else 200)


@bp.route("/families/<int:family_id>/erase", methods=["GET", "POST"])
def erase(family_id: int) -> Any:
    _staff_only(Role.ADMIN)
    family = access.load_family(current_user, family_id)
    if request.method == "POST":
        if request.form.get("confirm_label", "").strip() != family.label:
            flash("Type the family's label exactly to erase it.", "error")
            return render_template(
                "withdrawal/erase.html", family=family, summary=withdrawal_summary(family)
            ), 400
        label = family.label
        receipt = service.erase_family(family, current_user)
        flash(f"{label} is erased. {words.receipt_sentence(receipt)}", "success")
        return redirect(url_for("withdrawal.admin_receipts"), code=303)
    return render_template(
        "withdrawal/erase.html", family=family, summary=withdrawal_summary(family)
    )


@bp.get("/families/<int:family_id>/receipts")
def family_receipts(family_id: int) -> Any:
    _staff_only(Role.PRACTITIONER, Role.ADMIN)
    family = access.load_family(current_user, family_id)
    return render_template(
        "withdrawal/family_receipts.html",
        family=family,
        status_words=words.family_status_words(family),
        receipts=service.receipts_for_family(family.id),
        sentence_of=words.receipt_sentence,
        summary=withdrawal_summary(family),
        due=families.retention_due(family) if family.status is FamilyStatus.CLOSED else None,
    )


@bp.get("/receipts")
def admin_receipts() -> Any:
    """Every deletion receipt of the organisation, erased families included."""
    _staff_only(Role.ADMIN)
    receipts = list(
        db.session().scalars(
            select(DeletionReceipt)
            .where(DeletionReceipt.organisation_id == current_user.organisation_id)
            .order_by(DeletionReceipt.started_at.desc(), DeletionReceipt.id.desc())
            .limit(500)
        )
    )
    return render_template(
        "withdrawal/admin_receipts.html", receipts=receipts, sentence_of=words.receipt_sentence
    )
