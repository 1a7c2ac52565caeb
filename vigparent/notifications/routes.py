"""A parent's message settings (filming reminders, notifications on this phone) and the
push-subscription API their phone calls."""

from __future__ import annotations

from typing import Any, cast

from flask import Blueprint, Flask, abort, flash, jsonify, redirect, request, url_for
from flask_babel import gettext
from flask_login import current_user
from sqlalchemy import select

from vigparent import assets, db
from vigparent.auth import service as auth_service
from vigparent.models import LoginSession, Role, User
from vigparent.notifications import reach, service
from vigparent.security import require_role

bp = Blueprint("notifications", __name__)
bp.before_request(require_role(Role.PARENT))
bp.record_once(lambda state: reach.init_app(cast(Flask, state.app)))

# Subscribing this phone to notifications, and forgetting it again.
assets.register("push_js", "js/push.js")


@bp.app_template_global("message_settings")
def message_settings(user: User) -> dict[str, Any]:
    """What a parent's "Messages" card shows."""
    sender = reach.push_sender()
    return {
        "reminders_on": reach.reminders_on(user),
        "how": reach.how_reached(user),
        "push_key": sender.public_key if sender is not None else "",
    }


@bp.post("/home/reminders")
def reminders() -> Any:
    wanted = request.form.get("reminders")
    if wanted not in ("on", "off"):
        abort(400)
    service.set_reminders(current_user, wanted == "on")
    if wanted == "on":
        flash(gettext("Filming-day reminders are on."), "success")
    else:
        flash(gettext("Filming-day reminders are off. We won't send you any."), "success")
    return redirect(url_for("parent.home", _anchor="messages"))


def _this_device() -> int:
    login = db.session().scalar(
        select(LoginSession.id).where(
            LoginSession.token_hash == auth_service.token_hash(current_user.get_id())
        )
    )
    if login is None:
        abort(401)
    return int(login)


def _subscription_json() -> tuple[str, str, str]:
    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        abort(400)
    keys = body.get("keys")
    if not isinstance(keys, dict):
        abort(400)
    values = (body.get("endpoint"), keys.get("p256dh"), keys.get("auth"))
    if not all(isinstance(v, str) and 0 < len(v) <= 1000 for v in values):
        abort(400)
    return values  # type: ignore[return-value]


@bp.post("/api/push/subscription")
def subscribe() -> Any:
    endpoint, p256dh, auth = _subscription_json()
    try:
        service.subscribe(current_user, _this_device(), endpoint, p256dh, auth)
    except service.BadAddress as e:
        return jsonify(error=str(e)), 400
    return jsonify(subscribed=True), 201


@bp.post("/api/push/subscription/forget")
def unsubscribe() -> Any:
    body = request.get_json(silent=True)
    endpoint = body.get("endpoint") if isinstance(body, dict) else None
    if not isinstance(endpoint, str):
        abort(400)
    service.unsubscribe(current_user, endpoint)
    return jsonify(subscribed=False)


@bp.post("/api/push/subscription/check")
def check() -> Any:
    """The phone asks whether the server still knows its subscription (after a sign-out or
    withdrawal it does not, and the phone then unsubscribes itself)."""
    body = request.get_json(silent=True)
    endpoint = body.get("endpoint") if isinstance(body, dict) else None
    if not isinstance(endpoint, str):
        abort(400)
    return jsonify(subscribed=service.is_subscribed(current_user, endpoint))
