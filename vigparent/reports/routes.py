"""The service report (admins): `reports.service_report`, and the same as CSV."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, render_template
from flask_login import current_user

from vigparent.models import Role
from vigparent.reports import service
from vigparent.security import require_role

bp = Blueprint("reports", __name__, url_prefix="/admin/report")
bp.before_request(require_role(Role.ADMIN))


def _report() -> service.Report:
    return service.published_report(service.service_figures(current_user.organisation_id))


@bp.get("/")
def service_report() -> Any:
    return render_template("reports/report.html", report=_report(), note=service.NOTE)


@bp.get("/report.csv")
def service_report_csv() -> Any:
    report = _report()
    name = f"vig-service-report-{report.made_at:%Y-%m-%d}.csv"
    return Response(
        service.report_csv(report),
        content_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )
