"""Sessions and cookies (issue 14 §4): no secret in the readable session cookie, a new CSRF
token at every sign-in, and Clear-Site-Data when someone is signed out."""

from __future__ import annotations

import base64
import json
import re
import zlib
from typing import Any

from flask import Flask
from flask.testing import FlaskClient

from tests.conftest import PASSWORD, Factory, csrf_token, page_text
from tests.invitations.conftest import give_consent
from vigparent import db
from vigparent.auth import service as auth_service
from vigparent.families import service as family_service
from vigparent.invitations import service as invitation_service
from vigparent.security import CLEAR_ON_PARENT_401, CLEAR_ON_SIGN_OUT

_LINK = re.compile(r'value="(http[^"]*/join/([^"]+))"')


def cookie_text(client: FlaskClient, app: Flask) -> str:
    """What anyone holding the session cookie can read: it is signed, not encrypted."""
    cookie = client.get_cookie(app.config["SESSION_COOKIE_NAME"])
    assert cookie is not None
    payload = cookie.value
    compressed = payload.startswith(".")
    data = payload.lstrip(".").split(".")[0]
    raw = base64.urlsafe_b64decode(data + "=" * (-len(data) % 4))
    return (zlib.decompress(raw) if compressed else raw).decode()


def session_of(client: FlaskClient) -> dict[str, Any]:
    with client.session_transaction() as sess:
        return dict(sess)


def test_session_cookie_never_holds_the_live_invitation_link(
    app: Flask, make: Factory, login_as, client: FlaskClient
):
    practitioner = make.practitioner()
    login_as(practitioner)
    token = csrf_token(client, "/practice/")
    r = client.post(
        "/practice/families", data={"csrf_token": token, "label": "Sam", "carer_name": ""}
    )
    assert r.status_code == 302
    between = cookie_text(client, app)  # the cookie that carries the link to the next page
    assert json.loads(between)  # readable by anyone: that is why it must hold no secret

    page = client.get(r.headers["Location"])
    match = _LINK.search(page.get_data(as_text=True))
    assert match, "the family page shows the new link once"
    url, link_token = match.groups()
    assert link_token not in between and url not in between
    # The link itself works: it is the live one.
    assert invitation_service.check_invitation(link_token).family.label == "Sam"
    # Shown once: the next visit no longer has it.
    assert _LINK.search(client.get(r.headers["Location"]).get_data(as_text=True)) is None


def test_a_sealed_link_only_opens_untouched(app: Flask, make: Factory):
    practitioner = make.practitioner()
    _family, _invitation, link = family_service.start_family(practitioner, "Kit", "")
    db.session().commit()
    with app.test_request_context():
        sealed = invitation_service.seal_token(link)
        assert invitation_service.unseal_token(sealed) == link
        assert invitation_service.unseal_token(sealed[:-4] + "AAAA") is None
        assert invitation_service.unseal_token("not sealed") is None


def test_csrf_token_is_new_after_staff_sign_in(app: Flask, make: Factory, client: FlaskClient):
    practitioner = make.practitioner()
    token = csrf_token(client, "/login")
    before = session_of(client)["csrf_token"]
    r = client.post(
        "/login", data={"email": practitioner.email, "password": PASSWORD, "csrf_token": token}
    )
    assert r.status_code == 302
    assert "csrf_token" not in session_of(client)
    csrf_token(client, "/practice/")
    after = session_of(client)["csrf_token"]
    assert after != before
    # The token a visitor held before signing in (perhaps planted by someone) is now useless.
    r = client.post("/practice/families", data={"csrf_token": token, "label": "X"})
    assert r.status_code == 400


def test_csrf_token_is_new_after_a_parent_joins(client: FlaskClient, make: Factory):
    practitioner = make.practitioner()
    _family, _invitation, link = family_service.start_family(practitioner, "Sam", "Alex")
    db.session().commit()
    path = f"/join/{link}"
    csrf_token(client, f"{path}/consent")
    before = session_of(client)["csrf_token"]
    r = give_consent(client, path, name="Alex")
    assert r.status_code == 302
    assert "csrf_token" not in session_of(client)
    csrf_token(client, "/home/")
    assert session_of(client)["csrf_token"] != before


def test_staff_sign_out_clears_the_site(make: Factory, login_as, client: FlaskClient):
    login_as(make.practitioner())
    token = csrf_token(client, "/practice/")
    r = client.post("/logout", data={"csrf_token": token})
    assert r.status_code == 302
    assert r.headers["Clear-Site-Data"] == CLEAR_ON_SIGN_OUT
    assert '"storage"' in CLEAR_ON_SIGN_OUT and '"cache"' in CLEAR_ON_SIGN_OUT


def test_a_signed_out_phone_is_told_to_clear_its_cache_but_keeps_unsent_videos(
    make: Factory, login_as, client: FlaskClient
):
    family = make.family()
    parent = make.parent_of(family)
    login_as(parent)
    assert client.get("/home/").status_code == 200
    # The practitioner signs the lost phone out.
    auth_service.end_all_sessions(parent)
    db.session().commit()
    for path in ("/home/", "/film/", "/film/videos", "/consent/privacy", "/review/"):
        r = client.get(path)
        assert r.status_code == 401, path
        assert r.headers["Clear-Site-Data"] == CLEAR_ON_PARENT_401, path
        assert "Please open your invitation link" in page_text(r)
    # "storage" would empty IndexedDB, where videos wait to be sent.
    assert "storage" not in CLEAR_ON_PARENT_401
    # The upload API answers 401 without clearing anything: the phone retries after joining.
    api = client.get("/api/uploads/status")
    assert api.status_code == 401 and "Clear-Site-Data" not in api.headers


def test_a_wrong_staff_password_clears_nothing(client: FlaskClient):
    token = csrf_token(client, "/login")
    r = client.post(
        "/login", data={"email": "x@example.org", "password": "wrong password", "csrf_token": token}
    )
    assert r.status_code == 401
    assert "Clear-Site-Data" not in r.headers
