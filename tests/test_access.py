"""The one access check: nobody sees a family that is not theirs."""

from __future__ import annotations

import pytest
from werkzeug.exceptions import NotFound

from tests.conftest import Factory
from vigparent import access
from vigparent.models import Role


def test_practitioner_cannot_see_another_practitioners_family(make: Factory, app_ctx):
    org = make.organisation()
    mine = make.practitioner(organisation=org)
    theirs = make.practitioner(organisation=org)
    their_family = make.family(theirs, label="Not yours")
    my_family = make.family(mine, label="Yours")

    assert access.load_family(mine, my_family.id).id == my_family.id
    with pytest.raises(NotFound):
        access.load_family(mine, their_family.id)


def test_caseload_lists_only_own_families(client, make: Factory, login_as):
    org = make.organisation()
    mine = make.practitioner(organisation=org)
    theirs = make.practitioner(organisation=org)
    make.family(mine, label="Yours")
    make.family(theirs, label="Somebody else")
    login_as(mine)
    page = client.get("/practice/").get_data(as_text=True)
    assert "Yours" in page and "Somebody else" not in page


def test_admin_sees_whole_organisation_but_not_another(make: Factory, app_ctx):
    org, other_org = make.organisation(), make.organisation("Other")
    admin = make.practitioner(organisation=org, role=Role.ADMIN)
    inside = make.family(make.practitioner(organisation=org))
    outside = make.family(make.practitioner(organisation=other_org))
    assert access.load_family(admin, inside.id)
    with pytest.raises(NotFound):
        access.load_family(admin, outside.id)


def test_parent_sees_only_their_own_family(make: Factory, app_ctx):
    a, b = make.family(label="A"), make.family(label="B")
    parent_a = make.parent_of(a)
    assert access.load_family(parent_a, a.id)
    with pytest.raises(NotFound):
        access.load_family(parent_a, b.id)
