"""Jobs and wrapped keys shared by every node: Huey on Redis, the key store database."""

from __future__ import annotations

import os
import threading
from pathlib import Path

from huey import RedisHuey

from tests.conftest import make_test_settings
from vigparent.jobs import make_huey
from vigparent.keyring import DataKeyMissing, Keyring
from vigparent.keystore import DatabaseKeyStore


def test_jobs_queued_on_one_node_wait_in_redis_for_any_worker(
    redis_url: str, tmp_path: Path
) -> None:
    # A database of its own on the server, so other tests' queued jobs are not counted.
    url = redis_url.rsplit("/", 1)[0] + "/3"
    settings = make_test_settings(tmp_path, redis_url=url, jobs_immediate=False)
    node_a, worker = make_huey(settings), make_huey(settings)
    assert isinstance(node_a, RedisHuey)
    worker.flush()

    def ping(n: int) -> int:
        return n + 1

    queued = node_a.task()(ping)
    worker.task()(ping)  # the worker knows the same job, as the consumer does
    result = queued(7)
    assert worker.pending_count() == 1
    task = worker.dequeue()
    assert task is not None and task.name == "ping"
    worker.execute(task)
    assert result.get() == 8  # the result came back through Redis too
    worker.flush()


def test_two_nodes_share_one_key_per_family_and_a_destroyed_key_is_gone_for_both(
    pg_database: str,
) -> None:
    master = os.urandom(32)
    stores = [DatabaseKeyStore(pg_database) for _ in range(2)]
    try:
        node_a, node_b = (Keyring(s, master) for s in stores)
        # Both mint family 5's first key at once: they must agree on one.
        keys: list[bytes] = []
        racers = [
            threading.Thread(target=lambda k=k: keys.append(k.data_key(5)))
            for k in (node_a, node_b)
        ]
        for t in racers:
            t.start()
        for t in racers:
            t.join()
        assert len(keys) == 2 and keys[0] == keys[1]
        assert node_b.data_key(5, create=False) == keys[0]

        assert node_a.destroy(5) is True
        for keyring in (node_a, node_b):
            try:
                keyring.data_key(5, create=False)
            except DataKeyMissing:
                continue
            raise AssertionError("a destroyed key was still readable")

        # Rotating the master key re-wraps what is in the store; the key itself is kept.
        key6 = node_a.data_key(6)
        new_master = os.urandom(32)
        assert node_a.rewrap_all(new_master) == 1
        assert Keyring(stores[1], new_master).data_key(6, create=False) == key6
    finally:
        for s in stores:
            s.dispose()


def test_many_new_families_at_once_never_starve_the_key_stores_pool(pg_database: str) -> None:
    """More families than the pool has connections get their first key at the same moment:
    those waiting for the key store's lock must not hold the connections its holder needs."""
    store = DatabaseKeyStore(pg_database)
    try:
        keyring = Keyring(store, os.urandom(32))
        keys: dict[int, bytes] = {}
        failures: list[BaseException] = []

        def first_key(family_id: int) -> None:
            try:
                keys[family_id] = keyring.data_key(family_id)
            except BaseException as e:  # the pool's 30 s timeout, were it starved
                failures.append(e)

        threads = [threading.Thread(target=first_key, args=(n,)) for n in range(100, 124)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=120)
        assert failures == [] and len(keys) == 24
        assert store.family_ids() == list(range(100, 124))
    finally:
        store.dispose()
