"""A practitioner in training, their supervisor and a filmed family whose carer agreed."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

import pytest
from flask import Flask
from flask.testing import FlaskClient

from tests.conftest import PASSWORD, Factory, csrf_token
from tests.media.factories import add_clip, add_cycle, add_recording
from vigparent import db
from vigparent.models import Clip, Family, Recording, User
from vigparent.supervision import service


@dataclass
class Supervised:
    family: Family
    parent: User
    practitioner: User
    supervisor: User
    recording: Recording
    shared_clip: Clip
    other_clip: Clip


@pytest.fixture
def supervised(make: Factory) -> Supervised:
    org = make.organisation()
    practitioner = make.practitioner(organisation=org)
    supervisor = service.create_supervisor(org.id, "sue@example.org", PASSWORD, "Sue Supervisor")
    db.session().commit()
    family = make.family(practitioner, label="Sam and Alex")
    parent = make.parent_of(family)
    recording = add_recording(family, parent, cycle=add_cycle(family), seconds=2.0)
    shared = add_clip(recording, start=0.2, end=0.8, title="You waited")
    other = add_clip(recording, start=1.0, end=1.6, title="Kept back", position=2)
    return Supervised(family, parent, practitioner, supervisor, recording, shared, other)


@pytest.fixture
def as_user(app: Flask, login_as: Callable[..., FlaskClient]) -> Callable[[User], FlaskClient]:
    """A fresh client signed in as `user` (several people in one test)."""
    return lambda user: login_as(user, on=app.test_client())


def post(client: FlaskClient, path: str, data: dict[str, object] | None = None, page: str = "/"):
    """POST a form as a browser would, with the CSRF token a page gave this client."""
    form = dict(data or {})
    form["csrf_token"] = csrf_token(client, page)
    return client.post(path, data=form)


def agree(client: FlaskClient):
    return post(client, "/consent/supervision", page="/consent/privacy")


def share(client: FlaskClient, s: Supervised, days: int = 14, clips: list[int] | None = None):
    page = f"/practice/families/{s.family.id}/supervision"
    return post(
        client,
        page,
        {
            "clip": clips if clips is not None else [s.shared_clip.id],
            "supervisor": s.supervisor.id,
            "days": days,
            "question": "Was I too quick to name the moment?",
        },
        page=f"/practice/families/{s.family.id}",
    )


def share_id_from(response) -> int:
    match = re.search(r"#share-(\d+)", response.headers["Location"])
    assert match, response.headers.get("Location")
    return int(match.group(1))
