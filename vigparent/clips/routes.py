"""The practitioner's clip editor, the family's clips overview and presentation mode.

Entry point from the practitioner's family page: `clips.family` (family_id). A recording's
editor is `clips.recording` (recording_id).
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, abort, flash, jsonify, redirect, render_template, request, url_for
from flask_login import current_user

from vigparent import access, assets, db, safe_input
from vigparent.clips import service
from vigparent.clips.forms import ClipForm
from vigparent.families.service import current_goal
from vigparent.media.service import load_media_owner
from vigparent.models import Clip, ClipStatus, Family, Recording, Role
from vigparent.security import require_role

bp = Blueprint("clips", __name__, url_prefix="/practice/clips")
bp.before_request(require_role(Role.PRACTITIONER, Role.ADMIN))

assets.register("clips_editor_js", "js/clip-status.js", "js/clip-editor.js")
assets.register("clips_family_js", "js/clip-status.js")
assets.register("clips_present_js", "js/clip-present.js")

STATUS_LABELS = {
    ClipStatus.CUTTING: "Cutting…",
    ClipStatus.READY: "Ready",
    ClipStatus.FAILED: "Could not be cut",
}


def _family(family_id: int) -> Family:
    """The family, if the signed-in user is its own practitioner (admins oversee, not edit)."""
    family = access.load_family(current_user, family_id)
    if family.practitioner_id != current_user.id:
        abort(404)
    return family


def _recording(recording_id: int) -> Recording:
    return load_media_owner(current_user, Recording, recording_id)


def _clip(clip_id: int) -> Clip:
    return load_media_owner(current_user, Clip, clip_id)


def _back(clip: Clip) -> Any:
    """Back to the page the button was on: the family overview or the recording."""
    if request.form.get("return_to") == "family":
        return redirect(url_for(".family", family_id=clip.family_id, _anchor=f"clip-{clip.id}"))
    return redirect(url_for(".recording", recording_id=clip.recording_id, _anchor="clips"))


@bp.app_template_global()
def clip_status_label(clip: Clip) -> str:
    return STATUS_LABELS[clip.status]


@bp.app_template_filter("timecode")
def timecode(seconds: float | None) -> str:
    """1.5 -> "0:01.50": minutes, seconds and hundredths, as the editor shows them."""
    if seconds is None:
        return "–"
    hundredths = round(seconds * 100)
    minutes, rest = divmod(hundredths, 6000)
    return f"{minutes}:{rest // 100:02d}.{rest % 100:02d}"


@bp.get("/families/<int:family_id>")
def family(family_id: int) -> Any:
    fam = _family(family_id)
    return render_template(
        "clips/family.html",
        family=fam,
        recordings=service.family_recordings(fam),
        sets=service.review_sets(fam, published_only=False, ready_only=False),
        words=service.parent_words(fam),
        cuttable=service.cuttable,
    )


def _editor(recording: Recording, form: ClipForm, editing: Clip | None, status: int = 200) -> Any:
    return (
        render_template(
            "clips/recording.html",
            recording=recording,
            family=recording.family,
            clips=recording.clips,
            form=form,
            editing=editing,
            frame_rate=service.frame_rate(recording),
            principle_hints={p.value: hint for p, hint in service.PRINCIPLE_HINTS.items()},
        ),
        status,
    )


@bp.route("/recordings/<int:recording_id>", methods=["GET", "POST"])
def recording(recording_id: int) -> Any:
    rec = _recording(recording_id)
    if not service.cuttable(rec):
        abort(404)
    form = ClipForm()
    if request.method == "GET":
        form.position.data = service.next_position(rec)
        return _editor(rec, form, None)
    if not form.validate():
        flash(form.first_error(), "error")
        return _editor(rec, form, None, 400)
    try:
        clip = service.create_clip(rec, form.details(), current_user)
    except service.ClipProblem as e:
        flash(e.message, "error")
        return _editor(rec, form, None, 400)
    # Say the state as it is now (the job may have run already, inline or in a worker); the
    # clip's card keeps it up to date after that.
    db.session().refresh(clip)
    if clip.status is ClipStatus.READY:
        flash(f"Clip {clip.position} is ready.", "success")
    else:
        flash(f"Clip {clip.position} is saved. You can make the next one.", "success")
    return redirect(url_for(".recording", recording_id=rec.id, _anchor="clips"))


@bp.route("/<int:clip_id>/edit", methods=["GET", "POST"])
def edit(clip_id: int) -> Any:
    clip = _clip(clip_id)
    form = ClipForm(obj=clip if request.method == "GET" else None)
    if request.method == "GET":
        form.principle.data = clip.principle.value
        return _editor(clip.recording, form, clip)
    if not form.validate():
        flash(form.first_error(), "error")
        return _editor(clip.recording, form, clip, 400)
    try:
        recut = service.update_clip(clip, form.details(), current_user)
    except service.ClipProblem as e:
        flash(e.message, "error")
        return _editor(clip.recording, form, clip, 400)
    flash(
        "Saved." if not recut or clip.status is ClipStatus.READY else "Saved. See its card below.",
        "success",
    )
    return redirect(url_for(".recording", recording_id=clip.recording_id, _anchor="clips"))


@bp.get("/<int:clip_id>/status")
def status(clip_id: int) -> Any:
    """A small JSON status the editor polls while a clip is being cut."""
    clip = _clip(clip_id)
    ready = clip.status is ClipStatus.READY
    return jsonify(
        id=clip.id,
        status=clip.status.value,
        label=STATUS_LABELS[clip.status],
        media=url_for("media.clip", clip_id=clip.id) if ready else None,
        poster=url_for("media.clip_poster", clip_id=clip.id) if ready else None,
    )


@bp.post("/<int:clip_id>/publish")
def publish(clip_id: int) -> Any:
    clip = _clip(clip_id)
    try:
        service.publish([clip], current_user)
    except service.ClipProblem as e:
        flash(e.message, "error")
    else:
        flash(f"“{clip.title}” is now shown to the family.", "success")
    return _back(clip)


@bp.post("/<int:clip_id>/unpublish")
def unpublish(clip_id: int) -> Any:
    clip = _clip(clip_id)
    service.unpublish(clip, current_user)
    flash(f"“{clip.title}” is hidden from the family again.", "success")
    return _back(clip)


@bp.post("/<int:clip_id>/retry")
def retry(clip_id: int) -> Any:
    clip = _clip(clip_id)
    try:
        service.retry_cut(clip, current_user)
    except service.ClipProblem as e:
        flash(e.message, "error")
    return _back(clip)


@bp.post("/<int:clip_id>/delete")
def delete(clip_id: int) -> Any:
    clip = _clip(clip_id)
    recording_id, family_id, title = clip.recording_id, clip.family_id, clip.title
    service.delete_clip(clip, current_user)
    flash(f"“{title}” has been deleted.", "success")
    if request.form.get("return_to") == "family":
        return redirect(url_for(".family", family_id=family_id))
    return redirect(url_for(".recording", recording_id=recording_id, _anchor="clips"))


@bp.post("/families/<int:family_id>/publish")
def publish_set(family_id: int) -> Any:
    """Publish every clip of one review at once."""
    fam = _family(family_id)
    sets = service.review_sets(fam, published_only=False, ready_only=False)
    chosen = service.find_set(sets, request.form.get("set", ""))
    if chosen is None:
        abort(404)
    try:
        count = service.publish(chosen.clips, current_user)
    except service.ClipProblem as e:
        flash(e.message, "error")
    else:
        flash(
            f"{chosen.title}: {count} clip{'s' if count != 1 else ''} now shown to the family."
            if count
            else f"{chosen.title}: every clip was already shown to the family.",
            "success",
        )
    return redirect(url_for(".family", family_id=fam.id, _anchor=f"set-{chosen.key}"))


@bp.get("/families/<int:family_id>/present")
def present(family_id: int) -> Any:
    """Presentation mode for the shared review: one large clip, its note, previous/next."""
    fam = _family(family_id)
    sets = service.review_sets(fam, published_only=False, ready_only=True)
    chosen = service.find_set(sets, request.args.get("set", ""))
    if chosen is None:
        return render_template("clips/present_empty.html", family=fam)
    clips = chosen.clips
    wanted = safe_input.parse_id(request.args.get("clip"))
    index = next((i for i, c in enumerate(clips) if c.id == wanted), 0)
    return render_template(
        "clips/present.html",
        family=fam,
        review=chosen,
        clip=clips[index],
        index=index,
        total=len(clips),
        previous=clips[index - 1] if index > 0 else None,
        next=clips[index + 1] if index + 1 < len(clips) else None,
        goal=current_goal(fam),
    )
