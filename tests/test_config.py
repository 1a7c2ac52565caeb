"""Configuration refuses to start unsafely and generates its own secrets in development."""

from __future__ import annotations

import stat

import pytest

from vigparent.config import ConfigError, load_settings


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
    ok = load_settings({**base, "SECRET_KEY": "x" * 40})
    assert ok.production and ok.secret_key == "x" * 40


def test_production_requires_a_master_key(tmp_path):
    env = {
        "VIGPARENT_ENV": "production",
        "VIGPARENT_DATA_DIR": str(tmp_path),
        "SECRET_KEY": "y" * 40,
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
