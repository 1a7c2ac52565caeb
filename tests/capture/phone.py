"""Helpers for the capture browser tests: a signed-in parent's phone, and the page's state."""

from __future__ import annotations

from typing import Any

from flask import Flask
from sqlalchemy import select

from tests.browser.conftest import wait_until
from vigparent import db
from vigparent.auth import service as auth_service
from vigparent.models import Recording, User


def sign_in_parent(app: Flask, page: Any, user: User, base_url: str) -> None:
    """Give the browser the session cookie an invitation link would have set."""
    with app.app_context():
        u = db.session().get(User, user.id)
        assert u is not None
        token = auth_service.start_session(u, "browser test")
        db.session().commit()
        serializer = app.session_interface.get_signing_serializer(app)  # type: ignore[attr-defined]
        value = serializer.dumps({"_user_id": token, "_fresh": True, "_permanent": True})
    page.context.add_cookies([{"name": "vig_session", "value": value, "url": base_url}])


def wait_until_filmed(page: Any, seconds: float) -> None:
    """Until the phone's own filming clock ("0:04") has counted ``seconds``."""
    page.wait_for_function(
        """(s) => {
          const [m, sec] = document.getElementById("rec-clock").textContent.split(":");
          return Number(m) * 60 + Number(sec) >= s;
        }""",
        arg=seconds,
    )


def wait_until_chunks_saved(page: Any, count: int) -> None:
    """Until the recording being filmed has ``count`` pieces saved on the phone."""
    wait_until(
        page,
        "async (n) => (await vig.store.all()).some((r) => r.chunkSizes.length >= n)",
        count,
    )


def recordings_of(app: Flask, family_id: int) -> list[Recording]:
    with app.app_context():
        rows = db.session().scalars(select(Recording).where(Recording.family_id == family_id))
        result = list(rows)
        db.session().expunge_all()
        return result


def local_records(page: Any) -> list[dict[str, Any]]:
    """The phone's IndexedDB recording records (without the bytes)."""
    result: list[dict[str, Any]] = page.evaluate("() => vig.store.all()")
    return result
