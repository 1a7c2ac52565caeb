"""When an organisation requires a second factor, staff without one set it up straight after
the password and reach nothing else until they do."""

from __future__ import annotations

import re
from typing import Any

from flask import Flask

from tests.conftest import Factory, csrf_token, page_text
from tests.mfa.journeys import code_for, post, set_up_app, sign_in, start_app
from vigparent.auth import mfa

_ARGUMENT = re.compile(r"<(?:(\w+)(?:\([^)]*\))?:)?(\w+)>")

# Reachable while setting up: the set-up pages themselves, signing out, the app shell.
_OPEN = {
    "static",
    "auth.logout",
    "mfa.security",
    "mfa.start_app",
    "mfa.app",
    "mfa.confirm_app",
    "mfa.passkey_registration_options",
    "mfa.add_passkey",
}


def _every_page(app: Flask, family_id: int) -> list[tuple[str, str, str]]:
    """(endpoint, method, path) for every route of the app, ids filled in."""
    adapter = app.url_map.bind("localhost")
    out = []
    for rule in app.url_map.iter_rules():
        values: dict[str, Any] = {
            name: family_id if converter == "int" else "x"
            for converter, name in _ARGUMENT.findall(rule.rule)
        }
        path = adapter.build(rule.endpoint, values)
        for method in sorted((rule.methods or set()) & {"GET", "POST", "PATCH", "DELETE"}):
            out.append((rule.endpoint, method, path))
    return out


def _is_public(app: Flask, endpoint: str) -> bool:
    return getattr(app.view_functions[endpoint], "vig_public", False)


def test_every_staff_page_refuses_until_a_factor_is_set_up(app, client, make: Factory, login_as):
    org = make.organisation(staff_second_factor_required=True)
    p = make.practitioner("jo@example.org", organisation=org)
    family = make.family(p)
    login_as(p)  # Signed in before the rule was turned on.

    token = csrf_token(client, "/account/security")
    checked = 0
    for endpoint, method, path in _every_page(app, family.id):
        if endpoint in _OPEN or endpoint.startswith("pwa.") or _is_public(app, endpoint):
            continue
        r = client.open(path, method=method, data={"csrf_token": token})
        if path.startswith("/api/"):
            assert r.status_code == 403, (method, path, r.status_code)
        else:
            assert r.status_code == 302, (method, path, r.status_code)
            assert r.headers["Location"] == "/account/security", (method, path)
        checked += 1
    assert checked > 30
    assert "Your organisation asks everyone to use a second factor" in page_text(
        client.get("/account/security")
    )

    set_up_app(client)
    assert client.get("/practice/").status_code == 200
    assert client.get(f"/practice/families/{family.id}").status_code == 200


def test_password_sign_in_leads_straight_to_set_up(app, client, make: Factory, frozen_clock):
    org = make.organisation(staff_second_factor_required=True)
    p = make.practitioner("jo@example.org", organisation=org)
    family = make.family(p)

    r = sign_in(client, "jo@example.org", next=f"/practice/families/{family.id}")
    assert r.headers["Location"] == "/account/security"
    page = page_text(client.get("/account/security"))
    assert "Your organisation asks everyone to use a second factor" in page
    assert "Cancel sign-in" in page
    # Not signed in yet: no staff page opens.
    for endpoint, method, path in _every_page(app, family.id):
        if method != "GET" or _is_public(app, endpoint) or endpoint == "static":
            continue
        assert client.get(path).status_code in (302, 401, 404), path
    assert client.get("/sign-in/second-step").headers["Location"] == "/account/security"

    secret = start_app(client)
    r = post(
        client,
        "/account/security/app/confirm",
        page="/account/security/app",
        code=code_for(secret),
    )
    # Setting the app up proves it: signed in, with the recovery codes shown once.
    assert r.status_code == 200
    text = page_text(r)
    assert "Save your recovery codes" in text
    assert f'href="/practice/families/{family.id}"' in r.get_data(as_text=True)
    assert client.get(f"/practice/families/{family.id}").status_code == 200
    assert mfa.has_second_factor(p)


def test_a_factor_set_up_signs_out_other_password_only_devices(app, client, make, login_as):
    p = make.practitioner("jo@example.org")
    laptop = app.test_client()
    login_as(p, on=laptop)
    sign_in(client, "jo@example.org")
    set_up_app(client)
    assert client.get("/practice/").status_code == 200
    assert laptop.get("/practice/").headers["Location"].startswith("/login")


def test_rule_off_by_default_and_demo_login_still_works(app, make: Factory):
    assert make.organisation().staff_second_factor_required is False
    runner = app.test_cli_runner()
    result = runner.invoke(args=["vig", "demo"])
    assert result.exit_code == 0, result.output
    password = next(line.split()[-1] for line in result.output.splitlines() if "password:" in line)
    assert "second factor: optional" in result.output
    c = app.test_client()
    assert sign_in(c, "practitioner@example.org", password).headers["Location"] == "/practice/"
    # A factor set up in an earlier demo run does not stop the next run's printed login.
    set_up_app(c)
    result = runner.invoke(args=["vig", "demo"])
    password = next(line.split()[-1] for line in result.output.splitlines() if "password:" in line)
    c2 = app.test_client()
    assert sign_in(c2, "practitioner@example.org", password).headers["Location"] == "/practice/"
