"""The app a bench runs in-process: its own data dir and SQLite database, tables made."""

from __future__ import annotations

import os
import secrets
from pathlib import Path
from typing import Any

from flask import Flask

from vigparent import create_app
from vigparent.config import Settings
from vigparent.db import Base


def bench_app(root: Path, **overrides: Any) -> Flask:
    """``overrides``: other settings, e.g. an S3 bucket for the object store."""
    settings = Settings(
        data_dir=root,
        database_url=f"sqlite:///{root / 'bench.sqlite3'}",
        secret_key=secrets.token_urlsafe(48),
        master_key=os.urandom(32),
        jobs_immediate=True,
    ).with_overrides(**overrides)
    app = create_app(settings)
    with app.app_context():
        Base.metadata.create_all(app.extensions["vig_engine"])
    return app
