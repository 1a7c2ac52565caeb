"""Carers and their signed-in devices, as the practitioner sees them."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from tests.conftest import Factory, csrf_token, page_text
from vigparent import db
from vigparent.auth import service as auth_service
from vigparent.families import service
from vigparent.models import LoginSession


@pytest.mark.parametrize(
    ("user_agent", "seen_as"),
    [
        (
            "Mozilla/5.0 (Linux; Android 13; SM-A136B) AppleWebKit/537.36 (KHTML, like Gecko) "
            "SamsungBrowser/23.0 Chrome/115.0 Mobile Safari/537.36",
            "Android phone, Samsung Internet",
        ),
        (
            "Mozilla/5.0 (iPhone; CPU iPhone OS 16_6 like Mac OS X) AppleWebKit/605.1.15 "
            "(KHTML, like Gecko) Version/16.6 Mobile/15E148 Safari/604.1",
            "iPhone, Safari",
        ),
        ("", "Unknown device"),
    ],
)
def test_devices_are_named_in_plain_words(user_agent: str, seen_as: str):
    assert service.describe_device(user_agent) == seen_as


def test_sign_out_carer_ends_only_that_carers_devices(make: Factory):
    family = make.family()
    alex, jordan = make.parent_of(family), make.parent(family, "Jordan")
    for user in (alex, alex, jordan):
        auth_service.start_session(user, "phone")
    db.session().commit()
    assert service.sign_out_carer(family, alex, family.practitioner) == 2
    db.session().commit()
    by_name = {c.user.display_name: c for c in service.carers(family)}
    assert not by_name["Alex"].signed_in and by_name["Jordan"].signed_in


def test_carer_of_refuses_people_outside_the_family(make: Factory):
    family, other = make.family(), make.family(label="Other")
    assert service.carer_of(family, make.parent_of(family).id) is not None
    assert service.carer_of(family, make.parent_of(other).id) is None
    assert service.carer_of(family, family.practitioner_id) is None


def test_practitioner_signs_out_just_the_lost_phone(app, make: Factory, login_as):
    """The lost phone stops working at once; the carer's other phone stays signed in."""
    family = make.family()
    alex = make.parent_of(family)
    lost_phone, other_phone = app.test_client(), app.test_client()
    login_as(alex, on=lost_phone)
    login_as(alex, on=other_phone)
    assert lost_phone.get("/home/").status_code == 200

    staff = app.test_client()
    login_as(family.practitioner, on=staff)
    lost = (
        db.session()
        .scalars(
            select(LoginSession).where(LoginSession.user_id == alex.id).order_by(LoginSession.id)
        )
        .first()
    )
    assert lost is not None
    page = f"/practice/families/{family.id}"
    r = staff.post(
        f"{page}/carers/{alex.id}/sign-out",
        data={"csrf_token": csrf_token(staff, page), "device_id": str(lost.id)},
    )
    assert r.status_code in (302, 303)
    assert "signed out on that device" in page_text(staff.get(page))
    assert lost_phone.get("/home/").status_code == 401
    assert other_phone.get("/home/").status_code == 200

    # Another carer's device id changes nothing.
    jordan = make.parent(family, "Jordan")
    assert not auth_service.end_device_session(jordan, lost.id + 1)
