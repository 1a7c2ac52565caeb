"""Helpers that drive the second-factor journeys the way a browser does."""

from __future__ import annotations

import re
from html import unescape
from typing import Any

import pyotp
from flask.testing import FlaskClient

from tests.conftest import PASSWORD, csrf_token
from vigparent.auth import totp

_SECRET = re.compile(r'<code class="setup-key">([A-Z2-7 ]+)</code>')
_CODES = re.compile(r"<li><code>([a-z2-7-]{19})</code></li>")


def sign_in(client: FlaskClient, email: str, password: str = PASSWORD, **query: Any) -> Any:
    token = csrf_token(client, "/login")
    return client.post(
        "/login",
        data={"email": email, "password": password, "csrf_token": token},
        query_string=query,
    )


def sign_out(client: FlaskClient) -> None:
    client.post("/logout", data={"csrf_token": csrf_token(client, "/account/security")})


def post(client: FlaskClient, path: str, page: str = "/", **data: Any) -> Any:
    """POST a form with the CSRF token that `page` gives this client."""
    return client.post(path, data={"csrf_token": csrf_token(client, page), **data})


def code_for(secret: str, steps_from_now: int = 0) -> str:
    return pyotp.TOTP(secret).generate_otp(totp.current_step() + steps_from_now)


def start_app(client: FlaskClient) -> str:
    """Start setting up the authenticator app; the secret the page shows."""
    r = post(client, "/account/security/app", page="/account/security")
    assert r.status_code == 302, r.status_code
    page = client.get("/account/security/app").get_data(as_text=True)
    match = _SECRET.search(page)
    assert match, "no set-up key on the page"
    return match.group(1).replace(" ", "")


def set_up_app(client: FlaskClient) -> tuple[str, list[str]]:
    """Set up the app and confirm it; (secret, recovery codes shown once)."""
    secret = start_app(client)
    r = post(
        client, "/account/security/app/confirm", page="/account/security/app", code=code_for(secret)
    )
    assert r.status_code == 200, r.status_code
    codes = _CODES.findall(unescape(r.get_data(as_text=True)))
    assert len(codes) == 10
    return secret, codes


def answer_code(client: FlaskClient, code: str) -> Any:
    return post(client, "/sign-in/second-step/app", page="/sign-in/second-step", code=code)


def answer_recovery(client: FlaskClient, code: str) -> Any:
    return post(client, "/sign-in/second-step/recovery", page="/sign-in/second-step", code=code)
