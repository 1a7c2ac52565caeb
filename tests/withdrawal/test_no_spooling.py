"""A file posted in a form is refused, never spooled to a temporary file in plaintext.

Werkzeug writes form file parts over 500 KB to a temporary file while it parses the body,
and Flask-WTF parses the body of every POST to find the CSRF token. Recordings arrive only
through tus (streamed into encrypted storage), so no view needs form file parts at all.
"""

from __future__ import annotations

import pytest
from flask.testing import FlaskClient
from sqlalchemy import select

from tests.conftest import csrf_token
from vigparent import db
from vigparent.models import ConsentRecord


@pytest.fixture
def spooled(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    calls: list[str] = []
    import werkzeug.formparser as formparser

    real = formparser.default_stream_factory

    def spy(*a, **kw):  # type: ignore[no-untyped-def]
        calls.append("spooled")
        return real(*a, **kw)

    monkeypatch.setattr(formparser, "default_stream_factory", spy)
    monkeypatch.setattr("werkzeug.wrappers.request.default_stream_factory", spy)
    return calls


def test_a_video_posted_as_a_form_file_is_refused_before_touching_disk(
    client: FlaskClient, login_as, make, spooled: list[str]
) -> None:
    family = make.family()
    login_as(make.parent_of(family))
    token = csrf_token(client, "/home/")
    video = b"\x1aE\xdf\xa3" + b"v" * (2 * 1024 * 1024)
    # Built by hand: the test client would buffer a big body in a temporary file of its own.
    boundary = "vigboundary"
    body = (
        (
            f'--{boundary}\r\nContent-Disposition: form-data; name="csrf_token"\r\n\r\n{token}\r\n'
            f'--{boundary}\r\nContent-Disposition: form-data; name="video"; '
            f'filename="baby.webm"\r\nContent-Type: video/webm\r\n\r\n'
        ).encode()
        + video
        + f"\r\n--{boundary}--\r\n".encode()
    )
    r = client.post(
        "/withdrawal/filming",
        data=body,
        content_type=f"multipart/form-data; boundary={boundary}",
    )
    assert r.status_code == 413
    assert "too big" in r.get_data(as_text=True)
    assert spooled == []
    assert db.session().scalars(select(ConsentRecord.withdrawn_at)).all() == [None, None]


def test_ordinary_forms_still_work(client: FlaskClient, login_as, make) -> None:
    family = make.family()
    login_as(make.parent_of(family))
    token = csrf_token(client, "/home/")
    r = client.post(
        "/withdrawal/filming",
        data={"csrf_token": token},
        content_type="multipart/form-data",
    )
    assert r.status_code == 303
