"""Every media, clips and review URL refuses anyone who is not the family's own.

The routes are taken from the app's URL map, not listed by hand, so a route added later is
covered automatically; a route with an argument this test cannot fill fails the test.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import pytest
from flask import Flask
from flask.testing import FlaskClient

from tests.conftest import Factory, csrf_token, page_text
from tests.media.factories import add_clip, add_cycle, add_recording
from vigparent.models import ConsentKind, Role, User

BLUEPRINTS = ("media", "clips", "review")


@dataclass
class World:
    ids: dict[str, int]
    secret_words: list[str]
    owner_parent: User
    owner_practitioner: User
    other_parent: User
    colleague: User
    stranger: User
    admin: User


@pytest.fixture
def world(make: Factory) -> World:
    org = make.organisation(parents_may_keep_copies=True)
    owner = make.practitioner(organisation=org)
    family = make.family(
        owner,
        label="Owners",
        consents=(ConsentKind.FILMING, ConsentKind.STORAGE, ConsentKind.KEEP_COPY),
    )
    parent = make.parent_of(family)
    cycle = add_cycle(family)
    rec = add_recording(family, parent, cycle=cycle)
    clip = add_clip(rec, title="Secret title ZQX", note="Secret note QZW")

    colleague = make.practitioner(organisation=org)
    other_family = make.family(
        colleague,
        label="Others",
        consents=(ConsentKind.FILMING, ConsentKind.STORAGE, ConsentKind.KEEP_COPY),
    )
    other_org = make.organisation("Elsewhere", parents_may_keep_copies=True)
    stranger = make.practitioner(organisation=other_org)
    make.family(stranger, label="Far away")
    return World(
        ids={
            "family_id": family.id,
            "recording_id": rec.id,
            "clip_id": clip.id,
            "cycle_id": cycle.id,
        },
        secret_words=["Secret title ZQX", "Secret note QZW"],
        owner_parent=parent,
        owner_practitioner=owner,
        other_parent=make.parent_of(other_family),
        colleague=colleague,
        stranger=stranger,
        admin=make.practitioner(organisation=org, role=Role.ADMIN),
    )


def _routes(app: Flask) -> list[tuple[str, str, tuple[str, ...]]]:
    found = []
    for rule in app.url_map.iter_rules():
        if rule.endpoint.split(".")[0] not in BLUEPRINTS:
            continue
        for method in sorted((rule.methods or set()) - {"HEAD", "OPTIONS"}):
            found.append((rule.endpoint, method, tuple(sorted(rule.arguments))))
    return found


def _url(app: Flask, endpoint: str, ids: dict[str, int]) -> str:
    with app.test_request_context():
        from flask import url_for

        rule = next(r for r in app.url_map.iter_rules() if r.endpoint == endpoint)
        missing = set(rule.arguments) - set(ids)
        assert not missing, f"{endpoint}: teach this test how to fill {missing}"
        return url_for(endpoint, **{k: ids[k] for k in rule.arguments})


def _signed_in(app: Flask, login_as, user: User | None) -> tuple[FlaskClient, str]:
    client = app.test_client()
    if user is None:
        return client, csrf_token(client, "/login")
    login_as(user, on=client)
    home = "/home/" if user.role is Role.PARENT else "/practice/"
    return client, csrf_token(client, home)


def test_the_route_list_is_not_empty(app: Flask):
    endpoints = {e for e, _m, _a in _routes(app)}
    # The iteration below is only meaningful if it sees the routes it guards.
    for expected in ("media.recording", "media.clip", "clips.recording", "review.index"):
        assert expected in endpoints
    assert len(endpoints) >= 15


@pytest.mark.parametrize("who", ["other_parent", "colleague", "stranger", "admin", "signed_out"])
def test_outsiders_get_nothing(app: Flask, world: World, login_as, who: str):
    user = None if who == "signed_out" else getattr(world, who)
    client, token = _signed_in(app, login_as, user)
    checked = 0
    for endpoint, method, args in _routes(app):
        url = _url(app, endpoint, world.ids)
        r = client.open(
            url,
            method=method,
            headers={"X-CSRFToken": token},
            data={"text": "hi", "score": "5", "set": str(world.ids["cycle_id"]), "title": "x"},
        )
        where = f"{who} {method} {url} ({endpoint})"
        if user is None:
            # Signed out: the staff sign-in page, or "open your invitation link" for parents.
            assert r.status_code in (302, 401), where
            if r.status_code == 302:
                assert r.headers["Location"].startswith("/login"), where
        elif args:
            assert r.status_code == 404, f"{where}: {r.status_code}"
        else:
            # No id in the URL: the route can only show the user's own things.
            assert r.status_code in (200, 302, 400, 404), f"{where}: {r.status_code}"
        text = page_text(r) if r.mimetype == "text/html" else r.get_data(as_text=True)
        for secret in world.secret_words:
            assert secret not in text, where
        assert not r.mimetype.startswith(("video/", "image/")), where
        checked += 1
    assert checked >= 15


def test_the_owners_can_reach_their_pages(app: Flask, world: World, login_as):
    """The negative test above is only worth something if the same URLs work for the owners."""
    parent, _ = _signed_in(app, login_as, world.owner_parent)
    practitioner, _ = _signed_in(app, login_as, world.owner_practitioner)
    ok = 0
    for endpoint, method, _args in _routes(app):
        if method != "GET":
            continue
        url = _url(app, endpoint, world.ids)
        by_parent = parent.get(url).status_code
        by_practitioner = practitioner.get(url).status_code
        assert 200 in (by_parent, by_practitioner), f"{endpoint}: {by_parent}/{by_practitioner}"
        ok += 1
    assert ok >= 10


def test_parents_never_see_unpublished_clips(app: Flask, world: World, login_as, make):
    from vigparent import db
    from vigparent.models import Recording

    rec = db.session().get(Recording, world.ids["recording_id"])
    draft = add_clip(rec, title="Draft ABC", published=False)
    client, token = _signed_in(app, login_as, world.owner_parent)
    ids = dict(world.ids, clip_id=draft.id)
    for endpoint, method, args in _routes(app):
        if "clip_id" not in args:
            continue
        r = client.open(
            _url(app, endpoint, ids), method=method, headers={"X-CSRFToken": token}, data={}
        )
        assert r.status_code == 404, endpoint
    assert "Draft ABC" not in page_text(client.get("/review/"))


def test_route_arguments_are_all_known(app: Flask):
    known = {"family_id", "recording_id", "clip_id", "cycle_id"}
    for endpoint, _m, args in _routes(app):
        assert set(args) <= known, endpoint
        assert not any(re.search(r"name|path", a) for a in args), endpoint
