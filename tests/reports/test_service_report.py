"""The service report: exact figures checked against families built here, then shown only
after disclosure control, on screen and as CSV, never naming a family."""

from __future__ import annotations

import csv
import io
import secrets
from datetime import timedelta

import pytest

from tests.conftest import Factory, page_text
from vigparent import audit, clock, db
from vigparent.clips import service as clip_service
from vigparent.families import service as families
from vigparent.models import (
    Clip,
    ClipStatus,
    Cycle,
    Family,
    FamilyStatus,
    Principle,
    Recording,
    RecordingStatus,
    Role,
    User,
)
from vigparent.reports import service
from vigparent.review import service as review_service
from vigparent.withdrawal import service as withdrawal


def _cycle(family: Family, number: int) -> Cycle:
    cycle = Cycle(family_id=family.id, number=number)
    db.session().add(cycle)
    db.session().commit()
    return cycle


def _filmed(family: Family, parent: User, cycle: Cycle) -> Recording:
    """A recording as the upload leaves it, filmed now (no media: the report reads none)."""
    rec = Recording(
        family_id=family.id,
        cycle_id=cycle.id,
        uploaded_by_id=parent.id,
        client_id=secrets.token_hex(8),
        upload_id=secrets.token_urlsafe(16),
        declared_size=10,
        received_size=10,
        status=RecordingStatus.READY,
        original_name="none",
        recorded_at=clock.now(),
        completed_at=clock.now(),
    )
    db.session().add(rec)
    audit.record("recording_received", family=family, detail="test")
    db.session().commit()
    return rec


def _reviewed(recording: Recording, by: User) -> None:
    """A finished clip of the recording, shown to the family now."""
    clip = Clip(
        family_id=recording.family_id,
        recording_id=recording.id,
        title="A moment",
        principle=Principle.BEING_ATTENTIVE,
        start_s=0,
        end_s=1,
        status=ClipStatus.READY,
    )
    db.session().add(clip)
    db.session().commit()
    clip_service.publish([clip], by)


def _build(make: Factory, frozen_clock) -> dict[str, Family]:
    org = make.organisation("Report team")
    pat = make.practitioner(organisation=org)
    start = frozen_clock()

    one = make.family(pat, label="Family One")
    c1, c2 = _cycle(one, 1), _cycle(one, 2)
    p1 = make.parent_of(one)
    rec = _filmed(one, p1, c1)
    frozen_clock(days=5)
    _reviewed(rec, pat)
    review_service.rate(p1, c1, 3)
    frozen_clock(at=start + timedelta(days=20))
    rec = _filmed(one, p1, c2)
    frozen_clock(days=20)
    _reviewed(rec, pat)
    review_service.rate(p1, c2, 7)  # +4

    frozen_clock(at=start)
    two = make.family(pat, label="Family Two")
    d1, d2 = _cycle(two, 1), _cycle(two, 2)
    a, b = make.parent_of(two), make.parent(two, "Jo")
    rec = _filmed(two, a, d1)
    frozen_clock(days=10)
    _reviewed(rec, pat)
    review_service.rate(a, d1, 2)
    review_service.rate(b, d1, 4)  # mean 3
    review_service.rate(a, d2, 6)
    review_service.rate(b, d2, 4)  # mean 5: +2

    make.family(pat, label="Family Three", status=FamilyStatus.INVITED, with_parent=False)

    four = make.family(pat, label="Family Four")
    _cycle(four, 1)
    families.close_case(four, pat)

    five = make.family(pat, label="Family Five")
    e1 = _cycle(five, 1)
    p5 = make.parent_of(five)
    _reviewed(_filmed(five, p5, e1), pat)
    review_service.rate(p5, e1, 5)
    withdrawal.withdraw_consent(five, p5)  # media, clips and ratings go; the audit trail stays

    # Another organisation's family never counts.
    elsewhere = make.family(make.practitioner(organisation=make.organisation("Other")))
    _cycle(elsewhere, 1)
    return {"one": one, "two": two, "elsewhere": elsewhere, "org": org}  # type: ignore[dict-item]


def test_exact_figures_match_the_families_built(make: Factory, frozen_clock):
    built = _build(make, frozen_clock)
    figures = service.service_figures(built["org"].id)  # type: ignore[attr-defined]
    assert figures.stages == {
        "invited": 5,
        "joined": 4,
        "filming": 3,
        "reviewed": 3,
        "closed": 1,
        "withdrawn": 1,
    }
    assert figures.cycles_per_family == {"0": 0, "1": 2, "2": 2, "3": 0, "4": 0, "5 or more": 0}
    assert figures.days_to_review == [5, 10, 20]
    assert figures.rating_changes == [2.0, 4.0]


@pytest.mark.parametrize(
    ("n", "shown"),
    [(0, "0"), (1, "<5"), (4, "<5"), (5, "5"), (7, "5"), (8, "10"), (12, "10"), (13, "15")],
)
def test_small_counts_are_suppressed_and_the_rest_rounded(n: int, shown: str):
    assert service.shown_count(n) == shown


def test_a_median_needs_five_behind_it():
    assert service.shown_median([1, 2, 3, 4], "days") == "Not shown (fewer than 5)"
    assert service.shown_median([1, 2, 3, 4, 30], "days") == "3 days"


def test_the_page_and_csv_show_only_controlled_figures(
    make: Factory, frozen_clock, login_as, client
):
    built = _build(make, frozen_clock)
    admin = make.practitioner(organisation=built["org"], role=Role.ADMIN)  # type: ignore[arg-type]
    login_as(admin)
    page = page_text(client.get("/admin/report/"))
    assert "Service report" in page and "Family" not in page.replace("Families", "")
    assert "Families invited" in page and "<5" in page
    response = client.get("/admin/report/report.csv")
    assert response.status_code == 200
    assert response.headers["Content-Type"].startswith("text/csv")
    assert response.headers["Content-Disposition"].startswith("attachment;")
    assert response.headers["Cache-Control"] == "private, no-store"
    text = response.get_data(as_text=True)
    rows = {(r["section"], r["measure"]): r["value"] for r in csv.DictReader(io.StringIO(text))}
    assert rows[("Families", "Families invited")] == "5"
    assert rows[("Families", "Families who joined (a carer opened their link and agreed)")] == "<5"
    assert rows[("Families", "Cases closed")] == "<5"
    assert rows[("Cycles per family (families who joined)", "0 cycles")] == "0"
    median = ("Days from filming to shared review (cycles)", "Median")
    assert rows[median] == "Not shown (fewer than 5)"
    for label in ("One", "Two", "Three", "Four", "Five", "Sam", "Alex", "Jo"):
        assert label not in text


def test_only_admins_see_the_report(make: Factory, login_as, app):
    org = make.organisation()
    for role in (Role.PRACTITIONER, Role.SUPERVISOR):
        user = make.practitioner(organisation=org, role=role)
        c = login_as(user, on=app.test_client())
        assert c.get("/admin/report/").status_code == 404
        assert c.get("/admin/report/report.csv").status_code == 404
    family = make.family(make.practitioner(organisation=org))
    c = login_as(make.parent_of(family), on=app.test_client())
    assert c.get("/admin/report/report.csv").status_code == 404
    assert app.test_client().get("/admin/report/report.csv").status_code == 302
