"""Consent: what a family agreed to, and (added by the withdrawal work) withdrawing it."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, abort, flash, redirect, render_template, url_for
from flask_babel import gettext
from flask_login import current_user

from vigparent import access
from vigparent.consent import service
from vigparent.models import ConsentKind, Family
from vigparent.supervision import service as supervision

bp = Blueprint("consent", __name__, url_prefix="/consent")


@bp.get("/privacy")
def privacy() -> Any:
    """What this family agreed to, and how to stop. Parents only."""
    family = _own_family()
    return render_template(
        "consent/privacy.html",
        family=family,
        organisation=family.organisation,
        practitioner=family.practitioner,
        consents=service.family_consents(family),
        consent_names=service.CONSENT_NAMES,
        statements=service.statements_for(family.organisation),
        wording_version=service.wording_version_for(family.organisation),
        supervision_agreed=supervision.carer_agreed(family, current_user),
        supervision_kind=ConsentKind.SUPERVISION,
        supervision_shares=supervision.shares_for_parent(family),
    )


def _own_family() -> Family:
    if not current_user.is_parent or current_user.family_id is None:
        abort(404)
    return access.load_family(current_user, current_user.family_id)


@bp.post("/supervision")
def give_supervision() -> Any:
    """This carer agrees their clips may be shown to the practitioner's supervisor."""
    family = _own_family()
    try:
        supervision.give_consent(family, current_user)
    except supervision.SupervisionProblem as e:
        flash(e.message, "error")
    else:
        flash(
            gettext("Thank you. Your practitioner may now show some clips to their teacher."),
            "success",
        )
    return redirect(url_for(".privacy", _anchor="supervision"), code=303)


@bp.post("/supervision/withdraw")
def take_back_supervision() -> Any:
    """Take it back: every share of the family's clips ends at once."""
    family = _own_family()
    supervision.take_back_consent(family, current_user)
    flash(gettext("Done. Your clips are not shown to anyone else now."), "success")
    return redirect(url_for(".privacy", _anchor="supervision"), code=303)
