"""Helpers for invitation tests: a family waiting for its carer, and its link."""

from __future__ import annotations

from dataclasses import dataclass

import pytest
from flask.testing import FlaskClient

from tests.conftest import Factory, csrf_token
from tests.conftest import page_text as _page_text
from vigparent import db
from vigparent.families import service as family_service
from vigparent.models import Family, Invitation, User


@dataclass
class Invited:
    practitioner: User
    family: Family
    invitation: Invitation
    token: str

    @property
    def path(self) -> str:
        return f"/join/{self.token}"


@pytest.fixture
def invited(make: Factory) -> Invited:
    """A new family on a practitioner's caseload with one open invitation."""
    practitioner = make.practitioner()
    family, invitation, token = family_service.start_family(practitioner, "Sam and Alex", "Alex")
    db.session().commit()
    return Invited(practitioner, family, invitation, token)


def page_text(response) -> str:  # type: ignore[no-untyped-def]
    """The page as a person reads it, with line breaks and runs of spaces made single."""
    return " ".join(_page_text(response).split())


def give_consent(client: FlaskClient, path: str, **fields: str):
    """Open the consent page like a phone would, then submit it."""
    data = {"csrf_token": csrf_token(client, f"{path}/consent"), "filming": "y", "storage": "y"}
    data.update(fields)
    return client.post(f"{path}/consent", data=data)
