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


# -- live review (issue 16): every route as every kind of person --------------------------------

LIVE_GET = {
    # path -> who gets 200 (everyone else signed in: 404; signed out: sent to sign in)
    "/live/": {"parent", "other_parent"},  # each parent's own room (the other has none open)
    "/live/invitation": {"parent", "other_parent"},  # whether their own review is open
    "/live/families/{family}": {"practitioner"},
    "/live/families/{family}/events": {"practitioner", "parent"},
}
LIVE_PARENT_PAGES = {"/live/", "/live/invitation"}
LIVE_POST = {
    # path -> (body, who may, their status)
    "/live/families/{family}/command": (
        {"clip": "{clip}", "time": 0.5, "playing": False},
        "practitioner",
        200,
    ),
    "/live/families/{family}/note": ({"text": "Look", "strength": True}, "practitioner", 200),
    "/live/families/{family}/film": ({"ask": True}, "practitioner", 200),
    "/live/families/{family}/film-answer": ({"answer": "not_now"}, "parent", 200),
    "/live/families/{family}/noticed": ({"clip": "{clip}", "time": 0.5}, "parent", 200),
    "/live/families/{family}/start": (None, "practitioner", 302),
    "/live/families/{family}/end": (None, "practitioner", 302),
}
LIVE_ROLES = (
    "parent",
    "practitioner",
    "other_parent",
    "colleague",
    "admin",
    "supervisor",
    "stranger",
    "signed_out",
)


def test_live_review_routes_refuse_everyone_but_the_family_and_its_practitioner(
    app, make: Factory
) -> None:
    import json

    from sqlalchemy import func, select

    from tests.media.factories import add_clip, add_cycle, add_recording
    from tests.support.parent_session import sign_in
    from vigparent import db
    from vigparent.live import service as live
    from vigparent.models import LiveNotice, LivePresence, LiveReview

    org = make.organisation()
    practitioner = make.practitioner(organisation=org)
    family = make.family(practitioner, label="Live")
    parent = make.parent_of(family)
    clip = add_clip(add_recording(family, parent, cycle=add_cycle(family)))
    other_family = make.family(practitioner, label="Also mine")
    people = {
        "parent": parent,
        "practitioner": practitioner,
        "other_parent": make.parent_of(other_family),
        "colleague": make.practitioner(organisation=org),
        "admin": make.practitioner(organisation=org, role=Role.ADMIN),
        "supervisor": make.practitioner(organisation=org, role=Role.SUPERVISOR),
        "stranger": make.practitioner(organisation=make.organisation("Elsewhere")),
    }
    review = live.start(family, practitioner)
    routes = {r.rule for r in app.url_map.iter_rules() if r.endpoint.startswith("live.")}
    walked = {p.replace("{family}", "<int:family_id>") for p in (*LIVE_GET, *LIVE_POST)}
    assert routes == walked, "a live route is missing from this walk"

    def client_for(role: str):  # type: ignore[no-untyped-def]
        client = app.test_client()
        if role == "signed_out":
            return client, ""
        signed = sign_in(app, people[role].id)
        client.set_cookie(signed.cookie_name, signed.cookie_value)
        return client, signed.csrf_token

    def fill(path: str) -> str:
        return path.replace("{family}", str(family.id))

    def room_state() -> tuple[int, int, int, bool]:
        s = db.session()
        s.expire_all()
        r = s.get(LiveReview, review.id)
        assert r is not None
        notices = s.scalar(select(func.count()).select_from(LiveNotice))
        present = s.scalar(select(func.count()).select_from(LivePresence))
        return r.seq, notices or 0, present or 0, r.ended_at is None

    before = room_state()
    for role in LIVE_ROLES:
        if role in ("parent", "practitioner"):
            continue
        client, token = client_for(role)
        for path, allowed in LIVE_GET.items():
            response = client.get(fill(path), buffered=False)
            # Signed out: a parent's page answers 401 (parents come in by their link, never
            # a password), a staff page sends to the sign-in.
            signed_out = 401 if path in LIVE_PARENT_PAGES else 302
            expected = signed_out if role == "signed_out" else 200 if role in allowed else 404
            assert response.status_code == expected, (role, path, response.status_code)
            assert b"You waited" not in response.get_data(), (role, path)
            response.close()
        for path, (body, _who, _status) in LIVE_POST.items():
            raw = json.dumps(body).replace('"{clip}"', str(clip.id)) if body else "{}"
            response = client.post(
                fill(path),
                data=raw,
                headers={"X-CSRFToken": token, "Content-Type": "application/json"},
            )
            expected = 400 if role == "signed_out" else 404
            assert response.status_code == expected, (role, path, response.status_code)
    assert room_state() == before  # nobody else moved, marked, joined or ended the room

    for role in ("parent", "practitioner"):
        client, token = client_for(role)
        for path, allowed in LIVE_GET.items():
            response = client.get(fill(path), buffered=False)
            assert response.status_code == (200 if role in allowed else 404), (role, path)
            response.close()
        for path, (body, who, status) in LIVE_POST.items():
            if path.endswith("/end"):
                continue
            raw = json.dumps(body).replace('"{clip}"', str(clip.id)) if body else ""
            data = raw if body else {"csrf_token": token}
            response = client.post(
                fill(path),
                data=data,
                headers={"X-CSRFToken": token}
                | ({"Content-Type": "application/json"} if body else {}),
            )
            want = status if role == who else 404
            if role == who and path.endswith("/film-answer"):
                want = 409  # nothing asked yet when the parent's turn comes: refused plainly
            assert response.status_code == want, (role, path, response.status_code)
    client, token = client_for("practitioner")
    assert (
        client.post(fill("/live/families/{family}/end"), data={"csrf_token": token}).status_code
        == 302
    )
    assert room_state()[3] is False
