"""A family with two published clips, ready to be watched together live."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import pytest
from flask.testing import FlaskClient

from tests.conftest import Factory
from tests.media.factories import add_clip, add_cycle, add_recording
from vigparent.models import Clip, Family, User


@dataclass
class Room:
    family: Family
    parent: User
    practitioner: User
    clips: list[Clip]

    @property
    def base(self) -> str:
        return f"/live/families/{self.family.id}"


@pytest.fixture
def room(make: Factory) -> Room:
    practitioner = make.practitioner()
    family = make.family(practitioner)
    parent = make.parent_of(family)
    cycle = add_cycle(family)
    recording = add_recording(family, parent, cycle=cycle, seconds=2.0)
    first = add_clip(recording, start=0.2, end=1.4, title="You waited", position=1)
    second = add_clip(recording, start=0.4, end=1.8, title="You smiled back", position=2)
    return Room(family, parent, practitioner, [first, second])


def post_json(client: FlaskClient, url: str, body: Any, token: str) -> Any:
    return client.post(
        url,
        data=json.dumps(body),
        headers={"X-CSRFToken": token, "Content-Type": "application/json"},
    )


def first_messages(client: FlaskClient, url: str, count: int = 1) -> list[dict[str, Any]]:
    """The first `count` messages of an event stream; the stream is then closed."""
    response = client.get(url, buffered=False)
    assert response.status_code == 200
    assert response.mimetype == "text/event-stream"
    messages: list[dict[str, Any]] = []
    chunks = iter(response.response)
    try:
        while len(messages) < count:
            chunk = next(chunks).decode()
            for line in chunk.splitlines():
                if line.startswith("data: "):
                    messages.append(json.loads(line.removeprefix("data: ")))
    finally:
        response.close()
    return messages[:count]
