"""Configuration refuses to start unsafely; reading it writes nothing, and one explicit step
(`vig-init-secrets`) makes the development secrets."""

from __future__ import annotations

import os
import secrets
import stat
import subprocess
import sys
from pathlib import Path

import pytest
from argon2 import PasswordHasher

from vigparent.config import (
    MIN_SECRET_BITS,
    ConfigError,
    Settings,
    estimated_entropy_bits,
    init_secrets,
    load_settings,
)


def test_production_refuses_missing_or_weak_secret(tmp_path):
    base = {
        "VIGPARENT_ENV": "production",
        "VIGPARENT_DATA_DIR": str(tmp_path),
        "VIGPARENT_MASTER_KEY_FILE": str(tmp_path / "mk"),
    }
    assert init_secrets(base) == [tmp_path / "mk"]  # production: the key file only
    with pytest.raises(ConfigError, match="SECRET_KEY"):
        load_settings(base)
    with pytest.raises(ConfigError, match="SECRET_KEY"):
        load_settings({**base, "SECRET_KEY": "changeme"})
    with pytest.raises(ConfigError, match="SECRET_KEY"):
        load_settings({**base, "SECRET_KEY": "short-but-not-weak"})
    strong = secrets.token_urlsafe(48)
    ok = load_settings({**base, "SECRET_KEY": strong, "VIGPARENT_BASE_URL": "https://vig.test"})
    assert ok.production and ok.secret_key == strong


def test_production_requires_a_master_key(tmp_path):
    env = {
        "VIGPARENT_ENV": "production",
        "VIGPARENT_DATA_DIR": str(tmp_path),
        "SECRET_KEY": secrets.token_urlsafe(48),
        "VIGPARENT_BASE_URL": "https://vig.test",
    }
    with pytest.raises(ConfigError, match="MASTER_KEY"):
        load_settings(env)


def test_init_secrets_makes_development_secrets_with_mode_0600(tmp_path):
    data_dir = tmp_path / "data"
    env = {"VIGPARENT_DATA_DIR": str(data_dir)}
    made = [data_dir / "secret_key", data_dir / "master.key", data_dir / "vapid_private.pem"]
    assert init_secrets(env) == made
    assert stat.S_IMODE(data_dir.stat().st_mode) == 0o700
    for name in ("secret_key", "master.key", "vapid_private.pem"):
        mode = stat.S_IMODE((data_dir / name).stat().st_mode)
        assert mode == 0o600, (name, oct(mode))
    settings = load_settings(env)
    assert init_secrets(env) == []  # kept, not replaced
    again = load_settings(env)
    assert again.secret_key == settings.secret_key and again.master_key == settings.master_key
    assert settings.vapid_private_key.startswith("-----BEGIN PRIVATE KEY-----")
    assert settings.database_url == f"sqlite:///{data_dir / 'vigparent.sqlite3'}"
    assert len(settings.master_key) == 32
    assert settings.master_key_file == data_dir / "master.key"


def test_reading_settings_writes_nothing_and_names_the_step_that_makes_secrets(tmp_path):
    data_dir = tmp_path / "data"
    env = {"VIGPARENT_DATA_DIR": str(data_dir)}
    with pytest.raises(ConfigError, match="vig-init-secrets") as missing:
        load_settings(env)
    assert str(data_dir / "secret_key") in str(missing.value)
    assert list(tmp_path.iterdir()) == []
    # A secret key in the environment: the master key file is still missing, and named.
    with pytest.raises(ConfigError, match="vig-init-secrets") as missing:
        load_settings({**env, "SECRET_KEY": secrets.token_urlsafe(48)})
    assert str(data_dir / "master.key") in str(missing.value)
    assert list(tmp_path.iterdir()) == []
    # Both in the environment: nothing to make, nothing read from files.
    settings = load_settings(
        {
            **env,
            "SECRET_KEY": "s" + secrets.token_urlsafe(48),
            "VIGPARENT_MASTER_KEY": "A" * 43 + "=",
        }
    )
    assert settings.master_key_file is None
    in_env = {
        "SECRET_KEY": "x",
        "VIGPARENT_MASTER_KEY": "A" * 43 + "=",
        "VIGPARENT_VAPID_PRIVATE_KEY": "k",
    }
    assert init_secrets({**env, **in_env}) == []
    assert list(tmp_path.iterdir()) == [data_dir]


def test_production_names_a_missing_master_key_file(tmp_path):
    env = {
        "VIGPARENT_ENV": "production",
        "VIGPARENT_DATA_DIR": str(tmp_path),
        "VIGPARENT_MASTER_KEY_FILE": str(tmp_path / "mk"),
        "SECRET_KEY": secrets.token_urlsafe(48),
        "VIGPARENT_BASE_URL": "https://vig.test",
    }
    with pytest.raises(ConfigError, match="vig-init-secrets") as missing:
        load_settings(env)
    assert f"no master key at {tmp_path / 'mk'}" in str(missing.value)
    assert not (tmp_path / "mk").exists()
    assert init_secrets(env) == [tmp_path / "mk"]
    assert len(load_settings(env).master_key) == 32


def test_the_init_secrets_command_is_installed_and_makes_the_secrets(tmp_path):
    command = Path(sys.executable).parent / "vig-init-secrets"
    env = {**os.environ, "VIGPARENT_DATA_DIR": str(tmp_path / "data")}
    for name in (
        "SECRET_KEY",
        "VIGPARENT_MASTER_KEY",
        "VIGPARENT_MASTER_KEY_FILE",
        "VIGPARENT_ENV",
    ):
        env.pop(name, None)
    out = subprocess.run([command], env=env, capture_output=True, text=True, check=True).stdout
    assert f"Created {tmp_path / 'data' / 'master.key'}" in out
    env_only = {k: v for k, v in env.items() if k == "VIGPARENT_DATA_DIR"}
    assert len(load_settings(env_only).master_key) == 32
    again = subprocess.run([command], env=env, capture_output=True, text=True, check=True)
    assert again.stdout.strip() == "The secrets are already there."


def test_production_cost_of_password_hashing_is_argon2_cffis_default():
    settings = Settings(Path("/nonexistent"), "sqlite://", "k", b"\0" * 32)
    default = PasswordHasher()
    assert (settings.argon2_time_cost, settings.argon2_memory_kib, settings.argon2_parallelism) == (
        default.time_cost,
        default.memory_cost,
        default.parallelism,
    )


@pytest.mark.parametrize(
    "weak",
    ["a" * 40, "ab" * 20, "abcd" * 10, "0" * 64, "passwordpasswordpasswordpassword"],
)
def test_production_refuses_a_low_entropy_secret(tmp_path, weak: str):
    env = {
        "VIGPARENT_ENV": "production",
        "VIGPARENT_DATA_DIR": str(tmp_path),
        "VIGPARENT_MASTER_KEY_FILE": str(tmp_path / "mk"),
        "VIGPARENT_BASE_URL": "https://vig.test",
        "SECRET_KEY": weak,
    }
    init_secrets(env)
    with pytest.raises(ConfigError, match="SECRET_KEY"):
        load_settings(env)


@pytest.mark.parametrize("make", [lambda: secrets.token_urlsafe(32), lambda: secrets.token_hex(16)])
def test_production_accepts_generated_secrets(tmp_path, make):
    for _ in range(50):
        key = make()
        assert estimated_entropy_bits(key) >= MIN_SECRET_BITS, key


def test_production_refuses_an_http_base_url(tmp_path):
    env = {
        "VIGPARENT_ENV": "production",
        "VIGPARENT_DATA_DIR": str(tmp_path),
        "VIGPARENT_MASTER_KEY_FILE": str(tmp_path / "mk"),
        "SECRET_KEY": secrets.token_urlsafe(48),
    }
    init_secrets(env)
    for url in ("http://vig.example.org", "", "vig.example.org"):
        with pytest.raises(ConfigError, match="https://"):
            load_settings({**env, "VIGPARENT_BASE_URL": url} if url else env)
    assert load_settings({**env, "VIGPARENT_BASE_URL": "https://vig.example.org"}).production


def test_trusted_proxies_is_a_whole_number(tmp_path):
    env = {"VIGPARENT_DATA_DIR": str(tmp_path)}
    init_secrets(env)
    assert load_settings(env).trusted_proxies == 0
    assert load_settings({**env, "TRUSTED_PROXIES": "1"}).trusted_proxies == 1
    with pytest.raises(ConfigError, match="TRUSTED_PROXIES"):
        load_settings({**env, "TRUSTED_PROXIES": "yes"})


def test_media_in_a_bucket_needs_a_key_store_of_its_own(tmp_path):
    """Keys shared by every node, and never in the app database (or its backups)."""
    env = {
        "VIGPARENT_ENV": "production",
        "VIGPARENT_DATA_DIR": str(tmp_path),
        "VIGPARENT_MASTER_KEY_FILE": str(tmp_path / "mk"),
        "SECRET_KEY": secrets.token_urlsafe(48),
        "VIGPARENT_BASE_URL": "https://vig.example.org",
        "DATABASE_URL": "postgresql+psycopg://vig@db/vig",
        "VIGPARENT_S3_BUCKET": "vig-media",
    }
    init_secrets(env)
    with pytest.raises(ConfigError, match="VIGPARENT_KEYSTORE_URL"):
        load_settings(env)
    with pytest.raises(ConfigError, match="a database of its own"):
        load_settings({**env, "VIGPARENT_KEYSTORE_URL": env["DATABASE_URL"]})
    keys = "postgresql+psycopg://vigkeys@keys/vigkeys"
    assert load_settings({**env, "VIGPARENT_KEYSTORE_URL": keys}).keystore_url == keys
