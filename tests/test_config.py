"""Configuration refuses to start unsafely and generates its own secrets in development."""

from __future__ import annotations

import secrets
import stat

import pytest

from vigparent.config import (
    MIN_SECRET_BITS,
    ConfigError,
    estimated_entropy_bits,
    load_settings,
)


def test_production_refuses_missing_or_weak_secret(tmp_path):
    base = {
        "VIGPARENT_ENV": "production",
        "VIGPARENT_DATA_DIR": str(tmp_path),
        "VIGPARENT_MASTER_KEY_FILE": str(tmp_path / "mk"),
    }
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


def test_development_generates_secrets_with_mode_0600(tmp_path):
    settings = load_settings({"VIGPARENT_DATA_DIR": str(tmp_path)})
    for name in ("secret_key", "master.key"):
        mode = stat.S_IMODE((tmp_path / name).stat().st_mode)
        assert mode == 0o600, (name, oct(mode))
    again = load_settings({"VIGPARENT_DATA_DIR": str(tmp_path)})
    assert again.secret_key == settings.secret_key and again.master_key == settings.master_key
    assert settings.database_url == f"sqlite:///{tmp_path / 'vigparent.sqlite3'}"
    assert len(settings.master_key) == 32


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
    for url in ("http://vig.example.org", "", "vig.example.org"):
        with pytest.raises(ConfigError, match="https://"):
            load_settings({**env, "VIGPARENT_BASE_URL": url} if url else env)
    assert load_settings({**env, "VIGPARENT_BASE_URL": "https://vig.example.org"}).production


def test_trusted_proxies_is_a_whole_number(tmp_path):
    env = {"VIGPARENT_DATA_DIR": str(tmp_path)}
    assert load_settings(env).trusted_proxies == 0
    assert load_settings({**env, "TRUSTED_PROXIES": "1"}).trusted_proxies == 1
    with pytest.raises(ConfigError, match="TRUSTED_PROXIES"):
        load_settings({**env, "TRUSTED_PROXIES": "yes"})
