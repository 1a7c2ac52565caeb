"""The event stream: snapshot first, the room's events in order, keep-alives that keep the
person present, a capped lifetime, and clean-up however it is closed."""

from __future__ import annotations

import json
from typing import Any

import pytest
from flask import Flask

from tests.live.conftest import Room
from vigparent import db
from vigparent.live import fanout as fan
from vigparent.live import service, stream
from vigparent.models import LiveReview, User


def _messages(chunks: list[bytes]) -> list[dict[str, Any]]:
    return [
        json.loads(line.removeprefix("data: "))
        for chunk in chunks
        for line in chunk.decode().splitlines()
        if line.startswith("data: ")
    ]


def _open(app: Flask, room: Room) -> tuple[LiveReview, User]:
    review = service.start(room.family, room.practitioner)
    parent = db.session().get(User, room.parent.id)
    assert parent is not None
    return review, parent


def _stream(
    app: Flask, room: Room, review: LiveReview, parent: User, lifetime: float
) -> tuple[stream.EventStream, fan.Subscription]:
    subscription = fan.current().subscribe(service.room(room.family.id))
    connection = service.join(review, room.family, parent)
    first = service.snapshot(review, room.family, lambda clip_id: f"/media/clips/{clip_id}")
    listener = stream.Listener(review.id, room.family.id, parent.id, connection)
    return stream.EventStream(app, subscription, first, listener, lifetime), subscription


def test_snapshot_then_events_then_keep_alives_until_its_time_is_up(
    app: Flask, app_ctx: Flask, room: Room, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(stream, "KEEP_ALIVE_S", 0.05)
    review, parent = _open(app, room)
    body, _ = _stream(app, room, review, parent, lifetime=0.5)
    chunks = iter(body)
    first = next(chunks)
    assert first.startswith(b"retry: 1000\n")
    fan.current().publish(service.room(room.family.id), {"type": "state", "seq": 99})
    rest = list(chunks)  # ends by itself when its lifetime is up
    body.close()
    messages = _messages([first, *rest])
    assert messages[0]["type"] == "snapshot"
    # Its own arrival (presence), then the event, then keep-alives; each with the server's time.
    types = [m["type"] for m in messages[1:]]
    assert types[:2] == ["presence", "state"] and set(types[2:]) == {"tick"}
    assert all(isinstance(m["now"], int) for m in messages)
    assert service.present(review) == []  # gone once its stream closed


def test_a_stream_closed_before_its_first_byte_still_says_goodbye(
    app: Flask, app_ctx: Flask, room: Room
) -> None:
    review, parent = _open(app, room)
    body, subscription = _stream(app, room, review, parent, lifetime=60)
    assert [p["role"] for p in service.present(review)] == ["parent"]
    body.close()
    body.close()  # twice is harmless
    assert service.present(review) == []
    fan.current().publish(service.room(room.family.id), {"type": "state"})
    heard = []
    while (event := subscription.get(timeout=0.05)) is not None:
        heard.append(event["type"])
    assert "state" not in heard  # it stopped listening


def test_a_keep_alive_finds_the_review_ended_and_says_so(
    app: Flask, app_ctx: Flask, room: Room, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(stream, "KEEP_ALIVE_S", 0.05)
    review, parent = _open(app, room)
    body, _ = _stream(app, room, review, parent, lifetime=30)
    chunks = iter(body)
    next(chunks)
    # Ended by another process: this one hears nothing, but its next keep-alive finds out.
    service.end_for_family(room.family.id)
    db.session().commit()
    rest = _messages(list(chunks))
    body.close()
    assert rest[-1]["type"] == "ended"


def test_a_listener_that_fell_behind_ends_its_stream_to_resync(
    app: Flask, app_ctx: Flask, room: Room
) -> None:
    review, parent = _open(app, room)
    body, _ = _stream(app, room, review, parent, lifetime=30)
    chunks = iter(body)
    next(chunks)
    for n in range(fan.BACKLOG + 5):
        fan.current().publish(service.room(room.family.id), {"type": "tick", "n": n})
    rest = list(chunks)  # the backlog, then the end: the page reconnects for a fresh snapshot
    body.close()
    assert len(_messages(rest)) == fan.BACKLOG
