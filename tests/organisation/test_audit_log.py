"""The admin's audit log: who did what and when, filterable and paginated, for their own
organisation only, and never any media or anything anybody typed."""

from __future__ import annotations

from datetime import datetime

from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select

from tests.conftest import Factory, csrf_token, page_text
from tests.mfa.journeys import sign_in
from vigparent import audit, db
from vigparent.clips import service as clip_service
from vigparent.models import AuditEvent, Reflection, Role
from vigparent.organisation.service import PAGE_SIZE


def _rows(response) -> int:  # type: ignore[no-untyped-def]
    return response.get_data(as_text=True).count('<td data-label="When">')


def test_sign_ins_views_and_publications_are_listed_without_any_content(
    app: Flask, client: FlaskClient, make: Factory, login_as, with_media
):
    org = make.organisation()
    admin = make.practitioner("lead@example.org", organisation=org, role=Role.ADMIN)
    pat = make.practitioner("pat@example.org", organisation=org)
    fm = with_media(recordings=1, clips=1, practitioner=pat)
    clip = fm.clips[0]
    clip.title = "Secret title QZX"
    clip.strength_note = "Secret note WQZ"
    db.session().add(
        Reflection(family_id=fm.id, clip_id=clip.id, author_id=fm.parent.id, text="Secret words")
    )
    db.session().commit()
    clip_service.unpublish(clip, pat)  # the fast clips come published
    clip_service.publish([clip], pat)

    laptop = app.test_client()
    sign_in(laptop, "pat@example.org")
    # Watching: the first request (from the start) is audited once; a seek is not another view.
    assert laptop.get(f"/media/clips/{clip.id}").status_code == 200
    laptop.get(f"/media/clips/{clip.id}", headers={"Range": "bytes=0-"})
    laptop.get(f"/media/clips/{clip.id}", headers={"Range": "bytes=500-"})
    views = db.session().scalar(
        select(func.count(AuditEvent.id)).where(AuditEvent.action == "media_viewed")
    )
    assert views == 1

    login_as(admin)
    r = client.get("/admin/audit")
    assert r.status_code == 200
    text = page_text(r)
    assert "Watched a video" in text and f"clip {clip.id}" in text
    assert "Published a clip" in text
    assert "Signed in" in text and "Pat Practitioner (pat@example.org)" in text
    for secret in ("Secret title QZX", "Secret note WQZ", "Secret words"):
        assert secret not in text
    assert "<video" not in text and "/media/" not in text

    only_views = page_text(client.get("/admin/audit?kind=media-views"))
    assert "Watched a video" in only_views and "Signed in" not in only_views
    only_pat = client.get(f"/admin/audit?person={pat.id}")
    assert "Pat Practitioner" in page_text(only_pat)
    assert all("Pat Practitioner" in row for row in page_text(only_pat).split("<tr>")[2:])


def test_only_the_admins_own_organisation(client: FlaskClient, make: Factory, login_as):
    mine, theirs = make.organisation("Mine"), make.organisation("Theirs")
    admin = make.practitioner("lead@example.org", organisation=mine, role=Role.ADMIN)
    stranger = make.practitioner("x@example.org", organisation=theirs)
    audit.record("signed_in", actor=stranger)
    audit.record("setting_changed", organisation_id=theirs.id, detail="retention_days: 1 -> 2")
    db.session().commit()
    login_as(admin)
    text = page_text(client.get("/admin/audit"))
    assert "x@example.org" not in text and "retention_days: 1 -> 2" not in text
    # Filtering by someone of another organisation shows nothing of theirs either.
    assert "x@example.org" not in page_text(client.get(f"/admin/audit?person={stranger.id}"))


def test_filters_by_date_range_and_pages_through(
    client: FlaskClient, make: Factory, login_as, frozen_clock
):
    org = make.organisation()
    admin = make.practitioner("lead@example.org", organisation=org, role=Role.ADMIN)
    frozen_clock(datetime(2026, 11, 1, 9, 0))
    for _ in range(PAGE_SIZE + 5):
        audit.record("case_closed", actor=admin)
    db.session().commit()  # the time is taken when the rows are written
    frozen_clock(datetime(2026, 11, 20, 9, 0))
    audit.record("clip_published", actor=admin, detail="clip 9")
    db.session().commit()
    login_as(admin)

    first = client.get("/admin/audit?kind=withdrawals")
    assert _rows(first) == PAGE_SIZE
    assert 'href="/admin/audit?page=2&amp;kind=withdrawals"' in first.get_data(as_text=True)
    second = client.get("/admin/audit?kind=withdrawals&page=2")
    assert _rows(second) == 5 and "Older" not in page_text(second)
    assert "Newer" in page_text(second)

    november_20 = client.get("/admin/audit?since=2026-11-20&until=2026-11-20")
    assert _rows(november_20) == 1 and "Published a clip" in page_text(november_20)
    early = client.get("/admin/audit?since=2026-10-01&until=2026-11-01")
    assert _rows(early) == PAGE_SIZE and "Published a clip" not in page_text(early)


def test_a_wrong_filter_gets_a_plain_message(client: FlaskClient, make: Factory, login_as):
    admin = make.practitioner("lead@example.org", role=Role.ADMIN)
    login_as(admin)
    r = client.get("/admin/audit?since=yesterday")
    assert r.status_code == 400 and "Enter the first day as a date" in page_text(r)
    r = client.get("/admin/audit?since=2026-11-20&until=2026-11-01")
    assert r.status_code == 400 and "The last day must be the same as or after" in page_text(r)
    r = client.get("/admin/audit?kind=everything&person=abc")
    assert r.status_code == 400
    assert "Choose a kind of event" in page_text(r) and "Choose a person" in page_text(r)
    assert client.get("/admin/audit?page=-3").status_code == 200
    assert client.get("/admin/audit?page=" + "9" * 30).status_code == 200


def test_staff_and_settings_changes_appear(client: FlaskClient, make: Factory, login_as):
    admin = make.practitioner("lead@example.org", role=Role.ADMIN)
    jo = make.practitioner("jo@example.org", organisation=admin.organisation)
    login_as(admin)
    token = csrf_token(client, "/admin/staff")
    client.post(f"/admin/staff/{jo.id}/switch-off", data={"csrf_token": token})
    text = page_text(client.get("/admin/audit?kind=staff"))
    assert "Switched a colleague's account off" in text and f"staff {jo.id}" in text
