"""Every error a person can meet has a plain page with the right status code."""

from __future__ import annotations

from html import unescape

import pytest
from flask import Flask

from tests.conftest import page_text
from vigparent.errors import MESSAGES


@pytest.mark.parametrize("code", [400, 403, 404, 410, 413, 429, 500])
def test_plain_language_error_pages(app: Flask, code: int):
    title, message = MESSAGES[code]
    with app.test_request_context("/"):
        from vigparent.errors import render_error

        page, status = render_error(code)
        html = unescape(page)
        assert status == code
        assert title in html and message.split(".")[0] in html and "Error code" not in html


def test_unknown_page_is_plain_404(client):
    r = client.get("/no-such-page")
    assert r.status_code == 404
    assert "We can't find that page" in page_text(r)


def test_unhandled_exception_becomes_plain_500(tmp_path):
    from tests.conftest import make_test_settings
    from vigparent import create_app
    from vigparent.security import public

    fresh = create_app(make_test_settings(tmp_path), testing=False)

    @fresh.get("/__boom")
    @public
    def boom():
        raise RuntimeError("boom")

    r = fresh.test_client().get("/__boom")
    assert r.status_code == 500
    assert "Nothing you saved has been lost" in r.get_data(as_text=True)


def test_api_errors_are_json(client):
    r = client.get("/api/nothing-here")
    assert r.status_code in (401, 404)
    assert r.is_json and "message" in r.get_json()


def test_security_headers(client):
    r = client.get("/")
    csp = r.headers["Content-Security-Policy"]
    assert "script-src 'self'" in csp and "unsafe-inline" not in csp
    assert r.headers["X-Content-Type-Options"] == "nosniff"
    assert r.headers["Cache-Control"] == "private, no-store"
    assert "<script>" not in r.get_data(as_text=True)
