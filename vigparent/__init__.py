"""vigparent: Video Interaction Guidance for parents and practitioners."""

from __future__ import annotations

import os
from typing import Any

from flask import Flask
from werkzeug.middleware.proxy_fix import ProxyFix

from vigparent.config import Settings, load_settings, settings_of

__all__ = ["FEATURES", "create_app", "settings_of"]

# One blueprint per feature, each in vigparent/<feature>/routes.py as `bp`.
FEATURES = (
    "auth",
    "mfa",
    "practitioner",
    "parent",
    "pwa",
    "invitations",
    "consent",
    "goals",
    "capture",
    "uploads",
    "media",
    "clips",
    "review",
    "withdrawal",
    "client_errors",
    "supervision",
    "handover",
    "reports",
    "staff",
    "organisation",
    "notifications",
    "live",
    "languages",
)


def create_app(settings: Settings | None = None, **overrides: Any) -> Flask:
    """Build the app; tests pass `settings` (or overrides) instead of using the environment."""
    # Every file the app makes (database, its WAL, the job queue, keys) is private to its
    # user, whichever library creates it.
    os.umask(0o077)
    settings = settings or load_settings()
    if overrides:
        settings = settings.with_overrides(**overrides)
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    os.chmod(settings.data_dir, 0o700)

    app = Flask(__name__)
    app.extensions["vig_settings"] = settings
    if settings.trusted_proxies:
        # Behind nginx the socket's peer is always nginx: without this every request would
        # share one rate-limit bucket, and one person could lock every member of staff out.
        n = settings.trusted_proxies
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=n, x_proto=n, x_host=n)  # type: ignore[method-assign]
    app.config.update(
        SECRET_KEY=settings.secret_key,
        TESTING=settings.testing,
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_SECURE=settings.secure_cookies,
        SESSION_COOKIE_NAME="vig_session",
        REMEMBER_COOKIE_HTTPONLY=True,
        # Parents stay signed in on their own phone for months; staff sessions also end
        # after hours idle (auth.service), which this app-wide lifetime cannot express.
        PERMANENT_SESSION_LIFETIME=settings.parent_session_days * 86400,
        # A page opened offline for days must still post its queued uploads: CSRF tokens are
        # tied to the session, not to a clock.
        WTF_CSRF_TIME_LIMIT=None,
        WTF_CSRF_SSL_STRICT=settings.secure_cookies,
        MAX_FORM_MEMORY_SIZE=64 * 1024,
        RATELIMIT_STORAGE_URI=settings.rate_limit_storage_uri,
        RATELIMIT_HEADERS_ENABLED=False,
        PREFERRED_URL_SCHEME="https" if settings.secure_cookies else "http",
    )

    # Imported here, not at the top: the key-free video worker imports this package too, and
    # must not load the web app (Flask extensions, SQLAlchemy, every feature) to decode video.
    from vigparent import (
        assets,
        cli,
        db,
        errors,
        i18n,
        jobs,
        logging_policy,
        media_store,
        safe_input,
        security,
        shared_redis,
        tasks,
    )
    from vigparent.live import fanout

    logging_policy.init_app(app)
    db.init_app(app, settings.database_url)
    shared_redis.init_app(app, settings)
    media_store.init_app(app, settings)
    security.init_app(app)
    i18n.init_app(app)
    safe_input.init_app(app)
    errors.init_app(app)
    jobs.init_app(app, tasks.ALL)
    fanout.init_app(app, settings)
    cli.init_app(app)

    import importlib

    for feature in FEATURES:
        # Importing a feature may also register its asset bundles (assets.register).
        app.register_blueprint(importlib.import_module(f"vigparent.{feature}.routes").bp)
    assets.init_app(app)
    app.jinja_env.globals["has_endpoint"] = lambda endpoint: endpoint in app.view_functions
    return app
