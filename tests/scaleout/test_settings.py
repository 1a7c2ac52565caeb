"""The environment picks each shared service; nothing set keeps the one-machine defaults."""

from __future__ import annotations

import base64
import os
from pathlib import Path

import pytest

from tests.conftest import make_test_settings
from vigparent.config import ConfigError, load_settings
from vigparent.keyring import DirectoryKeyStore, Keyring
from vigparent.keystore import DatabaseKeyStore
from vigparent.media_store import build_key_store, build_store
from vigparent.object_store import ObjectMediaStore
from vigparent.storage import MediaStore


def _env(tmp_path: Path, **extra: str) -> dict[str, str]:
    return {
        "VIGPARENT_DATA_DIR": str(tmp_path),
        "SECRET_KEY": "x" * 10,
        "VIGPARENT_MASTER_KEY": base64.b64encode(os.urandom(32)).decode(),
        **extra,
    }


def test_one_machine_needs_no_server(tmp_path: Path) -> None:
    settings = load_settings(_env(tmp_path))
    assert settings.redis_url == "" and settings.rate_limit_storage_uri == "memory://"
    assert isinstance(build_key_store(settings), DirectoryKeyStore)
    keyring = Keyring(build_key_store(settings), settings.master_key)
    assert isinstance(build_store(settings, keyring), MediaStore)


def test_redis_serves_jobs_limits_and_locks_and_the_bucket_holds_media(tmp_path: Path) -> None:
    settings = load_settings(
        _env(
            tmp_path,
            VIGPARENT_REDIS_URL="redis://:redis-password@redis.internal:6379/0",
            VIGPARENT_S3_BUCKET="vig-media",
            VIGPARENT_S3_ENDPOINT_URL="https://minio.internal:9000",
            VIGPARENT_S3_REGION="eu-west-2",
            VIGPARENT_S3_ACCESS_KEY_ID="vigparent",
            VIGPARENT_S3_SECRET_ACCESS_KEY="not-in-repr",
            VIGPARENT_KEYSTORE_URL=f"sqlite:///{tmp_path / 'keys.sqlite3'}",
        )
    )
    assert settings.redis_url == "redis://:redis-password@redis.internal:6379/0"
    assert settings.rate_limit_storage_uri == settings.redis_url
    for secret in ("not-in-repr", "keys.sqlite3", "redis-password"):
        assert secret not in repr(settings)
    key_store = build_key_store(settings)
    assert isinstance(key_store, DatabaseKeyStore)
    store = build_store(settings, Keyring(key_store, settings.master_key))
    assert isinstance(store, ObjectMediaStore) and store.bucket == "vig-media"
    key_store.dispose()


def test_the_older_huey_variable_still_names_redis(tmp_path: Path) -> None:
    settings = load_settings(_env(tmp_path, HUEY_REDIS_URL="redis://old:6379/1"))
    assert settings.redis_url == "redis://old:6379/1"
    assert make_test_settings(tmp_path).upload_lock_ttl_s == 15.0


def test_half_a_pair_of_s3_credentials_is_refused_plainly(tmp_path: Path) -> None:
    env = _env(tmp_path, VIGPARENT_S3_BUCKET="b", VIGPARENT_S3_ACCESS_KEY_ID="only-this")
    with pytest.raises(ConfigError, match="Set both VIGPARENT_S3_ACCESS_KEY_ID"):
        load_settings(env)
