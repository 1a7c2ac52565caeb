"""Consent: what a family agreed to, and (added by the withdrawal work) withdrawing it."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, abort, render_template
from flask_login import current_user

from vigparent import access
from vigparent.consent import service

bp = Blueprint("consent", __name__, url_prefix="/consent")


@bp.get("/privacy")
def privacy() -> Any:
    """What this family agreed to, and how to stop. Parents only."""
    if not current_user.is_parent or current_user.family_id is None:
        abort(404)
    family = access.load_family(current_user, current_user.family_id)
    return render_template(
        "consent/privacy.html",
        family=family,
        organisation=family.organisation,
        practitioner=family.practitioner,
        consents=service.family_consents(family),
        consent_names=service.CONSENT_NAMES,
        statements=service.statements_for(family.organisation),
        wording_version=service.wording_version_for(family.organisation),
    )
