"""Helpers for the staff-account journeys: inviting, choosing a password from an emailed link."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from flask.testing import FlaskClient

from tests.conftest import csrf_token
from tests.mailbox import Mailbox, link_in

NEW_PASSWORD = "a new long password 42"


def invite(
    client: FlaskClient, email: str, name: str = "Jo Bloggs", role: str = "practitioner"
) -> Any:
    token = csrf_token(client, "/admin/staff")
    return client.post(
        "/admin/staff/invite",
        data={"csrf_token": token, "name": name, "email": email, "role": role},
    )


def path_of_link(mailbox: Mailbox, to: str, count: int = 1) -> str:
    """The path of the link in the newest mail to `to` (the origin is the app's base URL)."""
    message = mailbox.wait_for(to, count)[-1]
    return urlsplit(link_in(message)).path


def choose_password(
    client: FlaskClient, path: str, password: str = NEW_PASSWORD, confirm: str | None = None
) -> Any:
    token = csrf_token(client, path)
    return client.post(
        path,
        data={
            "csrf_token": token,
            "password": password,
            "confirm": password if confirm is None else confirm,
        },
    )


def ask_for_reset(client: FlaskClient, email: str, **kw: Any) -> Any:
    token = csrf_token(client, "/password/forgot")
    return client.post("/password/forgot", data={"csrf_token": token, "email": email}, **kw)
