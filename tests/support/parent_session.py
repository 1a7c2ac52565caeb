"""Sign a user in for HTTP clients outside Flask (tuspy, requests, raw sockets, the bench).

Makes the two things a browser would hold after signing in: the signed session cookie and the
CSRF token for the ``X-CSRFToken`` header, exactly as Flask and Flask-WTF would issue them, so
any server process sharing the app's SECRET_KEY and database accepts them. No page is rendered.
"""

from __future__ import annotations

import hashlib
import os
import secrets
from dataclasses import dataclass

from flask import Flask
from itsdangerous import URLSafeTimedSerializer

from vigparent import db
from vigparent.auth import service as auth_service
from vigparent.models import (
    ConsentKind,
    ConsentRecord,
    Family,
    FamilyStatus,
    Organisation,
    Role,
    User,
)


@dataclass(frozen=True)
class SignedIn:
    cookie_name: str
    cookie_value: str
    csrf_token: str

    @property
    def headers(self) -> dict[str, str]:
        """Headers that authenticate a request as this user (cookie + CSRF)."""
        return {"Cookie": f"{self.cookie_name}={self.cookie_value}", "X-CSRFToken": self.csrf_token}


def sign_in(app: Flask, user_id: int, device: str = "test") -> SignedIn:
    """Start a LoginSession for the user and return its cookie and a CSRF token."""
    with app.app_context():
        user = db.session().get(User, user_id)
        assert user is not None
        token = auth_service.start_session(user, device)
        db.session().commit()
    raw_csrf = hashlib.sha1(os.urandom(64)).hexdigest()  # noqa: S324 - Flask-WTF's own format
    session = {"_user_id": token, "_fresh": True, "_permanent": True, "csrf_token": raw_csrf}
    serializer = app.session_interface.get_signing_serializer(app)  # type: ignore[attr-defined]
    assert serializer is not None
    cookie = serializer.dumps(session)
    csrf = URLSafeTimedSerializer(app.config["SECRET_KEY"], salt="wtf-csrf-token").dumps(raw_csrf)
    return SignedIn(app.config["SESSION_COOKIE_NAME"], cookie, csrf)


def create_consenting_family(app: Flask, *, quota_bytes: int | None = None) -> int:
    """Create an organisation, practitioner, active family and a parent who consented to
    filming and storage; return the parent's user id. For servers set up outside pytest."""
    with app.app_context():
        s = db.session()
        org = Organisation(name="Test team")
        if quota_bytes is not None:
            org.family_quota_bytes = quota_bytes
        s.add(org)
        s.flush()
        practitioner = User(
            organisation_id=org.id,
            role=Role.PRACTITIONER,
            email=f"p{secrets.token_hex(8)}@example.org",
        )
        s.add(practitioner)
        s.flush()
        family = Family(
            organisation_id=org.id,
            practitioner_id=practitioner.id,
            label="Test family",
            status=FamilyStatus.ACTIVE,
        )
        s.add(family)
        s.flush()
        parent = User(organisation_id=org.id, role=Role.PARENT, family_id=family.id)
        s.add(parent)
        s.flush()
        for kind in (ConsentKind.FILMING, ConsentKind.STORAGE):
            s.add(
                ConsentRecord(
                    family_id=family.id, user_id=parent.id, kind=kind, wording_version="test"
                )
            )
        s.commit()
        return parent.id
