"""Phones report the errors they used to swallow; admins read them (issue 14 §8)."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, abort, render_template, request
from flask_login import current_user

from vigparent.client_errors import service
from vigparent.errors import PlainError
from vigparent.models import Role
from vigparent.security import limiter, require_role

bp = Blueprint("client_errors", __name__)
bp.before_request(require_role(Role.PARENT, Role.ADMIN))
# The version a phone reports with each error (base.html puts it in a meta tag).
bp.add_app_template_global(service.app_version, "app_version")


def _reporter_key() -> str:
    # Per signed-in person, not per address: many phones share a carrier's NAT address.
    return f"client-error:{current_user.id}"


@bp.post("/api/client-errors")
@limiter.limit(service.RATE_LIMIT, key_func=_reporter_key)
def report() -> Any:
    """One error from a parent's phone: a small JSON object, sent with the CSRF header."""
    if current_user.role is not Role.PARENT:
        abort(404)
    length = request.content_length
    if length is None or length > service.MAX_BODY_BYTES:
        raise PlainError(413, "The report is too big.")
    if not request.is_json:
        raise PlainError(415, "Send the report as JSON.")
    try:
        parsed = service.parse_report(request.get_json(silent=True))
    except service.BadReport as e:
        raise PlainError(400, f"The report is not in the expected form: {e}.") from None
    service.record(parsed, current_user, request.user_agent.string)
    return "", 204


@bp.get("/practice/phone-errors")
def admin_list() -> Any:
    if current_user.role is not Role.ADMIN:
        abort(404)
    return render_template(
        "client_errors/list.html",
        errors=service.recent(current_user.organisation_id),
        kind_words=service.KINDS,
    )
