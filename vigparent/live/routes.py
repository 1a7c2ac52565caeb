"""Watching clips together, live: the practitioner's screen, the parent's phone, and the
room's event stream and commands. Every route goes through the one access check."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from flask import (
    Blueprint,
    Response,
    abort,
    current_app,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_babel import gettext
from flask_login import current_user

from vigparent import access, assets
from vigparent.capture import service as capture
from vigparent.clips.service import frame_rate
from vigparent.families.service import current_goal
from vigparent.live import fanout, service, stream
from vigparent.models import Family, Role
from vigparent.security import keeps_session_cookie, require_role

bp = Blueprint("live", __name__, url_prefix="/live")
# Admins oversee an organisation but never watch its families' videos; supervisors watch
# shared clips only.
bp.before_request(require_role(Role.PRACTITIONER, Role.PARENT))

assets.register("live_sync_js", "js/live-sync.js")
assets.register("live_lead_js", "js/live-lead.js", after=("common_js", "live_sync_js"))
assets.register("live_invite_js", "js/live-invite.js")
assets.register(
    "live_parent_js",
    "js/live-parent.js",
    after=("common_js", "capture_js", "record_js", "live_sync_js"),
)


def _family(family_id: int, *roles: Role) -> Family:
    if current_user.role not in roles:
        abort(404)
    return access.load_family(current_user, family_id)


def _own_family() -> Family:
    if current_user.role is not Role.PARENT or current_user.family_id is None:
        abort(404)
    return access.load_family(current_user, current_user.family_id)


def _answer(problem: service.LiveProblem | None = None, **body: Any) -> Any:
    if problem is not None:
        return {"message": problem.message}, problem.status
    return {"ok": True, **body}


# -- pages ---------------------------------------------------------------------------------------


@bp.get("/")
def parent_room() -> Any:
    """The parent's phone in the live review (or a calm word that there is none now)."""
    family = _own_family()
    review = service.open_review(family)
    return render_template(
        "live/parent.html",
        family=family,
        review=review,
        practitioner=family.practitioner,
        may_film=capture.filming_state(family) is capture.FilmingState.ALLOWED,
        nudge_seconds=capture.NUDGE_SECONDS,
        max_seconds=capture.MAX_SECONDS,
        low_storage_bytes=capture.LOW_STORAGE_BYTES,
    )


@bp.get("/invitation")
@keeps_session_cookie
def invitation() -> Any:
    """Whether the parent's practitioner has a live review open now (for the home page)."""
    return {"open": service.open_review(_own_family()) is not None}


@bp.get("/families/<int:family_id>")
def lead(family_id: int) -> Any:
    """The practitioner's screen: the clip, the controls, who is here and what they noticed."""
    family = _family(family_id, Role.PRACTITIONER)
    review = service.open_review(family)
    if review is None:
        return redirect(url_for("clips.family", family_id=family.id))
    clips = service.clips_of(review, family)
    return render_template(
        "live/lead.html",
        family=family,
        review=review,
        clips=clips,
        clips_json=[
            service.clip_json(c, lambda clip_id: url_for("media.clip", clip_id=clip_id))
            | {"fps": frame_rate(c.recording)}
            for c in clips
        ],
        goal=current_goal(family),
        may_film=capture.filming_state(family) is capture.FilmingState.ALLOWED,
    )


@bp.post("/families/<int:family_id>/start")
def start(family_id: int) -> Any:
    family = _family(family_id, Role.PRACTITIONER)
    try:
        service.start(family, current_user, request.form.get("set", ""))
    except service.LiveProblem as e:
        return render_template("live/problem.html", family=family, problem=e.message), e.status
    return redirect(url_for(".lead", family_id=family.id))


@bp.post("/families/<int:family_id>/end")
def end(family_id: int) -> Any:
    family = _family(family_id, Role.PRACTITIONER)
    service.end(family, current_user)
    return redirect(url_for("clips.family", family_id=family.id))


# -- the event stream ------------------------------------------------------------------------------


@bp.get("/families/<int:family_id>/events")
def events(family_id: int) -> Any:
    family = _family(family_id, Role.PRACTITIONER, Role.PARENT)
    review = service.open_review(family)
    if review is None:
        # The page closes its EventSource when told the review is over (it would reconnect
        # after any other answer).
        return Response(
            stream.message({"type": "ended"}),
            mimetype="text/event-stream",
            headers=stream.headers(),
        )
    subscription = fanout.current().subscribe(service.room(family.id))
    try:
        connection = service.join(review, family, current_user)
        first = service.snapshot(
            review, family, lambda clip_id: url_for("media.clip", clip_id=clip_id)
        )
    except BaseException:
        subscription.close()
        raise
    listener = stream.Listener(review.id, family.id, current_user.id, connection)
    body = stream.EventStream(current_app._get_current_object(), subscription, first, listener)  # type: ignore[attr-defined]
    # The request's database session closes when this view returns, before the first byte
    # of the stream is sent: the held connection waits on the fan-out alone.
    return Response(body, mimetype="text/event-stream", headers=stream.headers())


# -- commands (small JSON posts, CSRF-checked like every other change) ----------------------------


def _open(family_id: int, *roles: Role) -> tuple[Family, Any]:
    family = _family(family_id, *roles)
    return family, service.open_review(family)


def _on_open_review(
    family_id: int, role: Role, act: Callable[[Family, Any], dict[str, Any]]
) -> Any:
    """Do one posted action on the family's open live review and answer with what it gives;
    or say why not: the review has ended, or the action was refused."""
    family, review = _open(family_id, role)
    try:
        if review is None:
            raise service.LiveProblem(gettext("This live review has ended."), 404)
        body = act(family, review)
    except service.LiveProblem as e:
        return _answer(e)
    return _answer(**body)


def _posted_object() -> dict[str, Any]:
    data = request.get_json(silent=True)
    if not isinstance(data, dict):
        raise service.LiveProblem(gettext("That was not understood."))
    return data


@bp.post("/families/<int:family_id>/command")
@keeps_session_cookie
def command(family_id: int) -> Any:
    def move(family: Family, review: Any) -> dict[str, Any]:
        cmd = service.parse_command(request.get_json(silent=True))
        return {"seq": service.command(review, family, cmd).seq}

    return _on_open_review(family_id, Role.PRACTITIONER, move)


def _change(
    family_id: int, role: Role, change: Callable[[Family, Any, dict[str, Any]], Any]
) -> Any:
    """Apply one posted change to the open review; answer with its new sequence number."""
    return _on_open_review(
        family_id,
        role,
        lambda family, review: {"seq": change(family, review, _posted_object()).seq},
    )


@bp.post("/families/<int:family_id>/note")
@keeps_session_cookie
def note(family_id: int) -> Any:
    return _change(
        family_id,
        Role.PRACTITIONER,
        lambda family, review, data: service.show_note(
            review, family, data.get("text"), data.get("strength")
        ),
    )


@bp.post("/families/<int:family_id>/film")
@keeps_session_cookie
def film(family_id: int) -> Any:
    return _change(
        family_id,
        Role.PRACTITIONER,
        lambda family, review, data: service.ask_to_film(
            review, family, current_user, data.get("ask")
        ),
    )


@bp.post("/families/<int:family_id>/film-answer")
@keeps_session_cookie
def film_answer(family_id: int) -> Any:
    return _change(
        family_id,
        Role.PARENT,
        lambda family, review, data: service.answer_film(
            review, family, current_user, data.get("answer")
        ),
    )


@bp.post("/families/<int:family_id>/noticed")
@keeps_session_cookie
def noticed(family_id: int) -> Any:
    def mark(family: Family, review: Any) -> dict[str, Any]:
        noticed = service.notice(review, family, current_user, request.get_json(silent=True))
        return {"id": noticed.id}

    return _on_open_review(family_id, Role.PARENT, mark)
