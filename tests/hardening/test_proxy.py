"""Behind a reverse proxy (issue 14 §6): with TRUSTED_PROXIES the app sees each client's own
address, so one person hammering the sign-in form cannot lock every member of staff out."""

from __future__ import annotations

from pathlib import Path

import pytest
from flask import Flask

from tests.conftest import csrf_token, make_test_settings
from vigparent import create_app
from vigparent.db import Base
from vigparent.security import limiter

NGINX_PEER = {"REMOTE_ADDR": "127.0.0.1"}


def _app(tmp_path: Path, trusted_proxies: int) -> Flask:
    app = create_app(
        make_test_settings(
            tmp_path, trusted_proxies=trusted_proxies, login_rate_limit="3 per minute"
        )
    )
    with app.app_context():
        Base.metadata.create_all(app.extensions["vig_engine"])
        limiter.reset()
    return app


def _failed_logins(app: Flask, forwarded_for: str, n: int) -> list[int]:
    """Wrong passwords posted through nginx by a client nginx saw at `forwarded_for`."""
    client = app.test_client()
    headers = {"X-Forwarded-For": forwarded_for, "X-Forwarded-Proto": "http"}
    token = csrf_token(client, "/login")
    form = {"csrf_token": token, "email": "nobody@example.org", "password": "wrong password"}
    return [
        client.post("/login", data=form, headers=headers, environ_base=NGINX_PEER).status_code
        for _ in range(n)
    ]


@pytest.mark.parametrize(("trusted", "shared"), [(1, False), (0, True)])
def test_rate_limits_key_on_the_real_client_only_behind_a_trusted_proxy(
    tmp_path: Path, trusted: int, shared: bool
):
    app = _app(tmp_path, trusted)
    assert _failed_logins(app, "198.51.100.7", 4)[-1] == 429  # the attacker is stopped
    other = _failed_logins(app, "203.0.113.20", 1)[0]
    # Trusted: a colleague elsewhere is unaffected. Untrusted: everyone shares nginx's bucket.
    assert (other == 429) is shared
    app.extensions["vig_engine"].dispose()


def test_a_client_cannot_choose_its_address_through_the_proxy(tmp_path: Path):
    app = _app(tmp_path, 1)
    # nginx appends the real peer to whatever the client sent; only the last entry counts,
    # so making up a new address for every try does not get round the limit.
    codes = [_failed_logins(app, f"10.0.0.{i}, 198.51.100.7", 1)[0] for i in range(4)]
    assert codes == [401, 401, 401, 429]
    app.extensions["vig_engine"].dispose()
