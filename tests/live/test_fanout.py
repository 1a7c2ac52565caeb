"""The fan-out contract (vigparent/live/fanout.py), for every backend.

A backend for several processes (Redis pub/sub) adds itself to ``BACKENDS`` and must pass
the same tests.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from vigparent.live import fanout as fan

BACKENDS: dict[str, Callable[[], fan.Fanout]] = {"local": fan.LocalFanout}


@pytest.fixture(params=sorted(BACKENDS))
def fanout(request: pytest.FixtureRequest) -> Iterator[fan.Fanout]:
    yield BACKENDS[request.param]()


def test_every_listener_in_the_room_gets_each_event_in_order(fanout: fan.Fanout) -> None:
    first, second = fanout.subscribe("review-1"), fanout.subscribe("review-1")
    for n in range(5):
        fanout.publish("review-1", {"n": n})
    for listener in (first, second):
        assert [listener.get(timeout=2) for _ in range(5)] == [{"n": n} for n in range(5)]
        listener.close()


def test_other_rooms_hear_nothing(fanout: fan.Fanout) -> None:
    other = fanout.subscribe("review-2")
    listener = fanout.subscribe("review-1")
    fanout.publish("review-1", {"play": 1.5})
    assert listener.get(timeout=2) == {"play": 1.5}
    assert other.get(timeout=0.2) is None
    other.close()
    listener.close()


def test_a_closed_listener_hears_nothing_more(fanout: fan.Fanout) -> None:
    listener = fanout.subscribe("review-1")
    listener.close()
    listener.close()  # twice is harmless
    fanout.publish("review-1", {"pause": 3.0})
    assert listener.get(timeout=0.2) is None


def test_a_waiting_listener_wakes_when_an_event_is_published(fanout: fan.Fanout) -> None:
    listener = fanout.subscribe("review-1")
    heard: list[fan.Event | None] = []
    waiting = threading.Thread(target=lambda: heard.append(listener.get(timeout=5)))
    waiting.start()
    fanout.publish("review-1", {"seek": 12.0})
    waiting.join(timeout=5)
    assert heard == [{"seek": 12.0}]
    listener.close()


def test_a_listener_that_falls_behind_is_told_to_resync() -> None:
    fanout = fan.LocalFanout()
    listener = fanout.subscribe("review-1")
    for n in range(fan.BACKLOG + 1):
        fanout.publish("review-1", {"n": n})
    assert [listener.get(timeout=1) for _ in range(fan.BACKLOG)][-1] == {"n": fan.BACKLOG - 1}
    with pytest.raises(fan.Overrun):
        listener.get(timeout=1)


def test_the_app_fans_out_in_process_by_default(app: Any) -> None:
    with app.app_context():
        assert isinstance(fan.current(), fan.LocalFanout)
