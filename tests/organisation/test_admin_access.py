"""The access crawl for the staff and organisation pages: every route of both blueprints,
as their admin, a practitioner, a parent, another organisation's admin and signed out.

Routes are found from the URL map, so a new one joins the crawl without editing this test.
"""

from __future__ import annotations

from flask import Flask
from flask.testing import FlaskClient

from tests.conftest import Factory, csrf_token
from vigparent.models import Role, User
from vigparent.security import limiter

BLUEPRINTS = ("staff", "organisation")


def _routes(app: Flask) -> list[tuple[str, str, str, bool]]:
    """(endpoint, method, rule, public) for every route of the blueprints."""
    found = []
    for rule in app.url_map.iter_rules():
        if rule.endpoint.split(".")[0] not in BLUEPRINTS:
            continue
        public = getattr(app.view_functions[rule.endpoint], "vig_public", False)
        for method in sorted((rule.methods or set()) - {"HEAD", "OPTIONS"}):
            found.append((rule.endpoint, method, rule.rule, public))
    return found


def _client(app: Flask, login_as, user: User | None) -> tuple[FlaskClient, str]:
    client = app.test_client()
    if user is None:
        return client, csrf_token(client, "/login")
    login_as(user, on=client)
    home = "/home/" if user.role is Role.PARENT else "/practice/"
    return client, csrf_token(client, home)


def test_the_crawl_sees_the_routes_it_guards(app: Flask):
    endpoints = {e for e, _m, _r, _p in _routes(app)}
    for expected in (
        "staff.admin",
        "staff.invite",
        "staff.switch_off",
        "staff.join",
        "staff.reset",
        "staff.forgot",
        "organisation.settings",
        "organisation.save_settings",
        "organisation.audit_log",
    ):
        assert expected in endpoints


def test_every_admin_route_as_every_role(app: Flask, make: Factory, login_as):
    org = make.organisation()
    admin = make.practitioner("lead@example.org", organisation=org, role=Role.ADMIN)
    target = make.practitioner("jo@example.org", organisation=org)
    practitioner = make.practitioner("amy@example.org", organisation=org)
    parent = make.parent_of(make.family(practitioner))
    other_admin = make.practitioner(
        "other@example.org", organisation=make.organisation("Other"), role=Role.ADMIN
    )
    who = {
        "practitioner": practitioner,
        "parent": parent,
        "other organisation's admin": other_admin,
        "signed out": None,
        "admin": admin,  # last: its POSTs change things (switching the target off)
    }
    checked = 0
    for role, user in who.items():
        client, token = _client(app, login_as, user)
        limiter.reset()  # each role gets the reset form's own allowance
        for endpoint, method, rule, public in _routes(app):
            path = rule.replace("<int:staff_id>", str(target.id)).replace("<token>", "x" * 30)
            r = client.open(path, method=method, data={"csrf_token": token})
            status = r.status_code
            where = f"{role} {method} {path}: {status}"
            assert status < 500, where
            if public:
                # Anyone may open a link or ask for a reset; a made-up link is refused.
                expected = {200, 400} if endpoint == "staff.forgot" else {404}
                assert status in expected, where
            elif user is None:
                assert status == 302 and r.headers["Location"].startswith("/login"), where
            elif role == "admin":
                assert status in (200, 303, 400), where
            elif role == "other organisation's admin" and "<int:staff_id>" not in rule:
                assert status in (200, 303, 400), where  # their own organisation's pages
            else:
                assert status == 404, where
            checked += 1
    assert checked >= 5 * 11
