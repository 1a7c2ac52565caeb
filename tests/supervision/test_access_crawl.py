"""The access crawl for issue 19's routes: every new rule as every kind of person.

Admin, the family's practitioner, the supervisor the clips are shared with, the family's
parent, the other organisation (its admin and its practitioner, and its supervisor) and a
signed-out visitor. Anything not theirs is 404 (never 403), as access.py promises.
"""

from __future__ import annotations

import pytest
from flask import Flask
from sqlalchemy import select

from tests.conftest import Factory, csrf_token
from tests.supervision.conftest import Supervised, agree, share, share_id_from
from vigparent import db
from vigparent.models import Role, User

ROLES = (
    "admin",
    "practitioner",
    "supervisor",
    "parent",
    "other_admin",
    "other_practitioner",
    "other_supervisor",
    "signed_out",
)

# path template -> the statuses a GET gets, per role (302 = to the sign-in page or a home).
GET_EXPECTED = {
    "/supervision/": {"supervisor": 200, "other_supervisor": 200},
    # A supervisor's sign-in ends on the caseload like other staff, and is sent on from there.
    "/practice/": {
        "admin": 200,
        "practitioner": 200,
        "other_admin": 200,
        "other_practitioner": 200,
        "supervisor": 302,
        "other_supervisor": 302,
    },
    "/supervision/shares/{share}": {"supervisor": 200},
    "/practice/families/{family}/supervision": {"practitioner": 200},
    "/admin/supervisors": {"admin": 200, "other_admin": 200},
    "/practice/families/{family}/handover": {"admin": 200},
    "/admin/report/": {"admin": 200, "other_admin": 200},
    "/admin/report/report.csv": {"admin": 200, "other_admin": 200},
    "/media/clips/{clip}": {"practitioner": 200, "supervisor": 200, "parent": 200},
    "/media/clips/{other_clip}": {"practitioner": 200, "parent": 200},
}
POST_EXPECTED = {
    "/supervision/shares/{share}/clips/{clip}/comments": {"supervisor": 302},
    "/practice/families/{family}/supervision": {"practitioner": 302},
    "/practice/families/{family}/supervision/{share}/end": {"practitioner": 302},
    "/practice/families/{family}/handover": {"admin": 303},
    "/consent/supervision": {"parent": 303},
    "/consent/supervision/withdraw": {"parent": 303},
}
# A signed-out visitor has no CSRF token, so every form is refused (400) before anything else.
SIGNED_OUT_POST = 400


@pytest.fixture
def world(supervised: Supervised, make: Factory, as_user) -> dict:
    s = supervised
    org = s.family.organisation
    other = make.organisation("Another team")
    people = {
        "admin": make.practitioner(organisation=org, role=Role.ADMIN),
        "practitioner": s.practitioner,
        "supervisor": s.supervisor,
        "parent": s.parent,
        "other_admin": make.practitioner(organisation=other, role=Role.ADMIN),
        "other_practitioner": make.practitioner(organisation=other),
        "other_supervisor": make.practitioner(organisation=other, role=Role.SUPERVISOR),
    }
    make.practitioner(organisation=org)  # someone to hand over to
    agree(as_user(s.parent))
    share_id = share_id_from(share(as_user(s.practitioner), s))
    values = {
        "family": s.family.id,
        "share": share_id,
        "clip": s.shared_clip.id,
        "other_clip": s.other_clip.id,
    }
    return {"people": people, "values": values}


def _client(app: Flask, as_user, world: dict, role: str):
    if role == "signed_out":
        return app.test_client(), ""
    client = as_user(world["people"][role])
    page = {"parent": "/consent/privacy"}.get(
        role, "/supervision/" if "supervisor" in role else "/practice/"
    )
    return client, csrf_token(client, page)


def test_every_new_route_as_every_role(app: Flask, world: dict, as_user, make):
    for template, expected in GET_EXPECTED.items():
        path = template.format(**world["values"])
        for role in ROLES:
            client, _ = _client(app, as_user, world, role)
            status = client.get(path).status_code
            want = expected.get(role, 302 if role == "signed_out" else 404)
            assert status == want, f"GET {path} as {role}: {status}, expected {want}"


def test_every_new_form_as_every_role(app: Flask, world: dict, as_user, make):
    form = {"text": "A comment", "practitioner": 0, "days": 7, "supervisor": 0, "clip": 0}
    for template, expected in POST_EXPECTED.items():
        path = template.format(**world["values"])
        for role in ROLES:
            client, token = _client(app, as_user, world, role)
            data = dict(form, csrf_token=token)
            if role in expected and "handover" in path:
                data["practitioner"] = _someone_else(world)
            if role in expected and path.endswith("/supervision"):
                data.update(
                    clip=world["values"]["clip"], supervisor=world["people"]["supervisor"].id
                )
            status = client.post(path, data=data).status_code
            default = SIGNED_OUT_POST if role == "signed_out" else 404
            want = expected.get(role, default)
            assert status == want, f"POST {path} as {role}: {status}, expected {want}"


def _someone_else(world: dict) -> int:
    org_id = world["people"]["practitioner"].organisation_id
    return db.session().scalar(
        select(User.id).where(
            User.organisation_id == org_id,
            User.role == Role.PRACTITIONER,
            User.id != world["people"]["practitioner"].id,
        )
    )
