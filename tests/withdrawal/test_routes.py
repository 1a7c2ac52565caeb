"""What parents and staff see and tap: one-tap withdrawal, receipts, closing and erasing."""

from __future__ import annotations

import re

from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from tests.conftest import Factory, csrf_token, page_text
from tests.withdrawal.conftest import FamilyMedia, assert_family_gone, tus_for
from vigparent import db
from vigparent.models import (
    AuditEvent,
    DeletionReceipt,
    Family,
    FamilyStatus,
    Recording,
    Role,
)


def _post(client: FlaskClient, path: str, page: str, **kw):  # type: ignore[no-untyped-def]
    token = csrf_token(client, page)
    return client.post(path, data={"csrf_token": token, **kw.pop("data", {})}, **kw)


def test_privacy_page_states_the_consequences_beside_the_one_tap_button(
    client: FlaskClient, login_as, with_media
) -> None:
    fm: FamilyMedia = with_media(recordings=2, clips=1)
    login_as(fm.parent)
    r = client.get("/consent/privacy")
    assert r.status_code == 200
    html = r.get_data(as_text=True)
    text = page_text(r)
    form = re.search(r'<form method="post" action="/withdrawal/withdraw".*?</form>', html, re.S)
    assert form, "the withdrawal form is on the privacy page"
    # The consequences sit inside the same form, before the button.
    inside = form.group(0)
    assert inside.index("2 videos you sent us") < inside.index("Stop and delete all our videos")
    assert "2 clips made from them" in inside
    assert "videos still on this phone" in inside
    assert "This cannot be undone." in text
    assert "Stop filming, keep my videos" in text
    assert "Delete just one video" in text
    # Two taps from every parent screen: the Privacy tab, then the button.
    home = client.get("/home/")
    assert 'href="/consent/privacy"' in home.get_data(as_text=True)


def test_privacy_page_lists_no_zero_counts_before_anything_is_sent(
    client: FlaskClient, login_as, make
) -> None:
    family = make.family()
    login_as(make.parent_of(family))
    text = page_text(client.get("/consent/privacy"))
    assert "0 videos" not in text and "0 clips" not in text
    assert "videos still on this phone" in text and "notes you wrote" in text


def test_one_tap_withdraws_and_shows_a_plain_receipt(
    app: Flask, client: FlaskClient, login_as, with_media, frozen_clock
) -> None:
    fm: FamilyMedia = with_media(recordings=3, clips=2)
    tokens = fm.tokens()
    login_as(fm.parent)
    frozen_clock(hours=2, minutes=2)  # 14:02

    r = _post(client, "/withdrawal/withdraw", "/consent/privacy")
    assert r.status_code == 303 and r.headers["Location"].endswith("/withdrawal/receipt")
    receipt_page = client.get("/withdrawal/receipt")
    text = page_text(receipt_page)
    assert "We deleted 3 videos and 6 clips on Wednesday 25 November at 2:02pm." in text
    assert "Nobody can open a copy again" in text
    assert "We have told your practitioner" in text
    assert receipt_page.headers["Clear-Site-Data"] == '"cache"'
    assert "data-wipe-local" in receipt_page.get_data(as_text=True)
    assert_family_gone(app, fm, tokens)

    # A double tap: same receipt, nothing new.
    r = _post(client, "/withdrawal/withdraw", "/withdrawal/receipt")
    assert r.status_code == 303
    assert len(db.session().scalars(select(DeletionReceipt)).all()) == 1


def test_after_withdrawal_every_page_leads_to_the_receipt_and_uploads_are_refused(
    app: Flask, client: FlaskClient, login_as, with_media
) -> None:
    fm: FamilyMedia = with_media(recordings=1, clips=0)
    upload_id = db.session().scalars(select(Recording.upload_id)).one()
    login_as(fm.parent)
    _post(client, "/withdrawal/withdraw", "/consent/privacy")
    for path in ("/home/", "/consent/privacy", "/withdrawal/videos", "/withdrawal/"):
        r = client.get(path)
        assert r.status_code in (302, 303), path
        assert r.headers["Location"].endswith("/withdrawal/receipt"), path
    r = client.get("/home/", follow_redirects=True)
    assert "Your videos are deleted" in page_text(r)
    assert "<video" not in r.get_data(as_text=True)

    tus = tus_for(app, db.session().get(Family, fm.id), fm.parent)
    r = tus.create(1000)
    assert r.status_code == 403
    assert r.get_json()["code"] == "consent_withdrawn"
    assert "withdrawn consent" in r.get_json()["message"]
    # A phone still resuming an upload whose row withdrawal deleted hears why, not "not found".
    r = tus.head(f"/api/uploads/{upload_id}")
    assert r.status_code == 403


def test_queued_offline_withdrawal_is_sent_as_json(client: FlaskClient, login_as, with_media):  # type: ignore[no-untyped-def]
    fm: FamilyMedia = with_media(recordings=1, clips=0)
    login_as(fm.parent)
    token = csrf_token(client, "/home/")
    r = client.post(
        "/withdrawal/withdraw",
        headers={"X-CSRFToken": token, "Accept": "application/json"},
    )
    assert r.status_code == 200
    body = r.get_json()
    assert body["receipt_url"] == "/withdrawal/receipt" and body["complete"] is True
    assert body["message"].startswith("We deleted 1 video and 0 clips on ")
    # Without the CSRF token nothing happens.
    fm2: FamilyMedia = with_media(recordings=0)
    other = client.application.test_client()
    login_as(fm2.parent, on=other)
    r = other.post("/withdrawal/withdraw", headers={"Accept": "application/json"})
    assert r.status_code == 400
    assert db.session().get(Family, fm2.id).status is FamilyStatus.ACTIVE


def test_stop_filming_only_keeps_the_videos(client: FlaskClient, login_as, with_media) -> None:
    fm: FamilyMedia = with_media(recordings=1, clips=1)
    login_as(fm.parent)
    r = _post(client, "/withdrawal/filming", "/consent/privacy", follow_redirects=True)
    assert "Filming is stopped" in page_text(r)
    assert db.session().scalars(select(Recording)).all()
    r = client.get("/consent/privacy")
    assert "Filming is stopped." in page_text(r)
    assert "Stop filming, keep my videos" not in page_text(r)


def test_parent_deletes_one_video_and_the_phone_is_told_to_forget_it(
    client: FlaskClient, login_as, with_media
) -> None:
    fm: FamilyMedia = with_media(recordings=2, clips=1)
    login_as(fm.parent)
    r = client.get("/withdrawal/videos")
    assert page_text(r).count("Delete this video") == 2
    gone_id, client_id = fm.recordings[0].id, fm.recordings[0].client_id
    r = _post(client, f"/withdrawal/recordings/{gone_id}/delete", "/withdrawal/videos")
    assert r.status_code == 303
    assert f"forget={client_id}" in r.headers["Location"]
    page = client.get(r.headers["Location"])
    assert "We deleted that video and the 1 clip made from it." in page_text(page)
    assert f'data-forget-local="{client_id}"' in page.get_data(as_text=True)
    db.session().expire_all()
    assert db.session().get(Recording, gone_id) is None
    assert db.session().get(Family, fm.id).status is FamilyStatus.ACTIVE


def test_the_service_worker_saving_pages_does_not_take_the_notice(
    client: FlaskClient, login_as, with_media
) -> None:
    """sw.js fetches the shell pages while it installs, perhaps just as the parent deletes a
    video: those fetches must neither swallow "We deleted that video" nor save it offline."""
    fm: FamilyMedia = with_media(recordings=2, clips=1)
    login_as(fm.parent)
    r = _post(client, f"/withdrawal/recordings/{fm.recordings[0].id}/delete", "/withdrawal/videos")
    notice = "We deleted that video and the 1 clip made from it."
    for shell_page in ("/home/", "/film/", "/film/videos", "/consent/privacy"):
        saved = client.get(shell_page, headers={"Sec-Fetch-Mode": "cors"})
        assert saved.status_code == 200 and notice not in page_text(saved)
        assert "X-Vig-Once" not in saved.headers
    shown = client.get(r.headers["Location"], headers={"Sec-Fetch-Mode": "navigate"})
    assert notice in page_text(shown)
    assert shown.headers["X-Vig-Once"] == "1"  # so sw.js keeps it out of the offline copy
    again = client.get(r.headers["Location"], headers={"Sec-Fetch-Mode": "navigate"})
    assert notice not in page_text(again) and "X-Vig-Once" not in again.headers


def test_nobody_else_can_delete_a_recording(
    app: Flask, client: FlaskClient, login_as, make: Factory, with_media
) -> None:
    fm: FamilyMedia = with_media(recordings=1, clips=0)
    stranger: FamilyMedia = with_media(recordings=0)
    login_as(stranger.parent)
    r = _post(client, f"/withdrawal/recordings/{fm.recordings[0].id}/delete", "/home/")
    assert r.status_code == 404
    colleague = make.practitioner(organisation=fm.family.organisation)
    c2 = app.test_client()
    login_as(colleague, on=c2)
    r = _post(c2, f"/withdrawal/recordings/{fm.recordings[0].id}/delete", "/practice/")
    assert r.status_code == 404
    assert db.session().get(Recording, fm.recordings[0].id) is not None
    # Staff cannot use the parent's withdrawal.
    r = _post(c2, "/withdrawal/withdraw", "/practice/")
    assert r.status_code == 404


def test_practitioner_closes_a_case_and_sees_when_media_goes(
    client: FlaskClient, login_as, with_media, frozen_clock
) -> None:
    fm: FamilyMedia = with_media(recordings=1, clips=1)
    login_as(fm.family.practitioner)
    page = client.get(f"/withdrawal/families/{fm.id}/close")
    assert "are kept for 30 days (your organisation's rule)" in " ".join(page_text(page).split())
    r = _post(client, f"/withdrawal/families/{fm.id}/close", f"/withdrawal/families/{fm.id}/close")
    assert r.status_code == 303
    page = client.get(r.headers["Location"])
    text = page_text(page)
    assert (
        "Case closed. Its videos and clips will be deleted on Friday 25 December at 12pm." in text
    )
    assert "Case closed. Media will be deleted on Friday 25 December at 12pm." in text
    again = _post(
        client, f"/withdrawal/families/{fm.id}/close", f"/withdrawal/families/{fm.id}/close"
    )
    assert again.status_code == 409 and "already closed" in page_text(again)
    assert "case_closed" in db.session().scalars(select(AuditEvent.action)).all()


def test_practitioner_sees_withdrawn_and_media_deleted_without_any_media(
    client: FlaskClient, login_as, with_media, frozen_clock
) -> None:
    fm: FamilyMedia = with_media(recordings=2, clips=1)
    from vigparent.withdrawal import service

    service.withdraw_consent(fm.family, fm.parent)
    login_as(fm.family.practitioner)
    page = client.get(f"/withdrawal/families/{fm.id}/receipts")
    text = page_text(page)
    assert "Consent withdrawn, media deleted (Wednesday 25 November at 12pm)." in text
    assert "We deleted 2 videos and 2 clips on Wednesday 25 November at 12pm." in text
    assert "/media/" not in page.get_data(as_text=True)
    caseload = client.get("/practice/")
    assert "Consent withdrawn" in page_text(caseload)
    assert "/media/" not in caseload.get_data(as_text=True)
    family_page = client.get(f"/practice/families/{fm.id}")
    assert "Consent withdrawn, media deleted (Wednesday 25 November at 12pm)." in page_text(
        family_page
    )
    assert f"/withdrawal/families/{fm.id}/receipts" in family_page.get_data(as_text=True)
    assert "/media/" not in family_page.get_data(as_text=True)


def test_only_an_admin_can_erase_and_must_type_the_label(
    app: Flask, client: FlaskClient, login_as, make: Factory, with_media
) -> None:
    org = make.organisation()
    practitioner = make.practitioner(organisation=org)
    admin = make.practitioner(organisation=org, role=Role.ADMIN)
    fm: FamilyMedia = with_media(recordings=1, clips=1, practitioner=practitioner)
    tokens = fm.tokens()
    login_as(practitioner)
    assert client.get(f"/withdrawal/families/{fm.id}/erase").status_code == 404

    c2 = app.test_client()
    login_as(admin, on=c2)
    page = f"/withdrawal/families/{fm.id}/erase"
    assert "Erase Sam and Alex entirely" in page_text(c2.get(page))
    r = _post(c2, page, page, data={"confirm_label": "Sam"})
    assert r.status_code == 400 and db.session().get(Family, fm.id) is not None
    r = _post(c2, page, page, data={"confirm_label": "Sam and Alex"}, follow_redirects=True)
    assert r.status_code == 200
    assert "Sam and Alex is erased." in page_text(r)
    db.session().expire_all()
    assert db.session().get(Family, fm.id) is None
    assert_family_gone(app, fm, tokens)
    assert "Erased by an admin" in page_text(c2.get("/withdrawal/receipts"))
