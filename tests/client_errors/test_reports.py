"""Errors on parents' phones (issue 14 §8): a small, checked, rate-limited report endpoint for
signed-in parents, and an admin page that lists their organisation's reports."""

from __future__ import annotations

import json
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from tests.conftest import Factory, page_text
from tests.support.parent_session import SignedIn, sign_in
from vigparent import db, retention
from vigparent.client_errors import service
from vigparent.models import ClientError, Role, User

URL = "/api/client-errors"
UA = "Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) Safari/604.1"


def _report(**overrides: Any) -> dict[str, Any]:
    return {
        "kind": "storage_failed",
        "message": "QuotaExceededError: The quota has been exceeded.",
        "source": "http://127.0.0.1:5000/static/gen/capture_js.cd997209.js:213:9",
        "page": "/film/",
        "app_version": "3d848e17",
        **overrides,
    }


def post(client: FlaskClient, signed: SignedIn | None, body: Any, **headers: str) -> Any:
    data = body if isinstance(body, (bytes, str)) else json.dumps(body)
    h = {"Content-Type": "application/json", "User-Agent": UA, **headers}
    if signed is not None:
        client.set_cookie(signed.cookie_name, signed.cookie_value)
        h.setdefault("X-CSRFToken", signed.csrf_token)
    return client.post(URL, data=data, headers=h)


def stored() -> list[ClientError]:
    db.session().expire_all()
    return list(db.session().scalars(select(ClientError)))


@pytest.fixture
def parent(make: Factory) -> User:
    return make.parent_of(make.family())


def test_a_parent_reports_an_error_with_browser_and_app_version(
    app: Flask, client: FlaskClient, parent: User
):
    r = post(client, sign_in(app, parent.id), _report())
    assert r.status_code == 204
    (row,) = stored()
    assert row.kind == "storage_failed"
    assert row.message.startswith("QuotaExceededError")
    assert row.source == "/static/gen/capture_js.cd997209.js:213:9"  # no host
    assert row.page == "/film/"
    assert row.browser == UA and row.app_version == "3d848e17"
    assert row.organisation_id == parent.organisation_id
    # Nothing that points at the family or the person.
    assert not {"family_id", "user_id", "author_id"} & set(ClientError.__table__.columns.keys())


def test_personal_things_in_a_report_are_scrubbed(app: Flask, client: FlaskClient, parent: User):
    message = (
        "Failed for alex.smith@example.org at https://vig.example.org/join/"
        "IjRhYmNkZWZnaGlqa2xtbm9wcXJzdHV2d3h5eiI.abc?x=1 family 1234 token "
        "Zm9vYmFyYmF6cXV4cXV1eGNvcmdlZ3JhdWx0"
    )
    r = post(
        client,
        sign_in(app, parent.id),
        _report(message=message, page="/review/clips/42/reflection", source="x?secret=1"),
    )
    assert r.status_code == 204
    (row,) = stored()
    for secret in ("alex.smith", "IjRhYmNk", "1234", "Zm9vYmFy", "x=1"):
        assert secret not in row.message, secret
    assert "[email]" in row.message and "/join/[link]" in row.message
    assert row.page == "/review/clips/N/reflection"
    assert "secret" not in row.source


def test_reports_need_the_csrf_header(app: Flask, client: FlaskClient, parent: User):
    signed = sign_in(app, parent.id)
    client.set_cookie(signed.cookie_name, signed.cookie_value)
    r = client.post(URL, data=json.dumps(_report()), content_type="application/json")
    assert r.status_code == 400
    assert stored() == []


def test_only_signed_in_parents_may_report(app: Flask, client: FlaskClient, make: Factory):
    # Signed out: refused before anything is read (CSRF first, else 401).
    assert post(client, None, _report()).status_code in (400, 401)
    org = make.organisation()
    for role in (Role.PRACTITIONER, Role.ADMIN):
        staff = make.practitioner(organisation=org, role=role)
        assert post(app.test_client(), sign_in(app, staff.id), _report()).status_code == 404
    assert stored() == []


@pytest.mark.parametrize(
    ("body", "status"),
    [
        (_report(message="x" * 3000), 413),  # over the size cap, whatever it holds
        (b"\x00" * 10, 400),  # not JSON
        ("[]", 400),  # not an object
        (_report(video="AAAA"), 400),  # unknown key: no media, no extra fields
        (_report(message=None), 400),
        (_report(message=["a"]), 400),
        (_report(kind="anything"), 400),
        (_report(page="/" + "p" * 200), 400),
        (_report(app_version="1.0 <script>"), 400),
        ({"kind": "caught"}, 400),  # message missing
    ],
)
def test_reports_out_of_shape_are_refused(
    app: Flask, client: FlaskClient, parent: User, body: Any, status: int
):
    r = post(client, sign_in(app, parent.id), body)
    assert r.status_code == status
    assert r.is_json and r.get_json()["message"]
    assert stored() == []


def test_form_posts_are_refused(app: Flask, client: FlaskClient, parent: User):
    r = post(client, sign_in(app, parent.id), "kind=caught", **{"Content-Type": "text/plain"})
    assert r.status_code == 415
    assert stored() == []


def test_reports_are_rate_limited_per_parent(app: Flask, client: FlaskClient, make: Factory):
    parent = make.parent_of(make.family())
    other = make.parent_of(make.family(label="Kit"))
    signed = sign_in(app, parent.id)
    statuses = [post(client, signed, _report()).status_code for _ in range(8)]
    assert statuses[:6] == [204] * 6 and statuses[6:] == [429, 429]
    # Another parent (perhaps behind the same mobile network address) is not held back.
    assert post(app.test_client(), sign_in(app, other.id), _report()).status_code == 204
    assert len(stored()) == 7


def test_the_admin_page_lists_only_its_organisations_reports(
    app: Flask, make: Factory, login_as, client: FlaskClient
):
    org, elsewhere = make.organisation(), make.organisation("Elsewhere")
    ours = make.parent_of(make.family(make.practitioner(organisation=org)))
    theirs = make.parent_of(make.family(make.practitioner(organisation=elsewhere)))
    post(app.test_client(), sign_in(app, ours.id), _report(message="Ours broke"))
    post(app.test_client(), sign_in(app, theirs.id), _report(message="Theirs broke"))

    admin = make.practitioner(organisation=org, role=Role.ADMIN)
    login_as(admin)
    assert "Errors on parents' phones" in page_text(client.get("/practice/"))
    r = client.get("/practice/phone-errors")
    assert r.status_code == 200
    text = page_text(r)
    assert "Ours broke" in text and "Theirs broke" not in text
    assert "Saving on the phone failed" in text and "iPhone OS" in text and "3d848e17" in text


def test_practitioners_and_parents_cannot_see_the_admin_page(app: Flask, make: Factory, login_as):
    practitioner = make.practitioner()
    parent = make.parent_of(make.family(practitioner))
    assert (
        login_as(practitioner, on=app.test_client()).get("/practice/phone-errors").status_code
        == 404
    )
    assert login_as(parent, on=app.test_client()).get("/practice/phone-errors").status_code == 404
    signed_out = app.test_client().get("/practice/phone-errors")
    assert signed_out.status_code == 302 and "/login" in signed_out.headers["Location"]


def test_only_parent_pages_carry_the_report_address(app: Flask, make: Factory, login_as):
    practitioner = make.practitioner()
    parent = make.parent_of(make.family(practitioner))
    parent_page = login_as(parent, on=app.test_client()).get("/home/").get_data(as_text=True)
    assert 'name="vig-error-report" content="/api/client-errors"' in parent_page
    staff_page = (
        login_as(practitioner, on=app.test_client()).get("/practice/").get_data(as_text=True)
    )
    assert "vig-error-report" not in staff_page


def test_scrub_keeps_the_gist():
    assert service.scrub("TypeError: x is undefined") == "TypeError: x is undefined"
    assert service.scrub("at line 12 of https://h/p?q=1#f") == "at line N of /p"
    assert service.script_location("https://h.example/static/gen/a.1f.js:3:4?x") == (
        "/static/gen/a.1f.js:3:4"
    )


def test_the_nightly_sweep_deletes_reports_after_ninety_days(
    app: Flask, client: FlaskClient, parent: User, frozen_clock
):
    signed = sign_in(app, parent.id)
    assert post(client, signed, _report(message="Error: old")).status_code == 204
    frozen_clock(days=service.KEEP_DAYS - 1)
    assert post(client, signed, _report(message="Error: newer")).status_code == 204
    frozen_clock(days=1, seconds=1)  # the first is now just over ninety days old
    report = retention.sweep()
    db.session().commit()
    assert [r.message for r in stored()] == ["Error: newer"]
    assert "Deleted 1 phone error reports older than 90 days." in str(report)
