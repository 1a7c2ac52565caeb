"""The fan-out contract (vigparent/live/fanout.py), for every backend.

A backend for several processes (Redis pub/sub) adds itself to ``BACKENDS`` and must pass
the same tests.
"""

from __future__ import annotations

import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import make_test_settings
from vigparent.live import fanout as fan
from vigparent.live.redis_fanout import RedisFanout

# Each takes the test's request, so a backend can ask for the server it needs.
BACKENDS: dict[str, Callable[[pytest.FixtureRequest], fan.Fanout]] = {
    "local": lambda request: fan.LocalFanout(),
    "redis": lambda request: RedisFanout.connect(request.getfixturevalue("redis_url")),
}


@pytest.fixture(params=sorted(BACKENDS))
def fanout(request: pytest.FixtureRequest) -> Iterator[fan.Fanout]:
    yield BACKENDS[request.param](request)


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


PUBLISHER = """
import sys
from vigparent.live.redis_fanout import RedisFanout

fanout = RedisFanout.connect(sys.argv[1])
for n in range(3):
    fanout.publish("review-9", {"from": "another process", "n": n})
"""


def test_redis_fans_out_across_processes(redis_url: str) -> None:
    listener = RedisFanout.connect(redis_url).subscribe("review-9")
    subprocess.run([sys.executable, "-c", PUBLISHER, redis_url], check=True, timeout=60)
    heard = [listener.get(timeout=5) for _ in range(3)]
    assert heard == [{"from": "another process", "n": n} for n in range(3)]
    listener.close()


def test_the_app_fans_out_through_redis_when_redis_is_configured(
    redis_url: str, tmp_path: Path
) -> None:
    settings = make_test_settings(tmp_path, redis_url=redis_url)
    assert isinstance(fan.build(settings), RedisFanout)
