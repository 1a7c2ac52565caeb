"""The practitioner creates a family, sends its link every way, cancels, re-sends, signs out."""

from __future__ import annotations

import re
from html import unescape
from urllib.parse import unquote

from flask import Flask
from sqlalchemy import func, select

from tests.conftest import Factory
from tests.invitations.conftest import Invited, csrf_token, give_consent, page_text
from vigparent import db
from vigparent.invitations import service
from vigparent.models import Family, FamilyStatus, Invitation, LoginSession, Role, User

_LINK = re.compile(r'id="invitation-link" type="text" readonly value="([^"]+)"')


def _create(client, label: str = "Sam and Alex", carer: str = "Alex"):
    return client.post(
        "/practice/families",
        data={"csrf_token": csrf_token(client, "/practice/"), "label": label, "carer_name": carer},
    )


def _link_on(page: str) -> str:
    match = _LINK.search(page)
    assert match, "no invitation link on the page"
    return unescape(match.group(1))


def test_create_family_shows_the_link_every_way_once(client, make: Factory, login_as):
    practitioner = make.practitioner()
    login_as(practitioner)
    r = _create(client)
    assert r.status_code == 302
    family = db.session().scalar(select(Family))
    assert family is not None and family.label == "Sam and Alex"
    assert family.status is FamilyStatus.INVITED
    assert r.headers["Location"].endswith(f"/practice/families/{family.id}#share")

    page = client.get(f"/practice/families/{family.id}")
    html = page.get_data(as_text=True)
    url = _link_on(html)
    assert re.fullmatch(r"http://127\.0\.0\.1:5000/join/[A-Za-z0-9_.\-]+", url)
    text = unescape(html)
    assert "Send the link to Alex" in text
    assert "Copy link" in text and "Share" in text
    sms = re.search(r'href="(sms:[^"]+)"', html)
    mailto = re.search(r'href="(mailto:[^"]+)"', html)
    assert sms and mailto
    assert url in unquote(unescape(sms.group(1)))
    assert url in unquote(unescape(mailto.group(1)))
    assert "Hello Alex, this is Pat Practitioner" in unquote(unescape(sms.group(1)))
    # The QR code is inline SVG with no style attributes (strict CSP: style-src 'self').
    svg = re.search(r"<svg[^>]*class=\"qr-code\".*?</svg>", html, re.S)
    assert svg and "style=" not in svg.group(0) and "<script" not in svg.group(0)
    assert "Content-Security-Policy" in page.headers
    assert "style-src 'self'" in page.headers["Content-Security-Policy"]

    # Shown once: only a hash is stored, so a reload no longer shows the link.
    again = client.get(f"/practice/families/{family.id}").get_data(as_text=True)
    assert not _LINK.search(again)
    token = url.rsplit("/", 1)[1]
    assert token not in again
    # The link works for the parent.
    assert client.application.test_client().get(f"/join/{token}").status_code == 200


def test_create_family_needs_a_label(client, make: Factory, login_as):
    login_as(make.practitioner())
    r = _create(client, label="   ")
    assert r.status_code in (302, 400)
    assert db.session().scalar(select(func.count()).select_from(Family)) == 0


def test_caseload_shows_status_next_step_and_what_waits(client, make: Factory, login_as):
    practitioner = make.practitioner()
    login_as(practitioner)
    _create(client, "Invited family")
    make.family(practitioner, label="Active family")
    make.family(practitioner, label="Closed family", status=FamilyStatus.CLOSED)
    make.family(practitioner, label="Withdrawn family", status=FamilyStatus.WITHDRAWN)
    text = page_text(client.get("/practice/")).split("Add family and make a link", 1)[1]
    for words in (
        "Invited",
        "Active",
        "Closed",
        "Consent withdrawn",
        "Waiting for the family to open their link",
        "Agree a goal with the family.",
        "Waiting for you",
        "Waiting for the family",
        "Nothing waiting",
    ):
        assert words in text, words
    # What waits for the practitioner comes first; ended cases last.
    order = [text.index(label) for label in ("Active family", "Invited family", "Closed family")]
    assert order == sorted(order)


def test_revoke_and_resend(client, make: Factory, login_as, app: Flask):
    practitioner = make.practitioner()
    login_as(practitioner)
    _create(client)
    family = db.session().scalar(select(Family))
    assert family is not None
    first_url = _link_on(client.get(f"/practice/families/{family.id}").get_data(as_text=True))
    first = db.session().scalar(select(Invitation))
    assert first is not None

    token = csrf_token(client, f"/practice/families/{family.id}")
    r = client.post(
        f"/practice/families/{family.id}/invitations/{first.id}/resend", data={"csrf_token": token}
    )
    assert r.status_code == 302
    second_url = _link_on(client.get(f"/practice/families/{family.id}").get_data(as_text=True))
    assert second_url != first_url
    phone = app.test_client()
    assert phone.get(first_url.replace("http://127.0.0.1:5000", "")).status_code == 410
    assert phone.get(second_url.replace("http://127.0.0.1:5000", "")).status_code == 200

    second = db.session().scalars(select(Invitation).order_by(Invitation.id.desc())).first()
    assert second is not None and second.carer_name == "Alex"
    r = client.post(
        f"/practice/families/{family.id}/invitations/{second.id}/revoke",
        data={"csrf_token": token},
    )
    assert r.status_code == 302
    r = phone.get(second_url.replace("http://127.0.0.1:5000", ""))
    assert r.status_code == 410 and "This link has been cancelled" in page_text(r)
    page = page_text(client.get(f"/practice/families/{family.id}"))
    assert "cancelled" in page and "That link is cancelled" in page


def test_used_link_cannot_be_cancelled(make: Factory, invited: Invited, app: Flask):
    give_consent(app.test_client(), invited.path)
    invitation = db.session().get(Invitation, invited.invitation.id)
    db.session().refresh(invitation)
    import pytest

    with pytest.raises(service.InvitationAlreadyUsed):
        service.revoke_invitation(invitation, invited.practitioner)


def test_carers_listed_and_their_device_signed_out(
    client, make: Factory, login_as, invited: Invited, app: Flask
):
    phone = app.test_client()
    give_consent(phone, invited.path)
    assert phone.get("/home/").status_code == 200
    carer = db.session().scalar(select(User).where(User.role == Role.PARENT))
    assert carer is not None

    login_as(invited.practitioner)
    page = page_text(client.get(f"/practice/families/{invited.family.id}"))
    assert "Alex" in page and "Signed in on:" in page and "Sign out this device" in page
    assert "Filming" in page and "Keeping your videos safely here" in page  # consent

    r = client.post(
        f"/practice/families/{invited.family.id}/carers/{carer.id}/sign-out",
        data={"csrf_token": csrf_token(client, f"/practice/families/{invited.family.id}")},
    )
    assert r.status_code == 302
    assert "Alex is signed out on every device" in page_text(
        client.get(f"/practice/families/{invited.family.id}")
    )
    assert phone.get("/home/").status_code == 401
    live = select(func.count()).select_from(LoginSession).where(LoginSession.ended_at.is_(None))
    assert db.session().scalar(live.where(LoginSession.user_id == carer.id)) == 0

    # A new link for the same carer signs them in again on a new phone, as the same person.
    r = client.post(
        f"/practice/families/{invited.family.id}/carers/{carer.id}/invite",
        data={"csrf_token": csrf_token(client, f"/practice/families/{invited.family.id}")},
    )
    url = _link_on(client.get(f"/practice/families/{invited.family.id}").get_data(as_text=True))
    new_phone = app.test_client()
    give_consent(new_phone, url.replace("http://127.0.0.1:5000", ""))
    assert new_phone.get("/home/").status_code == 200
    assert db.session().scalar(select(func.count()).where(User.role == Role.PARENT)) == 1


def test_practitioner_cannot_touch_another_practitioners_invitations(
    client, make: Factory, login_as, invited: Invited
):
    outsider = make.practitioner(organisation=invited.practitioner.organisation)
    login_as(outsider)
    token = csrf_token(client, "/practice/")
    fid, iid = invited.family.id, invited.invitation.id
    assert client.get(f"/practice/families/{fid}").status_code == 404
    for path in (
        f"/practice/families/{fid}/invitations",
        f"/practice/families/{fid}/invitations/{iid}/revoke",
        f"/practice/families/{fid}/invitations/{iid}/resend",
        f"/practice/families/{fid}/plan",
    ):
        assert client.post(path, data={"csrf_token": token}).status_code == 404, path
    invitation = db.session().get(Invitation, iid)
    db.session().refresh(invitation)
    assert invitation.revoked_at is None
    assert db.session().scalar(select(func.count()).select_from(Invitation)) == 1


def test_invitation_of_one_family_cannot_be_reached_through_another(
    client, make: Factory, login_as, invited: Invited
):
    """Both families are mine, but the invitation id must match the family in the URL."""
    login_as(invited.practitioner)
    other = make.family(invited.practitioner, label="Other")
    token = csrf_token(client, "/practice/")
    r = client.post(
        f"/practice/families/{other.id}/invitations/{invited.invitation.id}/revoke",
        data={"csrf_token": token},
    )
    assert r.status_code == 404


def test_no_links_for_closed_or_withdrawn_families(client, make: Factory, login_as):
    practitioner = make.practitioner()
    login_as(practitioner)
    for status in (FamilyStatus.CLOSED, FamilyStatus.WITHDRAWN):
        family = make.family(practitioner, label=status.value, status=status)
        page = page_text(client.get(f"/practice/families/{family.id}"))
        assert "Make a link" not in page
        r = client.post(
            f"/practice/families/{family.id}/invitations",
            data={"csrf_token": csrf_token(client, "/practice/")},
        )
        assert r.status_code == 302
        assert "nobody can be invited" in page_text(client.get(f"/practice/families/{family.id}"))
    assert db.session().scalar(select(func.count()).select_from(Invitation)) == 0


def test_parents_cannot_use_practitioner_pages(client, make: Factory, login_as):
    family = make.family()
    login_as(make.parent_of(family))
    assert client.get("/practice/").status_code == 404
    assert client.get(f"/practice/families/{family.id}").status_code == 404
