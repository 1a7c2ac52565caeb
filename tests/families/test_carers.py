"""Carers and their signed-in devices, as the practitioner sees them."""

from __future__ import annotations

import pytest

from tests.conftest import Factory
from vigparent import db
from vigparent.auth import service as auth_service
from vigparent.families import service


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
