"""The upload lock on Redis: one holder across every node, kept alive while its PATCH runs,
gone when released, and let go by itself when its holder died."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis
from flask import Flask

from tests.conftest import make_test_settings
from vigparent import create_app
from vigparent.uploads.locks import drop_lock_file, redis_lock_name, upload_lock
from vigparent.uploads.refusals import UploadBusy

TTL = 0.5


@pytest.fixture
def nodes(tmp_path: Path, redis_url: str) -> Iterator[list[Flask]]:
    """Two apps ("nodes") with their own data dirs, sharing only Redis."""
    apps = [
        create_app(make_test_settings(tmp_path / n, redis_url=redis_url, upload_lock_ttl_s=TTL))
        for n in ("a", "b")
    ]
    yield apps
    for app in apps:
        app.extensions["vig_engine"].dispose()


def _busy_on(app: Flask, upload_id: str) -> bool:
    with app.app_context():
        try:
            with upload_lock(upload_id):
                return False
        except UploadBusy:
            return True


def test_a_held_lock_turns_away_every_node_for_as_long_as_it_is_held(
    nodes: list[Flask], redis_url: str
) -> None:
    a, b = nodes
    upload_id = "u" * 32
    with a.app_context(), upload_lock(upload_id):
        # Held for several TTLs: the holder's renewals keep it, and no node gets in.
        until = time.monotonic() + 4 * TTL
        while time.monotonic() < until:
            assert _busy_on(b, upload_id) and _busy_on(a, upload_id)
    assert not redis.Redis.from_url(redis_url).exists(redis_lock_name(upload_id))
    assert not _busy_on(b, upload_id)
    with a.app_context():
        drop_lock_file(upload_id)  # nothing to drop on Redis; no lock file was ever made
    assert not (Path(a.extensions["vig_settings"].data_dir) / "upload-locks").exists()


def test_a_dead_holders_lock_runs_out(nodes: list[Flask], redis_url: str) -> None:
    _a, b = nodes
    upload_id = "d" * 32
    # What a node killed mid-PATCH leaves behind: its key, never renewed again.
    redis.Redis.from_url(redis_url).set(redis_lock_name(upload_id), "dead", px=int(TTL * 1000))
    assert _busy_on(b, upload_id)
    deadline = time.monotonic() + 20 * TTL
    while _busy_on(b, upload_id):
        assert time.monotonic() < deadline, "the dead holder's lock never ran out"
        time.sleep(0.05)


def test_a_holder_whose_lock_was_taken_from_it_stops_at_its_next_piece(
    nodes: list[Flask], redis_url: str
) -> None:
    """If renewing fails (here: the key is gone and another node took it), the holder is told
    before it writes again, so two nodes never append to one upload."""
    a, b = nodes
    upload_id = "t" * 32
    client = redis.Redis.from_url(redis_url)
    with a.app_context(), upload_lock(upload_id) as held:
        held.check()  # held: writing may go on
        client.delete(redis_lock_name(upload_id))  # lost (Redis restarted, or the key ran out)
        client.set(redis_lock_name(upload_id), "another node")
        deadline = time.monotonic() + 20 * TTL
        while True:
            try:
                held.check()
            except UploadBusy:
                break
            assert time.monotonic() < deadline, "the holder never learned it lost the lock"
            time.sleep(0.02)
    assert client.get(redis_lock_name(upload_id)) == b"another node"  # not released by a
