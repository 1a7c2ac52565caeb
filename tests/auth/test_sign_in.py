"""Practitioner sign-in: the happy path and every way it can go wrong."""

from __future__ import annotations

from pathlib import Path

from flask.testing import FlaskClient
from sqlalchemy import func, select

from tests.conftest import PASSWORD, Factory, csrf_token, make_test_settings
from vigparent import create_app, db
from vigparent.auth import service as auth_service
from vigparent.models import LoginSession


def _login(client: FlaskClient, email: str, password: str, token: str | None = None):
    data = {"email": email, "password": password}
    if token is not None:
        data["csrf_token"] = token
    return client.post("/login", data=data)


def test_practitioner_signs_in_sees_caseload_and_signs_out(client: FlaskClient, make: Factory):
    p = make.practitioner("jo@example.org")
    make.family(p, label="Sam and Alex")
    r = _login(client, "Jo@Example.org ", PASSWORD, csrf_token(client, "/login"))
    assert r.status_code == 302 and r.headers["Location"].endswith("/practice/")
    page = client.get("/practice/").get_data(as_text=True)
    assert "Your caseload" in page and "Sam and Alex" in page

    r = client.post("/logout", data={"csrf_token": csrf_token(client, "/practice/")})
    assert r.status_code == 302
    assert client.get("/practice/").status_code == 302
    assert db.session().scalar(select(func.count()).where(LoginSession.ended_at.is_(None))) == 0


def test_wrong_password_gives_clear_page(client: FlaskClient, make: Factory):
    make.practitioner("jo@example.org")
    r = _login(client, "jo@example.org", "not the password", csrf_token(client, "/login"))
    assert r.status_code == 401
    assert "That email and password do not match" in r.get_data(as_text=True)
    assert client.get("/practice/").status_code == 302


def test_unknown_email_gives_the_same_clear_page(client: FlaskClient, make: Factory):
    r = _login(client, "nobody@example.org", PASSWORD, csrf_token(client, "/login"))
    assert r.status_code == 401
    assert "That email and password do not match" in r.get_data(as_text=True)


def test_missing_csrf_token_is_refused_plainly(client: FlaskClient, make: Factory):
    make.practitioner("jo@example.org")
    r = _login(client, "jo@example.org", PASSWORD, token=None)
    assert r.status_code == 400
    body = r.get_data(as_text=True)
    assert "refresh the page and try again" in body and "Nothing was changed" in body
    assert client.get("/practice/").status_code == 302


def test_twentieth_login_attempt_in_a_minute_is_rate_limited(client: FlaskClient, make: Factory):
    make.practitioner("jo@example.org")
    token = csrf_token(client, "/login")
    codes = [
        _login(client, "jo@example.org", "wrong password!", token).status_code for _ in range(20)
    ]
    assert codes[0] == 401
    assert codes[-1] == 429
    r = _login(client, "jo@example.org", PASSWORD, token)
    assert r.status_code == 429
    assert "Too many tries" in r.get_data(as_text=True)


def test_next_parameter_cannot_redirect_off_site(client: FlaskClient, make: Factory):
    make.practitioner("jo@example.org")
    token = csrf_token(client, "/login")
    r = client.post(
        "/login?next=//evil.example/x",
        data={"email": "jo@example.org", "password": PASSWORD, "csrf_token": token},
    )
    assert r.headers["Location"].endswith("/practice/")


def test_ended_session_signs_that_device_out(app, client: FlaskClient, make: Factory, login_as):
    p = make.practitioner()
    login_as(p)
    assert client.get("/practice/").status_code == 200
    db.session().execute(
        LoginSession.__table__.update().values(ended_at=db.session().scalar(select(func.now())))
    )
    db.session().commit()
    assert client.get("/practice/").status_code == 302


def test_staff_session_ends_after_idle_hours(
    client: FlaskClient, make: Factory, login_as, frozen_clock
):
    p = make.practitioner()
    login_as(p)
    assert client.get("/practice/").status_code == 200
    frozen_clock(hours=13)
    assert client.get("/practice/").status_code == 302


def test_parent_cannot_use_practitioner_pages(client: FlaskClient, make: Factory, login_as):
    family = make.family()
    login_as(make.parent_of(family))
    assert client.get("/practice/").status_code == 404
    assert client.get("/home/").status_code == 200


def test_signed_out_parent_page_says_use_your_link(client: FlaskClient):
    r = client.get("/home/")
    assert r.status_code == 401
    assert "open the link your practitioner sent you" in r.get_data(as_text=True)


def test_passwords_are_hashed_with_argon2(make: Factory):
    p = make.practitioner()
    assert p.password_hash and p.password_hash.startswith("$argon2")
    assert PASSWORD not in p.password_hash
    # At the cost the test settings name: the cheapest, so tests stay fast.
    assert p.password_hash.startswith("$argon2id$v=19$m=8,t=1,p=1$")


def test_the_argon2_cost_follows_the_apps_settings(tmp_path: Path):
    app = create_app(make_test_settings(tmp_path, argon2_time_cost=2, argon2_memory_kib=1024))
    with app.app_context():
        stored = auth_service.hash_password(PASSWORD)
    assert stored.startswith("$argon2id$v=19$m=1024,t=2,p=1$")
