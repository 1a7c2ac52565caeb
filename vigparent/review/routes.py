"""Shared review, the parent's side: clips, notes, reflections and progress.

The parent's home page links here with `review.index`.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, abort, redirect, render_template, request, url_for
from flask_login import current_user

from vigparent import access, assets
from vigparent.clips.service import ReviewSet, find_set
from vigparent.media.service import parent_may_keep_copies
from vigparent.models import Clip, Cycle, Role
from vigparent.review import service
from vigparent.security import require_role

bp = Blueprint("review", __name__, url_prefix="/review")
bp.before_request(require_role(Role.PARENT))

assets.register("review_js", "js/review-player.js")


def _page(
    status: int = 200, problems: dict[str, str] | None = None, drafts: dict[str, str] | None = None
) -> Any:
    family = service.family_of(current_user)
    reviews = service.published_reviews(family)
    latest = find_set(reviews, "")
    earlier = [r for r in reversed(reviews) if r is not latest]
    saved = request.args.get("saved", "")
    # An earlier review folded away would hide the "Saved" note or the problem just met.
    wanted = {saved.removeprefix("removed:"), *(problems or {})}
    open_sets = {r.key for r in earlier if wanted & _keys(r)}
    return (
        render_template(
            "review/index.html",
            family=family,
            latest=latest,
            earlier=earlier,
            goal=service.current_goal(family),
            words=service.my_words(current_user, family),
            chart=service.progress_chart(current_user, family),
            may_download=parent_may_keep_copies(current_user, family),
            saved=saved,
            open_sets=open_sets,
            problems=problems or {},
            field_errors={_field_of(key): message for key, message in (problems or {}).items()},
            drafts=drafts or {},
        ),
        status,
    )


def _field_of(key: str) -> str:
    """The id the error summary links to: the text box, or the rating's choices."""
    return key if key.startswith("rating-") else f"{key}-text"


def _keys(review: ReviewSet) -> set[str]:
    keys = {f"clip-{c.id}" for c in review.clips} | {f"overall-{review.key}"}
    if review.cycle is not None:
        keys.add(f"rating-{review.cycle.id}")
    return keys


def _saved(key: str, kept: object = True) -> Any:
    """Back to the review; the note beside the form says whether the words were kept."""
    saved = key if kept is not None else f"removed:{key}"
    return redirect(url_for(".index", saved=saved, _anchor=key))


@bp.get("/")
def index() -> Any:
    return _page()


@bp.post("/clips/<int:clip_id>/reflection")
def clip_reflection(clip_id: int) -> Any:
    # load_owned hides unpublished clips from parents: a draft cannot be written about.
    clip = access.load_owned(current_user, Clip, clip_id)
    text = request.form.get("text", "")
    key = f"clip-{clip.id}"
    try:
        kept = service.save_clip_reflection(current_user, clip, text)
    except service.ReviewProblem as e:
        return _page(400, {key: e.message}, {key: text})
    return _saved(key, kept)


@bp.post("/reflection")
def review_reflection() -> Any:
    """What the carer noticed about a whole review (the set is a cycle id or "other")."""
    family = service.family_of(current_user)
    review = find_set(service.published_reviews(family), request.form.get("set") or "-")
    if review is None:
        abort(404)
    text = request.form.get("text", "")
    key = f"overall-{review.key}"
    try:
        kept = service.save_review_reflection(current_user, review, text)
    except service.ReviewProblem as e:
        return _page(400, {key: e.message}, {key: text})
    return _saved(key, kept)


@bp.post("/cycles/<int:cycle_id>/rating")
def rating(cycle_id: int) -> Any:
    cycle = access.load_owned(current_user, Cycle, cycle_id)
    key = f"rating-{cycle.id}"
    try:
        service.rate(current_user, cycle, service.parse_score(request.form.get("score")))
    except service.ReviewProblem as e:
        return _page(400, {key: e.message})
    return _saved(key)
